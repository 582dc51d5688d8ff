"""Helpers for the tests of checkpoints: comparing runs bit for bit, damaging folders."""

from __future__ import annotations

import json
import time

import numpy as np

import optiframe as of
from optiframe.checkpoint import meta_digest


def edited(**changes):
    """An edit of checkpoint.json's entries that leaves its digest as it was (so the
    digest check is what the damage meets first)."""
    def damage(d):
        meta = json.loads((d / "checkpoint.json").read_text())
        meta.update(changes)
        (d / "checkpoint.json").write_text(json.dumps(meta))
    return damage


def resigned(mutate):
    """An edit of checkpoint.json that keeps its digest valid, to reach the checks behind
    the digest: ``mutate(meta)`` changes the entries, the digest is recomputed."""
    def damage(d):
        meta = json.loads((d / "checkpoint.json").read_text())
        mutate(meta)
        meta["digest"] = meta_digest(meta)
        (d / "checkpoint.json").write_text(json.dumps(meta))
    return damage


def assert_same_run(a: of.Result, b: of.Result) -> None:
    """Bit-identical results and histories (the elapsed-time column aside)."""
    if isinstance(a, of.MultiStartResult):
        assert len(a.starts) == len(b.starts)
        for s, t in zip(a.starts, b.starts, strict=True):
            assert (s.index, s.status, s.message, s.nit, s.nfev, s.njev) == (
                t.index, t.status, t.message, t.nit, t.nfev, t.njev)
            np.testing.assert_array_equal(s.x, t.x)
            np.testing.assert_array_equal(s.x0, t.x0)
            np.testing.assert_array_equal(s.fun, t.fun)
        for column in ("step", "fun", "grad_norm", "step_norm", "step_size"):
            np.testing.assert_array_equal(getattr(a.history, column), getattr(b.history, column))
        if a.history.segment(0, 1).get("points/step") is not None:
            np.testing.assert_array_equal(a.history.x, b.history.x)
    else:
        assert (a.status, a.nit, a.nfev, a.njev) == (b.status, b.nit, b.nfev, b.njev)
        for column in ("step", "fun", "grad_norm", "step_norm", "nfev", "step_size"):
            np.testing.assert_array_equal(a.history.column(column), b.history.column(column))
        if a.history.points is not None:
            np.testing.assert_array_equal(a.history.x, b.history.x)
        assert a.history.epoch_log == b.history.epoch_log
    np.testing.assert_array_equal(a.x, b.x)
    assert a.fun == b.fun


def wait_for_checkpoint(child, folder, step, seconds=60.0):
    """Poll ``folder`` until its checkpoint reaches ``step`` (or ``seconds`` pass), the
    ``child`` process running all along; returns the step the checkpoint reached."""
    deadline = time.monotonic() + seconds
    reached = 0
    while time.monotonic() < deadline and reached < step:
        time.sleep(0.05)
        try:
            reached = of.load_checkpoint(folder).step
        except of.CheckpointError:
            reached = 0
        assert child.poll() is None, child.communicate()
    return reached
