"""The Runner: stopping rules, statuses, callbacks, interruption, failures and recording."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import optiframe as of
from tests.conftest import func2

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
    r = of.minimize("sphere", [1.0], optimizer=GD(lr=1e-3), ftol=1e-2, gtol=0,
                    on_interrupt="return")
    assert r.status == "converged" and "ftol" in r.message
    r = of.minimize("sphere", [1.0], optimizer=GD(lr=1e-3), xtol=1e-3, gtol=0,
                    on_interrupt="return")
    assert r.status == "converged" and "xtol" in r.message
    assert r.history.step_norm[-1] <= 1e-3


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


def test_stalled_when_the_step_no_longer_moves_x():
    # At 1e16 the spacing of floats is 2: a step of lr * 2x = 1e-16 * 2e16 = 2 ... then less.
    obj = of.FunctionObjective.from_callable(lambda x: float(x[0]), gradient=lambda x: np.ones(1))
    r = of.minimize(obj, [1e17], optimizer=GD(lr=1.0), on_interrupt="return")
    assert r.status == "stalled"
    assert r.nit == 1


def test_callback_sees_each_step_and_can_stop_the_run():
    seen = []

    def cb(info):
        seen.append((info.step, info.fun))
        with pytest.raises(ValueError):
            info.x[0] = 99.0  # a read-only view
        if info.step == 5:
            raise StopIteration

    r = of.minimize("sphere", [3.0], optimizer=GD(lr=0.01), callbacks=[cb], on_interrupt="return")
    assert r.status == "callback_stop" and r.nit == 5
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5]
    assert seen[-1][1] == r.fun
    assert r.history.step[-1] == 5


def test_a_single_callable_is_accepted_as_callbacks():
    calls = []
    of.minimize("sphere", [3.0], max_steps=3, gtol=0, callbacks=lambda info: calls.append(1),
                optimizer="gd", on_interrupt="return")
    assert len(calls) == 3


def test_keyboard_interrupt_gives_interrupted_with_history_intact():
    def f(x):
        f.calls += 1
        if f.calls == 40:
            raise KeyboardInterrupt
        return float(np.sum(x**2))

    f.calls = 0
    r = of.minimize(f, [3.0], optimizer=GD(lr=0.01), gradient="central", max_steps=1000,
                    on_interrupt="return")
    assert r.status == "interrupted"
    assert len(r.history) >= 10
    assert r.history.step.tolist() == list(range(len(r.history)))
    assert r.fun == f(r.x)


def test_keyboard_interrupt_mid_record_keeps_columns_aligned():
    r = of.minimize("sphere", [3.0], optimizer=GD(lr=0.01), record_x=True, max_steps=5,
                    on_interrupt="return")
    h = r.history
    h._rows.extend((99.0, 1.0))  # a torn row, as an interrupt mid-write would leave
    h._repair()
    assert len(h) == 6 and h.x.shape == (6, 1)


SIGINT_CHILD = textwrap.dedent("""
    import sys, time, numpy as np, optiframe as of
    def slow(x):
        time.sleep(0.001)
        return float(np.sum(x**2))
    def ready(info):
        if info.step == 20:
            print("ready", flush=True)
    r = of.minimize(slow, [3.0], optimizer=of.GradientDescent(lr=1e-6),
                    max_steps=10**7, callbacks=[ready], on_interrupt=sys.argv[1])
    print(r.status, r.nit, len(r.history), flush=True)
""")


def _interrupt_child(mode):
    proc = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, out, err


def test_ctrl_c_in_a_real_process_stops_the_script_by_default():
    code, out, err = _interrupt_child("raise")
    assert code != 0 and out == ""  # the script stopped: nothing after minimize ran
    assert "KeyboardInterrupt: Interrupted (KeyboardInterrupt)" in err


def test_on_interrupt_return_gives_the_interrupted_result():
    code, out, _ = _interrupt_child("return")
    status, nit, rows = out.split()
    assert code == 0 and status == "interrupted"
    assert int(nit) >= 20 and int(rows) >= int(nit)


def test_ctrl_c_carries_the_partial_result(tmp_path):
    def ctrl_c(info):
        if info.step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", [3.0], optimizer=GD(lr=0.01), callbacks=ctrl_c,
                    checkpoint=tmp_path)
    r = info.value.result
    assert r.status == "interrupted" and len(r.history) == 6
    assert of.load_checkpoint(tmp_path).step == 5  # saved before raising


def _fails_near_zero(x):
    if abs(x[0]) < 2.0:
        raise ZeroDivisionError("boom")
    return float(x[0] ** 2)


def test_an_exception_in_the_objective_propagates_with_the_partial_result():
    with pytest.raises(ZeroDivisionError, match="boom") as info:
        of.minimize(_fails_near_zero, [3.0], optimizer=GD(lr=0.05), gradient="central")
    r = info.value.result
    assert r.status == "failed" and len(r.history) >= 2
    assert any("partial result" in note for note in info.value.__notes__)
    tb = info.traceback
    assert any(entry.name == "_fails_near_zero" for entry in tb)  # the user's frame is kept


def test_raise_errors_false_gives_failed_with_history():
    r = of.minimize(_fails_near_zero, [3.0], optimizer=GD(lr=0.05), gradient="central",
                    raise_errors=False)
    assert r.status == "failed" and not r.success
    assert "ZeroDivisionError: boom" in r.message
    assert len(r.history) >= 2
    assert r.fun == _fails_near_zero(r.x)


def test_a_multistart_run_records_a_failed_start_unless_raise_errors_is_true():
    starts = np.array([[3.0], [2.5], [1.0]])  # the last fails at x0, the others later
    r = of.minimize(_fails_near_zero, starts=starts, optimizer=GD(lr=0.05), gradient="central")
    assert [s.status for s in r.starts] == ["failed"] * 3
    with pytest.raises(of.RunFailedError, match="3 of 3 starts failed") as info:
        of.minimize(_fails_near_zero, starts=starts, optimizer=GD(lr=0.05),
                    gradient="central", raise_errors=True)
    assert info.value.result.statuses() == {"failed": 3}


def test_record_every_keeps_every_kth_row_and_the_last():
    r = of.minimize("sphere", [3.0], optimizer=GD(lr=1e-3), max_steps=25, record_every=10,
                    on_interrupt="return")
    assert r.history.step.tolist() == [0, 10, 20, 25]
    assert r.history.fun[-1] == r.fun


def test_record_x_keeps_the_points():
    r = of.minimize("sphere", [3.0, 1.0], optimizer=GD(lr=0.25), max_steps=3, record_x=True,
                    on_interrupt="return")
    np.testing.assert_array_equal(r.history.x, [[3.0, 1.0], [1.5, 0.5], [0.75, 0.25],
                                                [0.375, 0.125]])


def test_points_are_not_kept_by_default():
    r = of.minimize("sphere", [3.0], max_steps=3, optimizer="gd", on_interrupt="return")
    with pytest.raises(of.InvalidArgumentError, match="record_x=True"):
        _ = r.history.x


def test_history_columns_are_consistent():
    r = of.minimize("rosenbrock", [-1.0, 1.0], optimizer=GD(lr=1e-3), max_steps=100,
                    on_interrupt="return")
    h = r.history
    assert np.all(np.diff(h.nfev) > 0) and h.nfev[-1] == r.nfev
    assert np.all(np.diff(h.elapsed) >= 0)
    assert math.isnan(h.step_norm[0]) and np.all(h.step_norm[1:] > 0)
    np.testing.assert_allclose(h.fun[1:], [of.Rosenbrock().value(x) for x in
                                           of.minimize("rosenbrock", [-1.0, 1.0],
                                                       optimizer=GD(lr=1e-3), max_steps=100,
                                                       record_x=True,
                                                           on_interrupt="return").history.x[1:]])


def test_result_is_frozen_and_its_x_read_only():
    r = of.minimize("sphere", [3.0], max_steps=2, optimizer="gd", on_interrupt="return")
    with pytest.raises(AttributeError):
        r.fun = 0.0
    with pytest.raises(ValueError):
        r.x[0] = 0.0


def test_x0_and_caller_arrays_are_never_mutated():
    x0 = np.array([3.0, -2.0])
    before = x0.copy()
    for grad in ("central", "forward", "analytic"):
        of.minimize("sphere", x0, gradient=grad, max_steps=10, optimizer="gd",
                    on_interrupt="return")
    of.minimize(func2, x0, max_steps=10, optimizer="gd", on_interrupt="return")
    np.testing.assert_array_equal(x0, before)


def test_runner_can_be_reused_and_gives_identical_results():
    runner = of.Runner("rastrigin", GD(lr=1e-3), "central", max_steps=200, on_interrupt="return")
    a, b = runner.run([1.3, -0.7]), runner.run([1.3, -0.7])
    np.testing.assert_array_equal(a.x, b.x)
    assert a.nfev == b.nfev


def test_components_by_name_mapping_or_instance_are_equivalent():
    results = [
        of.minimize("sphere", [2.0], optimizer=o, gradient=g, max_steps=20, on_interrupt="return")
        for o, g in [("gd", "auto"), ({"name": "gd"}, "analytic"),
                     (GD(), of.AnalyticGradient()), (GD, of.AutoGradient)]
    ]
    for r in results[1:]:
        np.testing.assert_array_equal(r.x, results[0].x)


def test_status_vocabulary_and_messages():
    assert {s.value for s in of.Status} == {
        "converged", "completed", "max_steps", "max_nfev", "max_time", "diverged", "nan", "stalled",
        "line_search", "callback_stop", "interrupted", "failed"}
    from optiframe.result import MESSAGES
    assert set(MESSAGES) == set(of.Status)


def test_result_repr_is_readable():
    text = repr(of.minimize("sphere", [3.0], max_steps=2, optimizer="gd", on_interrupt="return"))
    assert "status: max_steps" in text and "nfev" in text


def test_an_objective_raising_at_x0_fails_the_run_keeping_x0():
    import math as m

    def f(x):
        return m.log(float(x[0]))  # ValueError at x0 = -1

    r = of.minimize(f, [-1.0], optimizer="gd", raise_errors=False)
    assert r.status == "failed" and "at x0: ValueError" in r.message
    assert r.x.tolist() == [-1.0] and r.nit == 0 and len(r.history) == 1
    with pytest.raises(ValueError, match="math domain error") as info:
        of.minimize(f, [-1.0], optimizer="gd")
    assert info.value.result.x.tolist() == [-1.0]
    # an OverflowError is an overflow, not a failure: f(x0) counts as inf
    r = of.minimize(lambda x: m.exp(float(x[0])), [1000.0], optimizer="gd")
    assert r.status == "diverged" and "f(x0) is inf" in r.message
    with pytest.raises(of.InvalidTypeError):  # an unusable result is still bad input
        of.minimize(lambda x: "no", [1.0], optimizer="gd")


def test_two_runners_in_two_threads_sharing_one_optimizer_give_their_solo_results():
    import threading

    shared = of.Adam(lr=0.01)
    jobs = {"rosenbrock": [-1.2, 1.0], "rastrigin": [0.3, -0.2, 0.1]}
    solo = {name: of.minimize(name, x0, optimizer=shared, max_steps=3000, on_interrupt="return").x
            for name, x0 in jobs.items()}
    together = {}

    def work(name, x0):
        for _ in range(3):
            together[name] = of.minimize(name, x0, optimizer=shared, max_steps=3000,
                                         on_interrupt="return").x

    threads = [threading.Thread(target=work, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in jobs:
        np.testing.assert_array_equal(together[name], solo[name])


def test_progress_bar_on_request_and_off_by_default_when_not_a_terminal(capsys):
    pytest.importorskip("tqdm")
    import time as t

    def slow(x):
        t.sleep(0.0002)
        return float(np.sum(x**2))

    r = of.minimize(slow, [3.0], optimizer=GD(lr=1e-4), gtol=0, max_steps=3000,
                    progress=True, on_interrupt="return")
    err = capsys.readouterr().err
    assert "optiframe" in err and "3000/3000" in err and "f=" in err
    assert r.nit == 3000
    of.minimize(slow, [3.0], optimizer=GD(lr=1e-4), gtol=0, max_steps=300, on_interrupt="return")
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
    with pytest.raises(of.InvalidArgumentError, match="'progress' must be True, False or None"):
        of.minimize("sphere", [1.0], progress="yes", optimizer="gd", on_interrupt="return")
