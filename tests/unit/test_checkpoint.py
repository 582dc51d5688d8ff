"""Checkpoints (optiframe.checkpoint and its store, format and config modules): periodic
saves, merged segments, what a resume refuses and why, the formats of earlier versions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from checkpoint_helpers import assert_same_run, edited

import optiframe as of
from optiframe.checkpoint import meta_digest

DATA = Path(__file__).resolve().parents[1] / "data" / "checkpoints"


def digits(rows: int | None = None):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:rows] / 16, y[:rows]


def test_periodic_checkpoints_keep_one_consistent_pair(tmp_path):
    runner = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=300, checkpoint=tmp_path,
                       checkpoint_every=100, on_interrupt="return")
    runner.run([-1.0, 1.0])
    meta = json.loads((tmp_path / "checkpoint.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert meta["format"] == "optiframe-checkpoint" and meta["step"] == 300
    # one state file, and the history in one segment per checkpoint: no file rewritten
    assert [s[-29:] for s in meta["history_segments"]] == [
        "000000000000-000000000100.npz", "000000000100-000000000200.npz",
        "000000000200-000000000300.npz"]
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted([".lock", "checkpoint.json", meta["arrays"], *meta["history_segments"]])
    with np.load(tmp_path / meta["arrays"], allow_pickle=False) as npz:
        assert "rows/X" in npz.files and all(npz[name].dtype != object for name in npz.files)


def test_a_new_run_into_a_folder_holding_a_checkpoint_is_warned_before_any_work(tmp_path):
    """The earlier run's checkpoint is replaced at the new run's first checkpoint (its
    files deleted): the warning comes before, pointing at the caller's line; a resume
    into its own folder, and a first run into an empty one, are not warned."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty folder: no warning
        of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=200, checkpoint=tmp_path,
                  checkpoint_every=100).run([-1.0, 1.0])
    calls = []

    def f(x):
        calls.append(1)
        return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)

    with pytest.warns(of.CheckpointReplacedWarning) as seen:
        runner = of.Runner(f, of.Adam(lr=0.02), max_steps=10, checkpoint=tmp_path)
        assert calls == []
        runner.run([-1.0, 1.0])
    message = str(seen[0].message)
    assert "holds an earlier run's checkpoint (a single run's, at step 200)" in message
    assert f"Runner.resume({str(tmp_path)!r})" in message
    assert seen[0].filename == __file__  # the user's line, not optiframe's
    assert of.load_checkpoint(tmp_path).step == 10  # replaced, as the warning said
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # resumed into its own folder: no warning
        r = of.Runner(f, of.Adam(lr=0.02), max_steps=20, checkpoint=tmp_path).resume()
    assert r.nit == 20


def test_history_segments_are_merged_as_they_pile_up(tmp_path):
    runner = of.Runner("sphere", of.Adam(lr=1e-3), max_steps=2000, gtol=0.0,
                       checkpoint=tmp_path, checkpoint_every=100, on_interrupt="return")
    whole = runner.run([1.0, 2.0])
    meta = of.load_checkpoint(tmp_path).meta
    # 20 checkpoints: two merged segments of 8, then four of one checkpoint each
    spans = [name.split("-", 2)[2] for name in meta["history_segments"]]
    assert spans == ["L1-000000000000-000000000800.npz", "L1-000000000800-000000001600.npz",
                     "L0-000000001600-000000001700.npz", "L0-000000001700-000000001800.npz",
                     "L0-000000001800-000000001900.npz", "L0-000000001900-000000002000.npz"]
    assert len(list(tmp_path.glob("*.npz"))) == 7
    resumed = of.Runner("sphere", of.Adam(lr=1e-3), max_steps=2000, gtol=0.0,
                        on_interrupt="return").resume(tmp_path)
    assert_same_run(resumed, whole)


# -- checkpoints that must be refused -------------------------------------------------------
BASE = dict(objective="rosenbrock", optimizer=of.Adam(lr=0.01), gradient="central",
            max_steps=100)


# (id, what the resuming Runner changes, message pattern)
MISMATCHES = [
    ("optimizer kind", dict(optimizer=of.Momentum(lr=0.01)), r"optimizer: the checkpoint has "
     r"'Adam\(lr=0.01.*this runner 'Momentum"),
    ("hyperparameter", dict(optimizer=of.Adam(lr=0.02)),
     r"optimizer.lr: the checkpoint has 0.01, this runner 0.02"),
    ("gradient", dict(gradient="forward"), r"gradient: .*CentralDifference.*ForwardDifference"),
    ("objective", dict(objective="himmelblau"), r"objective: .*Rosenbrock.*Himmelblau"),
    ("schedules", dict(schedules={"lr": "cosine"}),
     r"schedules: the checkpoint has '\(\)', this runner '\(\(lr, CosineWarmup"),
    ("stopping rule", dict(gtol=1e-3),
     r"stop.gtol: the checkpoint has 1e-08, this runner 0.001"),
    ("recording", dict(record_every=10), r"record_every: the checkpoint has 1, this runner 10"),
    ("record_x", dict(record_x=True), r"record_x"),
]


@pytest.mark.parametrize(("change", "pattern"), [c[1:] for c in MISMATCHES],
                         ids=[c[0] for c in MISMATCHES])
def test_checkpoint_from_other_configuration_is_refused(change, pattern, tmp_path):
    kw = dict(BASE)
    objective, optimizer = kw.pop("objective"), kw.pop("optimizer")
    of.Runner(objective, optimizer, checkpoint=tmp_path, checkpoint_every=50,
              **kw).run([-1.0, 1.0])
    other = {**BASE, **change}
    objective, optimizer = other.pop("objective"), other.pop("optimizer")
    with pytest.raises(of.CheckpointError, match=pattern) as info:
        of.Runner(objective, optimizer, **other).resume(tmp_path)
    assert "configured differently" in str(info.value)


def _write_then(tmp_path, damage):
    of.Runner("sphere", max_steps=20, checkpoint=tmp_path, checkpoint_every=10,
              optimizer="gd", on_interrupt="return").run([1.0])
    damage(tmp_path)
    return tmp_path


# (id, damage done to a good checkpoint, message pattern)
BAD_CHECKPOINTS = [
    ("missing folder", lambda d: [p.unlink() for p in d.iterdir()],
     r"no checkpoint at .*checkpoint.json does not exist"),
    ("not JSON", lambda d: (d / "checkpoint.json").write_text("{torn"),
     r"checkpoint.json is not a readable checkpoint"),
    ("other JSON", lambda d: (d / "checkpoint.json").write_text('{"a": 1}'),
     r"is not an optiframe checkpoint"),
    ("newer format", edited(format_version=99, optiframe_version="9.0"),
     r"written by optiframe 9.0 in checkpoint format 99; this optiframe reads formats up to 5"),
    ("arrays gone", lambda d: [p.unlink() for p in d.glob("*.npz")],
     r"its arrays state-.*npz cannot be read: .*No such file"),
    ("arrays corrupt", lambda d: [p.write_bytes(b"PK\x03\x04junk") for p in d.glob("*.npz")],
     r"state-.*npz does not match its checksum"),
    ("history segment corrupt",
     lambda d: [p.write_bytes(b"junk") for p in d.glob("history-*.npz")],
     r"history-.*-000000000000-000000000010.npz does not match its checksum"),
]


@pytest.mark.parametrize(("damage", "pattern"), [c[1:] for c in BAD_CHECKPOINTS],
                         ids=[c[0] for c in BAD_CHECKPOINTS])
def test_unreadable_checkpoints_are_refused_by_name(damage, pattern, tmp_path):
    folder = _write_then(tmp_path, damage)
    with pytest.raises(of.CheckpointError, match=pattern):
        of.Runner("sphere", max_steps=20, optimizer="gd", on_interrupt="return").resume(folder)


def test_checkpoint_of_other_data_is_refused(tmp_path):
    X, y = digits(200)
    of.Runner(of.SoftmaxRegression(X, y), batch_size=50, epochs=2, checkpoint=tmp_path,
              checkpoint_every=3, on_interrupt="return").run(np.zeros(650), seed=0)
    other = X.copy()
    other[-1, 10] += 0.5  # one value of one sampled row (the last)
    with pytest.raises(of.CheckpointError, match=r"objective: .*data [0-9a-f]{16}"):
        of.Runner(of.SoftmaxRegression(other, y), batch_size=50, epochs=2,
                  on_interrupt="return").resume(tmp_path)
    resumed = of.Runner(of.SoftmaxRegression(X.copy(), y), batch_size=50, epochs=2,
                        on_interrupt="return").resume(
        tmp_path)
    assert resumed.status == "completed"


def test_optimizer_state_of_another_shape_is_refused(tmp_path):
    of.Runner("sphere", of.Adam(), max_steps=20, checkpoint=tmp_path,
              checkpoint_every=10, on_interrupt="return").run([1.0, 2.0])
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    meta["trees"]["optimizer"] = meta["trees"]["optimizer"][:1]
    meta["digest"] = meta_digest(meta)  # re-signed: the check behind the digest is tested
    (tmp_path / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(of.CheckpointError, match=r"saved optimizer state does not fit"):
        of.Runner("sphere", of.Adam(), max_steps=20, on_interrupt="return").resume(tmp_path)


# (id, Runner options or run call, message pattern)
BAD_OPTIONS = [
    ("every without folder", lambda d: of.Runner("sphere", checkpoint_every=10, optimizer="gd",
                                                 on_interrupt="return"),
     r"'checkpoint_every' is 10 but no 'checkpoint' folder"),
    ("every zero", lambda d: of.Runner("sphere", checkpoint=d, checkpoint_every=0, optimizer="gd",
                                       on_interrupt="return"),
     r"'checkpoint_every' must be >= 1"),
    ("folder is a file", lambda d: of.Runner("sphere", checkpoint=__file__, optimizer="gd",
                                             on_interrupt="return"),
     r"'checkpoint' must be a folder, but .* is a file"),
    ("folder not a path", lambda d: of.Runner("sphere", checkpoint=3, optimizer="gd",
                                              on_interrupt="return"),
     r"'checkpoint' must be a folder path"),
    ("workers for a single start", lambda d: of.Runner("sphere", max_steps=5, checkpoint=d,
                                                        checkpoint_every=2,
                                                            optimizer="gd",
                                                                on_interrupt="return").run([1.0])
     and of.Runner("sphere", max_steps=5, optimizer="gd",
                   on_interrupt="return").resume(d, workers="serial"),
     r"'workers' apply to resuming multi-start runs"),
    ("resume without folder", lambda d: of.Runner("sphere", optimizer="gd",
                                                  on_interrupt="return").resume(),
     r"'checkpoint' is required"),
    ("folder cannot be created", lambda d: (d / "file").write_text("x") and of.Runner(
        "sphere", checkpoint=d / "file" / "sub", optimizer="gd", on_interrupt="return").run([1.0]),
     r"'checkpoint' folder .*file/sub' cannot be created"),
]


@pytest.mark.parametrize(("call", "pattern"), [c[1:] for c in BAD_OPTIONS],
                         ids=[c[0] for c in BAD_OPTIONS])
def test_bad_checkpoint_options_are_refused(call, pattern, tmp_path):
    with pytest.raises(of.InvalidArgumentError, match=pattern):
        call(tmp_path)


# -- a checkpoint written by an earlier optiframe still loads ---------------------------------
@pytest.mark.parametrize("name", ["format1-single", "format1-multistart"])
def test_checkpoints_of_earlier_versions_resume(name):
    """tests/data/checkpoints holds checkpoints written by optiframe 0.1.0 (format 1) and
    the results their runs reached; tests/data/make_checkpoints.py wrote them."""
    folder = DATA / name
    expected = json.loads((folder / "expected.json").read_text())
    runner = of.Runner(**expected["runner"], optimizer=of.Adam(lr=0.01))
    result = runner.resume(folder)
    assert result.x.tolist() == expected["x"]
    assert result.fun == expected["fun"]
    assert result.nit == expected["nit"]


def quad(x):
    return float(x @ x)


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


# -- a write that Ctrl-C cannot cut ------------------------------------------------------------
def test_ctrl_c_during_a_checkpoint_file_write_waits_for_the_file(tmp_path, monkeypatch):
    # SIGINT while numpy writes the second array of the file: the file is written whole
    # and renamed into place, then KeyboardInterrupt comes (before: the write stopped
    # there, and numpy's zip writer was left to be closed by the garbage collector,
    # "Exception ignored ... ValueError: seek of closed file", seen on a run on workers)
    import os
    import signal

    from numpy.lib import format as npy_format

    from optiframe.checkpoint_store import _write_npz

    real, calls = npy_format.write_array, []

    def write_array(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(npy_format, "write_array", write_array)
    path = tmp_path / "state.npz"
    with pytest.raises(KeyboardInterrupt):
        _write_npz(path, {"a": np.arange(3.0), "b": np.ones(2), "c": np.zeros(1)})
    with np.load(path) as saved:
        assert sorted(saved.files) == ["a", "b", "c"] and saved["b"].tolist() == [1.0, 1.0]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert not list(tmp_path.glob(".*tmp"))


def test_sigterm_in_a_deferred_block_reaches_the_runs_handler_after_it():
    import os
    import signal

    from optiframe.signals import Terminated, deferred, sigterm_interrupts

    done = []
    with sigterm_interrupts(True), pytest.raises(Terminated), deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("the block went on")
    assert done == ["the block went on"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("nth", [1, 3, 8])
def test_ctrl_c_inside_a_checkpoint_save_waits_for_its_bookkeeping(tmp_path, monkeypatch, nth):
    # SIGINT as a history segment's checksum is taken: the segment was listed, its
    # records not yet counted as saved. Cut there, the Ctrl-C's own checkpoint listed a
    # segment without a checksum or wrote the records twice (a resumed history of 130
    # rows for 65, bench_ctrl_c.py); now the save ends first, then Ctrl-C stops the run
    import os
    import signal

    from optiframe import checkpoint as ck

    real, calls = ck._digest, []

    def digest(path):
        calls.append(path)
        if len(calls) == nth:
            os.kill(os.getpid(), signal.SIGINT)
        return real(path)

    kw = dict(optimizer=of.GradientDescent(lr=1e-3), max_steps=40)
    monkeypatch.setattr(ck, "_digest", digest)
    r = of.minimize("rosenbrock", [-1.2, 1.0], checkpoint=tmp_path, checkpoint_every=1,
                    on_interrupt="return", **kw)
    monkeypatch.setattr(ck, "_digest", real)
    assert r.status == "interrupted"
    back = of.Runner("rosenbrock", **kw).resume(tmp_path)
    assert_same_run(back, of.minimize("rosenbrock", [-1.2, 1.0], **kw))


def test_ctrl_c_as_the_checkpoint_folders_lock_is_released_closes_it_once(tmp_path,
                                                                           monkeypatch):
    # cut between closing the lock's descriptor and forgetting it, the checkpointer
    # closed it again when collected, when its number could be the next run's file
    # ("OSError: [Errno 9] Bad file descriptor" from the next run, bench_ctrl_c.py)
    import os
    import signal

    from optiframe import checkpoint as ck

    writer = of.Runner("sphere", checkpoint=tmp_path).checkpointer("single", (2,))
    real, closed = os.close, []

    def close(fd):
        closed.append(fd)
        real(fd)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(ck.os, "close", close)
    with pytest.raises(KeyboardInterrupt):
        writer.close()
    monkeypatch.setattr(ck.os, "close", real)
    assert writer._lock is None and len(closed) == 1
    writer.close()  # (nothing left to close)
    of.Runner("sphere", checkpoint=tmp_path).checkpointer("single", (2,)).close()  # free


def test_a_checkpointer_closed_has_no_finalizer_left_and_one_collected_releases_its_lock(
        tmp_path):
    # a Ctrl-C that came as the collector called Checkpointer.__del__ was lost ("Exception
    # ignored in ... __del__": bench_ctrl_c.py, the run after went on as never stopped);
    # a closed checkpointer now leaves nothing for the collector to call
    import gc

    writer = of.Runner("sphere", checkpoint=tmp_path).checkpointer("single", (2,))
    assert writer._release.alive
    writer.close()
    assert not writer._release.alive
    lost = of.Runner("sphere", checkpoint=tmp_path).checkpointer("single", (2,))
    del lost  # never closed: collected, its lock is released
    gc.collect()
    of.Runner("sphere", checkpoint=tmp_path).checkpointer("single", (2,)).close()
