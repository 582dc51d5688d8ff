"""Random byte flips in the files a run leaves on disk (issue 13).

Each flip damages one byte of one file of a checkpoint (its metadata, its state, a
history segment) or of a history stream. Every outcome must be one of: a clean load that
resumes to the same bits as the undamaged one, the named error (``CheckpointError``,
``HistoryStreamError``), or a detected checksum or digest mismatch (a CheckpointError
too). Never a raw exception, a hang, or a silently shorter history.

The suite runs a few hundred seeded flips; ``-m fuzz`` (or ``OPTIFRAME_FUZZ_FLIPS=5000``)
runs thousands.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import optiframe as of

FLIPS = int(os.environ.get("OPTIFRAME_FUZZ_FLIPS", "0")) or None


def _runner(**extra):
    return of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=60, gtol=0, **extra)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint of step 40 (two segments), and the result its resume gives."""
    folder = tmp_path_factory.mktemp("ck") / "ck"
    _runner(checkpoint=folder, checkpoint_every=20).run([-1.0, 1.0])
    # the run ended at 60: keep the checkpoint of step 40 by rerunning to 40 only
    shutil.rmtree(folder)
    of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=40, gtol=0, checkpoint=folder,
              checkpoint_every=20).run([-1.0, 1.0])
    expected = _runner().resume(folder)
    return folder, expected


def _flip(path, rng):
    data = bytearray(path.read_bytes())
    i = int(rng.integers(len(data)))
    data[i] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))


def _checkpoint_flips(saved, tmp_path, n, seed):
    folder, expected = saved
    rng = np.random.default_rng(seed)
    files = sorted(p.name for p in folder.iterdir() if p.name != ".lock")
    outcomes = {"same bits": 0, "CheckpointError": 0}
    for trial in range(n):
        d = tmp_path / f"t{trial}"
        shutil.copytree(folder, d, ignore=shutil.ignore_patterns(".lock"))
        _flip(d / files[trial % len(files)], rng)
        try:
            r = _runner().resume(d)
        except of.CheckpointError:
            outcomes["CheckpointError"] += 1
        else:
            assert r.status == expected.status and r.nit == expected.nit
            np.testing.assert_array_equal(r.x, expected.x)
            np.testing.assert_array_equal(r.history.fun, expected.history.fun)
            outcomes["same bits"] += 1
        shutil.rmtree(d)
    return outcomes


def _stream_flips(tmp_path, n, seed):
    path = tmp_path / "run.jsonl"
    of.minimize("rosenbrock", [-1.0, 1.0], optimizer=of.Adam(lr=0.01), max_steps=60, gtol=0,
                stream_history=path)
    original = path.read_bytes()
    clean = of.load_history_stream(path)
    rng = np.random.default_rng(seed)
    outcomes = {"loaded": 0, "HistoryStreamError": 0}
    for _ in range(n):
        path.write_bytes(original)
        _flip(path, rng)
        try:
            h = of.load_history_stream(path)
        except of.HistoryStreamError:
            outcomes["HistoryStreamError"] += 1
            continue
        outcomes["loaded"] += 1
        torn_end = not path.read_bytes().endswith(b"\n")  # the documented torn last line
        assert len(h) == len(clean) - (1 if torn_end else 0), "a silently shorter history"
    return outcomes


def test_flipped_checkpoint_bytes_are_caught_or_harmless(saved, tmp_path):
    outcomes = _checkpoint_flips(saved, tmp_path, 200, seed=13)
    assert sum(outcomes.values()) == 200
    assert outcomes["CheckpointError"] > 150  # checksums and the digest catch nearly all


def test_flipped_stream_bytes_are_caught_or_harmless(tmp_path):
    outcomes = _stream_flips(tmp_path, 300, seed=13)
    assert sum(outcomes.values()) == 300 and outcomes["HistoryStreamError"] > 0


@pytest.mark.fuzz
@pytest.mark.skipif(FLIPS is None and not os.environ.get("OPTIFRAME_FUZZ"),
                    reason="thousands of flips: set OPTIFRAME_FUZZ_FLIPS=5000 (or -m fuzz "
                           "with OPTIFRAME_FUZZ=1)")
def test_thousands_of_flips(saved, tmp_path):
    n = FLIPS or 5000
    _checkpoint_flips(saved, tmp_path, n, seed=1)
    _stream_flips(tmp_path, n, seed=1)
