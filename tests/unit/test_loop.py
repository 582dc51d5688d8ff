"""What one step loop for every kind of run gives (issue 11): stop rules written once,
per-start schedules and random streams, callbacks and observers with one meaning, and
multi-start runs on workers that collect, checkpoint and retry starts one by one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from checkpoint_helpers import assert_same_run, wait_for_checkpoint

import optiframe as of
from tests.multistart_helpers import (
    ExitsAt,
    PairLog,
    SleepsAt,
)

ROOT = Path(__file__).resolve().parents[2]
STARTS = np.array([[1.0, 2.0], [-3.0, 1.0], [2.5, -2.0], [0.5, 0.5]])


# -- one random stream per start --------------------------------------------------------------
def test_spsa_draws_from_the_run_stream_same_bits_on_every_path():
    kw = dict(gradient="spsa", optimizer=of.Adam(lr=0.05), max_steps=60, seed=3)
    vectorized = of.minimize("rosenbrock", starts=STARTS, **kw)
    for workers in ("serial", 2):
        other = of.minimize("rosenbrock", starts=STARTS, workers=workers, **kw)
        assert_same_run(other, vectorized)
    # start k's stream does not depend on the others: alone (a 1-row run) it is the same
    alone = of.minimize("rosenbrock", starts=STARTS[2:3] * 1.0, **kw)
    assert not np.array_equal(alone.starts[0].x, vectorized.starts[2].x)  # it is start 0 now
    again = of.minimize("rosenbrock", starts=STARTS, **kw)
    assert_same_run(again, vectorized)
    assert not np.array_equal(of.minimize("rosenbrock", starts=STARTS, **{**kw, "seed": 4}).x,
                              vectorized.x)


def test_spsa_in_the_acceptance_form_is_seeded_and_counts_two_evaluations_a_gradient():
    def f(x):
        return float(np.sum((x - 1.0) ** 2))

    a = of.minimize(f, np.zeros(30), gradient="spsa", seed=1, max_nfev=2000, optimizer="gd",
                    on_interrupt="return")
    b = of.minimize(f, np.zeros(30), gradient="spsa", seed=1, max_nfev=2000, optimizer="gd",
                    on_interrupt="return")
    np.testing.assert_array_equal(a.x, b.x)
    assert a.status == "max_nfev" and a.nfev <= 2000 and a.njev == (a.nfev - 1) // 3
    assert a.fun < f(np.zeros(30))


# -- schedules per start ------------------------------------------------------------------
def test_a_plateau_schedule_keeps_its_own_state_for_each_start():
    kw = dict(optimizer=of.GradientDescent(lr=0.2), max_steps=150, gtol=0,
              schedules={"lr": of.ReduceOnPlateau(patience=3, factor=0.5)})
    r = of.minimize("himmelblau", starts=STARTS, **kw)
    for k, x0 in enumerate(STARTS):  # each start as it runs alone: its own plateau
        alone = of.minimize("himmelblau", starts=x0[None], **kw)
        np.testing.assert_array_equal(r.starts[k].x, alone.starts[0].x)
    serial = of.minimize("himmelblau", starts=STARTS, workers="serial", **kw)
    assert_same_run(serial, r)
    # the schedule's state is per start: its scale has one entry per start
    runner = of.Runner("himmelblau", **kw)
    from optiframe.assembly import bind, new_state
    p = bind(runner, False, 2, 4, 0)
    s = new_state(runner, p, STARTS, np.arange(4), 0)
    assert s.sched[0].scale.shape == (4,)


def test_the_acceptance_form_runs_schedules_and_streams_on_workers(tmp_path):
    stream = tmp_path / "run.jsonl"
    r = of.minimize("rastrigin", optimizer=of.Adam(lr=0.05), schedules={"lr": "plateau"},
                    starts=of.MultiStart(8, bounds=[(-5.12, 5.12)] * 4), seed=0,
                    max_steps=500, workers=2, stream_history=stream, on_interrupt="return")
    vectorized = of.minimize("rastrigin", optimizer=of.Adam(lr=0.05),
                             schedules={"lr": "plateau"},
                             starts=of.MultiStart(8, bounds=[(-5.12, 5.12)] * 4), seed=0,
                             max_steps=500, on_interrupt="return")
    assert_same_run(r, vectorized)
    h = of.load_history_stream(stream)
    for column in ("step", "fun", "grad_norm", "step_norm"):
        np.testing.assert_array_equal(getattr(h, column), getattr(r.history, column))


# -- multi-start on workers -------------------------------------------------------------------
def test_a_start_that_kills_its_worker_fails_alone():
    starts = np.array([[1.0, 2.0], [-3.0, 1.0], [42.0, 0.0], [2.5, -2.0], [0.5, 0.5],
                       [-1.0, -1.0]])
    r = of.minimize(ExitsAt(42.0), optimizer=of.GradientDescent(lr=0.1), starts=starts,
                    max_steps=200, workers=2, retries=1, on_interrupt="return")
    lost = r.starts[2]
    assert lost.status == "failed"
    assert "start 2 was lost with its worker 2 times" in lost.message
    assert "exited with code 1" in lost.message
    kept = [0, 1, 3, 4, 5]
    vectorized = of.minimize(ExitsAt(1e9), optimizer=of.GradientDescent(lr=0.1),
                             starts=starts[kept], max_steps=200, on_interrupt="return")
    for k, o in zip(kept, vectorized.starts, strict=True):
        assert r.starts[k].status == o.status == "converged"
        np.testing.assert_array_equal(r.starts[k].x, o.x)


def test_a_start_past_its_timeout_is_stopped_and_fails_alone(tmp_path):
    starts = np.array([[1.0, 2.0], [30.0, 1.0], [-1.0, 0.5]])
    t = time.perf_counter()
    # the marked start would take 100 x 20 s; the others about 100 cheap steps. The
    # timeout's clock starts when a worker starts the job (a worker's boot is not the
    # job's), so a loaded machine cannot make the cheap starts miss it
    r = of.minimize(SleepsAt(30.0, 20.0), optimizer=of.GradientDescent(lr=0.1),
                    starts=starts, max_steps=100, workers=2, start_timeout=3.0,
                    on_interrupt="return")
    assert time.perf_counter() - t < 100.0  # stopped, not run to its end (2000 s)
    assert r.starts[1].status == "failed" and "timeout of 3 s" in r.starts[1].message
    assert [r.starts[k].status for k in (0, 2)] == ["converged", "converged"]
    with pytest.raises(of.InvalidArgumentError, match="'start_timeout' needs an executor"):
        of.minimize("sphere", starts=starts, workers=map, start_timeout=1.0, optimizer="gd",
                    on_interrupt="return")


WORKERS_CHILD = textwrap.dedent("""
    import sys, numpy as np, optiframe as of
    from tests.multistart_helpers import SleepsAt
    folder, flag = sys.argv[1], sys.argv[2]
    starts = np.array([[20.0, 1.0], [1.0, 2.0], [-1.0, 0.5], [2.0, -1.0], [0.5, 3.0]])
    r = of.minimize(SleepsAt(20.0, 0.5, flag), optimizer=of.GradientDescent(lr=0.1),
                    starts=starts, max_steps=100, workers=2, checkpoint=folder,
                    on_interrupt="return")
    print(" ".join(str(s.status) for s in r.starts), flush=True)
""")


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_ctrl_c_while_a_slow_start_runs_keeps_every_start_that_finished(tmp_path):
    """Starts are collected as they complete: those behind the slow start 0 are checkpointed
    as they arrive, and resuming runs only start 0."""
    folder, flag = tmp_path / "ckpt", tmp_path / "fast-now"
    child = subprocess.Popen([sys.executable, "-c", WORKERS_CHILD, str(folder), str(flag)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, env={**os.environ, "PYTHONPATH": "."})
    wait_for_checkpoint(child, folder, 4)
    os.killpg(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    statuses = out.decode().split()
    assert statuses[0] == "interrupted" and statuses[1:] == ["converged"] * 4, (out, err)
    flag.write_text("x")  # start 0 runs at full speed from now on
    log = PairLog(tmp_path / "pairs")
    objective = SleepsAt(20.0, 0.5, flag)
    resumed = of.Runner(objective, of.GradientDescent(lr=0.1), max_steps=100,
                        callbacks=log, on_interrupt="return").resume(folder)
    assert {i for i, _ in log.pairs()} == {0}  # only the start that had not finished ran
    whole = of.minimize(objective, optimizer=of.GradientDescent(lr=0.1), max_steps=100,
                        starts=np.array([[20.0, 1.0], [1.0, 2.0], [-1.0, 0.5], [2.0, -1.0],
                                         [0.5, 3.0]]), on_interrupt="return")
    assert_same_run(resumed, whole)


# -- the single-start fast path ----------------------------------------------------------------
def _blog(x):
    return float(x[0] ** 4 - 3 * x[0] ** 3 + 2)


def _nan_gradient_twice(x):  # f is fine; its gradient is NaN at two steps, then fine
    _nan_gradient_twice.calls += 1
    return np.full(2, np.nan) if _nan_gradient_twice.calls in (3, 4) else 2 * x


def _stop_at_step_7(info):
    if info.step >= 7:
        raise StopIteration


@pytest.mark.parametrize("case", [
    "sphere", "blog", "momentum-cosine", "adam-bounds", "spsa", "diverges", "nan-gradient",
    "xtol-ftol", "every-3-with-points", "budget", "callback-stop", "finite-differences",
    "falls-without-bound",
])
def test_the_single_start_fast_path_gives_the_general_loops_bits(case, monkeypatch):
    from optiframe import loop

    def run():
        _nan_gradient_twice.calls = 0
        kw: dict = dict(max_steps=300, optimizer=of.GradientDescent(lr=0.1))
        f, x0 = "sphere", np.array([3.0, -2.0, 1.0])
        if case == "blog":
            f, x0, kw = _blog, np.array([-3.0]), dict(optimizer=of.GradientDescent(lr=0.001),
                                                      gradient="central", max_steps=500)
        elif case == "momentum-cosine":
            kw.update(optimizer=of.Momentum(lr=0.05), schedules={
                "lr": of.CosineWarmup(total_steps=300, min_value=1e-3)})
        elif case == "adam-bounds":
            kw.update(optimizer=of.Adam(lr=0.1), bounds=[(-1.0, 2.0)] * 3)
        elif case == "spsa":
            f, kw = "rosenbrock", dict(gradient="spsa", optimizer=of.Adam(lr=0.01), seed=4,
                                       max_steps=200)
        elif case == "diverges":
            kw["optimizer"] = of.GradientDescent(lr=1.5)
        elif case == "nan-gradient":
            f, kw = (lambda x: float(x @ x)), dict(jac=_nan_gradient_twice, max_steps=200,
                                                   optimizer=of.GradientDescent(lr=0.1))
            x0 = np.array([1.0, -2.0])
        elif case == "xtol-ftol":
            kw.update(optimizer=of.GradientDescent(lr=0.1), xtol=1e-6, ftol=1e-10)
        elif case == "every-3-with-points":
            kw.update(optimizer=of.GradientDescent(lr=0.1), record_every=3, record_x=True,
                      max_steps=50)
        elif case == "budget":
            kw.update(max_nfev=40, gradient="central")
        elif case == "callback-stop":
            kw.update(callbacks=_stop_at_step_7)
        elif case == "finite-differences":
            f, kw = "rosenbrock", dict(optimizer=of.GradientDescent(lr=2e-4),
                                       gradient="forward", max_steps=400)
        elif case == "falls-without-bound":  # f = -|x|^2 falls to F_FLOOR in 320 steps
            f, kw = (lambda x: -float(x @ x)), dict(jac=lambda x: -2.0 * x, max_steps=400,
                                                    optimizer=of.GradientDescent(lr=1.0))
        return of.minimize(f, x0, **kw)

    fast = run()
    monkeypatch.setattr(loop, "FAST_PATH", False)
    general = run()
    assert_same_run(fast, general)
    assert (fast.message, fast.njev) == (general.message, general.njev)
    assert fast.status == STATUSES.get(case, "converged")


STATUSES = {"blog": "max_steps", "momentum-cosine": "max_steps", "adam-bounds": "max_steps",
            "spsa": "max_steps", "diverges": "diverged",
            "every-3-with-points": "max_steps", "budget": "max_nfev",
            "callback-stop": "callback_stop", "finite-differences": "max_steps",
            "falls-without-bound": "diverged", "xtol-ftol": "stalled"}


class _FailsLater:
    """500 |x[:3] - 1|**2 (x[3] only marks a start): the start whose x[3] is 7 raises
    from its ``after``-th evaluation once the step callback ``arm_at(step)`` has armed
    it (4 forward points a gradient, then 8 central ones where they are checked, then f
    at the new point)."""

    def __init__(self, after: int) -> None:
        self.after, self.armed, self.seen = after, False, 0

    def __call__(self, x):
        if self.armed and x[3] > 5.0:
            self.seen += 1
            if self.seen >= self.after:
                raise ValueError("bad row")
        return float(500.0 * np.sum((x[:3] - 1.0) ** 2))

    def arm_at(self, step):
        def callback(info):
            if info.step == step:
                self.armed = True
        return callback


_MARKED = np.array([[3.0, -2.0, 0.5, 0.0], [0.5, -2.0, 3.0, 7.0], [2.0, 2.0, 2.0, 0.0]])


def _central_check_step() -> int:
    """The step at which the marked start, alone, first checks its forward gradient
    with central differences (13 evaluations instead of 5)."""
    alone = of.minimize(_FailsLater(1), _MARKED[1], optimizer=of.GradientDescent(lr=5e-4),
                        gradient="adaptive")
    return int(np.argmax(np.diff(alone.history.nfev) > 5)) + 1


@pytest.mark.parametrize("gradient, after, arm, stage", [
    ("forward", 5, 10, "the objective raised at step 10"),  # f at its new point
    ("adaptive", 1, 10, "the gradient raised at step 10"),  # its forward differences
    ("adaptive", 5, None, "the gradient raised at step"),  # its central check
])
def test_a_stack_row_that_raises_mid_run_with_a_fixed_step_fails_alone(gradient, after, arm,
                                                                        stage):
    # the others run on as they would alone: the same x, steps and evaluations (an
    # adaptive start still converges on its central check, not on forward differences)
    gd = of.GradientDescent(lr=5e-4)
    arm = _central_check_step() if arm is None else arm
    f = _FailsLater(after)
    r = of.minimize(f, starts=_MARKED, optimizer=gd, gradient=gradient,
                    callbacks=[f.arm_at(arm)])
    failed = r.starts[1]
    assert failed.status == "failed" and stage in failed.message, failed.message
    for k in (0, 2):
        alone = of.minimize(_FailsLater(1), _MARKED[k], optimizer=gd, gradient=gradient)
        np.testing.assert_array_equal(r.starts[k].x, alone.x)
        assert (r.starts[k].status, r.starts[k].nit, r.starts[k].nfev) == (
            alone.status, alone.nit, alone.nfev)


class _RaisesPast:
    """(x0 - 1)^2 + (x1 - 2)^2, raising past x0 = 0.9 (or its gradient past 0.5, with
    ``gradient_raises``); counts the calls of f and of the gradient."""

    def __init__(self, gradient_raises=False):
        self.gradient_raises, self.calls, self.gradient_calls = gradient_raises, 0, 0

    def __call__(self, x):
        self.calls += 1
        if x[0] > 0.9:
            raise ValueError("past 0.9")
        return float((x[0] - 1) ** 2 + (x[1] - 2) ** 2)

    def jac(self, x):
        self.gradient_calls += 1
        if self.gradient_raises and x[0] > 0.5:
            raise KeyError("the gradient past 0.5")
        return np.array([2 * (x[0] - 1), 2 * (x[1] - 2)])


@pytest.mark.parametrize("optimizer, gradient, gradient_raises", [
    ("gd", "analytic", False),  # one start's fast path
    ("gd", "analytic", True),
    ("gd", "auto", False),  # the general loop, a fixed step
    ("adam", "central", False),
    ("lbfgs", "analytic", False),  # a line search
    ("lbfgs", "forward", False),
    ("bfgs", "central", False),
])
def test_a_start_that_raises_counts_what_it_spent_alone_as_in_a_stack(
        optimizer, gradient, gradient_raises):
    # a single start's counts stopped at its last whole step: its f ran 11 times for an
    # nfev of 6 (gd, central differences), and a line search's step was not counted
    kw = {"optimizer": {"name": optimizer, "lr": 0.4} if optimizer in ("gd", "adam")
          else optimizer, "raise_errors": False}

    def run(starts):
        f = _RaisesPast(gradient_raises)
        more = {"jac": f.jac} if gradient == "analytic" else {"gradient": gradient}
        x0 = None if starts else [0.0, 0.0]
        extra = {"starts": np.array([[0.0, 0.0], [-3.0, 0.0]])} if starts else {}
        return f, of.minimize(f, x0, **kw, **more, **extra)

    f, alone = run(False)
    _, stack = run(True)
    row = stack.starts[0]
    assert alone.status == row.status == "failed"
    assert (alone.nit, alone.nfev, alone.njev) == (row.nit, row.nfev, row.njev)
    assert alone.x.tolist() == row.x.tolist()
    assert f.calls == alone.nfev and f.gradient_calls == (alone.njev if gradient == "analytic"
                                                         else 0)


def test_a_single_start_whose_line_search_raises_raises_the_users_exception():
    f = _RaisesPast()
    with pytest.raises(ValueError, match=r"past 0\.9") as caught:
        of.minimize(f, [0.0, 0.0], jac=f.jac, record_x=True)
    r = caught.value.result
    assert r.status == "failed" and "line search's evaluations raised at step 1" in r.message
    assert r.nfev == f.calls and r.nit == 2 and r.x.tolist() == r.history.x[-1].tolist()


def test_a_stacks_step_stage_is_asked_where_other_rows_step_norms_are_nan():
    # bench_hostile seed 41, run 904: rows 0 and 2 found no step and climbed to finer
    # differences (their step norm NaN: no step), row 1 stepped 5e-16 <= xtol; the
    # stack's gate read min(SN) = NaN as "no row is small", and row 1 went on a step
    # (and 24 evaluations) beyond where it stops alone
    starts = np.array([[20206997.696260516, 64301809.62330182],
                       [20206996.999666624, 64301812.05413175],
                       [20206995.239018615, 64301810.38088138]])

    def f(x):
        return 1e200 * float(np.sum((x - 1) ** 2))

    kw = dict(optimizer={"name": "lbfgs", "memory": 3}, seed=495, gradient="auto",
              xtol=2.7875468653855807e-09)
    stack = of.minimize(f, starts=starts, **kw)
    assert "xtol" in stack.starts[1].message
    for k, o in enumerate(stack.starts):
        alone = of.minimize(f, starts[k], raise_errors=False, **kw)
        assert (o.message, o.nit, o.nfev, o.x.tolist()) == (alone.message, alone.nit,
                                                             alone.nfev, alone.x.tolist())


def test_the_value_gate_trusts_new_best_values_only_within_every_limit():
    """A stack whose rows all found a new best skips the divergence test only while every
    row's best value lies within its limit (a best above it, as an edited checkpoint may
    hold, leaves the gate to compare the values)."""
    import types

    from optiframe import loop

    def ok(best_F, F, f_limit):
        step = object.__new__(loop._Step)
        step.point, step.searched, step.lim, step.lim_min = False, False, None, np.inf
        step.s = types.SimpleNamespace(F=np.array(F), best_F=np.array(best_F),
                                       f_limit=np.array(f_limit))
        new = types.SimpleNamespace(improved=True, fmin=min(F))
        return step._values_ok(new)

    assert ok([4.0, 5.0], [3.0, 4.0], [10.0, 10.0]) is True
    assert ok([20.0, 5.0], [15.0, 4.0], [10.0, 10.0]) is False  # row 0 above its limit
    assert ok([4.0, 5.0], [3.0, -1e306], [10.0, 10.0]) is False  # below F_FLOOR


def test_the_step_loops_run_specialized_from_a_processs_first_run():
    # CPython 3.11 warms a function up on calls and on unconditional back jumps only; a
    # `while live:` loop ends on a conditional one, so a loop function called once per
    # run ran unspecialized (about 14 % more instructions a step) until its 8th run
    code = textwrap.dedent("""
        import dis
        import optiframe as of
        from optiframe import loop

        runner = of.Runner("sphere", of.GradientDescent(lr=0.1), max_steps=50, gtol=0)
        runner.run([1.0, 2.0])  # the single start's loop
        runner.run(starts=[[1.0, 2.0], [2.0, 1.0]])  # the loop of every other kind of run
        for f in (loop._point_steps, loop._steps):
            plain = [i.opname for i in dis.get_instructions(f)]
            adaptive = [i.opname for i in dis.get_instructions(f, adaptive=True)]
            print(f.__name__, sum(a != b for a, b in zip(plain, adaptive, strict=True)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    specialized = dict(line.split() for line in out.splitlines())
    assert set(specialized) == {"_point_steps", "_steps"}
    assert all(int(n) > 0 for n in specialized.values()), specialized
