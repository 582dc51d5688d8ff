"""Checkpoint and resume, written as data: every kind of run, interrupted and resumed,
gives the bits of an uninterrupted run; checkpoints that do not fit are refused."""

from __future__ import annotations

import copy
import json
import math
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
from tests.checkpoint_helpers import assert_same_run, wait_for_checkpoint

DATA = Path(__file__).resolve().parents[1] / "data" / "checkpoints"


def digits(rows: int | None = None):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:rows] / 16, y[:rows]


def kinds():
    """(id, Runner arguments, run arguments) for each kind of run."""
    X, y = digits()
    Xs, ys = digits(300)
    rng = np.random.default_rng(0)
    Xl = rng.normal(size=(200, 3))
    yl = Xl @ np.array([1.0, 2.0, 3.0]) + 0.1 * rng.normal(size=200)
    return {
        "single": (dict(objective="rosenbrock", optimizer=of.Adam(lr=0.01), max_steps=400),
                   dict(x0=[-1.0, 1.0])),
        "single-plateau": (dict(objective="rosenbrock", optimizer=of.GradientDescent(lr=1e-3),
                                schedules={"lr": "plateau"}, max_steps=400, record_x=True),
                           dict(x0=[-1.0, 1.0])),
        "multistart": (dict(objective="himmelblau", optimizer=of.Momentum(lr=1e-3),
                            max_steps=400, gtol=1e-6, record_x=True),
                       dict(starts=of.MultiStart(50, bounds=[(-5, 5)] * 2), seed=1)),
        "single-lbfgs-bounded": (dict(objective="rosenbrock", optimizer="lbfgs",
                                      gradient="central", bounds=[(-2, 0.9)] + [(-2, 2)] * 19,
                                      max_steps=400, record_x=True),
                                 dict(x0=np.full(20, -1.0))),
        "multistart-lbfgs": (dict(objective="rosenbrock", optimizer=of.LBFGS(memory=4),
                                  bounds=[(-5, 5)] * 4, max_steps=400),
                             dict(starts=of.MultiStart(20), seed=2)),
        "multistart-armijo": (dict(objective="himmelblau", optimizer=of.GradientDescent(
                                   lr=0.01, line_search="armijo"), max_steps=400, gtol=1e-9),
                              dict(starts=of.MultiStart(20, bounds=[(-5, 5)] * 2), seed=1)),
        "minibatch": (dict(objective=of.SoftmaxRegression(X, y), optimizer=of.Adam(lr=0.01),
                           batch_size=64, epochs=3,
                           epoch_callbacks=lambda info: {"norm": float(info.x @ info.x)}),
                      dict(x0=np.zeros(65 * 10), seed=3)),
        # the batch loss falls for 5 steps and grows until step 63 diverges: the resumed
        # run ends at the same lowest batch loss (the state's best point goes on)
        "minibatch-diverges": (dict(objective=of.LeastSquares(Xl, yl),
                                    optimizer=of.GradientDescent(lr=2.0), batch_size=16,
                                    epochs=30), dict(x0=np.zeros(4), seed=0)),
        "minibatch-multistart": (dict(objective=of.SoftmaxRegression(Xs, ys),
                                      optimizer=of.RMSprop(lr=0.01), batch_size=32, epochs=3),
                                 dict(starts=np.random.default_rng(0).normal(size=(3, 650)),
                                      seed=3)),
    }


def interrupting(objective, runner_kw, after: int):
    """The objective (or a callback) raising KeyboardInterrupt after ``after`` steps."""
    calls = [0]

    def tick(*_):
        calls[0] += 1
        if calls[0] == after:
            raise KeyboardInterrupt

    if isinstance(objective, of.DataObjective):
        objective = copy.copy(objective)
        inner = objective.batch_loss_and_gradient

        def batch_loss_and_gradient(params, idx):
            tick()
            return inner(params, idx)

        objective.batch_loss_and_gradient = batch_loss_and_gradient
        return objective, runner_kw
    return objective, {**runner_kw, "callbacks": tick}


RESUME_CASES = [(kind, every) for kind in kinds() for every in (None, 25)]


@pytest.mark.parametrize(("kind", "every"), RESUME_CASES,
                         ids=[f"{k}-every-{e}" for k, e in RESUME_CASES])
def test_interrupted_run_resumes_bit_for_bit(kind, every, tmp_path):
    kw, run = kinds()[kind]
    kw = dict(kw)
    objective, optimizer = kw.pop("objective"), kw.pop("optimizer")
    whole = of.Runner(objective, optimizer, **kw).run(**run)

    broken, broken_kw = interrupting(objective, kw, after=40)
    part = of.Runner(broken, optimizer, checkpoint=tmp_path, checkpoint_every=every,
                     on_interrupt="return", **broken_kw).run(**run)
    assert part.status == "interrupted" or all(
        s.status == "interrupted" for s in part.starts if s.status != "converged")
    saved = of.load_checkpoint(tmp_path)
    # one state for every kind of run: a training run is a single or multi-start one
    assert saved.kind == ("multistart" if "multistart" in kind else "single")
    assert 0 < saved.step < whole.nit

    resumed = of.Runner(objective, optimizer, checkpoint=tmp_path, **kw).resume()
    assert_same_run(resumed, whole)


class _CtrlCAt:
    """exp(sum x) + |x|^2, raising KeyboardInterrupt at its call ``at`` (None: never)."""

    def __init__(self, at=None):
        self.at, self.calls = at, 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return float(np.exp(np.sum(x)) + np.sum(x**2))


@pytest.mark.parametrize("starts", [False, True], ids=["single", "stack"])
def test_ctrl_c_in_the_checks_of_a_failed_search_resumes_to_the_same_bits(starts, tmp_path):
    # forward differences whose Armijo search finds no lower f at step 5; the verdict is
    # checked by central differences (evaluations after the step was committed). Ctrl-C
    # at any of them used to checkpoint the committed step, and the resumed run took a
    # step 6 the run never stopped does not take (nit 7 instead of 6)
    x0 = np.array([-1.59679907, -0.0057959])
    run = {"starts": np.vstack([x0, x0 + 0.3])} if starts else {"x0": x0}
    options = dict(optimizer={"name": "lbfgs", "line_search": "armijo"}, gradient="forward",
                   bounds=[(-2.014637664157549, 0.5969369140685485)] * 2,
                   on_interrupt="return")
    counted = _CtrlCAt()
    whole = of.Runner(counted, **options).run(**run)
    assert "where the line search could find no lower f" in (
        whole.starts[0].message if starts else whole.message)
    resumed_at = []
    for at in range(3, counted.calls + 1):
        stopper = _CtrlCAt(at)
        folder = tmp_path / f"at{at}"
        part = of.Runner(stopper, checkpoint=folder, checkpoint_every=1, **options).run(**run)
        assert part.status == "interrupted"
        if "no checkpoint was written" in part.message:
            continue  # (Ctrl-C at a stack's first evaluation: no step to resume from)
        stopper.at = None
        assert_same_run(of.Runner(stopper, **options).resume(folder), whole)
        resumed_at.append(of.load_checkpoint(folder).step)
    assert 5 in resumed_at  # (the interruptions in the checks: the step before them)


def test_ctrl_c_in_a_start_end_callback_after_a_failed_search_keeps_the_ended_start(
        tmp_path):
    # the settlement ended start 0 (its verdict checked) before its on_start_end callback
    # raised: the step stays committed, the start stays ended, the others resume
    class CtrlCAtFirstEnd:
        def __init__(self):
            self.ended = 0

        def on_start_end(self, outcome):
            self.ended += 1
            if self.ended == 1:
                raise KeyboardInterrupt

    x0 = np.array([-1.59679907, -0.0057959])
    starts = np.vstack([x0, x0 + 0.3, x0 - 0.2])
    options = dict(optimizer={"name": "lbfgs", "line_search": "armijo"}, gradient="forward",
                   bounds=[(-2.014637664157549, 0.5969369140685485)] * 2,
                   on_interrupt="return")
    f = _CtrlCAt()
    whole = of.Runner(f, **options).run(starts=starts)
    part = of.Runner(f, callbacks=[CtrlCAtFirstEnd()], checkpoint=tmp_path,
                     **options).run(starts=starts)
    assert [o.status for o in part.starts] == ["converged", "interrupted", "interrupted"]
    assert_same_run(of.Runner(f, **options).resume(tmp_path), whole)


def test_a_resume_may_run_longer(tmp_path):
    whole = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=600,
                      on_interrupt="return").run([-1.0, 1.0])
    of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=300, checkpoint=tmp_path,
              checkpoint_every=100, on_interrupt="return").run([-1.0, 1.0])
    resumed = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=600,
                        on_interrupt="return").resume(tmp_path)
    assert_same_run(resumed, whole)


@pytest.mark.parametrize("same_folder", [True, False])
def test_resumed_run_goes_on_checkpointing(same_folder, tmp_path):
    first = tmp_path / "a"
    second = first if same_folder else tmp_path / "b"
    of.Runner("sphere", of.GradientDescent(lr=0.01), max_steps=100, checkpoint=first,
              checkpoint_every=50, on_interrupt="return").run([1.0, 2.0])
    kept = of.load_checkpoint(first).meta["history_segments"]
    of.Runner("sphere", of.GradientDescent(lr=0.01), max_steps=300, checkpoint=second,
              checkpoint_every=50, on_interrupt="return").resume(first)
    later = of.load_checkpoint(second)
    assert later.step == 300
    # into its own folder the run appends segments; elsewhere it starts with a whole one
    assert (later.meta["history_segments"][:2] == kept) == same_folder
    whole = of.Runner("sphere", of.GradientDescent(lr=0.01), max_steps=300,
                      on_interrupt="return").run([1.0, 2.0])
    resumed = of.Runner("sphere", of.GradientDescent(lr=0.01), max_steps=300,
                        on_interrupt="return").resume(second)
    assert_same_run(resumed, whole)


# -- multi-start runs on workers: checkpoints by finished start ------------------------------
def map_interrupted_after(n):
    """A map-like callable where Ctrl-C arrives after ``n`` results."""
    def mapper(fn, items):
        for i, item in enumerate(items):
            if i == n:
                raise KeyboardInterrupt
            yield fn(item)
    return mapper


#: himmelblau() raises KeyboardInterrupt in the start from x[0] == ARMED["at"], if set
ARMED: dict[str, float] = {}


def himmelblau(x):
    if abs(x[0] - ARMED.get("at", math.nan)) < 1e-12:
        raise KeyboardInterrupt
    return float((x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2)


@pytest.mark.parametrize("resume_on", [None, "serial", "threads"])
@pytest.mark.parametrize("how", ["parent", "in a start"])
def test_multistart_on_workers_resumes_its_unfinished_starts(resume_on, how, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    starts = np.array([[-4.0, 4.0], [1.0, 1.0], [3.0, -3.0], [2.0, 2.0], [-1.0, -3.0]])
    kw = dict(max_steps=200, gtol=1e-6, optimizer=of.Adam(lr=0.05), gradient="central")
    whole = of.minimize(himmelblau, starts=starts, **kw)
    if how == "parent":
        part = of.minimize(himmelblau, starts=starts, workers=map_interrupted_after(3),
                           checkpoint=tmp_path, on_interrupt="return", **kw)
    else:  # Ctrl-C inside start 3, run in this process by the serial executor
        ARMED["at"] = 2.0
        try:
            part = of.minimize(himmelblau, starts=starts, workers="serial",
                               checkpoint=tmp_path, on_interrupt="return", **kw)
        finally:
            ARMED.clear()
    finished = 3  # starts 0, 1 and 2; the others are reported interrupted and rerun
    assert part.statuses().get("interrupted") == len(starts) - finished
    saved = of.load_checkpoint(tmp_path)
    assert saved.kind == "workers" and saved.step == finished
    workers = ThreadPoolExecutor(2).map if resume_on == "threads" else resume_on
    resumed = of.Runner(himmelblau, **kw).resume(tmp_path, workers=workers)
    assert_same_run(resumed, whole)


FROZEN = sorted(p.name for p in DATA.iterdir() if not p.name.startswith("format1-"))


@pytest.mark.parametrize("name", FROZEN)
def test_frozen_checkpoints_of_every_kind_resume_bit_for_bit(name):
    """Every kind of run, frozen mid-run by tests/data/make_checkpoints.py in an earlier
    checkpoint format, resumes to the whole result and history of the uninterrupted run."""
    from tests.data.checkpoint_cases import case, expected_of

    expected = json.loads((DATA / name / "expected.json").read_text())
    runner_kw, run_kw = case(expected["case"])
    resumed = of.Runner(**runner_kw).resume(DATA / name, workers=run_kw.get("workers"))
    got = expected_of(resumed)
    for key in ("status", "x", "fun", "nit", "nfev", "njev", "message", "history", "starts",
                "epochs"):
        if "minibatch" in name and key not in ("status", "nit", "nfev", "njev"):
            # A data objective's matrix products go through BLAS, whose kernels (chosen per
            # CPU) round differently: the frozen figures hold bit for bit on the machine
            # that made them, and to 1e-9 elsewhere.
            _assert_close(got.get(key), expected.get(key), key)
            continue
        # compared as JSON text, so NaN (a step norm at step 0) equals NaN
        assert json.dumps(got.get(key)) == json.dumps(expected.get(key)), key


def _assert_close(got, expected, key):
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), key
        for k in expected:
            _assert_close(got[k], expected[k], f"{key}.{k}")
    elif isinstance(expected, list) and any(isinstance(v, (dict, list, str)) for v in expected):
        assert len(got) == len(expected), key
        for i, (a, b) in enumerate(zip(got, expected, strict=False)):
            _assert_close(a, b, f"{key}[{i}]")
    elif isinstance(expected, (list, float, int)) and not isinstance(expected, bool):
        a = np.asarray(got, dtype=float)
        b = np.asarray(expected, dtype=float)
        assert a.shape == b.shape, key
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=key)
    else:
        assert got == expected, key


# -- killed with SIGKILL, resumed from the last checkpoint ------------------------------------
CHILD = textwrap.dedent("""
    import sys, time, numpy as np, optiframe as of
    from tests.integration.test_resume import sigkill_runner
    runner, run = sigkill_runner(sys.argv[1], sys.argv[2])
    def slow(info):
        time.sleep(0.002)
    runner.callbacks = (slow,)
    print(runner.run(**run).status, flush=True)
""")


def sigkill_runner(kind: str, folder: str | None):
    """The run the SIGKILL test kills and resumes (also imported by the child process)."""
    options = {"checkpoint": folder, "checkpoint_every": 50} if folder else {}
    options["on_interrupt"] = "return"  # SIGTERM: an interrupted result, printed
    if kind == "multistart":
        return (of.Runner("rastrigin", of.Adam(lr=0.01), max_steps=1500, **options),
                dict(starts=of.MultiStart(20, bounds=[(-5, 5)] * 3), seed=7))
    return (of.Runner("rosenbrock", of.Nesterov(lr=1e-3, momentum=0.9), max_steps=1500,
                      **options), dict(x0=[-1.2, 1.0]))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("kind", ["single", "multistart"])
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_run_killed_with_a_signal_resumes_bit_for_bit(kind, sig, tmp_path):
    """SIGKILL: the last periodic checkpoint survives. SIGTERM: the run saves its last
    whole step and returns status interrupted (the process then exits normally)."""
    folder = tmp_path / "ckpt"
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(folder)],
                             cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": "."})
    step = wait_for_checkpoint(child, folder, 300)
    os.kill(child.pid, getattr(signal, sig))
    out, err = child.communicate(timeout=30)
    if sig == "SIGKILL":
        assert child.returncode == -signal.SIGKILL, "the child finished before it was killed"
    else:
        assert child.returncode == 0 and out.split() == [b"interrupted"], err

    saved = of.load_checkpoint(folder)
    assert 300 <= saved.step < 1500
    assert saved.step >= step  # SIGTERM: saved at the signal, at or after the last seen
    runner, run = sigkill_runner(kind, None)
    resumed = runner.resume(folder)
    assert_same_run(resumed, runner.run(**run))


WORKERS_CHILD = textwrap.dedent("""
    import sys, optiframe as of
    from tests.integration.test_resume import workers_runner
    runner, run = workers_runner(sys.argv[1])
    result = runner.run(**run)
    print(result.statuses().get("interrupted", 0), flush=True)
""")


def slow_step(info):
    time.sleep(0.003)


def workers_runner(folder: str | None):
    """A multi-start run on two worker processes (also imported by the child process)."""
    options = {"checkpoint": folder, "callbacks": (slow_step,)} if folder else {}
    runner = of.Runner("rastrigin", of.Adam(lr=0.01), max_steps=250, on_interrupt="return",
                       **options)
    return runner, dict(starts=of.MultiStart(8, bounds=[(-5, 5)] * 3), seed=3,
                        workers=2 if folder else None)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_ctrl_c_on_a_process_pool_run_keeps_the_finished_starts(tmp_path):
    """Ctrl-C in a terminal reaches the whole process group: the parent and its workers."""
    folder = tmp_path / "ckpt"
    child = subprocess.Popen([sys.executable, "-c", WORKERS_CHILD, str(folder)],
                             cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True,
                             env={**os.environ, "PYTHONPATH": "."})
    wait_for_checkpoint(child, folder, 2)
    os.killpg(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    interrupted = int(out.split()[-1])
    saved = of.load_checkpoint(folder)
    assert interrupted == 8 - saved.step and 2 <= saved.step < 8, (out, err)

    runner, run = workers_runner(None)
    resumed = runner.resume(folder)
    assert_same_run(resumed, runner.run(**run))


def test_a_finished_minibatch_run_trains_longer_from_its_checkpoint(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 3))
    data = of.LeastSquares(X, X @ np.ones(3))
    first = of.minimize(data, np.zeros(data.dim), optimizer=of.Adam(lr=0.01), batch_size=10,
                        epochs=2, checkpoint=tmp_path, checkpoint_every=3, seed=0,
                            raise_errors=False)
    longer = of.Runner(data, of.Adam(lr=0.01), batch_size=10, epochs=4,
                       raise_errors=False).resume(tmp_path)
    whole = of.minimize(data, np.zeros(data.dim), optimizer=of.Adam(lr=0.01), batch_size=10,
                        epochs=4, seed=0, raise_errors=False)
    assert (first.nit, longer.nit, longer.epochs) == (10, 20, 4)
    np.testing.assert_array_equal(longer.x, whole.x)




class _FinalLossStopping(of.LeastSquares):
    """Least squares whose loss over the whole set (a training run's final ``fun``)
    raises KeyboardInterrupt at its call ``at``."""

    at: int | None = None
    calls = 0

    def value(self, params):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().value(params)


def _final_loss_data(at=None):
    X = np.random.default_rng(3).normal(size=(40, 3))
    data = _FinalLossStopping(X, X @ np.array([1.0, -2.0, 0.5]))
    data.at = at
    return data


STACK = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize(("optimizer", "starts", "at", "step"), [
    (of.GradientDescent(lr=3.0), None, 1, 8),  # diverged at step 8
    (of.GradientDescent(lr=3.0), STACK, 2, 8),  # every start diverged at step 8
    (of.Adam(lr=0.05), STACK, 2, 7),  # max_steps
], ids=["diverged", "stack diverged", "stack max_steps"])
def test_ctrl_c_while_a_training_runs_final_loss_is_computed_resumes_to_the_same_bits(
        optimizer, starts, at, step, tmp_path):
    # the run has ended when Ctrl-C hits a start's final loss over the whole set: it
    # stops at its last whole step as Ctrl-C does, with a checkpoint to resume from.
    # Before, that start ended interrupted without its loss, the others ended as they
    # would, and no checkpoint of the last steps was written (a resume found none, or
    # one of step 5)
    kw = dict(optimizer=optimizer, batch_size=8, epochs=3, max_steps=7 if step == 7 else None,
              raise_errors=False)
    run = dict(x0=None if starts is not None else np.zeros(4), starts=starts, seed=4)
    whole = of.Runner(_final_loss_data(), **kw).run(**run)
    assert whole.nit == step
    data = _final_loss_data(at)
    part = of.Runner(data, checkpoint=tmp_path, checkpoint_every=5, on_interrupt="return",
                     **kw).run(**run)
    assert part.status == "interrupted" and of.load_checkpoint(tmp_path).step == step
    ended = part.starts if starts is not None else [part]
    assert all(o.status == "interrupted" for o in ended)
    data.at = None
    assert_same_run(of.Runner(data, **kw).resume(tmp_path), whole)


def test_ctrl_c_in_the_final_loss_of_a_start_a_callback_stopped_stops_the_run(tmp_path):
    # the epoch is logged when its callbacks stop a start: that start ends interrupted
    # without its final loss, and the others stop too (they went on to the end before)
    def stop_start_0(info):
        if info.index == 0 and info.epoch == 1:
            raise StopIteration

    data = _final_loss_data(at=1)
    r = of.Runner(data, of.Adam(lr=0.05), batch_size=8, epochs=3,
                  epoch_callbacks=[stop_start_0], on_interrupt="return",
                  checkpoint=tmp_path).run(starts=STACK, seed=4)
    assert r.status == "interrupted" and [o.status for o in r.starts] == ["interrupted"] * 3
    assert "the final loss over the whole training set was not computed" in r.starts[0].message
    assert math.isnan(r.starts[0].fun) and r.starts[1].nit == r.starts[2].nit == 5


@pytest.mark.parametrize("starts", [None, np.array([[1.0, -2.0], [0.5, 0.5], [3.0, 1.0]])],
                         ids=["single", "stack"])
def test_ctrl_c_in_the_callback_of_a_step_its_rules_stop_at_resumes_to_the_same_bits(
        starts, tmp_path):
    # the step-stage rules (ftol here) are asked after the step's callbacks: Ctrl-C in the
    # callback of the step where ftol stops a start checkpointed that step with the start
    # still running, and the resumed run, from the next step, went on past its end
    def f(x):
        return float(np.sum(x**4))

    kw = dict(optimizer="bfgs", gradient="central", ftol=0.0047, max_steps=58)
    run = dict(x0=None if starts is not None else np.array([1.0, -2.0]), starts=starts)
    whole = of.Runner(f, **kw).run(**run)
    last = whole.nit if starts is None else whole.starts[0].nit
    assert "ftol" in (whole.message if starts is None else whole.starts[0].message)

    def ctrl_c(info):
        if info.step == last:
            raise KeyboardInterrupt

    part = of.Runner(f, callbacks=[ctrl_c], checkpoint=tmp_path, on_interrupt="return",
                     **kw).run(**run)
    if starts is None:  # the start ended as it would there (its verdict, earned), and
        assert (part.status, part.nit, part.message) == (whole.status, whole.nit,
                                                           whole.message)
        with pytest.raises(KeyboardInterrupt) as stop:  # the Ctrl-C still stops the script
            of.Runner(f, callbacks=[ctrl_c], checkpoint=tmp_path / "again", **kw).run(**run)
        assert stop.value.result.status == whole.status
    else:
        assert part.status == "interrupted" and part.starts[0].status == whole.starts[0].status
    assert_same_run(of.Runner(f, **kw).resume(tmp_path), whole)


def test_a_start_that_ended_in_the_step_ctrl_c_cut_keeps_its_last_record(tmp_path):
    # start 0 converges at its gradient in step 0 (its last record); Ctrl-C then comes in
    # the others' line search. The checkpoint held the records of the steps before 0
    # only, so the resumed run, and the stream loaded, lost start 0's last record
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return float(np.sum((x - 0.3) ** 2))

    def g(x):
        return 2.0 * (x - 0.3)

    objective = of.FunctionObjective.from_callable(f, gradient=g)
    starts = np.array([[0.3, 0.3], [1.0, 2.0], [-1.0, 0.5]])
    kw = dict(record_x=True, on_interrupt="return")
    stop_at = None
    whole = of.Runner(objective, **kw).run(starts=starts)
    assert whole.starts[0].status == "converged" and whole.starts[0].nit == 0
    calls.clear()
    stop_at = 4  # f at the three starts, then the first trial of step 0
    stream = tmp_path / "run.jsonl"
    part = of.Runner(objective, checkpoint=tmp_path / "ck", stream_history=stream,
                     **kw).run(starts=starts)
    assert part.status == "interrupted" and of.load_checkpoint(tmp_path / "ck").step == 0
    stop_at = None
    resumed = of.Runner(objective, stream_history=stream, **kw).resume(tmp_path / "ck")
    assert_same_run(resumed, whole)
    loaded = of.load_history_stream(stream)
    for column in ("step", "fun", "grad_norm", "step_norm", "x"):
        np.testing.assert_array_equal(getattr(loaded, column), getattr(whole.history, column))


@pytest.mark.parametrize("starts", [None, np.array([[0.1, 0.2], [1.0, 2.0], [-3.0, 0.5]])],
                         ids=["single", "stack"])
def test_ctrl_c_as_finished_rows_end_resumes_with_their_counts_once(
        starts, monkeypatch, tmp_path):
    # finish_rows set the ending rows' counts (the step's evaluations) before the state
    # took them out; a Ctrl-C between the two checkpointed them still running with
    # those evaluations counted, and the resumed run counted them again (nfev 119
    # against 111: bench_ctrl_c.py --seed 10, a stack)
    from optiframe.state import RunState

    kw = dict(objective="sphere", optimizer=of.GradientDescent(lr=0.1), gradient="central",
              gtol=1e-6, max_steps=300)  # (each step's gradient: 4 evaluations)
    run = dict(x0=[1.0, 2.0] if starts is None else None, starts=starts)
    whole = of.Runner(**kw).run(**run)
    first = whole if starts is None else min(whole.starts, key=lambda r: r.nit)
    assert first.status == "converged" and first.nfev > 2 * first.nit
    real, sent = RunState.finish, []

    def ctrl_c_first(self, *args, **kwargs):
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RunState, "finish", ctrl_c_first)
    part = of.Runner(checkpoint=tmp_path, checkpoint_every=10_000, on_interrupt="return",
                     **kw).run(**run)  # (the Ctrl-C's checkpoint: the one written)
    monkeypatch.setattr(RunState, "finish", real)
    assert sent
    if starts is None:  # the start had ended: the run's result, whole (as a Ctrl-C that
        assert_same_run(part, whole)  # comes as a run ends)
    else:  # the others still running: the run stops, and resumes to the same bits
        assert part.status == "interrupted"
        assert_same_run(of.Runner(**kw).resume(tmp_path), whole)


def _ftol_stack():
    def f(x):
        return float(np.sum(x**4))

    kw = dict(optimizer="bfgs", gradient="central", ftol=0.0047, max_steps=58)
    return f, kw, dict(starts=np.array([[1.0, -2.0], [0.5, 0.7], [-1.5, 0.2]]))


def _failed_search_stack():
    x0 = np.array([-1.59679907, -0.0057959])
    kw = dict(optimizer={"name": "lbfgs", "line_search": "armijo"}, gradient="forward",
              bounds=[(-2.014637664157549, 0.5969369140685485)] * 2)
    return (lambda x: float(np.exp(np.sum(x)) + np.sum(x**2))), kw, dict(
        starts=np.vstack([x0, x0 + 0.3]))


@pytest.mark.parametrize("case", [_ftol_stack, _failed_search_stack],
                         ids=["step-rules", "failed-search"])
def test_ctrl_c_between_a_steps_commit_and_its_rules_resumes_to_the_same_bits(
        case, monkeypatch, tmp_path):
    # a Ctrl-C after a step's commit, as the loop went on to its rules (at observe's
    # entry), checkpointed the step committed but its rules not asked (a start ftol
    # stops went on) nor a failed search settled: the resumed run differed
    # (bench_ctrl_c.py --seed 7 --show, a stack, one run in about 400)
    from optiframe import loop

    f, kw, run = case()
    whole = of.Runner(f, **kw).run(**run)
    real, at = loop._Step.observe, [None]

    def ctrl_c_at_entry(self, *args):
        if self.s.k == at[0]:
            at[0] = None
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args)

    monkeypatch.setattr(loop._Step, "observe", ctrl_c_at_entry)
    for k in range(1, max(r.nit for r in whole.starts) + 1):
        at[0], folder = k, tmp_path / f"at{k}"
        part = of.Runner(f, checkpoint=folder, checkpoint_every=10_000,
                         on_interrupt="return", **kw).run(**run)
        if at[0] is not None:  # (the stack ended before step k)
            break
        if part.status != "interrupted":  # the rules asked ended every start: the run's
            assert_same_run(part, whole)  # result, whole (as a Ctrl-C as a run ends)
            continue
        assert_same_run(of.Runner(f, **kw).resume(folder), whole)


def test_ctrl_c_as_a_fixed_steps_rules_are_tested_resumes_to_the_same_bits(
        monkeypatch, tmp_path):
    # one start with a fixed step (the loop's fast path): a Ctrl-C in the test of ftol,
    # after the step's commit, checkpointed the step without its verdict, and the
    # resumed run went on past the step where the run never stopped ended
    from optiframe.stopping import StopRules

    kw = dict(objective="sphere", optimizer=of.GradientDescent(lr=0.01), ftol=1e-4, gtol=0.0,
              max_steps=3000)
    whole = of.Runner(**kw).run(x0=[1.0, 2.0])
    assert whole.status == "stalled" and whole.nit == 189
    real, calls = StopRules.f_converged, [0, None]

    def ctrl_c_at(self, *args):
        calls[0] += 1
        if calls[0] == calls[1]:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args)

    monkeypatch.setattr(StopRules, "f_converged", ctrl_c_at)
    for at in (1, 2, whole.nit - 1, whole.nit):  # (whole.nit: the test that stops it)
        calls[:] = [0, at]
        folder = tmp_path / f"at{at}"
        part = of.Runner(checkpoint=folder, checkpoint_every=10_000, on_interrupt="return",
                         **kw).run(x0=[1.0, 2.0])
        if part.status != "interrupted":  # its rule ended the start: the run's result
            assert at == whole.nit
            assert_same_run(part, whole)
            continue
        calls[1] = None
        assert_same_run(of.Runner(**kw).resume(folder), whole)


def test_ctrl_c_after_a_skipped_step_asks_no_rule_of_it():
    # a Ctrl-C asks the last committed step's rules again (they may have been cut
    # short); after a skipped step (a NaN gradient: x left where it was) there is none
    # to ask, and asking the step before's rules of it ended the start "stalled: step 5
    # left x unchanged"
    calls = []

    def g(x):
        calls.append(1)
        if len(calls) == 5:
            return np.array([np.nan, 0.0])  # step 4 is skipped
        if len(calls) == 6:
            raise KeyboardInterrupt
        return 2.0 * x

    objective = of.FunctionObjective.from_callable(lambda x: float(np.sum(x**2)), gradient=g)
    part = of.Runner(objective, optimizer=of.GradientDescent(lr=0.01), max_steps=50,
                     on_interrupt="return").run(x0=[1.0, 2.0])
    assert (part.status, part.nit) == ("interrupted", 5)
