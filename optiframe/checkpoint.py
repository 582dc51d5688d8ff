"""Checkpoints: a run's state on disk, so an interrupted run resumes bit for bit.

A checkpoint saves exactly the run's state (:class:`~optiframe.state.RunState`: the
running starts, their optimizer, schedule and random states, the finished starts, the
position in the data) and the history recorded so far. It is a directory holding (no
pickle anywhere):

``checkpoint.json``
    ``format`` (``"optiframe-checkpoint"``), ``format_version``, the ``optiframe_version``
    that wrote it, ``kind`` (``single``, ``multistart``, or ``workers`` for a multi-start
    run spread over workers), ``step``, ``config`` (the run's components and options,
    compared on resume), ``state`` (the layout of the state), ``arrays`` (the ``.npz``
    file beside it), ``history_segments`` and ``checksums`` (a BLAKE2b digest of every
    file it names, verified on load).
``state-<token>-<step>.npz``
    Every array and float of the state, written by :func:`numpy.savez` and read with
    ``allow_pickle=False``.
``history-<token>-L<level>-<start>-<stop>.npz``
    The history in append-only segments, one per checkpoint, holding the records made
    since the previous one; every 8 segments of one level are merged into one of the
    next, so a checkpoint costs the state and the new records.

The ``.npz`` files are written first and the JSON file then replaces the old one
atomically, so a run killed at any moment leaves a complete, consistent checkpoint.
State trees are stored as their leaves in a fixed order and rebuilt on resume by filling
a fresh ``optimizer.init(x)``: the checkpoint never names a class to import. Every
earlier layout (formats 1 to 3, in which each kind of run had its own) still loads: see
:func:`_upgrade`.

Example
-------
>>> import tempfile, optiframe as of
>>> folder = tempfile.mkdtemp()
>>> runner = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=300,
...                    checkpoint=folder, checkpoint_every=100)
>>> whole = runner.run([-1.0, 1.0])
>>> of.load_checkpoint(folder).step                 # the last one written
300
>>> resumed = of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=600).resume(folder)
>>> resumed.nit, resumed.fun < whole.fun
(600, True)
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, cast

import attrs
import numpy as np

from ._tree import tree_leaves, tree_map
from .checkpoint_config import (  # noqa: F401  (re-exported: the checkpoint's public face)
    MAY_CHANGE,
    check_checkpoint_options,
    check_config,
    data_digest,
    describe,
    describe_objective,
    run_config,
)
from .checkpoint_format import (  # noqa: F401
    FORMAT,
    FORMAT_VERSION,
    JSON_NAME,
    KINDS,
    _int_keys,
    _later_rows,
    _upgrade,
    _validate,
)
from .checkpoint_store import (  # noqa: F401
    LOCK_NAME,
    _check_sum,
    _digest,
    _lock_folder,
    _plain_name,
    _read_npz,
    _read_segments,
    _regular_file,
    _write_atomically,
    _write_npz,
    meta_digest,
)
from .errors import CheckpointError, CheckpointReplacedWarning, InvalidArgumentError
from .history import History, StartsHistory
from .outcome import Finished
from .signals import deferred
from .state import ROW_FIELDS, BatchCursor, RunState
from .status import Status


# -- state trees ----------------------------------------------------------------------------
def rebuild(template: Any, values: Iterator[Any]) -> Any:
    """``template`` with its leaves replaced, in order, by ``values``."""
    return tree_map(lambda _: next(values), template)


def _leaf_kind(leaf: Any) -> str:
    if isinstance(leaf, np.ndarray):
        return "array"
    if leaf is None:
        return "none"
    if isinstance(leaf, (bool, np.bool_)):
        return "bool"
    if isinstance(leaf, (int, np.integer)):
        return "int"
    if isinstance(leaf, (float, np.floating)):
        return "float"
    if isinstance(leaf, str):
        return "str"
    raise CheckpointError(
        f"cannot checkpoint a state holding {type(leaf).__name__} {leaf!r}: state trees may "
        "hold numpy arrays, numbers, strings and None, in attrs classes, dicts and tuples")


# -- random streams -------------------------------------------------------------------------
_M64 = (1 << 64) - 1


def pack_generators(generators: list[np.random.Generator]) -> np.ndarray:
    """The states of PCG64 generators as a (K, 6) uint64 array."""
    rows = []
    for g in generators:
        st = g.bit_generator.state
        if st.get("bit_generator") != "PCG64":
            raise CheckpointError(f"cannot checkpoint a {st.get('bit_generator')} random "
                                  "stream: the run's streams are PCG64")
        s, inc = int(st["state"]["state"]), int(st["state"]["inc"])
        rows.append((s >> 64, s & _M64, inc >> 64, inc & _M64, int(st["has_uint32"]),
                     int(st["uinteger"])))
    return np.array(rows, dtype=np.uint64).reshape(len(rows), 6)


def unpack_generators(packed: np.ndarray) -> list[np.random.Generator]:
    out = []
    for row in np.asarray(packed, dtype=np.uint64).tolist():
        g = np.random.Generator(np.random.PCG64())
        g.bit_generator.state = {"bit_generator": "PCG64",
                                 "state": {"state": (row[0] << 64) | row[1],
                                           "inc": (row[2] << 64) | row[3]},
                                 "has_uint32": row[4], "uinteger": row[5]}
        out.append(g)
    return out


def _rng_json(state: Mapping[str, Any]) -> Any:
    """A bit generator's state for JSON: its big integers as decimal strings."""
    return json.loads(json.dumps(state, default=str), parse_int=str)


def _rng_state(saved: Any) -> dict[str, Any]:
    def ints(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ints(v) for k, v in node.items()}
        return int(node) if isinstance(node, str) and node.lstrip("-").isdigit() else node
    return cast(dict[str, Any], ints(saved))


# -- writing --------------------------------------------------------------------------------
class Snapshot:
    """What one checkpoint holds: JSON metadata, arrays, and the history part to write."""

    def __init__(self) -> None:
        self.json: dict[str, Any] = {"trees": {}}
        self.arrays: dict[str, np.ndarray] = {}
        self.history_part: tuple[History | StartsHistory, int] | None = None

    def array(self, name: str, value: Any) -> None:
        self.arrays[name] = np.asarray(value)

    def tree(self, name: str, tree: Any) -> None:
        layout = []
        for i, leaf in enumerate(tree_leaves(tree)):
            kind = _leaf_kind(leaf)
            if kind in ("array", "float"):
                self.arrays[f"tree/{name}/{i}"] = np.asarray(leaf)
                layout.append([kind, list(np.shape(leaf))])
            else:
                value = leaf.item() if isinstance(leaf, np.generic) else leaf
                layout.append([kind, value])
        self.json["trees"][name] = layout

    def finished(self, finished: Finished) -> None:
        for name in ("index", "x0", "x", "fun", "nit", "nfev", "njev"):
            self.arrays[f"finished/{name}"] = getattr(finished, name)
        self.json["finished"] = {"status": [s.value for s in finished.status],
                                 "message": list(finished.message)}

    @classmethod
    def of_state(cls, s: RunState, history: History | StartsHistory,
                 elapsed: float) -> Snapshot:
        """The snapshot of a run's state ``s`` at the top of step ``s.k``."""
        snap = cls()
        cursor = s.cursor
        snap.json["state"] = {
            "point": s.point, "n": s.n, "k": s.k,
            "rng": s.rng is not None,
            "cursor": None if cursor is None else {"epoch": cursor.epoch,
                                                   "position": cursor.position,
                                                   "epoch_rng": _rng_json(cursor.epoch_rng or {})}}
        snap.arrays["scalar/elapsed"] = np.asarray(elapsed, dtype=np.float64)
        for name in ROW_FIELDS:
            snap.arrays[f"rows/{name}"] = np.asarray(getattr(s, name))
        if s.grad is not None:  # the gradient at X a line search computed
            snap.arrays["state/grad"] = np.asarray(s.grad)
        snap.tree("optimizer", s.opt)
        snap.tree("schedules", s.sched)
        if s.rng is not None:
            snap.arrays["rng/streams"] = pack_generators(s.rng)
        if cursor is not None:
            snap.arrays["cursor/total"] = np.asarray(cursor.total, dtype=np.float64)
            snap.arrays["cursor/count"] = np.asarray(cursor.count, dtype=np.int64)
        snap.finished(Finished.join(s.finished, s.n))
        snap.history(history, s.k)
        if isinstance(history, StartsHistory):  # the last records of starts that ended
            for name, value in history.ended_at(s.k, s.index).items():  # in step k
                snap.arrays[f"ended/{name}"] = value
        return snap

    def history(self, history: History | StartsHistory, upto_step: int) -> None:
        """The history's records of steps below ``upto_step`` (written by the
        Checkpointer as a new segment holding the records since its last checkpoint) and
        its per-epoch table."""
        self.history_part = (history, upto_step)
        self.json["epoch_log"] = list(getattr(history, "epoch_log", []))


def segment_arrays(history: History | StartsHistory, start: int, stop: int,
                   ) -> dict[str, np.ndarray]:
    """The records of steps in [start, stop) of a history, as named arrays."""
    return history.segment(start, stop)


def committed_nfev(arrays: dict[str, np.ndarray]) -> int:
    """The evaluations a checkpoint's state counts as asked: its running rows' and its
    finished starts' (those of the step under way are not in it)."""
    return sum(int(np.sum(arrays[name])) for name in ("rows/nfev", "finished/nfev")
               if name in arrays)


#: Segments of one level merged into one of the next (see Checkpointer._add_segment).
MERGE = 8
_SEGMENT_NAME = re.compile(r"history-[0-9a-f]+-L\d+-\d{12}-\d{12}\.npz")
_STATE_NAME = re.compile(r"state-(?:[0-9a-f]+-)?\d{12}\.npz")


def _segment_span(name: str) -> tuple[int, int, int]:
    """(level, first step, stop step) from a segment's file name."""
    *_, level, start, stop = name.removesuffix(".npz").split("-")
    return int(level.lstrip("L")) if level.startswith("L") else 99, int(start), int(stop)


def _warn_replacing(directory: Path) -> None:
    """Warn, before any work, that ``directory`` holds an earlier run's checkpoint, which
    this run's first checkpoint will replace (its files are then deleted). The warning
    points at the caller's line outside optiframe."""
    path = directory / JSON_NAME
    if not path.is_file():
        return
    try:
        meta = json.loads(path.read_text())
        what = f"a {meta['kind']} run's, at step {int(meta['step'])}"
    except (OSError, ValueError, TypeError, KeyError):
        what = "one that cannot be read"
    package, level = str(Path(__file__).parent) + os.sep, 2  # (not optiframe_x/...)
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(
        f"'checkpoint' folder {str(directory)!r} holds an earlier run's checkpoint ({what}); "
        "this run replaces it at its first checkpoint. To go on from it instead, call "
        f"Runner.resume({str(directory)!r}); to keep it, give this run another folder",
        CheckpointReplacedWarning, stacklevel=level)


def _close_lock(fd: int | None) -> None:
    if fd is not None:  # (None: a platform without file locks)
        os.close(fd)


class Checkpointer:
    """Writes a run's checkpoints into ``directory``.

    The history goes into segments, one per checkpoint, each holding the records made
    since the previous one, so a checkpoint costs the state and the new records, not the
    whole history again. A run resumed into the folder it came from (``resumed``) goes on
    with that folder's segments.
    """

    def __init__(self, directory: str | os.PathLike[str], kind: str, config: dict[str, Any],
                 resumed: Checkpoint | None = None, evaluations: Any = None) -> None:
        self.directory = Path(directory)
        # the run's evaluation stats as of its state's nfev (a call; None: none kept),
        # saved: the cache is not, and a resumed run counts both parts
        self.evaluations = evaluations
        try:  # before any work: a folder that cannot be written is bad input
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidArgumentError(
                f"'checkpoint' folder {str(directory)!r} cannot be created: {exc}") from None
        if not os.access(self.directory, os.W_OK):
            raise InvalidArgumentError(
                f"'checkpoint' folder {str(directory)!r} is not writable")
        self._lock = _lock_folder(self.directory)
        # (a finalizer, not __del__: a Ctrl-C as the collector called __del__ was lost,
        # "Exception ignored in Checkpointer.__del__"; closed, it is never called)
        self._release = weakref.finalize(self, _close_lock, self._lock)
        self.kind = kind
        self.config = config
        self.token = os.urandom(4).hex()  # segment names of this run never collide
        self.segments: list[str] = []
        self.digests: dict[str, str] = {}
        self.saved_upto = 0
        self._written: set[str] = set()  # files of this run that a later save may retire
        self._swept = False
        here = resumed is not None and resumed.path.parent.resolve() == self.directory.resolve()
        if not here:
            _warn_replacing(self.directory)
        if here and resumed is not None and resumed.meta.get("history_segments"):
            self.segments = list(resumed.meta["history_segments"])
            self.digests = {n: d for n, d in resumed.meta.get("checksums", {}).items()
                            if n in self.segments}
            self.saved_upto = int(resumed.meta["history_upto"])
            self._written = set(self.segments)

    def close(self) -> None:
        """Release the folder's lock (the run is over); a closed checkpointer saves no more.
        Ctrl-C waits for it: cut between closing the descriptor and forgetting it, the
        descriptor would be closed again later, when its number may be another file's."""
        with deferred():
            self._lock = None
            self._release()  # (once: a finalizer called again does nothing)

    def save(self, step: int, snapshot: Snapshot) -> Path:
        """Write the checkpoint of ``step`` (atomically) and return its JSON file. Ctrl-C
        waits for it: cut between a segment's file and the count of the records saved,
        the next checkpoint wrote those records again (a resumed history held them
        twice), or, in a merge, left them out."""
        with deferred():
            return self._save(step, snapshot)

    def _save(self, step: int, snapshot: Snapshot) -> Path:
        from . import __version__

        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        if snapshot.history_part is not None:
            self._add_segment(*snapshot.history_part)
        arrays_name = f"state-{self.token}-{step:012d}.npz"
        _write_npz(d / arrays_name, snapshot.arrays)
        self._written.add(arrays_name)
        checksums = {name: self.digests[name] for name in self.segments}
        checksums[arrays_name] = _digest(d / arrays_name)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "optiframe_version": __version__, "kind": self.kind, "step": step,
                "config": self.config, "arrays": arrays_name,
                "history_segments": self.segments, "history_upto": self.saved_upto,
                "checksums": checksums, **snapshot.json}
        stats = (None if self.evaluations is None
                 else self.evaluations(committed_nfev(snapshot.arrays)))
        if stats is not None:  # (for a resumed run's nfev and evaluation)
            meta["evaluation"] = stats.to_json()
        meta["digest"] = meta_digest(meta)
        text = json.dumps(meta, separators=(",", ":")).encode()
        _write_atomically(d / JSON_NAME, lambda fh: fh.write(text))
        keep = {arrays_name, *self.segments}
        stale = self._written - keep
        if not self._swept:  # the first time, also what earlier runs left in the folder
            stale |= {p.name for p in (*d.glob("state-*.npz"), *d.glob("history-*.npz"))
                      if p.name not in keep}
            self._swept = True
        for name in stale:
            (d / name).unlink(missing_ok=True)
        self._written &= keep
        return d / JSON_NAME

    def _add_segment(self, history: History | StartsHistory, upto: int) -> None:
        """Write the records since the last checkpoint as a level-0 segment; every
        :data:`MERGE` segments of one level become one of the next level (written from
        the history in memory), so a run keeps few files and rewrites each record only
        a logarithmic number of times."""
        if upto <= self.saved_upto:
            return
        self._write_segment(history, 0, self.saved_upto, upto)
        self.saved_upto = upto
        while len(self.segments) >= MERGE:
            last = [_segment_span(name) for name in self.segments[-MERGE:]]
            if len({level for level, _, _ in last}) != 1:
                break
            del self.segments[-MERGE:]
            self._write_segment(history, last[0][0] + 1, last[0][1], upto)

    def _write_segment(self, history: History | StartsHistory, level: int, start: int,
                       stop: int) -> None:
        name = f"history-{self.token}-L{level}-{start:012d}-{stop:012d}.npz"
        _write_npz(self.directory / name, segment_arrays(history, start, stop))
        self.segments.append(name)
        self.digests[name] = _digest(self.directory / name)
        self._written.add(name)


# -- reading --------------------------------------------------------------------------------
@attrs.frozen
class Checkpoint:
    """A loaded checkpoint: its metadata and arrays (see :func:`load_checkpoint`)."""

    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.meta["config"])

    def array(self, name: str) -> np.ndarray:
        try:
            return self.arrays[name]
        except KeyError:
            raise CheckpointError(f"{self.path}: its arrays lack {name!r}") from None

    def tree(self, name: str, template: Any) -> Any:
        """The saved tree ``name``, rebuilt on ``template`` (a fresh state of the same
        optimizer or schedules); refused if the layouts differ."""
        layout = self.meta["trees"][name]
        expected = [[_leaf_kind(leaf), list(np.shape(leaf)) if _leaf_kind(leaf) in
                     ("array", "float") else None] for leaf in tree_leaves(template)]
        found = [[kind, shape if kind in ("array", "float") else None]
                 for kind, shape in layout]
        if expected != found:
            raise CheckpointError(
                f"{self.path}: the saved {name} state does not fit this run's {name} "
                f"(saved leaves {found}, this run's {expected}); resume with the components "
                "that wrote the checkpoint")
        values: list[Any] = []
        for i, (kind, value) in enumerate(layout):
            if kind == "array":
                values.append(self.array(f"tree/{name}/{i}").copy())
            elif kind == "float":  # a Python float back as one; a numpy scalar keeps its type
                stored = self.array(f"tree/{name}/{i}")
                values.append(float(stored) if stored.dtype == np.float64 else stored[()])
            else:
                values.append(value)
        return rebuild(template, iter(values))

    def finished(self, n: int) -> Finished:
        """The starts that had finished."""
        done = self.meta.get("finished")
        if not done or not done["status"]:
            return Finished.empty(n)
        return Finished(index=self.array("finished/index"), x0=self.array("finished/x0"),
                        x=self.array("finished/x"), fun=self.array("finished/fun"),
                        nit=self.array("finished/nit"), nfev=self.array("finished/nfev"),
                        njev=self.array("finished/njev"),
                        status=[Status(v) for v in done["status"]], message=done["message"])

    def history(self, dim: int, record_x: bool) -> History:
        """A single start's history up to the checkpoint."""
        history = History.from_segment(self.arrays, dim, record_x)
        history.epoch_log = [_int_keys(row) for row in self.meta.get("epoch_log", [])]
        return history

    def starts_history(self, n_starts: int, record_x: bool) -> StartsHistory:
        """A multi-start history up to the checkpoint."""
        history = StartsHistory.from_segment(self.arrays, n_starts, record_x)
        ended = {name[6:]: a for name, a in self.arrays.items() if name.startswith("ended/")}
        if ended:  # (checkpoints written before 2026-12-07 lack them)
            history.merge(StartsHistory.from_segment(ended, n_starts, record_x),
                          np.arange(n_starts))
        history.epoch_log = [_int_keys(row) for row in self.meta.get("epoch_log", [])]
        return history

    def state(self, init_opt: Callable[[Any], Any], init_sched: Callable[[int | None], Any],
              fev: int, jev: int) -> RunState:
        """The saved run state, its trees rebuilt on fresh ``init_opt(X)`` and
        ``init_sched(rows)`` states (``fev``/``jev``: a gradient's evaluations, for the
        counts that formats before 4 did not keep per start)."""
        st = self.meta["state"]
        point = bool(st["point"])
        s = RunState(point, int(st["n"]))
        for name in ROW_FIELDS:
            a = self.array(f"rows/{name}")
            setattr(s, name, a.item() if point and a.ndim == 0 else a.copy())
        rule = st.get("counts")  # formats before 4: the same counts for every start
        if rule is not None:
            k = int(st["k"])
            grads = int(rule.get("grads_done", k))
            nfev = 1 + grads * fev + k if "grads_done" in rule else k * fev
            s.nfev = np.full(len(s.index), nfev, dtype=np.int64)
            s.njev = np.full(len(s.index), grads * jev if "grads_done" in rule else k,
                             dtype=np.int64)
        s.k = int(st["k"])
        if "state/grad" in self.arrays:
            s.grad = self.array("state/grad").copy()
        s.elapsed = float(self.array("scalar/elapsed"))
        rows = None if point else len(s.index)
        s.opt = self.tree("optimizer", init_opt(s.X))
        s.sched = self.tree("schedules", init_sched(rows))
        if st.get("rng"):
            s.rng = unpack_generators(self.array("rng/streams"))
        cursor = st.get("cursor")
        if cursor is not None:
            total, count = self.array("cursor/total"), self.array("cursor/count")
            s.cursor = BatchCursor(int(cursor["epoch"]), int(cursor["position"]),
                                   _rng_state(cursor["epoch_rng"]),
                                   total.item() if point else total.copy(),
                                   count.item() if point else count.copy())
        s.finished = [self.finished(s.n)]
        return s


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read the checkpoint in directory ``path`` (or its ``checkpoint.json``).

    Raises :class:`~optiframe.errors.CheckpointError` naming the file and what is wrong
    when it is missing, not a checkpoint, written by a newer optiframe, incomplete, or
    damaged (every file it names is checked against its checksum).
    """
    p = Path(path)
    json_path = p if p.suffix == ".json" else p / JSON_NAME
    if not json_path.exists():
        raise CheckpointError(f"no checkpoint at {str(p)!r}: {json_path} does not exist")
    _regular_file(json_path, json_path, "the metadata file")
    try:
        meta = json.loads(json_path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{json_path} is not a readable checkpoint: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path} is not an optiframe checkpoint (no 'format': "
                              f"{FORMAT!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{json_path}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{json_path} was written by optiframe {meta.get('optiframe_version')} in "
            f"checkpoint format {version}; this optiframe reads formats up to "
            f"{FORMAT_VERSION}: upgrade optiframe to resume it")
    if version >= 5:  # the metadata carries its own digest
        try:
            matches = meta.get("digest") == meta_digest(meta)
        except (TypeError, ValueError, RecursionError):
            matches = False
        if not matches:
            raise CheckpointError(
                f"{json_path} does not match its digest: the file was edited or damaged "
                "(a number, a name or an entry changed, or its 'digest' is missing)")
    try:
        arrays_path = json_path.parent / _plain_name(meta.get("arrays"), json_path,
                                                     "arrays file")
        _regular_file(arrays_path, json_path, "its arrays")
        _check_sum(arrays_path, json_path, meta)
        arrays = _read_npz(arrays_path, json_path, "its arrays")
        segments = meta.get("history_segments")
        if version >= 3:
            if not isinstance(segments, list):
                raise CheckpointError(f"{json_path}: its 'history_segments' entry is missing "
                                      "or not a list")
            if not segments and int(meta.get("history_upto", -1)) != 0:
                raise CheckpointError(f"{json_path}: it names no history segment but its "
                                      "history reaches step "
                                      f"{meta.get('history_upto')!r}")
        if segments:
            arrays.update(_read_segments(json_path, segments, meta))
        _upgrade(meta, arrays)
        _later_rows(arrays)
        _validate(meta, arrays, json_path)
    except CheckpointError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, AssertionError,
            NotImplementedError, RuntimeError, RecursionError, OSError) as exc:
        raise CheckpointError(f"{json_path} is damaged: {type(exc).__name__}: {exc}") from None
    return Checkpoint(path=json_path, meta=meta, arrays=arrays)


# -- configuration ----------------------------------------------------------------------------


