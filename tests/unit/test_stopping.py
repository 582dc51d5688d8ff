"""A solver that earns its statuses (issue 20): each case once ended "converged" where
the run had not shown it, gave up where scipy does not, or broke its own budget.

A status is earned: ``converged`` only where the gradient norm is at most gtol, or where
a line search showed, with a step that moved x, that f cannot be lowered within its
rounding; one random draw is no evidence; ``max_nfev`` is never exceeded.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from checkpoint_helpers import assert_same_run
from evaluation_helpers import rosen, rosen_der

import optiframe as of
from optiframe.numerics import moving_lengths, scaled_dots, scaled_row_norms
from optiframe.optimizers.quasinewton import _pairs
from tests.multistart_helpers import (
    small_regression,
)


class Counted:
    """f with every evaluation counted (finite differences and trials included)."""

    def __init__(self, f, sleep=0.0):
        self.f, self.calls, self.sleep = f, 0, sleep

    def __call__(self, x):
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        return self.f(x)


# -- false convergence ----------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", None])
def test_a_start_at_1e16_moves_toward_0_or_ends_without_success(optimizer):
    x0 = np.array([1e16, 1e16])
    r = of.minimize("sphere", x0, optimizer=optimizer)
    assert not (r.success and np.array_equal(r.x, x0))  # never "converged" where it began
    if r.success:
        assert r.fun <= 1e-16 * 2e32


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs"])
def test_a_gradient_of_1e200_is_a_direction_not_a_zero(optimizer):
    r = of.minimize(lambda x: float(1e200 * np.sum((x - 1.0) ** 2)), [0.0, 0.0],
                    jac=lambda x: 1e200 * 2.0 * (x - 1.0), optimizer=optimizer)
    assert r.status == "converged"
    np.testing.assert_allclose(r.x, [1.0, 1.0], rtol=1e-12)


@pytest.mark.parametrize("starts", [[[0.0, 0.0], [2.0, 3.0]], [[0.2], [1.3], [2.0]]])
def test_a_gradient_of_1e200_is_a_direction_in_a_stack_of_starts_too(starts):
    # the rows' norm overflowed to inf: every start ended "nan" at its x0 (in one
    # dimension too, where the norm took a shortcut past the rescue)
    f = of.FunctionObjective.from_callable(lambda x: float(1e200 * np.sum((x - 1.0) ** 2)),
                                           gradient=lambda x: 1e200 * 2.0 * (x - 1.0))
    r = of.minimize(f, starts=np.array(starts))
    assert {s.status for s in r.starts} == {"converged"}
    np.testing.assert_allclose([s.x for s in r.starts], 1.0, rtol=1e-12)
    for k, x0 in enumerate(starts):  # each row as its start alone
        alone = of.minimize(f, x0)
        assert (r.starts[k].nit, r.starts[k].nfev) == (alone.nit, alone.nfev)
        np.testing.assert_array_equal(r.starts[k].x, alone.x)


_FAR = np.array([1e16, -1e16 / 3, 1e16 / 7])  # f = 1.1e32: a unit step promises 4e15
_SEARCHES = [None, "bfgs", {"name": "lbfgs", "line_search": "armijo"},
             {"name": "bfgs", "line_search": "armijo"}]


@pytest.mark.parametrize("optimizer", _SEARCHES)
@pytest.mark.parametrize("x0", [_FAR, np.array([1e16, 1e16])])
def test_a_first_trial_whose_promise_is_lost_in_f_rounding_shows_nothing(optimizer, x0):
    # the first trial moved x, by a few units at 1e16, but promised a decrease below f's
    # rounding: its failure ended "converged: f cannot be lowered within its precision"
    # at f = 1.1e32 (strong Wolfe at _FAR; Armijo, which never lengthens, at both). The
    # search now tries a first trial that promises more before it says so.
    r = of.minimize("sphere", x0, optimizer=optimizer, gradient="analytic")
    assert r.status == "converged" and r.fun < 1e-20, r.message


def test_a_stack_tries_the_longer_first_trial_row_by_row():
    X0 = np.array([_FAR, [1.0, 2.0, 3.0], -_FAR])
    armijo = {"name": "lbfgs", "line_search": "armijo"}
    r = of.minimize("sphere", starts=X0, optimizer=armijo, gradient="analytic")
    for k, x0 in enumerate(X0):
        alone = of.minimize("sphere", x0, optimizer=armijo, gradient="analytic")
        assert (r.starts[k].status, r.starts[k].nit, r.starts[k].nfev) == (
            alone.status, alone.nit, alone.nfev)
        np.testing.assert_array_equal(r.starts[k].x, alone.x)


def test_f_still_cannot_be_lowered_within_its_precision_at_a_minimum():
    # near a minimum the longer trial finds no lower f either; the forward differences'
    # verdict of f's precision is then checked with central ones, whose norm there is at
    # most gtol (before that check: "f cannot be lowered within its precision")
    f = Counted(lambda x: float(1.0 + np.sum((x - 0.5) ** 2)))
    r = of.minimize(f, [0.5 + 3e-5, 0.5 - 2e-5], optimizer={"name": "lbfgs",
                    "line_search": "armijo"}, gradient="forward")
    assert r.status == "converged" and f.calls == r.nfev
    assert "measured by CentralDifference where the line search could find no lower f" in (
        r.message)
    assert r.fun - 1.0 <= 4 * np.finfo(float).eps


@pytest.mark.parametrize("optimizer", [None, {"name": "lbfgs", "line_search": "armijo"}])
def test_the_verdict_of_precision_stands_where_finer_differences_find_no_lower_f(optimizer):
    # f = 1e6 + |x - 0.5|^2: at the end the central differences are f's noise, and so
    # are Richardson's, which check the verdict; the search along them finds nothing
    f = Counted(lambda x: float(1e6 + np.sum((x - 0.5) ** 2)))
    r = of.minimize(f, [3.0, -2.0], optimizer=optimizer, gradient="central")
    assert r.status == "converged" and f.calls == r.nfev
    assert "cannot be lowered within its precision" in r.message
    assert "RichardsonDifference's gradient finds no lower f beyond that rounding" in r.message
    assert r.fun - 1e6 <= 1e3 * np.finfo(float).eps * 1e6


#: Rosenbrock's valley at |x| = 1e7, reached by gd with Armijo and Richardson differences
#: (bench_hostile.py, seed 117, run 389)
_VALLEY_X0 = np.array([55623010.430783585, 10289195.248322112])
_VALLEY_RUN = dict(optimizer={"name": "gd", "line_search": "armijo"}, gradient="richardson")


@pytest.mark.parametrize("starts", [False, True])
def test_the_longer_trial_backtracks_across_a_narrow_valley(starts):
    # In the valley the run's first trials promise less than f's rounding. The probe's one
    # trial, lengthened to promise ten roundings, stepped across the valley, f rose, and
    # the run ended "converged: f cannot be lowered within its precision" where a step
    # half as long along -g lowers f by 2.6 roundings. The probe now backtracks down to a
    # trial that promises one rounding before that verdict.
    x0 = _VALLEY_X0
    r = (of.minimize(rosen, starts=np.array([x0, x0 + 1.0]), **_VALLEY_RUN).starts[0]
         if starts else of.minimize(rosen, x0, **_VALLEY_RUN))
    assert r.status == "converged" and "within its precision" in r.message
    x, g = np.asarray(r.x), rosen_der(np.asarray(r.x))
    unit = 1e3 * np.finfo(float).eps * abs(r.fun)  # f's rounding, as the verdict takes it
    lowest = min(rosen(x - length * g / np.linalg.norm(g)) for length in np.logspace(-9, -3, 601))
    assert lowest > r.fun - unit


def test_the_probe_keeps_to_the_budget():
    # the same run, its budget ending before the probe and during its trials: max_nfev,
    # never more
    full = of.minimize(rosen, _VALLEY_X0, **_VALLEY_RUN)
    assert full.status == "converged"
    for budget in range(full.nfev - 4, full.nfev):
        f = Counted(rosen)
        r = of.minimize(f, _VALLEY_X0, max_nfev=budget, **_VALLEY_RUN)
        assert r.status == "max_nfev" and r.nfev <= budget and f.calls == r.nfev


#: Rosenbrock n = 10, a stack's third start in bench_hostile.py (seed 124, run 876)
_UPHILL_X0 = np.array([155317058.09108263, -1966874.9606800198, -4995889.3616041215,
                       18166870.543465115, 51854076.948057495, 61345581.40716833,
                       -8290280.468238139, 29129305.12324103, 144736914.6438369,
                       6321370.827239385])


@pytest.mark.parametrize("starts", [False, True])
def test_a_difference_gradient_that_points_uphill_shows_no_precision(starts):
    # After 222 steps, at a coordinate of 6e6, the central differences' step is 38: their
    # truncation error outweighs the gradient and the estimate points uphill (cosine
    # -0.99). No search along it lowers f, and the run ended "converged: f cannot be
    # lowered within its precision" where a step along the true -g lowers f by 2.7 of
    # the verdict's roundings. Richardson's differences, measured before the verdict,
    # find the lower f: the run ends line_search and says what to try.
    f = Counted(rosen)
    if starts:
        r = of.minimize(f, starts=np.array([_UPHILL_X0, _UPHILL_X0]), gradient="central")
        one = of.minimize(rosen, _UPHILL_X0, gradient="central")
        assert [(o.status, o.nfev, o.fun) for o in r.starts] == [(one.status, one.nfev,
                                                                  one.fun)] * 2
        assert f.calls == sum(o.nfev for o in r.starts)
        r = r.starts[0]
    else:
        r = of.minimize(f, _UPHILL_X0, gradient="central")
        assert f.calls == r.nfev
    assert r.status == "line_search" and not r.success
    assert "RichardsonDifference's gradient (norm" in r.message
    assert "gradient='richardson'" in r.message
    x, g = np.asarray(r.x), rosen_der(np.asarray(r.x))
    unit = 1e3 * np.finfo(float).eps * abs(r.fun)  # f's rounding, as the verdict takes it
    lowest = min(rosen(x - length * g / np.linalg.norm(g)) for length in np.logspace(-9, 0, 91))
    assert lowest < r.fun - unit


def test_the_check_of_the_verdict_keeps_to_the_budget():
    # the same run, its budget too small for Richardson's differences, and ending during
    # the search along them: max_nfev, never more, and never converged
    full = of.minimize(rosen, _UPHILL_X0, gradient="central")
    said = set()
    for budget in (full.nfev - 1, full.nfev - 20):
        f = Counted(rosen)
        r = of.minimize(f, _UPHILL_X0, gradient="central", max_nfev=budget)
        assert r.status == "max_nfev" and r.nfev <= budget and f.calls == r.nfev
        said.add("RichardsonDifference, which would check it, needs up to" in r.message)
        said.add("RichardsonDifference was checking it" in r.message)
    assert said == {True, False}


def test_a_check_whose_differences_raise_leaves_the_verdict_unchecked():
    # f raises from the check's first evaluation on: no converged, every call counted
    begins = of.minimize(rosen, _UPHILL_X0, gradient="central", max_nfev=5006)
    assert "which would check it, needs up to" in begins.message
    calls = [0]

    def f(x):
        calls[0] += 1
        if calls[0] > begins.nfev:
            raise RuntimeError("no more evaluations")
        return rosen(x)

    r = of.minimize(f, _UPHILL_X0, gradient="central")
    assert r.status == "line_search" and r.nfev == calls[0] == begins.nfev + 1
    assert "RichardsonDifference, which would check it, raised there" in r.message


def test_the_check_of_the_verdict_keeps_to_the_clock(monkeypatch):
    # max_time ran out by the time the verdict would be checked (the check's clock made
    # to read late): max_time, not converged, at the point where the search stopped
    import optiframe.finer_check as finer_check

    class Late:
        @staticmethod
        def perf_counter() -> float:
            return float("inf")

    monkeypatch.setattr(finer_check, "time", Late)
    full = of.minimize(rosen, _UPHILL_X0, gradient="central")
    r = of.minimize(rosen, _UPHILL_X0, gradient="central", max_time=1e9)
    assert r.status == "max_time" and "RichardsonDifference was checking it" in r.message
    assert r.nit == full.nit and r.nfev < full.nfev
    np.testing.assert_array_equal(r.x, full.x)


def test_spsa_never_converges_on_a_symmetric_draw_over_20_seeds():
    # at (3, 3) the draw d = (1, -1) gives exactly 0: f(x + hd) == f(x - hd)
    statuses = [of.minimize(lambda x: float((x - 1.0) @ (x - 1.0)), [3.0, 3.0],
                            gradient="spsa", seed=seed, max_steps=200).status
                for seed in range(20)]
    assert "converged" not in statuses and set(statuses) == {"max_steps"}
    # ftol and xtol judge one draw's step too: no evidence either
    r = of.minimize(lambda x: float((x - 1.0) @ (x - 1.0)), [3.0, 3.0], gradient="spsa",
                    seed=0, xtol=1e-6, ftol=1e-9, max_steps=200)
    assert r.status == "max_steps"


@pytest.mark.parametrize("optimizer", ["bfgs", {"name": "lbfgs", "line_search": "armijo"}])
def test_spsa_with_a_line_search_never_converges_on_f_rounding(optimizer):
    # one draw's direction found no lower f at 1e16: that shows nothing about a minimum
    # (it ended "converged: f cannot be lowered within its precision" at f = 2e32)
    r = of.minimize(lambda x: float((x - 1.0) @ (x - 1.0)), [1e16, 1e16, 3e15],
                    optimizer=optimizer, gradient="spsa", seed=1)
    assert r.status != "converged"
    if r.status == "line_search":
        assert "one draw" in r.message


# -- giving up where scipy does not ----------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs"])
def test_x4_from_1e10_with_its_exact_gradient_converges(optimizer):
    r = of.minimize(lambda x: float(x[0] ** 4), [1e10], jac=lambda x: 4 * x**3,
                    optimizer=optimizer)
    assert r.status == "converged" and abs(r.x[0]) < 1e-2


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs"])
def test_chebyquad_from_ten_times_x0_converges(optimizer):
    p = of.get_registry().build("objective", "mgh-chebyquad", of.Objective)
    r = of.minimize(p, 10 * np.asarray(p.x0), optimizer=optimizer, gradient="analytic",
                    max_steps=5000)
    assert r.status == "converged" and r.fun < 3.6e-3  # scipy's L-BFGS-B: 3.5169e-3


def test_the_pair_test_is_scale_invariant():
    # x**4 at 1e10: the exact pair is kept; the old test s.y > eps y.y rejected it
    x_prev, x = np.array([[1e10]]), np.array([[9e9]])
    _, _, _, take = _pairs(x, 4 * x**3, x_prev, 4 * x_prev**3)
    assert take.all()
    for scale in (1e-100, 1.0, 1e100):  # f scaled: the same verdicts
        s_rows = np.array([[1.0, 0.0], [1.0, 0.0]])
        y_rows = scale * np.array([[1.0, 1.0], [-1.0, 0.5]])  # positive, negative curvature
        _, _, _, take = _pairs(s_rows, y_rows, np.zeros((2, 2)), np.zeros((2, 2)))
        assert take.tolist() == [True, False]


def test_norms_and_dots_do_not_overflow():
    A = np.array([[3e200, 4e200], [3e-200, 4e-200], [0.0, 0.0]])
    np.testing.assert_allclose(scaled_row_norms(A), [5e200, 5e-200, 0.0], rtol=1e-15)
    dot, na, _ = scaled_dots(A[:1], A[:1])
    assert np.isfinite(na[0]) and dot[0] == np.inf  # |a|^2 = 2.5e401 is not a float


def test_a_first_trial_that_rounds_back_to_x_is_lengthened():
    X = np.array([[1e16, 1e16], [1.0, 1.0]])
    D = np.array([[-0.6, -0.8], [-0.6, -0.8]])
    lengths = moving_lengths(X, D, np.ones(2))
    assert lengths.tolist() == [5.0, 1.0]
    assert ((X[0] + lengths[0] * D[0]) != X[0]).any()


# -- budgets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["gd", "lbfgs", "bfgs", "adam"])
@pytest.mark.parametrize("gradient", ["central", "forward"])
@pytest.mark.parametrize("n, budget", [(100, 10), (100, 250), (2, 7), (2, 50), (5, 33)])
def test_max_nfev_is_never_exceeded(optimizer, gradient, n, budget):
    f = Counted(lambda x: float(np.sum((x - 1.0) ** 2) + 0.1 * np.sum(x**4)))
    r = of.minimize(f, np.zeros(n), optimizer=optimizer, gradient=gradient, max_nfev=budget)
    assert f.calls == r.nfev <= budget


@pytest.mark.parametrize("budget", range(20, 60, 3))
def test_max_nfev_pays_for_the_central_check_of_adaptive_differences(budget):
    # forward differences at most gtol are checked by central ones (2n more): at 25 the
    # run spent 34, the check past the budget; now it ends max_nfev, unconfirmed
    f = Counted(lambda x: float(np.sum((x - 1.0) ** 2)))
    x0 = np.array([-3.3e-09, -4.1e-09, 1.04e-08, 1.1e-08, 1.41e-08])
    r = of.minimize(f, x0, optimizer={"name": "bfgs", "line_search": "armijo"},
                    max_nfev=budget)
    assert f.calls == r.nfev <= budget
    assert r.status in ("converged", "max_nfev"), r.message
    if r.status == "converged":
        assert "central" in r.message or "cannot be lowered" in r.message or (
            r.history.grad_norm[-1] <= 1e-8)


def test_a_stack_pays_for_the_central_check_row_by_row():
    x0 = np.array([-3.3e-09, -4.1e-09, 1.04e-08, 1.1e-08, 1.41e-08])
    X0 = np.vstack([x0, 2 * x0, x0 + 1])
    f = Counted(lambda x: float(np.sum((x - 1.0) ** 2)))
    r = of.minimize(f, starts=X0, optimizer={"name": "bfgs", "line_search": "armijo"},
                    max_nfev=75)
    assert f.calls == r.nfev and all(s.nfev <= 25 for s in r.starts)
    assert "central differences that would confirm it" in r.starts[0].message


def _offset(x):  # at [0.9, 0.1] f's rounding (2e-6) hides every forward difference
    return float(1e10 + np.sum((np.asarray(x) - 0.5) ** 2))


_FLAT_X0 = np.array([0.9, 0.1])


@pytest.mark.parametrize("optimizer", [None, {"name": "gd", "lr": 0.1}])
def test_forward_differences_all_0_far_from_a_minimum_earn_no_convergence(optimizer):
    # the run ended "converged: gradient norm 0" at x0, 145 of f's roundings above its
    # minimum; central differences see the slope and find a lower f: stalled, not success
    f = Counted(_offset)
    r = of.minimize(f, _FLAT_X0, optimizer=optimizer, gradient="forward")
    assert r.status == "stalled" and not r.success and f.calls == r.nfev
    assert "central differences measure a gradient norm of" in r.message
    assert "try gradient='auto' or 'central'" in r.message
    auto = of.minimize(_offset, _FLAT_X0, optimizer=optimizer)  # climbs to central ones
    assert auto.fun - 1e10 <= 0.01 * (_offset(_FLAT_X0) - 1e10)


def test_a_stack_checks_forward_differences_all_0_row_by_row():
    starts = np.array([_FLAT_X0, [0.2, 0.3], [0.5, 0.5]])
    f = Counted(_offset)
    r = of.minimize(f, starts=starts, gradient="forward")
    assert f.calls == sum(o.nfev for o in r.starts) and r.starts[0].status == "stalled"
    for k, o in enumerate(r.starts):
        alone = of.minimize(_offset, starts[k], gradient="forward")
        assert (o.status, o.nit, o.nfev, o.fun) == (alone.status, alone.nit, alone.nfev,
                                                    alone.fun)


def test_forward_differences_all_0_that_the_budget_cannot_check_end_max_nfev():
    # x0's f and 2 forward differences: 3; the central ones need 4 more
    f = Counted(_offset)
    r = of.minimize(f, _FLAT_X0, gradient="forward", max_nfev=6)
    assert r.status == "max_nfev" and f.calls == r.nfev == 3
    assert "CentralDifference, which would check it, needs up to 4 more" in r.message


def test_forward_differences_all_0_whose_check_raises_stall_with_every_call_counted():
    calls = [0]

    def f(x):
        calls[0] += 1
        if calls[0] > 4:  # the second central point
            raise RuntimeError("no more evaluations")
        return _offset(x)

    r = of.minimize(f, _FLAT_X0, gradient="forward")
    assert r.status == "stalled" and r.nfev == calls[0] == 5
    assert "which would check it, raised there (RuntimeError: no more evaluations)" in (
        r.message)


def test_forward_differences_all_0_near_a_minimum_still_converge():
    # gd's forward differences straddle the minimum of x0 - 1 at their fixed point, so
    # f(x + h) == f(x); central ones there (norm 1.5e-8) find no lower f
    f = Counted(lambda x: float((x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2))
    r = of.minimize(f, [0.5, 3.0], bounds=[(0, 2), (3, 3)], gradient="forward",
                    optimizer=of.GradientDescent(lr=0.25))
    assert r.status == "converged" and f.calls == r.nfev
    assert "central differences (norm 1.49e-08) find no lower f" in r.message


def test_forward_differences_that_cancel_across_a_minimum_still_converge():
    # f(x + h) = f(x) where x - 1 = -h/2: not f's rounding (the central slope times h is
    # far above it) but the forward differences' own error, which their convergence
    # accepts, as scipy's does
    f = Counted(lambda x: float(np.sum((x - 1.0) ** 2)))
    r = of.minimize(f, [-1.99], gradient="forward",
                    optimizer={"name": "lbfgs", "line_search": "armijo"})
    assert r.status == "converged" and f.calls == r.nfev
    assert "theirs cancelled here (a step across the minimum)" in r.message
    assert abs(r.x[0] - 1.0) < 1e-7


@pytest.mark.parametrize("seed", range(6))
def test_max_nfev_holds_where_strong_wolfe_backtracks_along_the_bounds(seed):
    # a first trial that leaves the box backtracks (Armijo along the projected path),
    # then the search takes the gradient there: that gradient was not budgeted (20 allowed,
    # 22 spent, central differences in 5-D)
    rng = np.random.default_rng(seed)
    f = Counted(lambda x: float(np.sum(x**2 - 10 * np.cos(2 * np.pi * x)) + 10 * len(x)))
    for _ in range(20):
        f.calls = 0
        budget = int(rng.integers(12, 40))
        r = of.minimize(f, rng.uniform(-0.33, 9.66, 5), bounds=[(-0.34, 9.67)] * 5,
                        gradient="central", max_nfev=budget)
        assert f.calls == r.nfev <= budget


def test_a_budget_smaller_than_the_starts_is_refused_before_any_work():
    f = Counted(lambda x: float(x @ x))
    with pytest.raises(of.InvalidArgumentError, match=r"'max_nfev' = 3 .* 4 starts"):
        of.minimize(f, starts=np.ones((4, 2)), max_nfev=3)
    assert f.calls == 0


def test_a_budget_of_one_evaluation_ends_at_x0_and_says_so_in_the_singular():
    f = Counted(lambda x: float(x @ x))
    r = of.minimize(f, [1.0, 2.0], max_nfev=1)
    assert (r.status, r.nit, r.nfev, f.calls) == ("max_nfev", 0, 1, 1)
    assert "1 evaluation spent, and the next step needs 3 more" in r.message


def test_max_nfev_with_a_line_search_returns_the_best_point_it_had():
    f = Counted(lambda x: float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2))
    r = of.minimize(f, [-1.2, 1.0], optimizer="lbfgs", gradient="forward", max_nfev=50)
    assert f.calls == r.nfev <= 50 and r.status == "max_nfev"
    assert r.fun == min(r.history.fun)  # the best point evaluated along the way


def _quartic(x):
    return float(((x - 0.5) ** 4).sum() + x[0] * x[1])


def test_a_search_with_too_few_evaluations_for_a_trial_and_its_gradient_tries_f_alone():
    # 1 + 10 central differences at x0; a trial with its gradient needs 11 more, 9 are
    # left: the search spends them on f alone (it used to stop at x0 with 9 unspent). Its
    # first trial decreases f enough (29.3 -> 8.5), and twice and four times its length
    # lower f further (1.8, 0.08); eight times goes up (103)
    f = Counted(_quartic)
    r = of.minimize(f, np.full(5, 2.0), gradient="central", max_nfev=20)
    assert (r.status, r.nit, r.nfev, f.calls) == ("max_nfev", 1, 15, 15)
    assert r.fun == _quartic(r.x) < 0.1
    # the gradient there is not measured: no step can follow, and the message says why
    assert "15 evaluations spent, and the next step needs 11 more than the budget of 20" in (
        r.message)


def test_f_alone_keeps_to_the_bounds():
    f = Counted(_quartic)
    r = of.minimize(f, np.full(5, 2.0), gradient="central", max_nfev=40, bounds=[(1.0, 3.0)] * 5)
    assert r.status == "max_nfev" and f.calls == r.nfev == 36
    assert (r.x == 1.0).all() and r.fun == _quartic(r.x) == 1.3125  # the box's corner


def test_a_stack_tries_f_alone_as_each_start_alone():
    starts = np.array([[2.0] * 5, [1.5, 2.0, -1.0, 0.0, 3.0]])
    alone = [of.minimize(_quartic, x, gradient="central", max_nfev=20) for x in starts]
    both = of.minimize(_quartic, starts=starts, gradient="central", max_nfev=40)
    for one, start in zip(alone, both.starts, strict=True):
        assert (start.status, start.nfev, start.fun) == (one.status, one.nfev, one.fun)
        assert (start.x == one.x).all() and one.nfev > 11


class _Uphill(of.GradientEstimator):
    """Minus the gradient of sum((x - 1)**2), at n evaluations of f."""

    def gradient(self, objective, x):
        for _ in range(x.size):
            objective.value(x)
        return -2.0 * (x - 1.0)

    def evaluations(self, objective, n):
        return n, 0


def test_f_alone_that_never_lowers_f_ends_at_the_start_and_says_what_was_left():
    # 1 + 60 at x0, 60 left (a trial and its gradient need 61): every trial of f alone
    # goes uphill, halving until its promise is lost in f's rounding
    f = Counted(lambda x: float(((x - 1.0) ** 2).sum()))
    r = of.minimize(f, np.zeros(60), gradient=_Uphill(), max_nfev=121)
    assert r.status == "max_nfev" and r.fun == 60.0 and not r.x.any()  # x0, unmoved
    assert 61 < r.nfev == f.calls < 121
    left = 121 - r.nfev
    assert (f"stopped with {left} of the budget of 121 left, too few for a trial and its "
            "gradient, and no trial of f alone lowered f") in r.message


def test_a_gradient_a_search_handed_over_is_tested_with_one_evaluation_left():
    # the search hands its accepted point's gradient to the next step: that step's gtol
    # test costs nothing, so a budget with too little left for a trial still earns it
    f = Counted(lambda x: float(((x - 1.0) ** 2).sum()))
    big = of.minimize(f, [3.0, -2.0], gradient="forward", gtol=1e-3)
    assert big.status == "converged" and big.nfev == 9
    # 1 left: the next step may begin (it used to need 3: a gradient and f), and its test of
    # the gradient it was handed ends the run as without a budget
    r = of.minimize(f, [3.0, -2.0], gradient="forward", gtol=1e-3, max_nfev=10)
    assert (r.status, r.nfev, r.fun, r.nit) == ("converged", 9, big.fun, big.nit)


def test_max_time_is_checked_before_the_first_step():
    f = Counted(lambda x: float(x @ x))
    r = of.minimize(f, [1.0, 2.0], max_time=1e-9)
    assert r.status == "max_time" and r.nit == 0 and f.calls == 1


def test_max_time_is_checked_between_line_search_trials():
    # each evaluation sleeps 50 ms: f(x0) and one central-difference gradient (6
    # evaluations) already pass max_time = 0.3 s, so no trial may start after them
    f = Counted(lambda x: float(np.sum((x - 1.0) ** 2)), sleep=0.05)
    r = of.minimize(f, np.zeros(3), max_time=0.3)
    assert r.status == "max_time" and f.calls <= 1 + 6 + 1


GD = of.GradientDescent


def test_converges_on_gradient_tolerance():
    r = of.minimize("sphere", [3.0, -4.0], optimizer=GD(lr=0.1), gtol=1e-6, on_interrupt="return")
    assert r.status == "converged" and r.success
    assert r.history.grad_norm[-1] <= 1e-6
    assert "gtol" in r.message
    assert r.nit == len(r.history) - 1


def test_max_steps_is_not_success_and_runs_exactly_that_many_steps():
    r = of.minimize("sphere", [3.0], optimizer=GD(lr=1e-4), max_steps=7, on_interrupt="return")
    assert (r.status, r.nit, r.success) == ("max_steps", 7, False)
    assert r.history.step.tolist() == list(range(8))


def test_max_steps_zero_evaluates_only_the_start():
    r = of.minimize("sphere", [3.0], max_steps=0, optimizer="gd", on_interrupt="return")
    assert (r.status, r.nit, r.fun) == ("max_steps", 0, 9.0)
    assert r.x.tolist() == [3.0]


def test_ftol_and_xtol_are_off_by_default_and_work_when_set():
    r = of.minimize("sphere", [1.0], optimizer=GD(lr=1e-3), max_steps=50, gtol=0,
                    on_interrupt="return")
    assert r.status == "max_steps"
    # (a fixed step met them: stalled, below; a strong Wolfe search's step: converged)
    r = of.minimize("sphere", [1.0], optimizer=GD(lr=1e-3), ftol=1e-2, gtol=0,
                    on_interrupt="return")
    assert r.status == "stalled" and "ftol" in r.message and r.nit == 1
    r = of.minimize("sphere", [1.0], optimizer=GD(lr=1e-3), xtol=1e-3, gtol=0,
                    on_interrupt="return")
    assert r.status == "stalled" and "xtol" in r.message
    assert r.history.step_norm[-1] <= 1e-3
    wolfe = GD(lr=1e-3, line_search="wolfe")
    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=wolfe, ftol=1e-3, gtol=0)
    assert r.status == "converged" and "ftol" in r.message and r.success
    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer="lbfgs", xtol=1e-2, gtol=0)
    assert r.status == "converged" and "xtol" in r.message
    assert r.history.step_norm[-1] <= 1e-2


@pytest.mark.parametrize("optimizer", [
    GD(lr=1e-9), GD(lr=1e-9, line_search="armijo"), of.Adam(lr=1e-9),
    {"name": "lbfgs", "line_search": "armijo", "lr": 1e-9}])
@pytest.mark.parametrize("tol", [{"ftol": 1e-6}, {"xtol": 1e-3}])
def test_a_step_the_learning_rate_sized_never_converges_on_xtol_or_ftol(optimizer, tol):
    # gd with lr = 1e-9 at (3, 3): f changes by 7e-8 relative, the step is 8e-9 long, the
    # gradient is 8.5: "converged" there would claim a minimum no step has shown
    starts = np.array([[3.0, 3.0], [-2.0, 1.0]])
    stack = of.minimize("sphere", starts=starts, optimizer=optimizer, **tol)
    assert [start.status for start in stack.starts] == ["stalled", "stalled"]
    for r in (of.minimize("sphere", [3.0, 3.0], optimizer=optimizer, **tol), stack):
        assert r.status == "stalled" and not r.success, r.message
        assert next(iter(tol)) in r.message and "no curvature condition sized" in r.message
        assert "line_search='wolfe'" in r.message
    # a strong Wolfe search sizes its step by f's slope: the same tolerances show a minimum
    r = of.minimize("sphere", [3.0, 3.0], optimizer=GD(lr=1e-9, line_search="wolfe"), **tol)
    assert r.status == "converged" and r.fun < 1e-4  # (from f = 18)


def test_stalled_when_the_step_no_longer_moves_x():
    # At 1e16 the spacing of floats is 2: a step of lr * 2x = 1e-16 * 2e16 = 2 ... then less.
    obj = of.FunctionObjective.from_callable(lambda x: float(x[0]), gradient=lambda x: np.ones(1))
    r = of.minimize(obj, [1e17], optimizer=GD(lr=1.0), on_interrupt="return")
    assert r.status == "stalled"
    assert r.nit == 1


STARTS = np.array([[1.0, 2.0], [-3.0, 1.0], [2.5, -2.0], [0.5, 0.5]])


# -- stop rules, written once: max_nfev and max_time in every kind of run -------------------
def _kinds():
    """(id, minimize arguments): every kind of run."""
    data = small_regression()
    return {
        "single": dict(fun="rosenbrock", x0=[-1.2, 1.0], gradient="central"),
        "vectorized": dict(fun="rosenbrock", starts=STARTS, gradient="central"),
        "serial": dict(fun="rosenbrock", starts=STARTS, gradient="central", workers="serial"),
        "training": dict(fun=data, x0=np.zeros(4), batch_size=8, epochs=500, seed=0),
        "training K": dict(fun=data, starts=np.repeat([[0.0], [1.0], [2.0]], 4, axis=1),
                           batch_size=8, epochs=500, seed=0),
    }


@pytest.mark.parametrize("kind", list(_kinds()))
def test_max_nfev_stops_every_kind_of_run_within_one_step_of_the_budget(kind):
    kw = dict(_kinds()[kind])
    fun = kw.pop("fun")
    budget = 400
    r = of.minimize(fun, optimizer=of.Adam(lr=0.01), max_steps=10**6, max_nfev=budget, **kw)
    outcomes = r.starts if isinstance(r, of.MultiStartResult) else [r]
    share = budget // len(outcomes)  # a multi-start run shares the budget equally
    for o in outcomes:
        assert o.status == "max_nfev", o.message
        assert "budget" in o.message and str(share) in o.message
        step = (1 + 4) if kind.startswith("training") else 1 + 2 * 2  # central in 2-D: 4
        assert share - step < o.nfev <= share, (o.nfev, share)
    assert r.nfev <= budget


@pytest.mark.parametrize("kind", ["single", "vectorized", "training"])
def test_max_time_stops_within_one_step_of_its_limit(kind):
    kw = dict(_kinds()[kind])
    fun = kw.pop("fun")
    steps = []

    def slow(info):  # each step takes at least 20 ms
        steps.append(time.perf_counter())
        time.sleep(0.02)

    t = time.perf_counter()
    r = of.minimize(fun, optimizer=of.Adam(lr=0.001), max_steps=10**6, max_time=0.3,
                    callbacks=slow, **kw)
    elapsed = time.perf_counter() - t
    assert r.status == "max_time" and "max_time = 0.3 s" in r.message
    assert 0.3 <= elapsed < 0.3 + 0.25  # within a step or so of the limit (loaded machines)
    assert 10 <= len(steps) <= 16


def test_budgets_may_be_raised_when_a_run_is_resumed(tmp_path):
    kw = dict(optimizer=of.Adam(lr=0.01), gradient="central", max_steps=10**6)
    part = of.minimize("rosenbrock", [-1.2, 1.0], max_nfev=500, checkpoint=tmp_path, **kw)
    assert part.status == "max_nfev"
    more = of.Runner("rosenbrock", max_nfev=1000, **kw).resume(tmp_path)
    whole = of.minimize("rosenbrock", [-1.2, 1.0], max_nfev=1000, **kw)
    assert more.status == "max_nfev" and more.nit > part.nit
    assert_same_run(more, whole)


def test_a_resume_with_a_budget_smaller_than_the_starts_is_refused(tmp_path):
    # a budget may change on resume: the share is checked there too
    f = Counted(lambda x: float(x @ x))
    of.minimize(f, starts=np.ones((4, 2)), optimizer="gd", max_steps=3,
                checkpoint=tmp_path)
    calls = f.calls
    with pytest.raises(of.InvalidArgumentError, match=r"'max_nfev' = 3 .* 4 starts"):
        of.Runner(f, "gd", max_steps=6, max_nfev=3).resume(tmp_path)
    assert f.calls == calls
