"""The verdicts on new values (optiframe.settle): NaN, infinities, overflow and growth
without bound end a run in nan or diverged, keeping the best point."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optiframe as of

GD = of.GradientDescent


def test_nan_value_gives_status_nan_and_keeps_the_best_point():
    def f(x):
        return float(np.sum(x**2)) if x[0] > 0.5 else math.nan

    r = of.minimize(f, [2.0], optimizer=GD(lr=0.2), gradient="central", on_interrupt="return")
    assert r.status == "nan" and not r.success
    assert r.x[0] > 0.5 and math.isfinite(r.fun)
    assert r.fun == f(r.x)
    assert math.isnan(r.history.fun[-1])


def test_nan_gradient_gives_status_nan():
    obj = of.FunctionObjective.from_callable(
        lambda x: float(np.sum(x**2)), gradient=lambda x: np.array([np.nan]))
    r = of.minimize(obj, [1.0], optimizer="gd", on_interrupt="return")
    assert r.status == "nan" and "gradient" in r.message
    assert r.nit == 5  # max_bad_gradients steps skipped first, x unchanged
    assert r.x.tolist() == [1.0] and r.history.step_norm[1:].tolist() == [0.0] * 5
    r = of.minimize(obj, [1.0], max_bad_gradients=0, optimizer="gd", on_interrupt="return")
    assert r.status == "nan" and r.nit == 0


def test_inf_gradient_gives_status_nan():
    obj = of.FunctionObjective.from_callable(
        lambda x: float(np.sum(x**2)), gradient=lambda x: np.array([np.inf]))
    assert of.minimize(obj, [1.0], optimizer="gd", on_interrupt="return").status == "nan"


def test_nan_at_x0():
    assert of.minimize(lambda x: math.nan, [1.0], optimizer="gd",
                       on_interrupt="return").status == "nan"


def test_overflow_is_divergence_without_runtime_warnings(recwarn):
    r = of.minimize(lambda x: float(np.exp(x[0] ** 2)), [1.0], optimizer=GD(lr=1.0),
                    gradient="central", divergence_factor=1e300, max_steps=10_000,
                        on_interrupt="return")
    assert r.status == "diverged" and "inf" in r.message
    assert r.x.tolist() == [1.0]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_growth_without_bound_is_divergence_even_without_overflow():
    r = of.minimize("sphere", [1.0], optimizer=GD(lr=1.5), max_steps=1000, on_interrupt="return")
    assert r.status == "diverged"
    assert r.nit < 40
    assert r.x.tolist() == [1.0]


def test_divergence_detection_can_be_switched_off():
    r = of.minimize("sphere", [1.0], optimizer=GD(lr=1.5), max_steps=20,
                    detect_divergence=False, on_interrupt="return")
    assert r.status == "max_steps"
    assert r.fun == pytest.approx(4.0**20)


def test_unbounded_below_is_divergence():
    r = of.minimize(lambda x: -float(np.exp(x[0])), [0.0], optimizer=GD(lr=1.0),
                    gradient="central", max_steps=10_000, on_interrupt="return")
    assert r.status == "diverged"


# -- the finer estimate where a finite-difference run's line search gives up -----------------
class RegionError(Exception):
    pass


def _kinked(calls: list[int]):
    """sum |x - round(x)|: from an integer point, forward differences show a slope of 1
    and no step down it lowers f, while central ones show 0. It raises at the points a
    central difference takes left of (5, 5), which no line search trial from there
    reaches."""
    def f(x):
        calls[0] += 1
        if x[1] == 5.0 and x[0] < 5.0:
            raise RegionError("outside the region")
        return float(np.sum(np.abs(x - np.round(x))))
    return f


def test_the_refined_gradient_earns_convergence_and_counts_its_evaluations():
    calls = [0]
    r = of.minimize(_kinked(calls), [0.0, 0.0], gradient="forward", gtol=1e-6)
    assert r.status == "converged" and "measured by CentralDifference" in r.message
    assert r.nfev == calls[0]


def test_a_refined_gradient_that_raises_leaves_the_verdict_and_counts_what_it_evaluated():
    calls = [0]
    r = of.minimize(_kinked(calls), [5.0, 5.0], gradient="forward", gtol=1e-6)
    assert r.status == "line_search"
    assert r.nfev == calls[0]  # the central points evaluated before the one that raised


def test_a_start_in_a_stack_is_refined_as_alone_when_another_start_raises():
    calls = [0]
    starts = np.array([[0.0, 0.0], [5.0, 5.0]])
    r = of.minimize(_kinked(calls), starts=starts, gradient="forward", gtol=1e-6)
    assert sum(o.nfev for o in r.starts) == calls[0]
    for k, o in enumerate(r.starts):
        alone = of.minimize(_kinked([0]), starts[k], gradient="forward", gtol=1e-6)
        assert (str(o.status), o.nfev, o.message) == (str(alone.status), alone.nfev,
                                                     alone.message)
    assert [str(o.status) for o in r.starts] == ["converged", "line_search"]


def test_a_line_search_that_gives_up_says_what_fits_its_gradient():
    """An analytic gradient that points uphill (its sign wrong) is sent to check_gradient;
    a finite-difference run on a noisy f is told that the differences can tell no more
    (and not to test an analytic gradient it does not have)."""
    wrong = of.minimize(lambda x: float(x @ x), [1.0, 2.0], jac=lambda x: -2.0 * x)
    assert wrong.status == "line_search" and wrong.x.tolist() == [1.0, 2.0]
    assert "the analytic gradient may not be f's (check_gradient=True tests it)" in wrong.message
    rng = np.random.default_rng(0)
    noisy = of.minimize(lambda x: float(x @ x + 1e-6 * rng.random()), [1.0, 2.0])
    assert noisy.status == "line_search"
    assert "as good as the differences can tell" in noisy.message
    assert "check_gradient" not in noisy.message and "jac=" in noisy.message
