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


@pytest.mark.parametrize("starts", [None, np.array([[1.0, 2.0], [1.0, 2.0]])])
def test_ctrl_c_as_the_last_starts_end_reaches_the_run_end_hooks(starts, plugin):
    # ftol ends every start at step 18; Ctrl-C in that step's callback: the starts keep
    # their verdicts, the run raises KeyboardInterrupt, and both kinds of run-end
    # observer see the result first, as for an interrupted run (a plugin's missed it)
    seen = []

    class Watcher:
        @of.hookimpl
        def on_run_end(self, result):
            seen.append(("plugin", result.message))

    class CtrlC:
        def on_step(self, info):
            if info.step == 18:
                raise KeyboardInterrupt

        def on_run_end(self, result):
            seen.append(("callback", result.message))

    plugin(Watcher(), "watcher")
    kw = dict(optimizer=GD(lr=0.1), ftol=1e-3)
    where = dict(x0=[1.0, 2.0]) if starts is None else dict(starts=starts)
    whole = of.minimize("sphere", **where, **kw)
    assert whole.nit == 18 and whole.status == "stalled"
    seen.clear()
    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", **where, callbacks=[CtrlC()], **kw)
    r = info.value.result
    assert type(info.value) is KeyboardInterrupt  # (not the run's own signal to the Runner)
    assert r.status == "stalled" and r.nit == 18 and r.message == whole.message
    assert seen == [("callback", r.message), ("plugin", r.message)]
    assert np.array_equal(r.jac, whole.jac)  # the result is whole: its gradient is bound
    returned = of.minimize("sphere", **where, callbacks=[CtrlC()], on_interrupt="return", **kw)
    assert returned.status == "stalled" and returned.message == whole.message


@pytest.mark.parametrize("starts", [None, np.array([[3.0], [2.0]])])
def test_ctrl_c_after_the_last_step_keeps_the_whole_result(starts, tmp_path, monkeypatch):
    # Ctrl-C as the run ends (here: while its checkpoint folder is released) came after
    # every step: it escaped as a bare KeyboardInterrupt and the finished run was lost.
    # It now waits for the result, which the run returns (on_interrupt="return") or
    # raises with (as Ctrl-C where every start had ended)
    import os
    import signal

    from optiframe.checkpoint import Checkpointer

    real = Checkpointer.close

    def close(self):
        os.kill(os.getpid(), signal.SIGINT)
        real(self)

    monkeypatch.setattr(Checkpointer, "close", close)
    where = dict(x0=[3.0]) if starts is None else dict(starts=starts)
    kw = dict(optimizer=GD(lr=0.01), max_steps=5)
    r = of.minimize("sphere", **where, on_interrupt="return", checkpoint=tmp_path / "a", **kw)
    assert r.nit == 5 and "max_steps" in str(r.status if starts is None else r.statuses())
    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", **where, checkpoint=tmp_path / "b", **kw)
    assert info.value.result.nit == 5 and info.value.result.message == r.message


@pytest.mark.parametrize("starts", [None, np.array([[3.0], [1.0]])], ids=["single", "stack"])
def test_ctrl_c_as_the_run_hands_its_result_back_keeps_it(starts, monkeypatch):
    # Ctrl-C after the run-end observers, as the run's watch put SIGINT's handler back
    # (in the context managers' exits), escaped bare and the finished run was lost. The
    # end now waits to the watch's end, and the result comes with it
    import os
    import signal

    real = of.Runner._ended

    def ended(self, *args, **kwargs):  # (the observers told: the watch ends next)
        out = real(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(of.Runner, "_ended", ended)
    where = dict(x0=[3.0]) if starts is None else dict(starts=starts)
    kw = dict(optimizer=GD(lr=0.01), max_steps=5)
    r = of.minimize("sphere", **where, on_interrupt="return", **kw)
    assert r.nit == 5
    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", **where, **kw)
    assert info.value.result.nit == 5 and info.value.result.message == r.message


def test_ctrl_c_in_a_run_end_callback_keeps_the_result(plugin):
    # Ctrl-C while a callback's on_run_end ran escaped bare, the finished run lost
    # (bench_ctrl_c.py, a training run): the result is kept, the observers after it are
    # not told, and KeyboardInterrupt carries it (on_interrupt="return": returned)
    told = []

    class Slow:
        def on_run_end(self, result):
            raise KeyboardInterrupt

    class Watcher:
        @of.hookimpl
        def on_run_end(self, result):
            told.append(result.status)

    plugin(Watcher(), "watcher")
    kw = dict(optimizer=GD(lr=0.1), max_steps=5, callbacks=[Slow()])
    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", [3.0], **kw)
    assert info.value.result.status == "max_steps" and info.value.result.nit == 5
    r = of.minimize("sphere", [3.0], on_interrupt="return", **kw)
    assert r.status == "max_steps" and r.nit == 5 and told == []


@pytest.mark.parametrize("starts", [None, np.array([[3.0], [2.0]])])
def test_ctrl_c_as_the_run_is_set_up_stops_it_before_its_first_step(starts, tmp_path,
                                                                     monkeypatch):
    # Ctrl-C after f at the starting points, as the run opened its checkpoint folder and
    # stream, escaped bare (bench_ctrl_c.py); now the run stops at once, interrupted at
    # step 0 and checkpointed, and resumes to the run never stopped
    import os
    import signal

    from checkpoint_helpers import assert_same_run

    from optiframe import runs

    real = runs.watch

    def watch(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    where = dict(x0=[3.0]) if starts is None else dict(starts=starts)
    kw = dict(optimizer=GD(lr=0.01), max_steps=5)
    monkeypatch.setattr(runs, "watch", watch)
    r = of.minimize("sphere", **where, on_interrupt="return", checkpoint=tmp_path, **kw)
    monkeypatch.setattr(runs, "watch", real)
    assert r.nit == 0 and "interrupted" in str(r.status if starts is None else r.statuses())
    assert of.load_checkpoint(tmp_path).step == 0
    back = of.Runner("sphere", **kw).resume(tmp_path)
    assert_same_run(back, of.minimize("sphere", **where, **kw))


def test_ctrl_c_as_the_loop_hands_over_keeps_the_whole_result(monkeypatch):
    # Ctrl-C while the loop wrote the history's last row (its run over) escaped bare
    # (bench_ctrl_c.py, seed 3); the result is now whole, and returned or raised with
    import os
    import signal

    from optiframe.history import History

    real = History.last_step

    def last_step(self):
        os.kill(os.getpid(), signal.SIGINT)
        return real.fget(self)

    monkeypatch.setattr(History, "last_step", property(last_step))
    kw = dict(optimizer=GD(lr=0.1), max_steps=5)
    r = of.minimize("sphere", [3.0], on_interrupt="return", **kw)
    assert r.status == "max_steps" and r.nit == 5 and len(r.history) == 6
    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", [3.0], **kw)
    assert info.value.result.status == "max_steps" and len(info.value.result.history) == 6


@pytest.mark.parametrize("where", ["ended", "hold"])
def test_ctrl_c_landing_as_the_run_is_handed_over_keeps_the_result(where, monkeypatch):
    # a Ctrl-C can land before the hand-over's hold is set up: as the loop calls it
    # ("ended") or as it sets its hold up ("hold"); both escaped bare (bench_ctrl_c.py
    # seed 6, training run 79 and run 52); the run's rows had all ended, so the run ends
    from optiframe import observers

    calls = []
    if where == "ended":
        real = observers.Watch.ended

        def cut(self, s):
            calls.append(1)
            if len(calls) == 1:
                raise KeyboardInterrupt
            return real(self, s)

        monkeypatch.setattr(observers.Watch, "ended", cut)
    else:
        class Cut(observers.deferred):
            def __enter__(self):
                calls.append(1)
                if len(calls) == 1:
                    raise KeyboardInterrupt
                return super().__enter__()

        monkeypatch.setattr(observers, "deferred", Cut)
    r = of.minimize("sphere", [3.0], optimizer=GD(lr=0.1), max_steps=5, on_interrupt="return")
    assert r.status == "max_steps" and r.nit == 5 and len(r.history) == 6


def test_callbacks_take_one_object_with_event_methods_or_none():
    # (one such object was refused with "TypeError: 'CB' object is not iterable")
    class Stop:
        def on_step(self, info):
            if info.step == 3:
                raise StopIteration

    r = of.minimize("sphere", [3.0], optimizer=GD(lr=0.01), callbacks=Stop())
    assert r.status == "callback_stop" and r.nit == 3
    assert of.Runner("sphere", callbacks=None).callbacks == ()
    assert of.minimize("sphere", [3.0], callbacks=None, epoch_callbacks=None).success


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


def test_run_arguments_given_to_the_runner_say_where_they_go():
    for name in ("seed", "starts", "workers"):
        with pytest.raises(of.InvalidArgumentError,
                           match=rf"'{name}' is an argument of the run, not of the Runner: "
                                 rf"runner.run\(x0, {name}=...\)"):
            of.Runner("sphere", **{name: 3})


def test_a_runner_has_everything_a_kind_of_run_reads():
    """optiframe.run_spec.RunSpec lists what runs.py and assembly.py read of a Runner (mypy
    checks the reads); a Runner must have each of them."""
    from optiframe.checkpoint_config import Configured
    from optiframe.run_spec import RunSpec

    # RunSpec extends Configured: its members are its own and its bases'
    members = [name for cls in (RunSpec, Configured) for name in vars(cls)
               if not name.startswith("_")]
    assert {"objective", "stop", "line_search", "box", "checkpointer"} <= set(members)
    runner = of.Runner("sphere", batch_size=None)
    missing = [name for name in members if not hasattr(runner, name)]
    assert missing == []
    # and what a checkpoint's configuration reads (checkpoint_config.Configured)
    configured = [name for name in vars(Configured) if not name.startswith("_")]
    assert {"objective", "optimizer", "stop", "record_x"} <= set(configured)
    assert [name for name in configured if not hasattr(runner, name)] == []


def test_the_default_step_limit_is_scipys_for_quasi_newton_and_1000_for_fixed_steps():
    # scipy's L-BFGS-B runs up to maxiter=15000; so do lbfgs and bfgs when max_steps is
    # not given. A fixed step keeps 1000 (the blog's), a minibatch run its epochs.
    assert of.Runner("sphere").stop.max_steps == 15000
    assert of.Runner("sphere", "bfgs").stop.max_steps == 15000
    assert of.Runner("sphere", GD(lr=0.1)).stop.max_steps == 1000
    assert of.Runner("sphere", of.Adam()).stop.max_steps == 1000
    assert of.Runner("sphere", "lbfgs", max_steps=7).stop.max_steps == 7
    # extended Rosenbrock in 400-D: about 2000 L-BFGS steps, as scipy's L-BFGS-B
    x0 = np.tile([-1.2, 1.0], 200)
    r = of.minimize("rosenbrock", x0)  # (its analytic gradient)
    assert r.status == "converged" and 1000 < r.nit < 15000, (r.status, r.nit)
    capped = of.minimize("rosenbrock", x0, max_steps=1000)
    assert capped.status == "max_steps" and capped.message.endswith("max_steps = 1000.")
    slow = of.minimize(func2, [3.0, 3.0], optimizer=GD(lr=1e-6))
    assert slow.status == "max_steps" and slow.nit == 1000


def _sigint_after(call):
    """``call`` that sends this process a SIGINT as it returns."""
    def wrapped(*args, **kwargs):
        out = call(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return out

    return wrapped


@pytest.mark.parametrize("starts", [None, np.array([[3.0], [1.0]])], ids=["single", "stack"])
@pytest.mark.parametrize("at", ["sigterm_interrupts", "ctrl_c_at_the_end", "_told"])
def test_ctrl_c_between_the_loops_end_and_the_results_hand_over_keeps_it(at, starts,
                                                                          monkeypatch):
    # the last Ctrl-C window of a run's end: after the loop's last hold (Watch.ended) and
    # before the holds of the run's end (a context manager's exit in run_point/run_stack,
    # the result handed from them to the Runner), a Ctrl-C escaped bare, the finished run
    # lost. The end is now held from Watch.ended until the run-end observers
    import contextlib

    from optiframe import runs

    if at == "sigterm_interrupts":  # the context managers around the loop exit
        real = runs.sigterm_interrupts

        @contextlib.contextmanager
        def sigterm_interrupts(active):
            with real(active):
                yield
            os.kill(os.getpid(), signal.SIGINT)

        monkeypatch.setattr(runs, "sigterm_interrupts", sigterm_interrupts)
    elif at == "ctrl_c_at_the_end":
        monkeypatch.setattr(runs, "ctrl_c_at_the_end", _sigint_after(runs.ctrl_c_at_the_end))
    else:
        monkeypatch.setattr(of.Runner, "_told", _sigint_after(of.Runner._told))
    where = dict(x0=[3.0]) if starts is None else dict(starts=starts)
    kw = dict(optimizer=GD(lr=0.01), max_steps=5)
    r = of.minimize("sphere", **where, on_interrupt="return", **kw)
    assert r.nit == 5 and "max_steps" in str(r.status)
    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", **where, **kw)
    assert info.value.result.nit == 5 and info.value.result.message == r.message


def test_ctrl_c_as_a_serial_workers_start_ends_stops_the_run(tmp_path, monkeypatch):
    # workers="serial" runs each start's job in this process: a Ctrl-C as a job's run
    # ended was taken as the job's own (its Watch noted it) and nobody read it, so the
    # run went on with the next starts as if never stopped. It stops the run now, after
    # the job's finished start is kept: the starts after it are interrupted, and resuming
    # runs them
    from optiframe import observers

    real, ended = observers.Watch.ended, []

    def end_then_ctrl_c(self, s):
        real(self, s)
        if not ended:
            ended.append(s.k)
            os.kill(os.getpid(), signal.SIGINT)  # (after the job's last hold)

    monkeypatch.setattr(observers.Watch, "ended", end_then_ctrl_c)
    starts = np.array([[3.0, 1.0], [1.0, 2.0], [2.0, -1.0]])
    kw = dict(optimizer=GD(lr=0.1), max_steps=5)
    r = of.minimize("sphere", starts=starts, on_interrupt="return", checkpoint=tmp_path,
                    workers="serial", **kw)
    assert r.statuses() == {"max_steps": 1, "interrupted": 2}
    monkeypatch.setattr(observers.Watch, "ended", real)
    again = of.Runner("sphere", **kw).resume(tmp_path, workers="serial")
    plain = of.minimize("sphere", starts=starts, workers="serial", **kw)
    assert again.statuses() == plain.statuses() == {"max_steps": 3}
    np.testing.assert_array_equal(again.x, plain.x)


@pytest.mark.parametrize("workers", ["serial", 2])
def test_ctrl_c_as_the_last_start_on_workers_arrives_is_not_lost(workers):
    # a Ctrl-C as the last start came back from its worker (in its on_start_end
    # callback, its checkpoint, its progress tick) stopped the wait for the others, of
    # which there were none: nothing was reported interrupted and the run returned as
    # never stopped, the Ctrl-C lost (bench_ctrl_c.py --seed 42, both kinds of workers).
    # It comes with the result, as a Ctrl-C as a stack ends
    class CtrlCAtTheLast:
        ended = 0

        def on_start_end(self, outcome):
            self.ended += 1
            if self.ended == 3:
                raise KeyboardInterrupt

    starts = np.array([[3.0, 1.0], [1.0, 2.0], [2.0, -1.0]])
    kw = dict(optimizer=GD(lr=0.1), max_steps=5, workers=workers)
    with pytest.raises(KeyboardInterrupt) as info:
        of.minimize("sphere", starts=starts, callbacks=[CtrlCAtTheLast()], **kw)
    assert info.value.result.statuses() == {"max_steps": 3}
    r = of.minimize("sphere", starts=starts, callbacks=[CtrlCAtTheLast()],
                    on_interrupt="return", **kw)
    assert r.statuses() == {"max_steps": 3}


@pytest.mark.parametrize("starts", [None, np.array([[3.0], [1.0]])], ids=["single", "stack"])
def test_ctrl_c_just_after_f_at_x0_stops_the_run_at_step_0_with_its_result(starts, tmp_path,
                                                                            monkeypatch):
    # a Ctrl-C after f at the starting points and before the set-up's hold (as the
    # optimizer's state was made, say) escaped bare: the result lost, f(x0) with it. The
    # set-up's hold now begins as f(x0) returns: the run stops at step 0, interrupted,
    # checkpointed, f(x0) counted, and resumes to the run never stopped
    real = GD.init

    def init_then_ctrl_c(self, x):
        state = real(self, x)
        os.kill(os.getpid(), signal.SIGINT)
        return state

    where = dict(x0=[3.0]) if starts is None else dict(starts=starts)
    kw = dict(optimizer=GD(lr=0.1), max_steps=5)
    monkeypatch.setattr(GD, "init", init_then_ctrl_c)
    r = of.minimize("sphere", **where, checkpoint=tmp_path, on_interrupt="return", **kw)
    monkeypatch.setattr(GD, "init", real)
    outcomes = getattr(r, "starts", [r])
    assert all(str(o.status) == "interrupted" and o.nit == 0 and o.nfev == 1
               for o in outcomes), r.message
    again = of.Runner("sphere", **kw).resume(tmp_path)
    plain = of.minimize("sphere", **where, **kw)
    assert again.nit == plain.nit == 5 and again.nfev == plain.nfev
    np.testing.assert_array_equal(again.x, plain.x)


@pytest.mark.parametrize("starts", [None, np.array([[3.0], [1.0]])], ids=["single", "stack"])
def test_ctrl_c_between_the_set_up_and_the_loop_stops_the_run_at_step_0(starts, tmp_path,
                                                                         monkeypatch):
    # the set-up's hold ended before the loop's own Ctrl-C handling began (as SIGTERM's
    # handler went in, around the loop): a Ctrl-C there escaped bare, the run lost
    # (bench_ctrl_c.py --seed 65, a training run). The loop now ends the hold itself
    import contextlib

    from optiframe import runs

    real = runs.sigterm_interrupts

    @contextlib.contextmanager
    def sigterm_interrupts(active):
        os.kill(os.getpid(), signal.SIGINT)
        with real(active):
            yield

    where = dict(x0=[3.0]) if starts is None else dict(starts=starts)
    kw = dict(optimizer=GD(lr=0.1), max_steps=5)
    monkeypatch.setattr(runs, "sigterm_interrupts", sigterm_interrupts)
    r = of.minimize("sphere", **where, checkpoint=tmp_path, on_interrupt="return", **kw)
    monkeypatch.setattr(runs, "sigterm_interrupts", real)
    assert all(str(o.status) == "interrupted" and o.nit == 0 and o.nfev == 1
               for o in getattr(r, "starts", [r])), r.message
    again = of.Runner("sphere", **kw).resume(tmp_path)
    plain = of.minimize("sphere", **where, **kw)
    assert again.nit == plain.nit == 5 and again.nfev == plain.nfev
