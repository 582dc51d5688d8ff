"""Observers (optiframe.observers): callbacks and plugins see each step, start end and
event of every kind of run exactly once, where the documentation says."""

from __future__ import annotations

import os

import numpy as np
import pytest

import optiframe as of
from tests.multistart_helpers import (
    PairLog,
    small_regression,
)

STARTS = np.array([[1.0, 2.0], [-3.0, 1.0], [2.5, -2.0], [0.5, 0.5]])


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


GD = of.GradientDescent


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


class _OnRunEndOfNothing:
    def on_step(self, info):
        pass

    def on_run_end(self):  # (the result is missing)
        pass


@pytest.mark.parametrize(("option", "value", "says"), [
    ("callbacks", lambda: None, "'callbacks': <lambda>() must take one argument, a StepInfo"),
    ("callbacks", [lambda info, extra: None], "<lambda>(info, extra) must take one argument"),
    ("callbacks", [_OnRunEndOfNothing()],
     "_OnRunEndOfNothing.on_run_end() must take one argument, the result: "
     "def on_run_end(self, result)"),
    ("epoch_callbacks", lambda: {}, "'epoch_callbacks': <lambda>() must take one argument, "
     "an EpochInfo"),
    ("callback", lambda: None, "'callback': <lambda>() must take one argument, as scipy's"),
    ("callback", lambda xk, state: None, "callback(xk) (the new point)"),
])
def test_a_callback_of_the_wrong_signature_is_refused_before_any_evaluation(option, value, says):
    calls = []

    def f(x):
        calls.append(1)
        return float(x @ x)

    with pytest.raises(of.InvalidTypeError) as err:
        of.minimize(f, [3.0, 1.0], **{option: value})
    assert says in str(err.value)
    assert calls == []  # refused before any work


@pytest.mark.parametrize("callback", [
    lambda info: None, lambda *args: None, lambda info, extra=1: None, print,
    lambda intermediate_result: None, lambda xk: None])
def test_callbacks_that_take_one_argument_are_accepted(callback, capsys):
    r = of.minimize("sphere", [3.0], optimizer="gd", max_steps=2, gtol=0, callback=callback)
    assert r.nit == 2
    r = of.minimize("sphere", [3.0], optimizer="gd", max_steps=2, gtol=0, callbacks=callback)
    assert r.nit == 2


def test_a_single_callable_is_accepted_as_callbacks():
    calls = []
    of.minimize("sphere", [3.0], max_steps=3, gtol=0, callbacks=lambda info: calls.append(1),
                optimizer="gd", on_interrupt="return")
    assert len(calls) == 3
