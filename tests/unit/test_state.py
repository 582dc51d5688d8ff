"""The run's state (optiframe.state): Ctrl-C and interrupts keep the last whole step,
with the history and the random streams as they were at its start."""

from __future__ import annotations

import math

import numpy as np
import pytest
from checkpoint_helpers import assert_same_run

import optiframe as of

GD = of.GradientDescent


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


def test_a_fixed_steps_cost_reaches_every_rows_counters_when_they_are_read():
    # put(spent=...) leaves the K counters as they are and adds the step's cost when
    # nfev or njev is next read: no two additions of K numbers a step
    from optiframe.state import RunState
    from optiframe.status import Status

    s = RunState(point=False, n=2)
    X = np.zeros((3, 2))
    s.start(X, np.zeros(3), np.arange(3), np.full(3, np.inf), None)
    s.nfev = np.array([1, 4, 7])  # rows with histories of their own (a resumed run)
    before = s._nfev
    for k in (1, 2):
        s.put(k, X, np.zeros(3), np.zeros(3), None, None, None, X, np.zeros(3), (), None,
              s.bad, s.step_size, None, None, (3, 1))
        assert s._nfev is before  # nothing added yet
    assert s.nfev.tolist() == [7, 10, 13] and s.njev.tolist() == [2, 2, 2]
    assert before.tolist() == [1, 4, 7]  # a new array: the old one is not written into
    s.put(3, X, np.zeros(3), np.zeros(3), None, None, None, X, np.zeros(3), (), None,
          s.bad, s.step_size, None, None, (3, 1))
    s.njev = s.njev + np.array([0, 5, 0])  # a per-row cost reads (and settles) the due first
    assert s.nfev.tolist() == [10, 13, 16] and s.njev.tolist() == [3, 8, 3]
    s.put(4, X, np.zeros(3), np.zeros(3), None, None, None, X, np.zeros(3), (), None,
          s.bad, s.step_size, None, None, (3, 1))
    s.finish([1], [(Status.MAX_STEPS, "")])  # a finished row counts what it spent
    assert (s.finished[0].nfev.tolist(), s.finished[0].njev.tolist()) == ([16], [9])
    assert s.nfev.tolist() == [13, 19] and s.njev.tolist() == [4, 4]


def test_ctrl_c_in_taking_rows_leaves_every_field_as_it_was():
    # Ctrl-C while a stack's finished rows were taken out cut the fields one by one: X of
    # two rows, the optimizer's state of three, and the Ctrl-C's own handling then failed
    # with "IndexError: boolean index did not match" (a run stopped by a timed Ctrl-C)
    import os
    import signal

    from optiframe import state as state_module
    from optiframe.state import RunState

    s = RunState(point=False, n=2)
    s.start(np.zeros((3, 2)), np.zeros(3), np.arange(3), np.full(3, np.inf),
            {"m": np.ones((3, 2))})
    real = state_module.take_rows

    def ctrl_c(tree, keep, n_rows):
        os.kill(os.getpid(), signal.SIGINT)
        return real(tree, keep, n_rows)

    state_module.take_rows = ctrl_c
    try:
        with pytest.raises(KeyboardInterrupt):
            s.take(np.array([True, False, True]))
    finally:
        state_module.take_rows = real
    assert len(s.X) == len(s.index) == len(s.F) == len(s.opt["m"]) == 3
    s.take(np.array([True, False, True]))
    assert s.index.tolist() == [0, 2] and len(s.opt["m"]) == 2


def test_a_history_is_repaired_and_packed_while_a_view_of_it_is_alive():
    # the frame that Ctrl-C interrupted, kept by the exception, may hold a numpy view of
    # the row store (a checkpoint's segment): the store could not be resized, and the
    # interruption's repair raised "BufferError: cannot resize an array that is
    # exporting buffers" (a run stopped by a timed Ctrl-C)
    r = of.minimize("sphere", [3.0], optimizer=GD(lr=0.01), record_x=True, max_steps=5,
                    on_interrupt="return")
    h = r.history
    view = h._table()  # alive until the end of the test
    h._repair()  # nothing to cut: nothing done
    h.recorder((6, 1.0, 2.0, 0.1, 7, 0.0, math.nan))
    h.points.append(np.array([0.5]))
    h.settle()  # packed into a new store
    h._packed.extend((99.0, 1.0))  # a torn row
    export = memoryview(h._packed)  # alive too
    h._repair()
    assert len(h) == 7 and h.x.shape == (7, 1) and h.step.tolist()[-1] == 6
    assert view.shape == (6, 7) and len(export) == 7 * 7 + 2  # they kept their numbers
