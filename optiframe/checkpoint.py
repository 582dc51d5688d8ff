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

import hashlib
import json
import math
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

import attrs
import numpy as np

from ._tree import tree_leaves, tree_map
from .errors import CheckpointError, InvalidArgumentError
from .history import COLUMNS, History, StartsHistory
from .outcome import Finished
from .state import ROW_FIELDS, BatchCursor, RunState
from .status import Status

FORMAT = "optiframe-checkpoint"
#: The layout written now; every earlier layout still loads (see :func:`load_checkpoint`).
FORMAT_VERSION = 5
JSON_NAME = "checkpoint.json"
#: The kinds of checkpoint: one point, K rows advanced together, K starts on workers.
KINDS = ("single", "multistart", "workers")


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
    if isinstance(history, History):
        table = history._table()
        a, b = (int(i) for i in np.searchsorted(table[:, 0], [start, stop])) if len(
            table) else (0, 0)
        out = {"history/rows": table[a:b].copy()}
        if history._xs is not None:
            xs = history._xs[a:b]
            out["history/xs"] = np.stack(xs) if xs else np.empty((0, history.dim or 0))
        return out
    dense = history._rows
    steps = sorted(s for s in dense if start <= s < stop)
    out = {"starts_history/steps": np.array(steps, dtype=np.int64),
           "starts_history/rows": (np.stack([dense[s] for s in steps]) if steps
                                   else np.empty((0, 4, history.n_starts)))}
    if history._points is not None:
        parts = [(s, index, X) for s in sorted(history._points) if start <= s < stop
                 for index, X in history._points[s]]
        out["points/step"] = np.array([s for s, _, _ in parts], dtype=np.int64)
        out["points/length"] = np.array([len(i) for _, i, _ in parts], dtype=np.int64)
        out["points/index"] = (np.concatenate([i for _, i, _ in parts]) if parts
                               else np.empty(0, dtype=np.int64))
        out["points/X"] = (np.concatenate([X for _, _, X in parts]) if parts
                           else np.empty((0, 0)))
    return out


#: Segments of one level merged into one of the next (see Checkpointer._add_segment).
MERGE = 8
_SEGMENT_NAME = re.compile(r"history-[0-9a-f]+-L\d+-\d{12}-\d{12}\.npz")
_STATE_NAME = re.compile(r"state-(?:[0-9a-f]+-)?\d{12}\.npz")


def _segment_span(name: str) -> tuple[int, int, int]:
    """(level, first step, stop step) from a segment's file name."""
    *_, level, start, stop = name.removesuffix(".npz").split("-")
    return int(level.lstrip("L")) if level.startswith("L") else 99, int(start), int(stop)


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` atomically: into a synced temporary file, then renamed over it. A
    write that fails (a full disk) removes its temporary file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a stale file (or a planted link) of this name goes first
    try:  # created exclusively, never through a link: nothing outside the folder is written
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    except FileExistsError:
        raise CheckpointError(f"cannot create the temporary file {str(tmp)!r}: another "
                              "process created it at the same time") from None
    try:
        with open(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


LOCK_NAME = ".lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # a link in the folder is never followed


def _lock_folder(directory: Path) -> int | None:
    """Take the checkpoint folder's lock (an OS file lock on ``.lock``, held until the run
    ends), so that two runs never write one folder; the holder's pid is in the file. A
    second writer gets an error naming the folder and the holder. Returns the lock's
    file descriptor (None where the platform has no ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return None
    path = directory / LOCK_NAME
    if path.is_symlink():  # the lock would write the pid into the file it points to
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r}: its lock file {LOCK_NAME!r} is a symbolic "
            "link; optiframe never writes through links: remove it and run again")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError as exc:
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r}: cannot open its lock file "
            f"{LOCK_NAME!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r}: its lock file {LOCK_NAME!r} is not a "
            "regular file; remove it and run again")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)
        raise CheckpointError(
            f"checkpoint folder {str(directory)!r} is in use by another run (pid "
            f"{holder}): two runs writing one folder would delete each other's files; "
            "wait for it to end, or give this run a folder of its own") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def meta_digest(meta: dict[str, Any]) -> str:
    """The digest of a checkpoint's metadata (every entry but ``digest``), in a canonical
    form: an edited or damaged checkpoint.json no longer matches it."""
    body = {k: v for k, v in meta.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    _write_atomically(path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]


class Checkpointer:
    """Writes a run's checkpoints into ``directory``.

    The history goes into segments, one per checkpoint, each holding the records made
    since the previous one, so a checkpoint costs the state and the new records, not the
    whole history again. A run resumed into the folder it came from (``resumed``) goes on
    with that folder's segments.
    """

    def __init__(self, directory: str | os.PathLike[str], kind: str, config: dict[str, Any],
                 resumed: Checkpoint | None = None) -> None:
        self.directory = Path(directory)
        try:  # before any work: a folder that cannot be written is bad input
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidArgumentError(
                f"'checkpoint' folder {str(directory)!r} cannot be created: {exc}") from None
        if not os.access(self.directory, os.W_OK):
            raise InvalidArgumentError(
                f"'checkpoint' folder {str(directory)!r} is not writable")
        self._lock = _lock_folder(self.directory)
        self.kind = kind
        self.config = config
        self.token = os.urandom(4).hex()  # segment names of this run never collide
        self.segments: list[str] = []
        self.digests: dict[str, str] = {}
        self.saved_upto = 0
        self._written: set[str] = set()  # files of this run that a later save may retire
        self._swept = False
        if (resumed is not None and resumed.meta.get("history_segments")
                and resumed.path.parent.resolve() == self.directory.resolve()):
            self.segments = list(resumed.meta["history_segments"])
            self.digests = {n: d for n, d in resumed.meta.get("checksums", {}).items()
                            if n in self.segments}
            self.saved_upto = int(resumed.meta["history_upto"])
            self._written = set(self.segments)

    def close(self) -> None:
        """Release the folder's lock (the run is over); a closed checkpointer saves no more."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __del__(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            os.close(lock)

    def save(self, step: int, snapshot: Snapshot) -> Path:
        """Write the checkpoint of ``step`` (atomically) and return its JSON file."""
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
        history = History(dim, record_x)
        rows = self.arrays.get("history/rows", np.empty((0, len(COLUMNS))))
        if rows.shape[1] == len(COLUMNS) - 1:  # written before step_size
            rows = np.hstack([rows, np.full((len(rows), 1), np.nan)])
        history._rows.frombytes(np.ascontiguousarray(rows, dtype=np.float64).tobytes())
        if record_x:
            history._xs = list(self.arrays.get("history/xs", np.empty((0, dim))).copy())
        history.epoch_log = [_int_keys(row) for row in self.meta.get("epoch_log", [])]
        return history

    def starts_history(self, n_starts: int, record_x: bool) -> StartsHistory:
        """A multi-start history up to the checkpoint."""
        history = StartsHistory(n_starts, record_x)
        history.epoch_log = [_int_keys(row) for row in self.meta.get("epoch_log", [])]
        if "starts_history/steps" not in self.arrays:
            return history  # nothing recorded before the checkpoint
        for step, row in zip(self.arrays["starts_history/steps"].tolist(),
                             self.arrays["starts_history/rows"], strict=True):
            if len(row) == 3:  # written before step_size
                row = np.vstack([row, np.full((1, n_starts), np.nan)])
            history._dense[step] = row.copy()
        if history._points is not None and "points/step" in self.arrays:
            at = 0
            for step, length in zip(self.arrays["points/step"].tolist(),
                                    self.arrays["points/length"].tolist(), strict=True):
                index = self.arrays["points/index"][at : at + length].copy()
                X = self.arrays["points/X"][at : at + length].copy()
                history._points.setdefault(step, []).append((index, X))
                at += length
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


def _int_keys(row: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v) if k in ("epoch", "step", "start") else v for k, v in row.items()}


def _upgrade(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Bring a checkpoint written in an earlier layout up to :data:`FORMAT_VERSION`, in
    place: each layout change adds its step here, so every earlier checkpoint loads.

    4 -> 5: checkpoint.json carries a digest of its own entries (checked on load); nothing
    else changed.
    3 -> 4: one state for every kind of run (the rows of the running starts, their trees,
    the finished starts, the position in the data) instead of a layout per kind; the
    kinds ``minibatch`` and ``minibatch-multistart`` became ``single`` and ``multistart``
    (the config's batching tells training runs apart), ``multistart-workers`` became
    ``workers``. Counts that were the same for every start are rebuilt from the rule of
    their day on resume; a multi-model training run of format 3 kept no per-epoch table,
    so the resumed epoch's table row counts only the steps after the checkpoint.
    2 -> 3: the history moved from the state file into segments (``history_segments``);
    older checkpoints keep theirs in the state file, which still loads.
    1 -> 2 (optiframe 0.1.0, before ``max_bad_gradients``): the stopping rules were one
    repr string, now a mapping of field to repr; the counts of skipped non-finite
    gradients did not exist (none had been skipped).
    """
    version = meta["format_version"]
    if version < 3 and "history_segments" not in meta:
        meta["history_segments"], meta["history_upto"] = [], 0  # history in the state file
    if version < 2:
        stop = meta["config"]["stop"]
        inner = stop[stop.index("(") + 1 : stop.rindex(")")]
        meta["config"]["stop"] = dict(re.findall(r"(\w+)=([^,]+)", inner))
        meta["config"]["stop"].pop("max_steps", None)
        if meta["kind"] in ("single", "minibatch"):
            meta["scalars"]["skipped"] = 0
        else:
            arrays["BAD"] = np.zeros(len(arrays["index"]), dtype=np.int64)
            arrays.setdefault("f_limit", np.full(len(arrays["index"]), np.nan))
    if version < 4:
        _upgrade_to_4(meta, arrays)
    meta["format_version"] = FORMAT_VERSION


def _upgrade_to_4(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    kind, scalars = meta["kind"], meta.get("scalars", {})
    meta["legacy"] = True  # its config is in the text of its day (see check_config)

    def scalar(name: str) -> Any:
        value = scalars[name]
        if isinstance(value, dict) and set(value) == {"float"}:
            return float(arrays[value["float"]])
        return math.nan if value is None else value

    def rows(**fields: Any) -> None:
        for name, value in fields.items():
            arrays[f"rows/{name}"] = np.asarray(value)

    def outcomes() -> None:
        done = meta.pop("outcomes", [])
        n = meta["config"]["shape"][-1]
        arrays["finished/index"] = np.array([o["index"] for o in done], dtype=np.int64)
        arrays["finished/x0"] = arrays.get("outcomes/x0", np.empty((0, n)))
        arrays["finished/x"] = arrays.get("outcomes/x", np.empty((0, n)))
        arrays["finished/fun"] = arrays.get("outcomes/fun", np.empty(0))
        for name in ("nit", "nfev", "njev"):
            arrays[f"finished/{name}"] = np.array([o[name] for o in done], dtype=np.int64)
        meta["finished"] = {"status": [o["status"] for o in done],
                            "message": [o["message"] for o in done]}

    meta.setdefault("trees", {})
    meta["trees"].setdefault("schedules", [])
    n = int(meta["config"]["shape"][-1])
    state: dict[str, Any] = {"n": n, "k": int(meta["step"]), "rng": False, "cursor": None}
    arrays["scalar/elapsed"] = np.asarray(scalar("elapsed") if "elapsed" in scalars else 0.0,
                                          dtype=np.float64)
    if kind in ("single", "minibatch"):
        state["point"] = True
        x = arrays["x"]
        if kind == "single":
            rows(X=x, F=scalar("f"), SN=scalar("snorm"), nfev=scalar("nfev"),
                 njev=scalar("njev"), bad=scalar("skipped"), best_X=arrays["best_x"],
                 best_F=scalar("best_f"), f_limit=scalar("f_limit"), index=[0], x0=x)
        else:
            rows(X=x, F=scalar("loss"), SN=scalar("snorm"), nfev=scalar("nfev"),
                 njev=scalar("njev"), bad=scalar("skipped"), best_X=x,
                 best_F=scalar("loss"), f_limit=scalar("f_limit"), index=[0], x0=x)
            state["cursor"] = {"epoch": scalar("epoch"), "position": scalar("position"),
                               "epoch_rng": scalars["epoch_rng"]}
            arrays["cursor/total"] = np.asarray(scalar("total"), dtype=np.float64)
            arrays["cursor/count"] = np.asarray(scalar("count"), dtype=np.int64)
            values = iter(arrays.pop("history/epoch_values", np.empty(0)).tolist())
            meta["epoch_log"] = [dict(zip(keys, values, strict=False))
                                 for keys in meta.pop("epoch_keys", [])]
        meta["kind"] = "single"
    elif kind in ("multistart", "minibatch-multistart"):
        state["point"] = False
        K = len(arrays["index"])
        if kind == "multistart":
            rows(X=arrays["X"], F=arrays["F"], SN=arrays["SN"], bad=arrays["BAD"],
                 best_X=arrays["best_X"], best_F=arrays["best_F"],
                 f_limit=arrays["f_limit"], index=arrays["index"], x0=arrays["starts0"])
            state["counts"] = {"grads_done": int(scalar("grads_done"))}
        else:
            P = arrays["P"]
            rows(X=P, F=np.full(K, np.nan), SN=arrays["SN"], bad=arrays["BAD"], best_X=P,
                 best_F=np.full(K, np.nan), f_limit=arrays["f_limit"],
                 index=arrays["index"], x0=arrays["starts0"])
            state["counts"] = {"per_step": True}
            state["cursor"] = {"epoch": scalar("epoch"), "position": scalar("position"),
                               "epoch_rng": scalars["epoch_rng"]}
            arrays["cursor/total"] = np.zeros(K)
            arrays["cursor/count"] = np.zeros(K, dtype=np.int64)
        rows(nfev=np.zeros(K, dtype=np.int64), njev=np.zeros(K, dtype=np.int64))
        outcomes()
        meta["kind"] = "multistart"
    elif kind == "multistart-workers":
        outcomes()
        meta["kind"] = "workers"
    else:
        raise CheckpointError(f"unknown kind of checkpoint {kind!r}")
    meta["state"] = state
    old_kind = meta["config"].get("kind")
    meta["config"]["kind"] = {"minibatch": "single", "minibatch-multistart": "multistart",
                              "multistart-workers": "workers"}.get(old_kind, old_kind)


def _regular_file(path: Path, json_path: Path, what: str) -> None:
    """Refuse, without opening it, a file that is missing or not a regular file (a FIFO
    would hang the read)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CheckpointError(f"{json_path}: {what} {path.name} cannot be read: {exc}") from None
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{json_path}: {what} {path.name} is not a regular file")


def _plain_name(name: Any, json_path: Path, what: str) -> str:
    """A file name that a checkpoint names: a plain name inside its folder."""
    if (not isinstance(name, str) or not name or name != Path(name).name
            or name in (".", "..") or "\\" in name or "/" in name):
        raise CheckpointError(f"{json_path}: its {what} {name!r} is not a plain file name in "
                              "the checkpoint's folder")
    return name


def _check_sum(path: Path, json_path: Path, meta: dict[str, Any]) -> None:
    checksums = meta.get("checksums")
    if checksums is None and meta.get("format_version", 0) < 4:  # formats before 4 kept none
        return
    if not isinstance(checksums, dict):
        raise CheckpointError(f"{json_path}: its 'checksums' entry is missing or not a table: "
                              "every file a checkpoint names must have its checksum")
    expected = checksums.get(path.name)
    if expected is None:
        raise CheckpointError(f"{json_path}: no checksum for {path.name}")
    if _digest(path) != expected:
        raise CheckpointError(f"{json_path}: {path.name} does not match its checksum: the file "
                              "was changed or comes from another checkpoint")


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


def _later_rows(arrays: dict[str, np.ndarray]) -> None:
    """Per-start fields added after a checkpoint was written (line searches:
    ``step_size``, ``resets``), at the values of a run that had none."""
    if "rows/F" not in arrays:
        return
    shape = np.shape(arrays["rows/F"])
    arrays.setdefault("rows/step_size", np.full(shape, np.nan))
    arrays.setdefault("rows/resets", np.zeros(shape, dtype=np.int64))


def _read_npz(path: Path, json_path: Path, what: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError,
            NotImplementedError, RuntimeError) as exc:
        raise CheckpointError(f"{json_path}: cannot read {what} {path.name}: "
                              f"{type(exc).__name__}: {exc}") from None


def _read_segments(json_path: Path, names: list[Any],
                   meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The history segments of a checkpoint, joined into one set of arrays."""
    parts: dict[str, list[np.ndarray]] = {}
    for name in names:
        path = json_path.parent / _plain_name(name, json_path, "history segment")
        _regular_file(path, json_path, "its history segment")
        _check_sum(path, json_path, meta)
        for key, value in _read_npz(path, json_path, "its history segment").items():
            parts.setdefault(key, []).append(value)
    joined = {}
    for key, arrays in parts.items():
        nonempty = [a for a in arrays if a.size] or arrays[:1]
        joined[key] = np.concatenate(nonempty) if len(nonempty) > 1 else nonempty[0]
    return joined


def _validate(meta: dict[str, Any], arrays: dict[str, np.ndarray], json_path: Path) -> None:
    """Refuse a checkpoint whose parts do not fit together (a damaged or crafted file)."""
    kind = meta.get("kind")
    if kind not in KINDS:
        raise CheckpointError(f"{json_path}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    if not isinstance(meta.get("step"), int) or isinstance(meta["step"], bool) or (
            meta["step"] < 0):
        raise CheckpointError(f"{json_path}: bad step {meta.get('step')!r}")
    config = meta.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("shape"), list):
        raise CheckpointError(f"{json_path}: its config is missing or has no shape")
    if config.get("kind") != kind:
        raise CheckpointError(f"{json_path}: its kind {kind!r} does not match its config's "
                              f"{config.get('kind')!r}")
    if kind == "workers":
        if "X0" not in arrays:
            raise CheckpointError(f"{json_path}: a workers checkpoint without its starts (X0)")
        return
    state = meta.get("state")
    if not isinstance(state, dict):
        raise CheckpointError(f"{json_path}: its 'state' entry is missing")
    missing = [f"rows/{n}" for n in ROW_FIELDS if f"rows/{n}" not in arrays]
    if missing:
        raise CheckpointError(f"{json_path}: its arrays lack {', '.join(missing)}")
    K = len(np.atleast_1d(arrays["rows/index"]))
    if not state.get("point") and any(len(np.atleast_1d(arrays[f"rows/{n}"])) != K
                                      for n in ROW_FIELDS):
        raise CheckpointError(f"{json_path}: its rows do not all have {K} entries")
    if not isinstance(meta.get("trees"), dict) or not {"optimizer", "schedules"} <= set(
            meta["trees"]):
        raise CheckpointError(f"{json_path}: its state trees are missing")
    _validate_entries(meta, json_path)


def _validate_entries(meta: dict[str, Any], json_path: Path) -> None:
    """The entries read on resume have the shape the reader expects (a file edited behind
    a recomputed digest gives a CheckpointError naming the entry, not a raw TypeError)."""
    log = meta.get("epoch_log", [])
    if not isinstance(log, list) or not all(isinstance(row, dict) for row in log):
        raise CheckpointError(f"{json_path}: its 'epoch_log' entry must be a list of tables "
                              f"(one per epoch): {str(log)[:60]!r}")
    done = meta.get("finished")
    if done is None:
        return
    if not isinstance(done, dict) or not isinstance(done.get("status"), list) or not (
            isinstance(done.get("message"), list)) or len(done["status"]) != len(
            done["message"]):
        raise CheckpointError(f"{json_path}: its 'finished' entry must be a table of "
                              f"'status' and 'message' lists: {str(done)[:60]!r}")
    bad = [v for v in done["status"] if v not in {s.value for s in Status}]
    if bad or not all(isinstance(m, str) for m in done["message"]):
        raise CheckpointError(f"{json_path}: its 'finished' entry holds an unknown status "
                              f"or a message that is not text: {str(bad[:1] or done)[:60]!r}")


# -- configuration ----------------------------------------------------------------------------
def data_digest(*arrays: Any, rows: int = 64) -> str:
    """A short digest of data arrays from ``rows`` rows spread over each (and its shape and
    dtype), so a checkpoint notices other data without reading a large memmap whole."""
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        a = np.asarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        if a.ndim and len(a):
            picks = np.unique(np.linspace(0, len(a) - 1, min(rows, len(a))).astype(np.int64))
            h.update(np.ascontiguousarray(a[picks]).tobytes())
    return h.hexdigest()


def describe_objective(objective: Any) -> str:
    """A stable description of an objective: its class, function, data shapes and a
    digest of sampled data rows."""
    from .data import DataObjective
    from .objective import FunctionObjective

    name = f"{type(objective).__module__}.{type(objective).__qualname__}"
    if isinstance(objective, FunctionObjective):
        fn = objective.func
        name += f"({getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))})"
    elif isinstance(objective, DataObjective):
        name += (f"(X {objective.X.shape}, y {np.shape(objective.y)}, data "
                 f"{data_digest(objective.X, objective.y)})")
    dim = getattr(objective, "dim", None)
    return f"{name}, dim {dim}" if dim is not None else name


def describe(value: Any) -> Any:
    """A component or option as exact, comparable JSON: attrs classes as their class and
    fields, floats by their exact repr, arrays by shape, dtype and a digest of their
    bytes (a repr would elide the middle of a large array)."""
    if attrs.has(type(value)):
        fields = {f.name: describe(getattr(value, f.name))
                  for f in attrs.fields(type(value)) if f.init}
        return {"class": type(value).__qualname__, **fields}
    if isinstance(value, np.ndarray):
        digest = hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=8)
        return f"array(shape={list(value.shape)}, dtype={value.dtype}, {digest.hexdigest()})"
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, (bool, np.bool_)) or value is None:
        return value if value is None else bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return value
    return repr(value)


#: Options a resumed run may change: to run longer, or on another budget.
MAY_CHANGE = ("max_steps", "max_nfev", "max_time", "epochs")


def run_config(runner: Any, kind: str, shape: tuple[int, ...],
               seed: int | None = None) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed by ``runner``.

    Every stopping rule counts except the budgets (``max_steps``, ``max_nfev``,
    ``max_time``) and, in training, ``epochs``: a resumed run may go on longer.
    """
    batching = describe(runner.batching)
    if isinstance(batching, dict):
        batching.pop("epochs", None)
    return {
        "kind": kind,
        "objective": describe_objective(runner.objective),
        "optimizer": describe(runner.optimizer),
        "gradient": describe(runner.gradient),
        "schedules": describe(runner.schedules),
        "stop": {k: v for k, v in describe(runner.stop).items()
                 if k not in MAY_CHANGE and k != "class"},
        "batching": batching,
        "record_every": runner.record_every,
        "record_x": runner.record_x,
        "shape": list(shape),
        "seed": seed,
    }


def _show(value: Any) -> str:
    """A described value (see :func:`describe`) as short text: ``Adam(lr=0.01, ...)``."""
    if isinstance(value, dict) and "class" in value:
        fields = ", ".join(f"{k}={_show(v)}" for k, v in value.items() if k != "class")
        return f"{value['class']}({fields})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return "(none)" if value is None else str(value)


def _differences(saved: Any, current: Any, where: str) -> list[str]:
    """Where two described configurations differ, one line each, down to the field."""
    same_class = not (isinstance(saved, dict) and isinstance(current, dict)
                      and saved.get("class") != current.get("class"))
    if isinstance(saved, dict) and isinstance(current, dict) and same_class:
        out = []
        for key in [k for k in current if k != "class"] + [k for k in saved
                                                            if k not in current]:
            out.extend(_differences(saved.get(key), current.get(key), f"{where}.{key}"))
        return out
    if saved != current:
        def text(v: Any) -> str:
            return repr(_show(v)) if isinstance(v, (dict, list)) else _show(v)
        return [f"{where}: the checkpoint has {text(saved)}, this runner {text(current)}"]
    return []


def _legacy_text(value: Any) -> str:
    """What a config of formats 1 to 3 held for a component or option: its repr, with
    the budgets and ``epochs`` left out as before."""
    return repr(value)


def _legacy_fields(text: str) -> tuple[str, dict[str, str]] | None:
    """``Name(a=1, b=(2, 3))`` as its name and its fields' texts (top-level commas only)."""
    match = re.fullmatch(r"(\w+)\((.*)\)", text, re.S)
    if not match:
        return None
    fields: dict[str, str] = {}
    depth, start, body = 0, 0, match.group(2)
    quote: str | None = None
    parts = []
    for i, ch in enumerate(body):
        if quote:
            quote = None if ch == quote and body[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    for part in parts:
        if part.strip():
            key, sep, value = part.strip().partition("=")
            if not sep:
                return None
            fields[key.strip()] = value.strip()
    return match.group(1), fields


def _legacy_component(saved: str, value: Any, where: str) -> list[str]:
    """Compare a component saved as its repr (formats 1 to 3) with today's: a field that
    did not exist then must be at its default now."""
    current = _legacy_text(value)
    if saved == current:
        return []
    parsed = _legacy_fields(saved)
    if parsed is None or not attrs.has(type(value)) or parsed[0] != type(value).__name__:
        return [f"{where}: the checkpoint has {saved!r}, this runner {current!r}"]
    out = []
    fields = {f.name: f for f in attrs.fields(type(value)) if f.init}
    for name, text in parsed[1].items():
        if name not in fields:
            out.append(f"{where}.{name}: the checkpoint has {text}, this runner has no such "
                       "field")
        elif text != repr(getattr(value, name)) and name not in MAY_CHANGE:
            out.append(f"{where}.{name}: the checkpoint has {text}, this runner "
                       f"{getattr(value, name)!r}")
    for name, field in fields.items():
        if name in parsed[1] or name in MAY_CHANGE:
            continue
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        if not np.array_equal(getattr(value, name), default):
            out.append(f"{where}.{name}: new since the checkpoint; it must keep its default "
                       f"{default!r} to resume it, this runner has {getattr(value, name)!r}")
    return out


def _legacy_differences(saved: dict[str, Any], runner: Any) -> list[str]:
    out = []
    for key, value in (("optimizer", runner.optimizer), ("gradient", runner.gradient),
                       ("schedules", runner.schedules), ("batching", runner.batching)):
        text = saved.get(key)
        if isinstance(text, str):
            out.extend(_legacy_component(text, value, key))
    stop = {f.name: repr(getattr(runner.stop, f.name)) for f in attrs.fields(type(runner.stop))
            if f.name not in MAY_CHANGE}
    saved_stop = saved.get("stop", {})
    for name, text in stop.items():
        default = repr(getattr(type(runner.stop)(), name))
        if saved_stop.get(name, default) != text:
            out.append(f"stop: the checkpoint has {name} = {saved_stop.get(name, default)}, "
                       f"this runner {text}")
    for key in ("objective", "record_every", "record_x", "seed"):
        current = (describe_objective(runner.objective) if key == "objective"
                   else getattr(runner, key, None) if key != "seed" else saved.get("seed"))
        if saved.get(key) != current:
            out.append(f"{key}: the checkpoint has {saved.get(key)!r}, this runner {current!r}")
    return out


def check_config(checkpoint: Checkpoint, runner: Any) -> None:
    """Refuse a checkpoint written with other components, saying what differs."""
    saved = checkpoint.config
    if checkpoint.meta.get("legacy"):
        differ = _legacy_differences(saved, runner)
    else:
        current = run_config(runner, saved.get("kind", "?"), tuple(saved.get("shape", ())),
                             saved.get("seed"))
        differ = []
        for key in current:
            differ.extend(_differences(saved.get(key), current[key], key))
    if differ:
        raise CheckpointError(
            f"{checkpoint.path} was written by a run configured differently; resume it with "
            "the same components and options. Differences:\n  " + "\n  ".join(differ))


def check_checkpoint_options(checkpoint: Any, every: Any) -> tuple[Path | None, int | None]:
    """The Runner's ``checkpoint`` and ``checkpoint_every`` options, checked."""
    from ._validation import check_int

    if checkpoint is None:
        if every is not None:
            raise InvalidArgumentError(
                f"'checkpoint_every' is {every!r} but no 'checkpoint' folder is given: "
                "pass checkpoint='path/to/folder'")
        return None, None
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"'checkpoint' must be a folder path (str or Path): {checkpoint!r}")
    path = Path(checkpoint)
    if path.exists() and not path.is_dir():
        raise InvalidArgumentError(f"'checkpoint' must be a folder, but {str(path)!r} is a file")
    return path, None if every is None else check_int("checkpoint_every", every, minimum=1)
