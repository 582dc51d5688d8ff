"""Faults in the files a run writes and reads back: checkpoint folders, their entries, and
the command line's saved config (issue 22, items 2, 21 and 23).

Each case failed before its fix (a file outside the folder overwritten, a raw TypeError,
a saved config that is not TOML) and passes after it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import tomllib

import numpy as np
import pytest
from checkpoint_helpers import edited, resigned

import optiframe as of


# -- links in a checkpoint folder are never followed (item 2) -------------------------------
def test_a_lock_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me\n")
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / ".lock").symlink_to(outside)
    with pytest.raises(of.CheckpointError, match=r"'\.lock' is a symbolic link"):
        of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=5, checkpoint=folder)
    assert outside.read_text() == "keep me\n"


def test_a_planted_temporary_file_link_is_not_written_through(tmp_path):
    folder = tmp_path / "ck"
    folder.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me\n")
    # the name a checkpoint's metadata would be written to first
    (folder / f".checkpoint.json.{os.getpid()}.tmp").symlink_to(outside)
    r = of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=5, gtol=0,
                    checkpoint=folder, checkpoint_every=2)
    assert r.nit == 5 and outside.read_text() == "keep me\n"
    assert of.load_checkpoint(folder).step == 5


# -- entries behind a recomputed digest (item 21) --------------------------------------------


def _multistart(folder):
    """A multi-start checkpoint in which some starts had finished."""
    starts = np.array([[0.0, 0.0], [3.0, 2.0], [-2.8, 3.1], [4.0, -4.0]])
    of.minimize("himmelblau", optimizer=of.GradientDescent(lr=0.01), starts=starts,
                max_steps=400, checkpoint=folder, checkpoint_every=30, raise_errors=False)
    meta = json.loads((folder / "checkpoint.json").read_text())
    assert meta.get("finished", {}).get("status"), "the case needs finished starts"
    return folder


def _training(folder):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 2)), rng.normal(size=64)
    model = of.LeastSquares(X, y)
    of.minimize(model, np.zeros(model.dim), optimizer=of.GradientDescent(lr=0.1),
                batch_size=16, epochs=2, seed=0, checkpoint=folder, checkpoint_every=4)
    return folder


ENTRY_CASES = [
    ("epoch_log null", _training, lambda m: m.__setitem__("epoch_log", None), "'epoch_log'"),
    ("epoch_log a string", _training, lambda m: m.__setitem__("epoch_log", "x"), "'epoch_log'"),
    ("epoch_log an int", _training, lambda m: m.__setitem__("epoch_log", 3), "'epoch_log'"),
    ("epoch_log rows not tables", _training, lambda m: m.__setitem__("epoch_log", [1, 2]),
     "'epoch_log'"),
    ("finished a string", _multistart, lambda m: m.__setitem__("finished", "all"),
     "'finished'"),
    ("finished an int", _multistart, lambda m: m.__setitem__("finished", 2), "'finished'"),
    ("finished with an unknown status", _multistart,
     lambda m: m["finished"]["status"].__setitem__(0, "great"), "unknown status"),
    ("checksums missing", _multistart, lambda m: m.pop("checksums"), "'checksums'"),
    ("checksums a list", _multistart, lambda m: m.__setitem__("checksums", []), "'checksums'"),
]


@pytest.mark.parametrize(("save", "mutate", "pattern"), [c[1:] for c in ENTRY_CASES],
                         ids=[c[0] for c in ENTRY_CASES])
def test_malformed_entries_behind_a_valid_digest_are_a_checkpoint_error(tmp_path, save,
                                                                        mutate, pattern):
    d = save(tmp_path / "ck")
    resigned(mutate)(d)
    with pytest.raises(of.CheckpointError, match=pattern) as info:
        of.load_checkpoint(d)
    assert "checkpoint.json" in str(info.value)


# -- the saved config is TOML (item 23) ---------------------------------------------------
SAVED_CONFIGS = [
    {"objective": {"name": "sphere", "params": {"team name": "a b", "x.y": "z"}}},
    {"output": {"tags": {"é": "accent", "": "empty", "a=b": "eq", 'q"uote': "q"}}},
    {"weird section": {"key with space": 1.5, "nan": float("nan"), "big": float("inf")}},
    {"start": {"x0": [1.0, -2.0], "when": __import__("datetime").date(2026, 12, 4)}},
]


@pytest.mark.parametrize("config", SAVED_CONFIGS)
def test_every_saved_config_round_trips_through_tomllib(config):
    from optiframe.config import to_toml

    back = tomllib.loads(to_toml(config))
    assert json.dumps(back, sort_keys=True, default=str) == json.dumps(
        config, sort_keys=True, default=str)


def test_a_command_line_run_saves_a_config_that_runs_again(tmp_path, monkeypatch):
    from optiframe.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(
        '[objective]\nname = "sphere"\n[start]\nx0 = [1.0, 2.0]\n'
        '[output]\nfolder = "out"\n[stop]\nmax_steps = 5\n')
    assert main(["run", "run.toml"]) in (0, None)
    saved = tmp_path / "out" / "config.toml"
    tomllib.loads(saved.read_text())
    assert main(["run", str(saved), "--set", "output.folder='again'"]) in (0, None)


# -- checkpoints: (id, damage to a saved folder, error pattern) ---------------------------
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
    ("a tampered number", edited(step=21), r"does not match its digest"),
    ("a segment name with ..", resigned(lambda m: m["history_segments"].__setitem__(
        0, "../x.npz")), r"'../x.npz' is not a plain file name in the checkpoint's folder"),
    ("an absolute segment name", resigned(lambda m: m["history_segments"].__setitem__(
        0, "/etc/passwd")), r"is not a plain file name"),
    ("history_segments missing", resigned(lambda m: m.pop("history_segments")),
     r"'history_segments' entry is missing"),
    ("history_segments empty", resigned(lambda m: m.__setitem__("history_segments", [])),
     r"names no history segment but its history reaches step"),
    ("the digest removed", lambda d: edited()(d) or _strip_digest(d), r"does not match its "
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
    # the lock is released with the run: the folder can be written again (replacing the
    # first run's checkpoint, which the run is warned of)
    with pytest.warns(of.CheckpointReplacedWarning):
        of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=5, checkpoint=tmp_path,
                    checkpoint_every=5, raise_errors=False)
