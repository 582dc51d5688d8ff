"""Widened central differences (optiframe.widened) and the verdicts they check: where a
run's own differences have nothing finer (Richardson's, adaptive ones at their finest),
a convergence they vouched for stands only where differences wide enough to rise above
f's rounding find no lower f either (issue 20: a status is earned)."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_helpers import rosen, rosen_der

import optiframe as of
from optiframe.widened import ROUNDS, widener, widening_cost

_EPS = float(np.finfo(float).eps)


class Counted:
    """f with every evaluation counted; from ``fail_after`` calls on, it raises."""

    def __init__(self, f, fail_after=None):
        self.f, self.calls, self.fail_after = f, 0, fail_after

    def __call__(self, x):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("no more evaluations")
        return self.f(x)


def _offset(x):
    return float(1e12 + np.sum((np.asarray(x) - 0.5) ** 2))


#: Rosenbrock where its last coordinate, -5e15, makes f = 2.7e33: the second
#: coordinate's slope (4e19) moves f by less than its rounding across Richardson's step
#: there (bench_hostile.py, seed 16, run 42, where the run ended after 2,309 steps)
_SWAMPED_X = np.array([-4.22805483e+05, 2.13081023e+01, -5.19494698e+15])


# -- the widened gradient ---------------------------------------------------------------------
def test_widened_differences_measure_a_slope_that_f_s_rounding_hides():
    f = Counted(_offset)
    objective = of.FunctionObjective.from_callable(f)
    x = np.array([[2.0, -2.0]])
    assert np.all(of.CentralDifference().gradient(objective, x[0]) == 0.0)  # f's rounding
    f.calls = 0
    G, spent, error, unpaid = widener(objective)(x, _offset(x[0]), None)
    assert error is None and not unpaid and spent == f.calls <= widening_cost(2)
    np.testing.assert_allclose(G[0], [3.0, -5.0], rtol=1e-2)


def test_widened_differences_keep_to_what_is_left_and_count_what_raised():
    objective = of.FunctionObjective.from_callable(f := Counted(_offset))
    x = np.array([[2.0, -2.0]])
    G, spent, error, unpaid = widener(objective)(x, _offset(x[0]), 5)
    assert G is None and unpaid and spent == f.calls == 4  # two rounds would take 8
    g = Counted(_offset, fail_after=3)
    G, spent, error, unpaid = widener(of.FunctionObjective.from_callable(g))(x, 1e12, None)
    assert G is None and isinstance(error, RuntimeError) and spent == g.calls == 4


def test_a_coordinate_that_f_does_not_see_widens_to_its_cap_and_no_farther():
    f = Counted(lambda x: float(1e12 + (x[0] - 0.5) ** 2))  # x[1] does not matter
    G, spent, _, _ = widener(of.FunctionObjective.from_callable(f))(
        np.array([[2.0, 7.0]]), 1e12, None)
    assert G[0, 1] == 0.0 and spent == f.calls == 2 * ROUNDS + 2 * 4  # x[0]: four rounds


def test_widened_differences_keep_within_the_bounds():
    from optiframe.bounds import Box

    seen = []

    def f(x):
        seen.append(np.array(x))
        return _offset(x)

    box = Box(lo=np.array([0.0, 0.1, -1.0]), hi=np.array([2.0, 0.1, 1.0]))
    x = np.array([2.0, 0.1, 0.9])  # at the first upper bound; the second is fixed
    G, spent, _, _ = widener(of.FunctionObjective.from_callable(f), box)(
        x[None], _offset(x), None)
    P = np.array(seen)
    inside = (P - box.lo >= 0.0) & (box.hi - P >= 0.0)
    assert spent == len(P) and inside.all()
    assert G[0, 1] == 0.0  # no slope to follow where the box fixes x
    np.testing.assert_allclose(G[0, [0, 2]], [3.0, 0.8], rtol=0.05)  # one-sided at 2.0


# -- the verdicts they check --------------------------------------------------------------------
@pytest.mark.parametrize("gradient", ["richardson", "auto"])
def test_a_precision_that_f_s_rounding_feigned_is_no_convergence(gradient):
    # The run ended "converged: f cannot be lowered within its precision" at _SWAMPED_X,
    # where a step along the true -g lowers f by 1650 roundings (the verdict's unit is
    # 1000): its differences, Richardson's at the finest, are f's rounding there.
    f = Counted(rosen)
    r = of.minimize(f, _SWAMPED_X, gradient=gradient)
    assert r.status == "line_search" and not r.success and f.calls == r.nfev
    assert "widened until f's change stood above its rounding" in r.message
    assert "jac=" in r.message
    x, g = np.asarray(r.x), rosen_der(np.asarray(r.x))
    unit = 1e3 * _EPS * abs(r.fun)
    lowest = min(rosen(x - length * g / np.linalg.norm(g)) for length in np.logspace(0, 2, 41))
    assert lowest < r.fun - unit


def test_the_check_is_made_row_by_row_in_a_stack():
    starts = np.array([_SWAMPED_X, [3.0, -2.0, 1.0]])
    f = Counted(rosen)
    r = of.minimize(f, starts=starts, gradient="richardson")
    assert f.calls == sum(o.nfev for o in r.starts)
    for k, o in enumerate(r.starts):
        alone = of.minimize(rosen, starts[k], gradient="richardson")
        assert (o.status, o.nit, o.nfev, o.fun) == (alone.status, alone.nit, alone.nfev,
                                                    alone.fun)
    assert r.starts[0].status == "line_search"


@pytest.mark.parametrize("gradient", ["richardson", "auto"])
def test_the_precision_of_a_minimum_stands_after_the_check(gradient):
    f = Counted(lambda x: float(1e6 + np.sum((x - 0.5) ** 2)))
    r = of.minimize(f, [0.3, 0.9], gradient=gradient)
    assert r.status == "converged" and f.calls == r.nfev
    assert "cannot be lowered within its precision" in r.message
    assert "find no lower f beyond its rounding either" in r.message
    assert r.fun - 1e6 <= 1e3 * _EPS * 1e6


def test_a_check_the_budget_cannot_pay_for_ends_max_nfev():
    f = Counted(rosen)
    r = of.minimize(f, _SWAMPED_X, gradient="richardson", max_nfev=30)
    assert r.status == "max_nfev" and f.calls == r.nfev <= 30
    assert "which would check it, could not pay for its next round within the budget of 30" \
        in r.message
    r = of.minimize(rosen, _SWAMPED_X, gradient="richardson", max_nfev=20)  # 2 left
    assert r.status == "max_nfev" and "needs up to 36 more than the budget of 20" in r.message


def test_a_check_whose_widened_differences_raise_leaves_the_verdict_unchecked():
    full = of.minimize(rosen, _SWAMPED_X, gradient="richardson")
    before_check = full.nfev - 20  # within the widened differences' rounds
    f = Counted(rosen, fail_after=before_check)
    r = of.minimize(f, _SWAMPED_X, gradient="richardson", raise_errors=False)
    assert r.status == "line_search" and not r.success and f.calls == r.nfev
    assert "raised there (RuntimeError: no more evaluations): give the objective's own" in r.message


def test_a_check_the_clock_cannot_wait_for_ends_max_time(monkeypatch):
    import optiframe.finer_check as finer_check

    class Late:  # the check's clock reads late: max_time ran out before it began
        @staticmethod
        def perf_counter() -> float:
            return float("inf")

    full = of.minimize(rosen, _SWAMPED_X, gradient="richardson")
    monkeypatch.setattr(finer_check, "time", Late)
    r = of.minimize(rosen, _SWAMPED_X, gradient="richardson", max_time=1e9)
    assert r.status == "max_time" and "rounding was checking it" in r.message
    assert r.nit == full.nit and r.nfev < full.nfev
    np.testing.assert_array_equal(r.x, full.x)


def test_a_check_the_budget_stops_part_way_says_so():
    f = Counted(lambda x: 3.0)  # flat: every coordinate widens to its cap, six rounds
    r = of.minimize(f, np.ones(5), gradient="richardson", max_nfev=40)
    assert r.status == "max_nfev" and f.calls == r.nfev <= 40
    assert "could not pay for its next round within the budget of 40 after 10" in r.message


# -- differences that were all 0 ----------------------------------------------------------------
@pytest.mark.parametrize("optimizer", [None, "bfgs"])
def test_central_differences_all_0_far_from_a_minimum_earn_no_convergence(optimizer):
    # The default (auto: adaptive differences) ended "converged: gradient norm 0" after one
    # step, 38 roundings above the minimum: at f = 1e12 its forward and central differences
    # are both f's rounding. The widened ones see the slope: stalled, not success.
    f = Counted(_offset)
    r = of.minimize(f, [3.0, -2.0], optimizer=optimizer)
    assert r.status == "stalled" and not r.success and f.calls == r.nfev
    assert "every difference at step 1 was 0" in r.message
    assert "widened until f's change stood above its rounding (norm" in r.message
    assert _offset(r.x) - 1e12 > 1e3 * _EPS * 1e12  # above the minimum by its rounding


@pytest.mark.parametrize("gradient", ["forward", "central"])
def test_forward_and_central_differences_all_0_are_widened_too(gradient):
    # at [0.9, 0.1], 0.32 above the minimum (1.45 of the verdict's units), forward and
    # central differences are all 0: the widened ones measure the slope, and the search
    # along them, its first length overshooting the minimum on the line, goes back to
    # the quadratic's minimizer, which finds all of that 0.32
    f = Counted(_offset)
    r = of.minimize(f, [0.9, 0.1], gradient=gradient)
    assert r.status == "stalled" and not r.success and f.calls == r.nfev
    assert "every difference at step 0 was 0" in r.message
    assert "(norm 1.13) find f lower by 0.32" in r.message


@pytest.mark.parametrize("gradient", ["central", "auto"])
def test_differences_all_0_within_bounds_are_widened_too(gradient):
    f = Counted(_offset)
    r = of.minimize(f, [2.0, 0.1], gradient=gradient, bounds=[(0.0, 2.0), (0.1, 0.1)])
    assert r.status == "stalled" and not r.success and f.calls == r.nfev
    assert "widened until f's change stood above its rounding (norm" in r.message
    assert r.x[1] == 0.1


def test_differences_all_0_at_the_minimum_still_converge():
    f = Counted(_offset)
    r = of.minimize(f, [0.5, 0.5], gradient="richardson")
    assert r.status == "converged" and f.calls == r.nfev and r.nit == 0
    assert "rounding measure a gradient norm of 0 there" in r.message
