"""Runtime faults, written as data: Ctrl-C, user code raising, callbacks stopping a run,
and damaged history streams. Each ends in a documented status or a named error, with
what was recorded kept."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

import optiframe as of


def raising_after(n: int, exc: BaseException):
    """A sphere objective that raises ``exc`` from its n-th evaluation on."""
    count = [0]

    def f(x):
        count[0] += 1
        if count[0] >= n:
            raise exc
        return float(np.sum(np.asarray(x) ** 2))

    return f


def callback_raising_at(step: int, exc: BaseException):
    def cb(info):
        if info.step >= step:
            raise exc
    return cb


def training(raise_at: int, exc: BaseException):
    rng = np.random.default_rng(0)
    objective = of.LeastSquares(rng.normal(size=(100, 3)), rng.normal(size=100))
    broken = copy.copy(objective)
    count = [0]

    def batch_loss_and_gradient(params, idx):
        count[0] += 1
        if count[0] >= raise_at:
            raise exc
        return objective.batch_loss_and_gradient(params, idx)

    broken.batch_loss_and_gradient = batch_loss_and_gradient
    return broken


# (id, call, status, message pattern, recorded rows kept)
CASES = [
    ("Ctrl-C in the objective",
     lambda: of.minimize(raising_after(30, KeyboardInterrupt()), [1.0, 1.0],
                         gradient="forward", max_steps=100, optimizer="gd",
                             on_interrupt="return", raise_errors=False),
     "interrupted", r"Interrupted.*at step 9", 10),  # forward: n evaluations a step, f reused
    ("Ctrl-C while f(x0) is evaluated",
     lambda: of.minimize(raising_after(1, KeyboardInterrupt()), [1.0, 1.0],
                         on_interrupt="return"),
     "interrupted", r"at step 0, while f at the starting point was evaluated", 1),
    ("Ctrl-C while a stack's f(x0) is evaluated",
     lambda: of.minimize(raising_after(2, KeyboardInterrupt()), starts=np.ones((3, 2)),
                         on_interrupt="return"),
     "interrupted", r"at step 0, while f at the starting point", 0),
    ("Ctrl-C in a callback",
     lambda: of.minimize("sphere", [1.0], callbacks=callback_raising_at(5, KeyboardInterrupt()),
                         max_steps=100, optimizer="gd", on_interrupt="return", raise_errors=False),
     "interrupted", r"at step 5", 6),
    ("Ctrl-C in a multi-start run",
     lambda: of.minimize("sphere", starts=np.ones((4, 2)), max_steps=100,
                         callbacks=callback_raising_at(3, KeyboardInterrupt()), optimizer="gd",
                             on_interrupt="return", raise_errors=False),
     "interrupted", r"at step 3", 3),
    ("Ctrl-C in training",
     lambda: of.minimize(training(7, KeyboardInterrupt()), np.zeros(4), batch_size=10,
                         epochs=2, seed=0, on_interrupt="return", raise_errors=False),
     "interrupted", r"in epoch 1, at step 6", 6),
    ("objective raises mid-run",
     lambda: of.minimize(raising_after(20, ValueError("bad x")), [1.0], max_steps=100,
                         optimizer="gd", on_interrupt="return", raise_errors=False),
     "failed", r"at step \d+: ValueError: bad x", None),
    ("callback raises",
     lambda: of.minimize("sphere", [1.0], callbacks=callback_raising_at(4, ZeroDivisionError(
         "oops")), max_steps=100, optimizer="gd", on_interrupt="return", raise_errors=False),
     "failed", r"at step 4: ZeroDivisionError: oops", 4),
    ("callback stops the run",
     lambda: of.minimize("sphere", [1.0], callbacks=callback_raising_at(4, StopIteration()),
                         max_steps=100, optimizer="gd", on_interrupt="return", raise_errors=False),
     "callback_stop", r"at step 4", 5),
    ("callback stops training",
     lambda: of.minimize(training(10**9, ValueError()), np.zeros(4), batch_size=10, epochs=2,
                         seed=0, callbacks=callback_raising_at(7, StopIteration()),
                             on_interrupt="return", raise_errors=False),
     "callback_stop", r"at step 7", 7),
    ("training objective raises",
     lambda: of.minimize(training(5, MemoryError("out of memory")), np.zeros(4),
                         batch_size=10, epochs=2, seed=0,
                             on_interrupt="return", raise_errors=False),
     "failed", r"in epoch 1, at step 4: MemoryError: out of memory", 4),
    ("one start's objective raises",
     lambda: of.minimize(lambda x: 1 / 0 if x[0] > 2 else float(x @ x),
                         starts=np.array([[1.0], [3.0]]), max_steps=10, optimizer="gd",
                             on_interrupt="return", raise_errors=False),
     "max_steps", r"Best of 2 starts: start 0 \(1 failed, 1 max_steps\)", None),
]


@pytest.mark.parametrize(("call", "status", "pattern", "rows"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_runtime_fault_ends_in_a_status_keeping_the_history(call, status, pattern, rows):
    r = call()
    assert r.status == status, r.message
    assert re.search(pattern, r.message), r.message
    if rows is not None:
        assert len(r.history) == rows


@pytest.mark.parametrize("starts", [None, np.ones((3, 2))], ids=["single", "stack"])
def test_ctrl_c_at_the_first_evaluation_raises_with_the_result_and_no_checkpoint(starts,
                                                                                 tmp_path):
    # before any step: every start interrupted at its x0, nothing counted, and no
    # checkpoint (a resume says there is none) -- the KeyboardInterrupt carries the result
    f = raising_after(2 if starts is not None else 1, KeyboardInterrupt())
    x0 = None if starts is not None else [1.0, 2.0]
    with pytest.raises(KeyboardInterrupt) as stop:
        of.minimize(f, x0, starts=starts, checkpoint=tmp_path / "ck")
    r = stop.value.result
    assert r.status == "interrupted" and r.nfev == 0 and r.nit == 0
    assert "no checkpoint was written" in r.message
    rows = r.starts if starts is not None else [r]
    assert all(o.status == "interrupted" and o.nfev == 0 for o in rows)
    np.testing.assert_array_equal(r.x, [1.0, 2.0] if starts is None else [1.0, 1.0])
    with pytest.raises(of.CheckpointError, match="no checkpoint"):
        of.Runner(f).resume(tmp_path / "ck")


def test_interrupted_run_saves_a_checkpoint_it_resumes_from(tmp_path):
    r = of.minimize("rosenbrock", [-1.0, 1.0], optimizer=of.Adam(lr=0.01), max_steps=300,
                    callbacks=callback_raising_at(120, KeyboardInterrupt()), checkpoint=tmp_path,
                        on_interrupt="return", raise_errors=False)
    # step 120 was whole (committed) when its callbacks ran: the checkpoint holds it, so the
    # resumed run goes on with step 121 and no callback sees step 120 twice
    assert r.status == "interrupted" and of.load_checkpoint(tmp_path).step == 120
    resumed = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=300,
                        on_interrupt="return", raise_errors=False).resume(tmp_path)
    whole = of.minimize("rosenbrock", [-1.0, 1.0], optimizer=of.Adam(lr=0.01), max_steps=300,
                        on_interrupt="return", raise_errors=False)
    np.testing.assert_array_equal(resumed.x, whole.x)


# -- history streams --------------------------------------------------------------------------
def streamed(tmp_path, **options):
    path = tmp_path / "run.jsonl"
    r = of.minimize("rosenbrock", [-1.0, 1.0], optimizer=of.Adam(lr=0.01), max_steps=50,
                    stream_history=path, on_interrupt="return", raise_errors=False, **options)
    return path, r


def test_stream_holds_every_record_flushed_as_made(tmp_path):
    path = tmp_path / "run.jsonl"
    sizes = []
    r = of.minimize("sphere", [1.0, 2.0], max_steps=20, stream_history=path,
                    callbacks=lambda info: sizes.append(len(path.read_text().splitlines())),
                        optimizer="gd", on_interrupt="return", raise_errors=False)
    assert sizes == list(range(2, 22))  # the header and every row so far, on disk at once
    h = of.load_history_stream(path)
    for column in ("step", "fun", "grad_norm", "step_norm", "nfev"):
        np.testing.assert_array_equal(h.column(column), r.history.column(column))
    assert all(json.loads(line) is not None for line in path.read_text().splitlines())


def test_stream_of_a_killed_run_keeps_what_it_wrote(tmp_path):
    path, r = streamed(tmp_path, callbacks=callback_raising_at(30, KeyboardInterrupt()))
    assert r.status == "interrupted"
    assert len(of.load_history_stream(path)) == len(r.history)


def _torn(path):
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 12])  # cut the last line


def _corrupt_line(n, content):
    def damage(path):
        lines = path.read_text().split("\n")
        lines[n - 1] = content
        path.write_text("\n".join(lines))
    return damage


# (id, damage, rows expected or exception pattern)
STREAM_CASES = [
    ("torn last line is ignored", _torn, 50),
    ("last line without its newline is ignored",
     lambda p: p.write_text(p.read_text().rstrip("\n")), 50),
    ("corrupt middle line", _corrupt_line(10, "[8, 1.0, 2"), r"line 10 is not a history record"),
    ("wrong width in the middle", _corrupt_line(5, "[1, 2, 3]"), r"line 5 is not a history "
     r"record \(not a record of this stream's kind\)"),
    ("text in a number", _corrupt_line(7, '[5, "x", 1, 1, 1, 1]'), r"line 7 .*not a number: 'x'"),
    ("bad header", _corrupt_line(1, '{"format": "other"}'), r"line 1 is not a history stream "
     r"header"),
    ("newer version", _corrupt_line(1, '{"format": "optiframe-history-stream", "version": 9}'),
     r"stream version 9 is newer"),
    ("empty file", lambda p: p.write_text(""), r"empty, not a history stream"),
]


@pytest.mark.parametrize(("damage", "expected"), [c[1:] for c in STREAM_CASES],
                         ids=[c[0] for c in STREAM_CASES])
def test_damaged_stream(damage, expected, tmp_path):
    path, _ = streamed(tmp_path)
    damage(path)
    if isinstance(expected, int):
        assert len(of.load_history_stream(path)) == expected
    else:
        with pytest.raises(of.HistoryStreamError, match=expected):
            of.load_history_stream(path)


def test_stream_options_are_checked(tmp_path):
    with pytest.raises(of.InvalidArgumentError, match="'stream_history' must be a file, but"):
        of.Runner("sphere", stream_history=tmp_path, optimizer="gd",
                  on_interrupt="return", raise_errors=False)
    with pytest.raises(of.InvalidArgumentError, match="'stream_history' must be a file path"):
        of.Runner("sphere", stream_history=5, optimizer="gd",
                  on_interrupt="return", raise_errors=False)
    (tmp_path / "file").write_text("x")
    calls = []
    with pytest.raises(of.InvalidArgumentError, match=r"'stream_history' file .* cannot be "
                                                      r"written"):
        of.minimize(lambda x: calls.append(1) or float(x @ x), [1.0],
                    stream_history=tmp_path / "file" / "h.jsonl", optimizer="gd",
                        on_interrupt="return", raise_errors=False)
    assert calls == []  # refused before the first evaluation


def test_a_run_on_workers_streams_each_start_as_it_arrives(tmp_path):
    """Once refused: stream_history with workers. Each start's records are written as the
    start arrives, and the stream loads to the run's history."""
    starts = np.array([[1.0], [-2.0], [0.5]])
    r = of.Runner("sphere", stream_history=tmp_path / "h.jsonl", max_steps=30, optimizer="gd",
                  on_interrupt="return", raise_errors=False).run(
        starts=starts, workers="serial")
    h = of.load_history_stream(tmp_path / "h.jsonl")
    for column in ("step", "fun", "grad_norm", "step_norm"):
        np.testing.assert_array_equal(getattr(h, column), getattr(r.history, column))


def test_stream_with_points(tmp_path):
    path, r = streamed(tmp_path, record_x=True)
    h = of.load_history_stream(path)
    np.testing.assert_array_equal(h.x, r.history.x)
    lines = path.read_text().split("\n")
    # the point line of the last record torn: that record is dropped, the rest is kept
    path.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:7])
    assert len(of.load_history_stream(path)) == len(r.history) - 1
    # a point line with no record before it, in the middle: an error naming the line
    path.write_text("\n".join([*lines[:5], lines[4], *lines[5:]]))
    with pytest.raises(of.HistoryStreamError, match=r"line 6 .*a point with no record"):
        of.load_history_stream(path)


def test_a_full_disk_does_not_lose_the_run(tmp_path, monkeypatch):
    import errno

    import optiframe.checkpoint as checkpoint

    def no_space(path, arrays):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "_write_npz", no_space)
    # at Ctrl-C: the run still returns interrupted, saying why nothing was saved
    r = of.minimize("sphere", [1.0], callbacks=callback_raising_at(5, KeyboardInterrupt()),
                    checkpoint=tmp_path, optimizer="gd", on_interrupt="return", raise_errors=False)
    assert r.status == "interrupted" and len(r.history) == 6
    assert "the checkpoint could not be written (OSError: [Errno 28] No space left" in r.message
    # a periodic checkpoint failing warns once and the run goes on, saying so (issue 13:
    # it used to end the run 'failed', as if user code had raised)
    with pytest.warns(RuntimeWarning, match="the disk is full"):
        r = of.minimize("sphere", [1.0], checkpoint=tmp_path, checkpoint_every=3, max_steps=10,
                        gtol=0, optimizer="gd", on_interrupt="return", raise_errors=False)
    assert r.status == "max_steps" and len(r.history) == 11
    assert (f"the checkpoint of step 3 could not be written into {str(tmp_path)!r} (the disk "
            "is full)") in r.message
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_a_full_disk_keeps_the_previous_checkpoint_which_resumes(tmp_path, monkeypatch):
    import errno

    import optiframe.checkpoint as checkpoint

    real, calls = checkpoint._write_npz, []

    def fills_up(path, arrays):
        calls.append(path)
        if len(calls) > 2:  # the first checkpoint (state + one segment) fits, then no more
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, arrays)

    monkeypatch.setattr(checkpoint, "_write_npz", fills_up)
    runner = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=40, gtol=0,
                       checkpoint=tmp_path, checkpoint_every=10,
                           on_interrupt="return", raise_errors=False)
    with pytest.warns(RuntimeWarning, match="the checkpoint of step 10 is kept"):
        r = runner.run([-1.0, 1.0])
    assert r.status == "max_steps" and "checkpoint of step 10 is kept" in r.message
    monkeypatch.setattr(checkpoint, "_write_npz", real)
    assert of.load_checkpoint(tmp_path).step == 10
    resumed = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=40, gtol=0,
                        on_interrupt="return", raise_errors=False).resume(tmp_path)
    np.testing.assert_array_equal(resumed.x, r.x)


def test_a_full_disk_while_streaming_keeps_the_run_and_the_stream_loads(tmp_path,
                                                                        monkeypatch):
    import errno
    import os

    path, real, count = tmp_path / "h.jsonl", os.write, [0]

    def write(fd, data):
        count[0] += 1
        if count[0] > 8:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    import optiframe.stream as stream

    monkeypatch.setattr(stream.os, "write", write)
    with pytest.warns(RuntimeWarning, match="could not be written on \\(the disk is full\\)"):
        r = of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=20, gtol=0,
                        stream_history=path, on_interrupt="return", raise_errors=False)
    monkeypatch.setattr(stream.os, "write", real)
    assert r.status == "max_steps" and len(r.history) == 21
    assert "the result's history holds them all" in r.message
    assert len(of.load_history_stream(path)) == 7  # the header, then 7 records


def test_a_full_disk_on_a_workers_run_warns_and_the_starts_go_on(tmp_path, monkeypatch):
    import errno

    import optiframe.checkpoint as checkpoint

    real, calls = checkpoint._write_npz, []

    def fills_up(path, arrays):
        calls.append(path)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, arrays)

    monkeypatch.setattr(checkpoint, "_write_npz", fills_up)
    with pytest.warns(RuntimeWarning, match="could not be written .* \\(the disk is full\\)"):
        r = of.minimize("sphere", starts=np.ones((4, 2)), optimizer="gd", workers="serial",
                        checkpoint=tmp_path)
    assert r.statuses() == {"converged": 4}
    assert "the previous one is kept and resumes" in r.message
