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

import optiframe as of
from tests.multistart_helpers import (
    ExitsAt,
    PairLog,
    SleepsAt,
    small_regression,
)
from tests.test_resume import assert_same_run

ROOT = Path(__file__).parent.parent
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


@pytest.mark.parametrize("where", ["callback", "objective"])
def test_a_stochastic_run_resumes_bit_for_bit_even_when_interrupted_mid_step(where, tmp_path):
    """The generators advance inside a step: an interruption there undoes the step's
    draws before the checkpoint is written."""
    calls = [0]

    def f(x):
        calls[0] += 1
        if where == "objective" and calls[0] == 41:  # inside the gradient of a step
            raise KeyboardInterrupt
        return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)

    def cb(info):
        if where == "callback" and info.step == 13:
            raise KeyboardInterrupt

    kw = dict(gradient="spsa", optimizer=of.Adam(lr=0.02), max_steps=60, seed=5)
    part = of.minimize(f, [-1.2, 1.0], callbacks=cb, checkpoint=tmp_path, on_interrupt="return",
                       **kw)
    assert part.status == "interrupted"
    calls[0] = -10**9
    resumed = of.Runner(f, **{k: v for k, v in kw.items() if k != "seed"}).resume(tmp_path)
    whole = of.minimize(f, [-1.2, 1.0], **kw)
    assert_same_run(resumed, whole)


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


# -- callbacks and observers: one meaning everywhere -----------------------------------------
@pytest.mark.parametrize("workers", [None, "serial", 2])
def test_each_start_and_step_reaches_the_callbacks_exactly_once(workers, tmp_path):
    log = PairLog(tmp_path / "pairs")
    r = of.minimize("himmelblau", optimizer=of.GradientDescent(lr=1e-3), starts=STARTS,
                    max_steps=100, gtol=0, callbacks=log, workers=workers, on_interrupt="return")
    pairs = log.pairs()
    assert len(pairs) == len(set(pairs)) == sum(s.nit for s in r.starts) == 400
    assert {i for i, _ in pairs} == {0, 1, 2, 3}


class Events:
    """A callback object: the run's events, in order (in this process)."""

    def __init__(self):
        self.seen = []

    def on_run_start(self, run):
        self.seen.append(("run_start", run.n_starts))

    def on_step(self, info):
        self.seen.append(("step", info.step))

    def on_epoch(self, info):
        self.seen.append(("epoch", info.index, info.epoch))
        return {"norm": float(np.linalg.norm(info.x))}

    def on_start_end(self, outcome):
        self.seen.append(("start_end", outcome.index, str(outcome.status)))

    def on_run_end(self, result):
        self.seen.append(("run_end", str(result.status)))


def test_callback_objects_see_every_event_of_every_kind_of_run():
    events = Events()
    of.minimize("sphere", [1.0, 2.0], max_steps=3, gtol=0, callbacks=[events], optimizer="gd",
                on_interrupt="return")
    assert events.seen == [("run_start", 1), ("step", 1), ("step", 2), ("step", 3),
                           ("start_end", 0, "max_steps"), ("run_end", "max_steps")]
    events = Events()
    r = of.minimize("sphere", starts=STARTS[:2], max_steps=2, gtol=0, callbacks=[events],
                    optimizer="gd", on_interrupt="return")
    assert events.seen[0] == ("run_start", 2) and events.seen[-1] == ("run_end", str(r.status))
    assert sorted(e for e in events.seen if e[0] == "start_end") == [
        ("start_end", 0, "max_steps"), ("start_end", 1, "max_steps")]
    events = Events()  # training, several models: epochs per model, the table per model
    data = small_regression()
    r = of.minimize(data, starts=np.repeat([[0.0], [1.0]], 4, axis=1), batch_size=20, epochs=2,
                    seed=0, callbacks=[events], on_interrupt="return")
    epochs = [e for e in events.seen if e[0] == "epoch"]
    assert sorted(epochs) == [("epoch", 0, 1), ("epoch", 0, 2), ("epoch", 1, 1),
                              ("epoch", 1, 2)]
    assert len([e for e in events.seen if e[0] == "step"]) == 6  # 3 batches x 2 epochs
    table = r.history.epochs
    assert sorted(zip(table["start"].tolist(), table["epoch"].tolist(), strict=True)) == [
        (0, 1), (0, 2), (1, 1), (1, 2)]
    assert np.isfinite(table["norm"]).all() and np.isfinite(table["train_loss"]).all()


def test_on_start_end_runs_in_this_process_as_each_start_arrives_from_workers():
    seen = []

    class Ends:
        def on_start_end(self, outcome):
            seen.append((os.getpid(), outcome.index))

    of.minimize("himmelblau", starts=STARTS, max_steps=50, workers=2, callbacks=[Ends()],
                optimizer="gd", on_interrupt="return")
    assert sorted(i for _, i in seen) == [0, 1, 2, 3] and {p for p, _ in seen} == {os.getpid()}


def test_a_plugin_sees_each_start_end_and_step(plugin):
    ends, steps = [], []

    class Watcher:
        @of.hookimpl
        def on_start_end(self, outcome):
            ends.append(outcome.index)

        @of.hookimpl
        def on_step(self, info):
            steps.extend(np.atleast_1d(info.index).tolist())

    plugin(Watcher(), "watcher")
    of.minimize("sphere", starts=STARTS, max_steps=5, gtol=0, optimizer="gd", on_interrupt="return")
    assert sorted(ends) == [0, 1, 2, 3] and sorted(steps) == sorted([0, 1, 2, 3] * 5)


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
    deadline = time.monotonic() + 60
    finished = 0
    while time.monotonic() < deadline and finished < 4:
        time.sleep(0.05)
        try:
            finished = of.load_checkpoint(folder).step
        except of.CheckpointError:
            finished = 0
        assert child.poll() is None, child.communicate()
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
