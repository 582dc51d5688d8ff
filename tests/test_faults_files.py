"""Faults in the files a run writes and reads back: checkpoint folders, their entries, and
the command line's saved config (issue 22, items 2, 21 and 23).

Each case failed before its fix (a file outside the folder overwritten, a raw TypeError,
a saved config that is not TOML) and passes after it.
"""

from __future__ import annotations

import json
import os
import tomllib

import numpy as np
import pytest
from checkpoint_helpers import resigned

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
