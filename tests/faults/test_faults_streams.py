"""Streamed histories (stream_history=) that are torn, edited or not streams at all: each
is a HistoryStreamError naming the line, or loads whole (optiframe.stream)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import optiframe as of


# -- history streams: (id, lines written, error pattern or rows) --------------------------
def _stream(tmp_path):
    path = tmp_path / "s.jsonl"
    of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=10, gtol=0,
                stream_history=path, raise_errors=False)
    return path, path.read_bytes().split(b"\n")


def _multi_stream(tmp_path):
    path = tmp_path / "m.jsonl"
    of.minimize("sphere", starts=np.ones((2, 2)), optimizer="gd", max_steps=5, gtol=0,
                stream_history=path, raise_errors=False)
    return path, path.read_bytes().split(b"\n")


def _header_edit(change):
    def edit(lines):
        header = json.loads(lines[0])
        change(header)
        return [json.dumps(header).encode(), *lines[1:]]
    return edit


STREAM_CASES = [
    ("non-UTF-8 bytes", _stream, lambda ls: [*ls[:3], b"\xff\xfe[1,2]", *ls[3:]],
     r"line 4 is not UTF-8 text"),
    ("version '1', a string", _stream, _header_edit(lambda h: h.__setitem__("version", "1")),
     r"line 1: bad stream version '1'"),
    ("deeply nested JSON", _stream,
     lambda ls: [*ls[:2], b"[" * 100_000 + b"]" * 100_000, *ls[2:]],
     r"line 3 is not a history record \(nested too deeply\)"),
    ("a step of 1e400", _stream, lambda ls: [*ls[:2], b"[1e400,1,1,1,1,1,1]", *ls[3:]],
     r"line 3 is not a history record \(not an integer: inf\)"),
    ("a multi-start header without n_starts", _multi_stream,
     _header_edit(lambda h: h.pop("n_starts")), r"header needs n_starts"),
    ("a nested list where a record goes", _stream,
     lambda ls: [*ls[:2], b"[[0,1,2,3,4,5,6]]", *ls[3:]], r"line 3 is not a history record"),
    ("text in a number", _stream, lambda ls: [*ls[:2], b'[1,"x",1,1,1,1,1]', *ls[3:]],
     r"line 3 .*not a number: 'x'"),
]


@pytest.mark.parametrize(("make", "edit", "pattern"), [c[1:] for c in STREAM_CASES],
                         ids=[c[0] for c in STREAM_CASES])
def test_malformed_streams_are_a_history_stream_error(tmp_path, make, edit, pattern):
    path, lines = make(tmp_path)
    path.write_bytes(b"\n".join(edit(lines)))
    with pytest.raises(of.HistoryStreamError, match=pattern):
        of.load_history_stream(path)


def test_a_torn_stream_resumed_into_the_same_file_loads_whole(tmp_path):
    stream, ck = tmp_path / "h.jsonl", tmp_path / "ck"
    of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=20, gtol=0,
                stream_history=stream, checkpoint=ck, checkpoint_every=5, raise_errors=False)
    stream.write_bytes(stream.read_bytes()[:-7])  # the last line torn, as by a crash
    r = of.Runner("sphere", "gd", max_steps=30, gtol=0, stream_history=stream,
                  raise_errors=False).resume(ck)
    h = of.load_history_stream(stream)
    assert len(h) == len(r.history) == 31
    np.testing.assert_array_equal(h.fun, r.history.fun)


def test_resuming_into_a_new_stream_file_writes_its_header(tmp_path):
    ck = tmp_path / "ck"
    of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=20, gtol=0, checkpoint=ck,
                checkpoint_every=5, raise_errors=False)
    of.Runner("sphere", "gd", max_steps=30, gtol=0, stream_history=tmp_path / "new.jsonl",
              raise_errors=False
              ).resume(ck)
    h = of.load_history_stream(tmp_path / "new.jsonl")
    assert h.step.tolist() == list(range(20, 31))


def test_the_columnar_parse_equals_the_line_by_line_reader(tmp_path):
    from optiframe import stream as st

    ck, path = tmp_path / "ck", tmp_path / "h.jsonl"
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    data = of.LogisticRegression(X, y)
    of.minimize(data, np.zeros(data.dim), optimizer=of.Adam(lr=0.1), batch_size=8, epochs=3,
                seed=0, stream_history=path, checkpoint=ck, checkpoint_every=4, raise_errors=False)
    of.Runner(data, of.Adam(lr=0.1), batch_size=8, epochs=5, stream_history=path,
              raise_errors=False).resume(ck)
    fast, slow = of.load_history_stream(path), st._load_by_lines(path)
    assert len(fast) == len(slow) and fast.epoch_log == slow.epoch_log
    for column in ("step", "fun", "grad_norm", "step_norm", "nfev", "elapsed", "step_size"):
        np.testing.assert_array_equal(fast.column(column), slow.column(column))


@pytest.mark.parametrize("running", [[1], None], ids=["running named", "before 2026-12-07"])
def test_a_multi_start_resume_marker_drops_the_records_of_the_starts_it_goes_on_with(
        tmp_path, running):
    # start 0 ended at step 1 (its last record); start 1 was cut in step 1 and goes on.
    # A marker naming the running starts keeps start 0's record of step 1; one without
    # (as written before) drops every record of step 1 on
    lines = [{"format": "optiframe-history-stream", "version": 2, "kind": "multistart",
              "columns": ["fun", "grad_norm", "step_norm", "step_size"], "dim": 1,
              "n_starts": 2, "record_x": False},
             {"step": 0, "start": [0, 1], "fun": [1.0, 4.0], "grad_norm": [2.0, 4.0],
              "step_norm": [None, None], "step_size": [1.0, 1.0]},
             {"step": 1, "start": [0, 1], "fun": [0.5, 3.0], "grad_norm": [0.0, 3.5],
              "step_norm": [0.5, 0.5], "step_size": [1.0, 1.0]},
             {"resumed_at": 1} if running is None else {"resumed_at": 1, "running": running},
             {"step": 1, "start": [1], "fun": [3.0], "grad_norm": [3.5], "step_norm": [0.5],
              "step_size": [1.0]}]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    h = of.load_history_stream(path)
    np.testing.assert_array_equal(h.fun, [[1.0, 4.0], [0.5 if running else np.nan, 3.0]])


class _CtrlCAt:
    """A step and epoch callback raising KeyboardInterrupt at its ``at``-th call."""

    def __init__(self, at=None):
        self.at, self.calls = at, 0

    def __call__(self, info):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("starts", [None, 2], ids=["one model", "a stack"])
@pytest.mark.parametrize("saving", [False, True], ids=["resumed", "resumed, checkpointing"])
def test_an_epoch_ended_again_after_a_second_ctrl_c_is_streamed_once(tmp_path, starts,
                                                                      saving):
    # Ctrl-C in epoch 1's callback checkpoints step 1 with that epoch not yet ended; the
    # run resumed from there ends it (its row streamed), then Ctrl-C in step 2's callback.
    # Resumed without a checkpoint of its own, the next run goes on from step 1 again and
    # ends epoch 1 again: the stream held its row twice (bench_resume.py's training runs
    # stopped twice, seed 0, run 7). Resumed with checkpoints, it goes on from step 2
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    data = of.LogisticRegression(X, y)
    ck, path = tmp_path / "ck", tmp_path / "h.jsonl"
    cb = _CtrlCAt()
    x0 = np.zeros(data.dim) if starts is None else None
    where = dict(x0=x0) if starts is None else dict(starts=np.zeros((starts, data.dim)))

    def runner(**more):
        return of.Runner(data, of.GradientDescent(lr=0.1), batch_size=40, epochs=3,
                         on_interrupt="return", callbacks=[cb], epoch_callbacks=[cb],
                         stream_history=path, **more)

    whole = of.Runner(data, of.GradientDescent(lr=0.1), batch_size=40, epochs=3).run(
        **where, seed=0)
    K = starts or 1  # (a step callback is called once a step, an epoch one once a start)
    cb.at = 2  # epoch 1's callback (of the first start)
    first = runner(checkpoint=ck).run(**where, seed=0)
    assert str(first.status if starts is None else first.starts[-1].status) == "interrupted"
    cb.calls, cb.at = 0, K + 1  # epoch 1's callbacks again, then step 2's
    more = dict(checkpoint=ck) if saving else {}
    runner(**more).resume(ck)
    assert of.load_checkpoint(ck).step == (2 if saving else 1)
    cb.at = None
    last = runner().resume(ck)
    loaded = of.load_history_stream(path)
    assert last.history.epoch_log == whole.history.epoch_log
    assert loaded.epoch_log == whole.history.epoch_log
    assert [e["epoch"] for e in loaded.epoch_log] == (
        [1, 2, 3] if starts is None else [1, 1, 2, 2, 3, 3])
