"""A global search's checkpoint: the journal of its calls, replayed on resume.

A strategy is deterministic given its random stream, so a search is saved as what its
calls returned (the values of each sample, the outcomes and histories of each batch of
local searches), in order, with a digest of what each call was asked. Resuming runs the
strategy again from the start: each call is answered from the journal while it lasts
(checked against its digest: a search that goes another way is refused), then the
search goes on live from the same random state, so the result has the same bits as a
search never interrupted. A local search cut short by Ctrl-C is not in the journal and
is run again whole. With a cache of f's values (``cache=``, ``evaluate=``), the
journal keeps the cache's entries and the search's evaluation stats as of its last
entry, and the resumed search takes them up where the replay ends: its cache hits, and
so the real evaluations its budget counts, are those of the search never interrupted.

The folder holds ``journal.json`` (format, the search's configuration, the entries'
kinds and digests) and ``journal.npz`` (every entry's arrays), each replaced atomically;
they are written at most once a second while the search runs, and when it ends or is
interrupted.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint_store import _write_atomically
from .errors import CheckpointError
from .evaluation import EvaluationStats, PointCache, RunEvaluations
from .history import StartsHistory
from .outcome import Finished

FORMAT = "optiframe-global-journal"
VERSION = 1
_FINISHED = ("index", "x0", "x", "fun", "nit", "nfev", "njev")


def digest(*parts: Any) -> str:
    """A short digest of arrays and plain values (what a call was asked)."""
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part, dtype=float).tobytes())
            h.update(str(part.shape).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


class Journal:
    """The calls of one global search, saved to ``folder`` and replayed from it."""

    def __init__(self, folder: str | Path, config: dict[str, Any], resume: bool) -> None:
        self.folder = Path(folder)
        self.config = config
        self.entries: list[dict[str, Any]] = []
        self.replay: list[dict[str, Any]] = []
        self.last_save = time.monotonic()
        #: the objective's cache (None: none), the search's evaluation count and the
        #: objective's stats (a call; None: no stats), set by :meth:`track`
        self.cache: PointCache | None = None
        self.counted: RunEvaluations | None = None
        self.stats: Callable[[], EvaluationStats | None] | None = None
        #: the cache's entries and the evaluation stats as of the last entry (saved)
        self.kept: dict[str, Any] = {}
        self._resumed: dict[str, Any] = {}  # the same, loaded: taken up as replay ends
        meta_path = self.folder / "journal.json"
        if resume:
            self.replay, self._resumed = _load(self.folder, config)
        elif meta_path.exists():
            raise CheckpointError(
                f"{meta_path}: a global search's checkpoint is there already: pass "
                "resume=True to go on with it, or another checkpoint folder")

    def track(self, objective: Any, counted: RunEvaluations) -> None:
        """Keep ``objective``'s cache and the search's evaluation stats (``counted``) with
        each entry, and take them up where a replay ends (before the search's first
        call)."""
        self.cache = getattr(objective, "cache", None)
        self.stats = getattr(objective, "stats", None)
        self.counted = counted

    @property
    def replaying(self) -> bool:
        return len(self.entries) < len(self.replay)

    def answer(self, kind: str, key: str) -> dict[str, Any] | None:
        """The journal's answer to the next call, or None when the search goes on live."""
        if not self.replaying:
            return None
        entry = self.replay[len(self.entries)]
        if entry["kind"] != kind or entry["key"] != key:
            raise CheckpointError(
                f"{self.folder / 'journal.json'}: call {len(self.entries)} of the resumed "
                f"search is a {kind} that the journal does not hold (it holds a "
                f"{entry['kind']} of another input): the checkpoint is of another search")
        self.entries.append(entry)
        if not self.replaying:  # the last answer: the search goes on live from here
            self._take_up()
        return entry

    def _take_up(self) -> None:
        """The cache and the evaluation stats of the search as its journal ends."""
        kept = self.kept = self._resumed
        if self.cache is not None and "cache" in kept:
            self.cache.restore(kept["cache"])
        if self.counted is not None and kept.get("evaluation") is not None:
            self.counted.carried = EvaluationStats.from_json(kept["evaluation"])

    def _keep(self) -> None:
        """What the search's cache and stats are as this entry ends (saved with it)."""
        kept: dict[str, Any] = {}
        if self.cache is not None:  # (a copy of its entries: packed as the journal is saved)
            kept["cache"] = self.cache.items()
        if self.counted is not None and self.stats is not None:
            stats = self.counted.so_far(self.stats())
            kept["evaluation"] = None if stats is None else stats.to_json()
        self.kept = kept

    def record(self, kind: str, key: str, arrays: dict[str, np.ndarray],
               meta: dict[str, Any]) -> None:
        self.entries.append({"kind": kind, "key": key, "arrays": arrays, "meta": meta})
        self._keep()
        if time.monotonic() - self.last_save >= 1.0:
            self.save()

    def save(self) -> None:
        """Write the journal (atomically: a crash leaves the previous one whole). While
        the journal is replayed, its files hold more than the search has reached:
        they stay as they are."""
        if self.replaying:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"e{i}/{name}": value for i, e in enumerate(self.entries)
                  for name, value in e["arrays"].items()}
        if self.kept.get("cache") is not None:
            arrays["cache/keys"], arrays["cache/values"] = _packed(self.kept["cache"])
        meta = {"format": FORMAT, "version": VERSION, "config": self.config,
                "entries": [{"kind": e["kind"], "key": e["key"], "meta": e["meta"],
                             "arrays": sorted(e["arrays"])} for e in self.entries]}
        if self.kept.get("evaluation") is not None:
            meta["evaluation"] = self.kept["evaluation"]
        _write_atomically(self.folder / "journal.npz", lambda fh: np.savez(fh, **arrays))
        _write_atomically(self.folder / "journal.json",  # (then the entries it names)
                          lambda fh: fh.write(json.dumps(meta, sort_keys=True).encode()))
        self.last_save = time.monotonic()


def _load(folder: Path, config: dict[str, Any],
          ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The journal's entries, and the cache's entries and evaluation stats kept with
    the last of them."""
    meta_path = folder / "journal.json"
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path}: no global search's checkpoint to resume")
    try:
        meta = json.loads(meta_path.read_text())
        with np.load(folder / "journal.npz", allow_pickle=False) as data:
            stored = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder}: the journal cannot be read: {exc}") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"{meta_path}: not a global search's journal (format "
                              f"{meta.get('format')!r} {meta.get('version')!r})")
    saved = meta["config"]
    changed = sorted(k for k in set(saved) | set(config)
                     if k != "entropy" and saved.get(k) != config.get(k))
    if changed:
        raise CheckpointError(
            f"{meta_path}: the checkpoint is of another search: "
            + "; ".join(f"{k}: saved {saved.get(k)!r}, now {config.get(k)!r}"
                        for k in changed))
    kept: dict[str, Any] = {"evaluation": meta.get("evaluation")}
    try:
        if "cache/keys" in stored and "cache/values" in stored:
            kept["cache"] = [(bytes(k), float(v)) for k, v in zip(
                stored["cache/keys"], stored["cache/values"], strict=True)]
        return [{"kind": e["kind"], "key": e["key"], "meta": e["meta"],
                 "arrays": {name: stored[f"e{i}/{name}"] for name in e["arrays"]}}
                for i, e in enumerate(meta["entries"])], kept
    except KeyError as exc:
        raise CheckpointError(f"{folder}: journal.npz lacks {exc}: the files do not "
                              "belong together") from None
    except ValueError as exc:  # (the cache's points and values do not pair up)
        raise CheckpointError(f"{folder}: journal.npz's cache is damaged: {exc}") from None


def _packed(items: list[tuple[bytes, float]]) -> tuple[np.ndarray, np.ndarray]:
    """A cache's entries as arrays: each point's bits as a row of bytes, its value."""
    width = len(items[0][0]) if items else 0
    if any(len(key) != width for key, _ in items):  # (points of several sizes: none kept)
        items = []
    raw = b"".join(key for key, _ in items)
    return (np.frombuffer(raw, dtype=np.uint8).reshape(len(items), width),
            np.array([value for _, value in items], dtype=float))


def saved_entropy(folder: str | Path) -> int | None:
    """The root entropy of the search saved in ``folder`` (None without a journal)."""
    path = Path(folder) / "journal.json"
    if not path.is_file():
        return None
    try:
        return int(json.loads(path.read_text())["config"]["entropy"])
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path}: cannot be read as a global search's journal") from None


# -- what a local-search call returned, as arrays and back --------------------------------


def asked(result: Any) -> int:
    """The evaluations a local search asked of f: its ``nfev`` (real ones) and, with a
    cache, those the cache served (what a global search's budget counts)."""
    replayed = getattr(result, "asked", None)
    if replayed is not None:
        return int(replayed)
    stats = getattr(result, "evaluation", None)
    return int(result.nfev) + (stats.cache_hits if stats is not None else 0)


def local_arrays(result: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    done: Finished = result.finished
    records = result.history.segment(0, np.iinfo(np.int64).max)
    arrays = {name: np.asarray(getattr(done, name)) for name in _FINISHED}
    arrays["history_steps"] = records["starts_history/steps"]
    arrays["history_rows"] = records["starts_history/rows"]
    meta = {"status": [s.value for s in done.status], "message": list(done.message),
            "nfev": int(result.nfev), "asked": asked(result),
            "n_starts": int(result.history.n_starts)}
    return arrays, meta


class Replayed:
    """A local-search call's result rebuilt from the journal (what ``_keep`` reads)."""

    def __init__(self, entry: dict[str, Any]) -> None:
        a, meta = entry["arrays"], entry["meta"]
        self.finished = Finished(**{name: a[name] for name in _FINISHED},
                                 status=meta["status"], message=meta["message"])
        self.nfev = meta["nfev"]
        self.asked = int(meta.get("asked", meta["nfev"]))  # (a journal before 2026-12-08:
        # its real evaluations, the same without a cache)
        self.history = StartsHistory.from_segment(
            {"starts_history/steps": a["history_steps"],
             "starts_history/rows": a["history_rows"]}, meta["n_starts"], False)
