"""Bounds (issue 12): no evaluation leaves the box, convergence on the projected gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optiframe as of
from optiframe.bounds import as_box


class Watched(of.Objective):
    """A shifted quadratic that records every point it is evaluated at."""

    def __init__(self, center, vectorized=False):
        self.center = np.asarray(center, float)
        self.dim = self.center.size
        self.points: list[np.ndarray] = []
        self._vectorized = vectorized

    @property
    def vectorized(self):
        return self._vectorized

    def value(self, x):
        self.points.append(np.array(x, copy=True))
        return float(np.sum((x - self.center) ** 2) + 0.1 * np.sum(x**4))

    def values(self, X):
        self.points.extend(np.array(X, copy=True))
        return np.sum((X - self.center) ** 2, axis=1) + 0.1 * np.sum(X**4, axis=1)


BOUNDS = [(0, None), (-1, 1)]  # the acceptance form's box


BAD_BOUNDS = [
    ([(0, 1), (2, 1)], r"'bounds'\[1\] has lo > hi: \(2.0, 1.0\)"),
    ([(0, 1)], r"'bounds' has 1 \(lo, hi\) pairs but the problem has 2 coordinates"),
    ([(0, 1), (math.nan, 1)], r"'bounds'\[1\] is NaN"),
    ([(0, 1), (1, 2, 3)], r"'bounds'\[1\] must be a \(lo, hi\) pair"),
    (5, r"'bounds' must be a sequence of \(lo, hi\) pairs"),
]


@pytest.mark.parametrize(("bounds", "pattern"), BAD_BOUNDS)
def test_bad_bounds_are_refused_naming_the_index_before_any_work(bounds, pattern):
    obj = Watched([2.0, 3.0])
    with pytest.raises(of.InvalidArgumentError, match=pattern):
        of.minimize(obj, [0.5, 0.5], bounds=bounds)
    assert obj.points == []


@pytest.mark.parametrize("gradient", ["central", "forward", "analytic-free", "spsa"])
@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", "gd", "adam",
                                       {"name": "gd", "lr": 1.0, "line_search": "armijo"}],
                         ids=["lbfgs", "bfgs", "gd", "adam", "gd-armijo"])
def test_no_evaluation_ever_leaves_the_box(optimizer, gradient):
    obj = Watched([2.0, 3.0], vectorized=gradient == "spsa")
    grad = "central" if gradient == "analytic-free" else gradient
    r = of.minimize(obj, [0.5, 0.5], optimizer=optimizer, gradient=grad, bounds=BOUNDS,
                    max_steps=300, seed=1)
    P = np.array(obj.points)
    assert (P[:, 0] >= 0).all() and (np.abs(P[:, 1]) <= 1).all()
    assert r.x[1] <= 1 and r.x[0] >= 0


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", {"name": "gd", "lr": 0.1}])
def test_convergence_is_judged_on_the_projected_gradient_at_an_active_bound(optimizer):
    # minimum of the box at x = (x0*, 1): the raw gradient there is not 0, its projection is
    r = of.minimize(Watched([2.0, 3.0]), [0.5, 0.5], optimizer=optimizer, bounds=BOUNDS,
                    max_steps=5000)
    assert r.status == "converged"
    assert r.x[1] == 1.0
    assert abs(2 * (r.x[0] - 2) + 0.4 * r.x[0] ** 3) < 1e-6  # free coordinate: stationary
    assert r.history.column("grad_norm")[-1] <= 1e-8


def test_finite_differences_at_a_bound_switch_to_one_sided_steps():
    obj = of.FunctionObjective.from_callable(lambda x: float(np.sum(np.exp(x))))
    box = as_box([(0.0, 1.0), (0.0, 1.0)], 2)
    x = np.array([0.0, 1.0])  # each coordinate at a bound
    for est in (of.CentralDifference(), of.ForwardDifference()):
        g = est.bind(obj, bounds=box)(x)
        np.testing.assert_allclose(g, np.exp(x), rtol=1e-6)


def test_scipy_bounds_objects_and_open_sides_are_accepted():
    so = pytest.importorskip("scipy.optimize")
    r1 = of.minimize(Watched([2.0, 3.0]), [0.5, 0.5], bounds=so.Bounds([0, -1], [np.inf, 1]))
    r2 = of.minimize(Watched([2.0, 3.0]), [0.5, 0.5], bounds=[(0, math.inf), (-1, 1)])
    r3 = of.minimize(Watched([2.0, 3.0]), [0.5, 0.5], bounds=BOUNDS)
    np.testing.assert_array_equal(r1.x, r2.x)
    np.testing.assert_array_equal(r1.x, r3.x)


def test_a_starting_point_outside_the_box_is_clipped_with_a_note():
    x0 = np.array([-3.0, 5.0])
    r = of.minimize(Watched([2.0, 3.0]), x0, bounds=BOUNDS)
    assert "x0 was outside the bounds in coordinates 0, 1 and was clipped" in r.message
    assert x0.tolist() == [-3.0, 5.0]  # the user's array is untouched
    assert r.status == "converged"


def test_multistart_samples_inside_the_run_bounds_by_default():
    bounds = [(-5, 5)] * 4
    r = of.minimize("rastrigin", optimizer="lbfgs", bounds=bounds,
                    starts=of.MultiStart(50), seed=0)
    X0 = np.array([s.x0 for s in r.starts])
    X = np.array([s.x for s in r.starts])
    assert len(r.starts) == 50 and (np.abs(X0) <= 5).all() and (np.abs(X) <= 5).all()
    assert X0.min() < -4 and X0.max() > 4  # spread over the whole box
    assert r.status == "converged" and r.fun == min(s.fun for s in r.starts)


def test_a_sampler_needing_a_finite_box_names_the_open_side():
    with pytest.raises(of.InvalidArgumentError, match=r"'bounds'\[0\] is open \(0.0, inf\)"):
        of.minimize(Watched([2.0, 3.0]), starts=of.MultiStart(5), bounds=BOUNDS)


def test_minibatch_steps_stay_in_the_box():
    X = np.random.default_rng(0).normal(size=(60, 3))
    data = of.LeastSquares(X, X @ np.array([3.0, -2.0, 0.5]))
    n = data.dim
    r = of.minimize(data, np.zeros(n), optimizer=of.Adam(lr=0.1), batch_size=10, epochs=20,
                    bounds=[(-1, 1)] * n, seed=0)
    assert (np.abs(r.x) <= 1).all()
    np.testing.assert_allclose(r.x[:2], [1.0, -1.0])


def test_an_estimator_that_cannot_keep_the_bounds_is_refused():
    with pytest.raises(of.InvalidArgumentError, match=r"'richardson' does not take bounds|"
                       r"cannot keep the points"):
        of.minimize(Watched([2.0, 3.0]), [0.5, 0.5], gradient="richardson", bounds=BOUNDS)
