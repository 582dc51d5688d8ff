"""Reliability, second round (issue 13): what a hostile test found, each defect a case.

Every case is data: the exact input, and the status or error it must give. Each failed
before its fix (a raw exception, a wrong answer or lost data) and passes after it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import numpy as np
import pytest
from checkpoint_helpers import resigned

import optiframe as of


def quad(x):
    return float(x @ x)


def with_gradient(g):
    return of.FunctionObjective.from_callable(quad, gradient=g)


class Valued(of.Objective):
    """An Objective subclass whose value() returns ``out`` (no analytic gradient)."""

    dim = 2

    def __init__(self, out):
        self.out = out

    def value(self, x):
        return self.out(x)


def writes_into_x(x):
    v = float((x[0] - 3) ** 2 + (x[1] + 1) ** 2)
    x[:] = 0.0
    return v


# -- wrong answers and crashes in a run: (id, call, status, message pattern) ---------------
RUN_CASES = [
    ("gradient of shape (1,) for 3-D x",
     lambda: of.minimize(with_gradient(lambda x: np.ones(1)), np.ones(3), gradient="analytic",
                         optimizer="gd", raise_errors=False),
     "failed", r"gradient of .* must return an array of x's shape \(3,\).*shape \(1,\)"),
    ("gradient a scalar", lambda: of.minimize(with_gradient(lambda x: 1.0), [1.0, 2.0],
                                              gradient="analytic", optimizer="gd",
                                                  raise_errors=False),
     "failed", r"x's shape \(2,\).*returned float 1.0"),
    ("gradient None", lambda: of.minimize(with_gradient(lambda x: None), [1.0, 2.0],
                                          gradient="analytic", optimizer="gd", raise_errors=False),
     "failed", r"x's shape \(2,\).*returned NoneType None"),
    ("gradient a str", lambda: of.minimize(with_gradient(lambda x: "a"), [1.0, 2.0],
                                           gradient="analytic", optimizer="gd", raise_errors=False),
     "failed", r"x's shape \(2,\).*returned str 'a'"),
    ("gradient (n, 1)", lambda: of.minimize(with_gradient(lambda x: np.ones((2, 1))),
                                            [1.0, 2.0], gradient="analytic", optimizer="gd",
                                                raise_errors=False),
     "failed", r"x's shape \(2,\).*shape \(2, 1\)"),
    ("gradient (n + 1,)", lambda: of.minimize(with_gradient(lambda x: np.ones(3)), [1.0, 2.0],
                                              gradient="analytic", optimizer="gd",
                                                  raise_errors=False),
     "failed", r"x's shape \(2,\).*shape \(3,\)"),
    ("value() an array [f] on the finite-difference path",
     lambda: of.minimize(Valued(lambda x: np.array([float(x @ x)])), [1.0, 2.0],
                         optimizer="gd", max_steps=3000, raise_errors=False),
     "converged", r"gradient norm"),
    ("objective writes into x", lambda: of.minimize(writes_into_x, [1.0, 2.0], optimizer="gd",
                                                    raise_errors=False),
     "failed", r"read-only.*copy x before changing it"),
    ("f0 above 1.8e300: the divergence limit overflows",
     lambda: of.minimize(lambda x: float(1e305 * (1 + x @ x)), [1.0],
                         optimizer=of.GradientDescent(lr=1e-300), raise_errors=False),
     "diverged", r"overflowed|f = "),
    ("divergence_factor=1e308",
     lambda: of.minimize(quad, [1.0], optimizer=of.GradientDescent(lr=10.0),
                         divergence_factor=1e308, raise_errors=False),
     "diverged", r"step"),
    ("adam with gradients beyond 1e154",
     lambda: of.minimize(lambda x: float(1e160 * x @ x), [1.0, 1.0], optimizer="adam",
                         gradient="central", raise_errors=False),
     "nan", r"optimizer's state overflowed to inf at step 1.*rescale the objective"),
    ("workers=np.int64(1)",
     lambda: of.minimize("sphere", starts=np.ones((2, 2)), workers=np.int64(1),
                         optimizer="gd", raise_errors=False),
     "converged", r"Best of 2 starts"),
]


@pytest.mark.parametrize(("call", "status", "pattern"), [c[1:] for c in RUN_CASES],
                         ids=[c[0] for c in RUN_CASES])
def test_run_faults_end_in_a_clear_status(call, status, pattern):
    import re

    r = call()
    assert str(r.status) == status, r.message
    assert re.search(pattern, r.message), r.message


# -- refused before any work: (id, call, error, pattern) ----------------------------------
REFUSED = [
    ("value() returns the str '3'",
     lambda: of.minimize(Valued(lambda x: "3"), [1.0, 2.0], gradient="central", optimizer="gd",
                         raise_errors=False),
     of.InvalidTypeError, r"must return a real number, got str: '3'"),
    ("value() returns None",
     lambda: of.minimize(Valued(lambda x: None), [1.0, 2.0], gradient="central",
                         optimizer="gd", raise_errors=False),
     of.InvalidTypeError, r"must return a real number, got NoneType"),
    ("multi-start bounds of +-1e308",
     lambda: of.minimize("sphere", starts=of.MultiStart(3, bounds=[(-1e308, 1e308)] * 2),
                         optimizer="gd", raise_errors=False),
     of.InvalidArgumentError, r"'bounds'\[0\] is too wide to sample from"),
    ("a starts array holding a string",
     lambda: of.minimize("sphere", starts=np.array([[1.0, 2.0], ["a", 1.0]], dtype=object),
                         optimizer="gd", raise_errors=False),
     of.InvalidArgumentError, r"starts"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_bad_input_is_refused_naming_it(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_an_objective_keeps_the_points_it_is_given_unchanged():
    kept = []

    def storing(x):
        kept.append((x, x.copy()))
        return float(x @ x)

    of.minimize(storing, [1.0, 2.0], optimizer="gd", gradient="central", max_steps=5,
                raise_errors=False)
    assert len(kept) > 10
    assert all(np.array_equal(x, copy) for x, copy in kept)  # no buffer reused under them


def test_a_refused_run_writes_nothing(tmp_path):
    with pytest.raises(of.InvalidArgumentError):
        of.minimize("sphere", [1.0], optimizer="gd", max_steps=-1,
                    stream_history=tmp_path / "a" / "h.jsonl", checkpoint=tmp_path / "ck",
                        raise_errors=False)
    assert list(tmp_path.iterdir()) == []


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


def test_resume_compares_array_hyperparameters_by_value(tmp_path):
    lr = np.full(2000, 0.01)
    of.minimize(quad, np.ones(2000), optimizer=of.GradientDescent(lr=lr), max_steps=10, gtol=0,
                checkpoint=tmp_path, checkpoint_every=5, raise_errors=False)
    other = lr.copy()
    other[1000] = 0.02  # repr() of both arrays is the same (numpy elides the middle)
    assert repr(other) == repr(lr)
    with pytest.raises(of.CheckpointError, match=r"optimizer\.lr"):
        of.Runner(quad, of.GradientDescent(lr=other), max_steps=20, gtol=0,
                  raise_errors=False).resume(tmp_path)


# -- checkpoints: (id, damage to a saved folder, error pattern) ---------------------------
def _edit(**changes):
    def damage(d):
        meta = json.loads((d / "checkpoint.json").read_text())
        meta.update(changes)
        (d / "checkpoint.json").write_text(json.dumps(meta))
    return damage


def _swap_segment_from(other_run):
    def damage(d):
        seg = sorted(d.glob("history-*.npz"))[0]
        src = sorted(other_run.glob("history-*.npz"))[0]
        shutil.copy(src, seg)
    return damage


def _fifo(d):
    (d / "checkpoint.json").unlink()
    os.mkfifo(d / "checkpoint.json")


CHECKPOINT_CASES = [
    ("a tampered number", _edit(step=21), r"does not match its digest"),
    ("a segment name with ..", resigned(lambda m: m["history_segments"].__setitem__(
        0, "../x.npz")), r"'../x.npz' is not a plain file name in the checkpoint's folder"),
    ("an absolute segment name", resigned(lambda m: m["history_segments"].__setitem__(
        0, "/etc/passwd")), r"is not a plain file name"),
    ("history_segments missing", resigned(lambda m: m.pop("history_segments")),
     r"'history_segments' entry is missing"),
    ("history_segments empty", resigned(lambda m: m.__setitem__("history_segments", [])),
     r"names no history segment but its history reaches step"),
    ("the digest removed", lambda d: _edit()(d) or _strip_digest(d), r"does not match its "
     r"digest"),
    ("format_version true", resigned(lambda m: m.__setitem__("format_version", True)),
     r"bad format_version True"),
    ("kind swapped", resigned(lambda m: m.__setitem__("kind", "multistart")),
     r"kind 'multistart' does not match"),
    ("a FIFO in place of checkpoint.json", _fifo, r"is not a regular file"),
]


def _strip_digest(d):
    meta = json.loads((d / "checkpoint.json").read_text())
    meta.pop("digest")
    (d / "checkpoint.json").write_text(json.dumps(meta))


def _saved(folder):
    of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=20, gtol=0, checkpoint=folder,
                checkpoint_every=5, raise_errors=False)
    return folder


@pytest.mark.parametrize(("damage", "pattern"), [c[1:] for c in CHECKPOINT_CASES],
                         ids=[c[0] for c in CHECKPOINT_CASES])
def test_malformed_checkpoints_are_a_checkpoint_error(tmp_path, damage, pattern):
    d = _saved(tmp_path / "ck")
    damage(d)
    with pytest.raises(of.CheckpointError, match=pattern):
        of.Runner("sphere", "gd", max_steps=30, gtol=0, raise_errors=False).resume(d)
    assert (tmp_path / "x.npz").exists() is False


def test_a_segment_from_another_run_fails_its_checksum(tmp_path):
    other = tmp_path / "other"
    of.minimize("sphere", [3.0, 2.0], optimizer="gd", max_steps=20, gtol=0, checkpoint=other,
                checkpoint_every=5, raise_errors=False)
    d = _saved(tmp_path / "ck")
    _swap_segment_from(other)(d)
    with pytest.raises(of.CheckpointError, match=r"does not match its checksum"):
        of.Runner("sphere", "gd", max_steps=30, gtol=0, raise_errors=False).resume(d)


def test_a_second_writer_of_one_folder_is_refused_naming_the_holder(tmp_path):
    started, results = threading.Event(), {}

    def slow(info):
        started.set()
        time.sleep(0.002)

    def first():
        results["first"] = of.minimize("sphere", [1.0, 2.0], optimizer=of.GradientDescent(
            lr=1e-4), max_steps=300, gtol=0, checkpoint=tmp_path, checkpoint_every=10,
            callbacks=slow, raise_errors=False)

    t = threading.Thread(target=first)
    t.start()
    started.wait(10)
    with pytest.raises(of.CheckpointError, match=rf"'{tmp_path}' is in use by another run "
                       rf"\(pid {os.getpid()}\)"):
        of.minimize("sphere", [1.0, 2.0], optimizer="gd", checkpoint=tmp_path,
                    checkpoint_every=10, raise_errors=False)
    t.join()
    assert results["first"].status == "max_steps"
    assert of.load_checkpoint(tmp_path).step == 300  # the first run's files are whole
    # the lock is released with the run: the folder can be written again
    of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=5, checkpoint=tmp_path,
                checkpoint_every=5, raise_errors=False)


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
