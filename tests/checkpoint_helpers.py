"""Helpers for the tests that damage checkpoints."""

from __future__ import annotations

import json

from optiframe.checkpoint import meta_digest


def resigned(mutate):
    """An edit of checkpoint.json that keeps its digest valid, to reach the checks behind
    the digest: ``mutate(meta)`` changes the entries, the digest is recomputed."""
    def damage(d):
        meta = json.loads((d / "checkpoint.json").read_text())
        mutate(meta)
        meta["digest"] = meta_digest(meta)
        (d / "checkpoint.json").write_text(json.dumps(meta))
    return damage
