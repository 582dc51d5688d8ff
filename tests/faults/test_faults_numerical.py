"""Numerical faults, written as data: NaN and inf gradients, NaN values, overflow.

Each case gives a run, the status it must end with, a pattern its message must match,
and a check of what the result keeps (x never worse than the best finite point seen).
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import optiframe as of


def quadratic_with_gradient(gradient):
    return of.FunctionObjective.from_callable(lambda x: float(np.sum(x**2)), gradient=gradient)


def nan_gradient_for(calls: int):
    """A sphere whose analytic gradient is NaN for its first ``calls`` calls."""
    count = [0]

    def gradient(x):
        count[0] += 1
        return np.full_like(x, np.nan) if count[0] <= calls else 2 * x

    return quadratic_with_gradient(gradient)


def overflow_error_beyond(limit: float):
    def f(x):
        s = float(np.sum(x))
        return math.exp(s) if s > limit else s * s  # OverflowError past exp's range
    return f


def exp_right_of_zero(x):
    """Python's exp: an OverflowError, not inf, once x > 709."""
    return math.exp(float(x[0])) if x[0] > 0 else 1.0 - float(x[0])


def numpy_overflow(x):
    return float(np.sum(x**2))  # inf (RuntimeWarning unless silenced) once |x| > 1.3e154


def floating_point_error(x):
    with np.errstate(over="raise"):
        return float(np.sum(x**2))


def nan_below(x):
    return float(np.sum(x**2)) if x[0] > 0.5 else math.nan


class NaNSamples(of.LogisticRegression):
    """Logistic regression whose loss is NaN on any batch holding one of the first
    ``bad`` samples (as if those rows were corrupt)."""

    def __init__(self, bad: int):
        rng = np.random.default_rng(0)
        super().__init__(rng.normal(size=(64, 3)), np.arange(64) % 2)
        self.bad = bad

    def batch_loss_and_gradient(self, params, idx):
        loss, g = super().batch_loss_and_gradient(params, idx)
        return (math.nan, g * math.nan) if (idx < self.bad).any() else (loss, g)


# (id, call, status, message pattern, extra check or None)
CASES = [
    ("nan gradient skipped then nan",
     lambda: of.minimize(quadratic_with_gradient(lambda x: np.full_like(x, np.nan)), [1.0, 2.0],
                         raise_errors=False),
     "nan", r"gradient at step 5 is not finite, after 5 non-finite gradients skipped",
     lambda r: (r.nit == 5 and r.x.tolist() == [1.0, 2.0]) or pytest.fail(repr(r))),
    ("inf gradient skipped then nan",
     lambda: of.minimize(quadratic_with_gradient(lambda x: np.full_like(x, np.inf)), [1.0],
                         raise_errors=False),
     "nan", r"max_bad_gradients = 5", lambda r: r.history.step_norm[1:].tolist() == [0.0] * 5),
    ("no skips allowed",
     lambda: of.minimize(quadratic_with_gradient(lambda x: x * np.nan), [1.0],
                         max_bad_gradients=0, raise_errors=False),
     "nan", r"after 0 non-finite gradients skipped", lambda r: r.nit == 0),
    ("a passing nan gradient is skipped and the run recovers",
     lambda: of.minimize(nan_gradient_for(2), [1.0, -1.0], optimizer=of.GradientDescent(lr=0.25),
                         max_steps=200, raise_errors=False),
     "converged", r"gradient norm", lambda r: np.allclose(r.x, 0.0, atol=1e-8)),
    ("skips do not count as stalled steps",
     lambda: of.minimize(nan_gradient_for(3), [1.0], optimizer=of.Adam(lr=0.1), xtol=1e-12,
                         max_steps=5, raise_errors=False),
     "max_steps", r"max_steps = 5", lambda r: r.history.step_norm[1:4].tolist() == [0.0] * 3),
    ("nan value mid-run keeps the best point",
     lambda: of.minimize(nan_below, [2.0, 0.0], optimizer=of.GradientDescent(lr=0.2),
                         gradient="central", raise_errors=False),
     "nan", r"f is NaN at step \d+ at x = \[", lambda r: r.x[0] > 0.5 and np.isfinite(r.fun)),
    ("OverflowError in the objective is an overflow",
     lambda: of.minimize(exp_right_of_zero, [-1.0], optimizer=of.GradientDescent(lr=1000.0),
                         gradient=of.CentralDifference(step=1e-3, relative=False),
                             raise_errors=False),
     "diverged", r"f overflowed to inf at step 1 at x = \[999", lambda r: r.x.tolist() == [-1.0]),
    ("numpy overflow silenced and recorded",
     lambda: of.minimize(numpy_overflow, [1.0], optimizer=of.GradientDescent(lr=1e200),
                         gradient="central", raise_errors=False),
     "diverged", r"f overflowed to inf at step 1 at x = \[-2.*e\+200\]",
     lambda r: r.x.tolist() == [1.0]),
    ("FloatingPointError in the objective is an overflow",
     lambda: of.minimize(floating_point_error, [1.0], optimizer=of.GradientDescent(lr=1e200),
                         gradient="central", raise_errors=False),
     "diverged", r"f overflowed to inf at step 1", lambda r: r.x.tolist() == [1.0]),
    ("overflow at x0",
     lambda: of.minimize(lambda x: math.exp(float(x[0])), [1000.0], raise_errors=False),
     "diverged", r"f\(x0\) is inf", lambda r: r.nit == 0 and r.fun == math.inf),
    ("divergence keeps the best finite point",
     lambda: of.minimize(lambda x: float(x[0] ** 2), [1.0], optimizer=of.GradientDescent(lr=10.0),
                         raise_errors=False),
     "diverged", r"f = .* at step", lambda r: r.x.tolist() == [1.0] and r.fun == 1.0),
    ("f without a minimum, a line search: it falls to the floor",
     lambda: of.minimize(lambda x: float(x[0]), [0.0], jac=lambda x: np.ones(1),
                         raise_errors=False),
     "diverged", r"f fell to -1\.\d+e\+30[5-8] at step \d+, near the most negative float",
     lambda r: r.fun <= -1.7e305 and r.fun == r.history.fun.min()),
    ("f without a minimum, a fixed step: it falls to the floor",
     lambda: of.minimize(lambda x: float(-x[0] ** 2), [1.0], jac=lambda x: -2.0 * x,
                         optimizer=of.GradientDescent(lr=1.0), raise_errors=False),
     "diverged", r"f fell to .* at step 320, near the most negative float",
     lambda r: r.fun == r.history.fun.min() and r.nit == 320),
    ("f(x0) at the floor ends the run at x0",
     lambda: of.minimize(lambda x: float(-1e306 + x @ x), [1.0, 2.0], raise_errors=False),
     "diverged", r"f\(x0\) = -1e\+306 is near the most negative float",
     lambda r: (r.nit, r.nfev) == (0, 1) and r.x.tolist() == [1.0, 2.0]),
    ("overflow in finite differences is a non-finite gradient",
     lambda: of.minimize(overflow_error_beyond(700.0), [709.5],
                         gradient=of.CentralDifference(step=1.0, relative=False),
                             raise_errors=False),
     "nan", r"gradient at step 5 is not finite", lambda r: r.x.tolist() == [709.5]),
    ("minibatch: nan rows skipped, training goes on",
     lambda: of.minimize(NaNSamples(2), np.zeros(4), batch_size=16, epochs=3, seed=0,
                         shuffle=False, raise_errors=False),
     "completed", r"3 epochs",
     lambda r: r.nit == 12 and np.isfinite(r.x).all() and r.history.step_norm[4] == 0.0),
    ("minibatch: too many nan batches",
     lambda: of.minimize(NaNSamples(64), np.zeros(4), batch_size=16, epochs=3, seed=0,
                         raise_errors=False),
     "nan", r"not finite at step 5, after 5 such batches skipped",
     lambda r: r.x.tolist() == [0.0] * 4),
]


@pytest.mark.parametrize(("call", "status", "pattern", "check"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_numerical_fault(call, status, pattern, check):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning noise from any fault
        r = call()
    assert r.status == status, r.message
    assert r.success == (status in ("converged", "completed"))
    assert re.search(pattern, r.message), r.message
    if check is not None:
        assert check(r) is not False, r


# multi-start: each start meets its own fault; the others are not disturbed
def test_multistart_rows_skip_nan_gradients_on_their_own():
    def gradient(X):
        G = 2 * X
        G[X[:, 0] > 4] = np.nan  # starts beyond 4 see NaN gradients forever
        return G

    obj = of.FunctionObjective.from_callable(lambda x: float(np.sum(x**2)),
                                             gradient=lambda x: gradient(x[None, :])[0])
    starts = np.array([[1.0, 1.0], [5.0, 0.0], [-2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = of.minimize(obj, starts=starts, optimizer=of.Adam(lr=0.1), max_steps=3000,
                        gtol=1e-6, raise_errors=False)
    statuses = [s.status for s in r.starts]
    assert statuses == ["converged", "nan", "converged"]
    assert r.starts[1].nit == 5 and r.starts[1].x.tolist() == [5.0, 0.0]
    alone = of.minimize(obj, starts[0], optimizer=of.Adam(lr=0.1), max_steps=3000, gtol=1e-6,
                        raise_errors=False)
    np.testing.assert_array_equal(r.starts[0].x, alone.x)


def test_multistart_overflow_rows_diverge_and_name_x():
    r = of.minimize(exp_right_of_zero, starts=np.array([[-1.0], [-2.0]]),
                    optimizer=of.GradientDescent(lr=1e3),
                    gradient=of.CentralDifference(step=1e-3, relative=False), raise_errors=False)
    assert [s.status for s in r.starts] == ["diverged", "diverged"]
    assert all("overflowed to inf at step 1 at x = [" in s.message for s in r.starts)
    assert [s.x.tolist() for s in r.starts] == [[-1.0], [-2.0]]


def test_a_divergence_gives_advice_that_fits_its_cause():
    """A fixed step is told to shorten; a start where f is not finite, a batch loss and
    an objective without a minimum are not sent to a line search they do not need."""
    fixed = of.minimize(lambda x: float(x[0] ** 2), [1.0], optimizer=of.GradientDescent(lr=10.0))
    assert fixed.status == "diverged"
    assert "smaller learning rate" in fixed.message and "line_search='armijo'" in fixed.message
    at_x0 = of.minimize(lambda x: math.exp(float(x[0])), [1000.0])
    assert at_x0.status == "diverged" and "f(x0) is inf (start where f is finite)" in at_x0.message
    assert "learning rate" not in at_x0.message and "x is the start" in at_x0.message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's overflow to -inf in the user's function
        unbounded = of.minimize(lambda x: float(-np.exp(x[0])), [0.0],
                                optimizer=of.GradientDescent(lr=1e3), gradient="central")
    assert unbounded.status == "diverged", unbounded.message
    assert "f went to -inf at step" in unbounded.message
    assert "no minimum there" in unbounded.message and "learning rate" not in unbounded.message
    X = np.random.default_rng(0).normal(size=(64, 3)) * 1e3
    obj = of.SoftmaxRegression(X, np.arange(64) % 2)
    trained = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=1e6),
                          batch_size=16, epochs=20, seed=0)
    assert trained.status == "diverged", trained.message
    assert "smaller learning rate" in trained.message and "line_search" not in trained.message


def test_fun_is_never_worse_than_the_best_finite_point():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x0 = rng.normal(size=2) * 3
        r = of.minimize("rosenbrock", x0, optimizer=of.GradientDescent(lr=float(rng.uniform(
            1e-4, 0.1))), max_steps=200, raise_errors=False)
        finite = r.history.fun[np.isfinite(r.history.fun)]
        if r.status in ("diverged", "nan"):
            assert r.fun == finite.min()
        assert r.fun == of.Rosenbrock().value(r.x)


def test_a_training_run_that_diverges_ends_at_its_lowest_batch_loss():
    # lr = 2: the batch loss falls for 5 steps, then grows until step 63 diverges; the
    # run ended at that last point (a whole-set loss of 1e9), not at the best it had seen
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    obj = of.LeastSquares(X, X @ np.array([1.0, 2.0, 3.0]) + 0.1 * rng.normal(size=200))
    kw = dict(optimizer=of.GradientDescent(lr=2.0), batch_size=16, epochs=30, seed=0)
    r = of.minimize(obj, np.zeros(obj.dim), **kw)
    losses = r.history.fun
    best = int(np.argmin(losses))
    assert r.status == "diverged" and 0 < best < r.nit - 1, r.message
    assert r.fun == obj.value(r.x) < 2.0 < losses[-1]
    assert f"x is the point of lowest batch loss seen, {losses[best]:.6g}" in r.message
    traced = of.minimize(obj, np.zeros(obj.dim), record_x=True, **kw)
    assert traced.x.tolist() == traced.history.x[best].tolist()
    # a stack: each model ends at its own lowest batch loss, as it would alone
    starts = np.array([np.zeros(obj.dim), np.full(obj.dim, 0.5)])
    stack = of.minimize(obj, starts=starts, **kw)
    for k, start in enumerate(stack.starts):
        alone = of.minimize(obj, starts[k], **kw)
        assert (start.status, start.x.tolist(), start.fun) == (alone.status, alone.x.tolist(),
                                                               alone.fun)
    # where the first batch loss already diverges, no point was better: x is the start
    at_once = of.minimize(obj, np.zeros(obj.dim), **dict(kw, optimizer=of.GradientDescent(
        lr=50.0)))
    assert at_once.status == "diverged" and at_once.x.tolist() == [0.0] * obj.dim


# (estimator, point): finite differences far from 0 stay correct to 1e-6 relative
FAR_POINTS = [(est, scale) for est in ("central", "forward") for scale in (1e9, -1e9, 1e17)]


@pytest.mark.parametrize(("estimator", "scale"), FAR_POINTS,
                         ids=[f"{e}-{s:g}" for e, s in FAR_POINTS])
def test_finite_differences_far_from_zero(estimator, scale):
    x = np.array([1.0, -0.5, 0.25]) * scale
    objective = of.FunctionObjective.from_callable(lambda p: float(np.sum(p**2 + p)))
    g = of.get_registry().build("gradient", estimator, of.GradientEstimator).bind(objective)(x)
    np.testing.assert_allclose(g, 2 * x + 1, rtol=1e-6)


def test_float32_finite_differences_stay_float32():
    objective = of.FunctionObjective.from_callable(lambda p: np.sum(p**2, dtype=np.float32))
    x = np.array([1.5, -2.0], dtype=np.float32)
    g = of.CentralDifference().bind(objective)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x, rtol=1e-3)
