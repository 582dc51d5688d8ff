"""Adaptive finite differences, the default gradient of a black-box run with a line
search (issue 20): forward differences (n evaluations) where they suffice, central ones
(then Richardson's) for a start whose line search they mislead; per start, never undone,
and part of the run's state."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of


def rosen(x):
    return float(np.sum(100.0 * (x[1::2] - x[0::2] ** 2) ** 2 + (1.0 - x[0::2]) ** 2))


X0 = np.tile([-1.2, 1.0], 2)


def test_auto_is_adaptive_for_a_black_box_run_with_a_line_search():
    calls = []

    def f(x):
        calls.append(1)
        return rosen(x)

    r = of.minimize(f, X0, max_steps=1)
    # f(x0), one forward-difference gradient (n = 4), the first line search's trials
    assert r.history.nfev[0] == 1 + 4
    assert r.status == "max_steps"
    assert of.minimize(f, X0, bounds=[(-2, 2)] * 4, max_steps=1).history.nfev[0] == 1 + 8


def test_a_start_climbs_to_finer_differences_and_converges():
    r = of.minimize(rosen, X0)
    assert r.status == "converged" and r.success
    np.testing.assert_allclose(r.x, 1.0, atol=1e-6)
    # forward differences alone give up at their accuracy (x within 1e-5); the climb goes on
    forward = of.minimize(rosen, X0, gradient="forward")
    assert forward.status == "line_search" and r.fun < forward.fun


#: a point 6e-9 from the sphere's minimum, where forward differences (step 1.5e-8) err by
#: more than the gradient's norm (1.2e-8): no step along their direction lowers f
NEAR_ZERO = np.array([-6.013337050525536e-09, 7.961926673516473e-10])


def test_a_search_that_can_still_climb_tries_few_values_then_the_start_climbs():
    from optiframe.problem import CLIMBING_TRIALS

    calls = []

    def f(x):
        calls.append(x.copy())
        return float(x @ x)

    r = of.minimize(f, NEAR_ZERO, gradient="adaptive")
    assert r.status == "converged" and r.fun < NEAR_ZERO @ NEAR_ZERO
    # f(x0), 2 forward differences, one search; then central differences (points off x0
    # along one axis, as the forward ones were)
    along_an_axis = [i for i, x in enumerate(calls) if np.count_nonzero(x != NEAR_ZERO) == 1]
    assert along_an_axis[:2] == [1, 2]
    assert along_an_axis[2:6] == list(range(3 + CLIMBING_TRIALS, 7 + CLIMBING_TRIALS))
    # forward differences alone have no finer level to climb to: their searches take the
    # run's 30 trials
    forward = []
    of.minimize(lambda x: forward.append(1) or float(x @ x), NEAR_ZERO, gradient="forward")
    assert len(forward) > 1 + 2 + 2 * CLIMBING_TRIALS


def test_a_stack_row_below_the_finest_level_searches_as_alone():
    starts = np.array([NEAR_ZERO, [1.0, 2.0], [-0.5, 3.0]])
    stack = of.minimize(lambda x: float(x @ x), starts=starts, gradient="adaptive")
    for k, o in enumerate(stack.starts):
        alone = of.minimize(lambda x: float(x @ x), starts[k], gradient="adaptive")
        assert np.array_equal(o.x, alone.x) and o.message == alone.message
        assert (o.fun, o.nit, o.nfev) == (alone.fun, alone.nit, alone.nfev)


def big(x):
    return 1e12 * float(((x - 2.0) ** 2).sum())


def test_a_start_at_the_finest_level_is_judged_by_the_finest_gradient():
    # the search at central differences ends exactly at x = 2 after 9 trials, a climb to
    # Richardson's; the gradient it handed over is central (4e-4 there: 2 + h and 2 - h
    # round apart), and the start ended line_search on it, though Richardson's is 0
    r = of.minimize(big, np.zeros(3))
    assert r.status == "converged" and r.fun == 0.0 and r.history.grad_norm[-1] == 0.0
    # (with the last start, one row climbs to the finest level while another does not)
    starts = np.array([np.zeros(3), np.full(3, 5.0), [1.0, -3.0, 0.5], [1e3, -7.0, 3.0]])
    stack = of.minimize(big, starts=starts)
    for k, o in enumerate(stack.starts):
        alone = of.minimize(big, starts[k])
        assert np.array_equal(o.x, alone.x) and o.message == alone.message
        assert (o.fun, o.nit, o.nfev) == (alone.fun, alone.nit, alone.nfev)


def test_a_start_that_ends_at_the_finest_level_is_not_told_to_try_finer_differences():
    def noisy(x):
        return float(x @ x + 1e-10 * np.sin(1e6 * x).sum())

    r = of.minimize(noisy, np.ones(5))
    assert r.status == "line_search" and "the finest differences measured it" in r.message
    assert "richardson" not in r.message
    central = of.minimize(noisy, np.ones(5), gradient="central")
    assert "gradient='richardson'" in central.message
    # within bounds, where Richardson's differences cannot go, forward ones are told
    # 'central', and central ones nothing finer
    box = [(-2.0, 2.0)] * 5
    forward = of.minimize(noisy, np.ones(5), gradient="forward", bounds=box)
    assert "gradient='central'" in forward.message and "richardson" not in forward.message
    central = of.minimize(noisy, np.ones(5), gradient="central", bounds=box)
    assert "the finest differences measured it" in central.message


def test_an_adaptive_run_resumes_bit_for_bit_after_it_climbed(tmp_path):
    whole = of.minimize(rosen, X0, max_steps=60)
    for k in range(5, 60):
        of.minimize(rosen, X0, max_steps=k, checkpoint=tmp_path / str(k))
        levels = of.load_checkpoint(tmp_path / str(k)).arrays["rows/fd_level"]
        if np.max(levels) > 0:
            break
    else:
        pytest.fail("the run never climbed: the case needs a climb")
    resumed = of.Runner(rosen, max_steps=60).resume(tmp_path / str(k))
    np.testing.assert_array_equal(resumed.x, whole.x)
    assert (resumed.nit, resumed.nfev, resumed.status) == (whole.nit, whole.nfev, whole.status)


def test_each_start_of_a_stack_climbs_on_its_own_with_its_single_start_bits():
    starts = np.array([X0, X0 * 0.5, [0.5, 0.5, 2.0, 2.0]])
    stack = of.minimize(rosen, starts=starts)
    for outcome in stack.starts:
        alone = of.minimize(rosen, outcome.x0)
        np.testing.assert_array_equal(outcome.x, alone.x)
        assert (outcome.nit, outcome.nfev) == (alone.nit, alone.nfev)


def test_adaptive_is_registered_and_explains_itself():
    est = of.get_registry().build("gradient", "adaptive", of.GradientEstimator)
    assert isinstance(est, of.AdaptiveDifference)
    assert est.level_costs(of.FunctionObjective.from_callable(rosen), 4, None) == (4, 8, 16)


def rosen_chain(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


rosen_chain_der = of.Rosenbrock().gradient  # the same function's analytic gradient


#: starts from which forward differences vanish about 1e-5 from the minimum of the chained
#: Rosenbrock function (their error, sqrt(eps) |f''|, cancels the gradient there)
FORWARD_ZEROS = np.array([[1.1431428, -0.3413766, 0.93793429],
                          [0.84457151, 1.72823875, -1.54026947]])


def test_a_forward_difference_gradient_at_most_gtol_earns_no_convergence():
    # before: `converged` ("gradient norm 3.3e-09 <= gtol") 1.1e-5 from the minimum, where
    # the true gradient norm is 1e-5; central differences now decide, at their level
    for x0 in FORWARD_ZEROS:
        calls = []

        def f(x, calls=calls):
            calls.append(1)
            return rosen_chain(x)

        r = of.minimize(f, x0)
        assert r.status == "converged"
        assert np.abs(r.x - 1.0).max() < 1e-6, r.x - 1.0
        assert np.linalg.norm(rosen_chain_der(r.x)) < 1e-5
        assert r.nfev == len(calls)  # the central gradient's evaluations are counted
        # forward differences alone still stop at their zero, by their own norm
        forward = of.minimize(rosen_chain, x0, gradient="forward")
        assert np.abs(forward.x - 1.0).max() > 5e-6


def test_the_central_check_gives_a_stacks_rows_their_single_start_bits_and_resumes(tmp_path):
    stack = of.minimize(rosen_chain, starts=FORWARD_ZEROS)
    for outcome in stack.starts:
        alone = of.minimize(rosen_chain, outcome.x0)
        np.testing.assert_array_equal(outcome.x, alone.x)
        assert (outcome.nit, outcome.nfev, outcome.status) == (alone.nit, alone.nfev,
                                                               alone.status)
    # resumed from each step around the switch to central differences: the same bits
    x0 = FORWARD_ZEROS[0]
    whole = of.minimize(rosen_chain, x0)
    for k in range(whole.nit - 6, whole.nit):
        of.minimize(rosen_chain, x0, max_steps=k, checkpoint=tmp_path / str(k))
        resumed = of.Runner(rosen_chain).resume(tmp_path / str(k))
        np.testing.assert_array_equal(resumed.x, whole.x)
        assert (resumed.nit, resumed.nfev, resumed.status) == (whole.nit, whole.nfev,
                                                               whole.status)


def bowl(x):
    return float(500.0 * np.sum((x - 1.0) ** 2))


def test_a_fixed_step_with_adaptive_differences_climbs_by_the_central_check(tmp_path):
    # gd with forward differences stops at their zero, 7.5e-9 from the minimum of a steep
    # bowl, where the gradient norm is 1.3e-5; adaptive ones check it with central
    # differences, climb (a fixed step has no line search to show it) and converge
    gd = of.GradientDescent(lr=5e-4)
    x0 = np.array([3.0, -2.0, 0.5])
    forward = of.minimize(bowl, x0, optimizer=gd, gradient="forward")
    assert forward.status == "converged" and np.linalg.norm(1000.0 * (forward.x - 1)) > 1e-6
    calls = []

    def f(x, calls=calls):
        calls.append(1)
        return bowl(x)

    r = of.minimize(f, x0, optimizer=gd, gradient="adaptive")
    assert r.status == "converged" and np.linalg.norm(1000.0 * (r.x - 1)) < 1e-7
    assert r.nfev == len(calls)
    stack = of.minimize(bowl, starts=np.array([x0, x0[::-1]]), optimizer=gd,
                        gradient="adaptive")
    alone = of.minimize(bowl, x0[::-1], optimizer=gd, gradient="adaptive")
    np.testing.assert_array_equal(stack.starts[0].x, r.x)
    np.testing.assert_array_equal(stack.starts[1].x, alone.x)
    assert (stack.starts[1].nit, stack.starts[1].nfev) == (alone.nit, alone.nfev)
    # resumed from a checkpoint after the climb: the same run
    k = r.nit - 3
    of.minimize(bowl, x0, optimizer=gd, gradient="adaptive", max_steps=k,
                checkpoint=tmp_path / "c")
    assert np.max(of.load_checkpoint(tmp_path / "c").arrays["rows/fd_level"]) == 1
    resumed = of.Runner(bowl, gd, "adaptive").resume(tmp_path / "c")
    np.testing.assert_array_equal(resumed.x, r.x)
    assert (resumed.nit, resumed.nfev, resumed.status) == (r.nit, r.nfev, r.status)
