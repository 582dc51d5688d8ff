"""Checkpoints: a run's full state on disk, so an interrupted run resumes bit for bit.

A checkpoint is a directory holding two files (no pickle anywhere):

``checkpoint.json``
    ``format`` (``"optiframe-checkpoint"``), ``format_version``, the ``optiframe_version``
    that wrote it, ``kind`` (``single``, ``multistart``, ``minibatch``,
    ``minibatch-multistart``), ``step``, ``config`` (the run's components and options as
    text, compared on resume), ``scalars`` (counters, flags, random generator states),
    ``trees`` (the layout of the optimizer's and schedules' state), ``outcomes`` (finished
    starts) and ``arrays`` (the name of the ``.npz`` file beside it).
``state-<step>.npz``
    Every array and float of the state (iterates, optimizer state, best points, history
    so far), written by :func:`numpy.savez` and read with ``allow_pickle=False``.

The ``.npz`` file is written first and the JSON file then replaces the old one
atomically, so a run killed at any moment leaves a complete, consistent checkpoint.
State trees are stored as their leaves in a fixed order and rebuilt on resume by filling
a fresh ``optimizer.init(x)``: the checkpoint never names a class to import.

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
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import attrs
import numpy as np

from ._tree import tree_leaves, tree_map
from .errors import CheckpointError, InvalidArgumentError
from .history import COLUMNS, History, StartsHistory
from .result import StartOutcome, Status

if TYPE_CHECKING:
    from .runner import Runner

FORMAT = "optiframe-checkpoint"
#: The layout written now; every earlier layout still loads (see :func:`load_checkpoint`).
FORMAT_VERSION = 3
JSON_NAME = "checkpoint.json"


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


# -- writing --------------------------------------------------------------------------------
class Snapshot:
    """The state of a run at the top of a step, gathered for :meth:`Checkpointer.save`."""

    def __init__(self) -> None:
        self.json: dict[str, Any] = {"scalars": {}, "trees": {}}
        self.arrays: dict[str, np.ndarray] = {}
        self.history_part: tuple[History | StartsHistory, int] | None = None

    def scalar(self, name: str, value: Any) -> None:
        """Ints, bools, strings and None go to JSON; floats to the npz file (bit-exact)."""
        if isinstance(value, (float, np.floating)):
            self.arrays[f"scalar/{name}"] = np.asarray(value, dtype=np.float64)
            self.json["scalars"][name] = {"float": f"scalar/{name}"}
        else:
            self.json["scalars"][name] = value.item() if isinstance(value, np.generic) else value

    def array(self, name: str, value: np.ndarray) -> None:
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

    def history(self, history: History, upto_step: int) -> None:
        """A single-start history's records of steps below ``upto_step`` (written by the
        Checkpointer as a new segment holding the records since its last checkpoint)."""
        self.history_part = (history, upto_step)
        log = history.epoch_log
        self.json["epoch_keys"] = [list(row) for row in log]
        self.arrays["history/epoch_values"] = np.array(
            [float(v) for row in log for v in row.values()], dtype=np.float64)

    def starts_history(self, history: StartsHistory, upto_step: int) -> None:
        """A multi-start history's records of steps below ``upto_step`` (see
        :meth:`history`)."""
        self.history_part = (history, upto_step)

    def outcomes(self, outcomes: list[StartOutcome]) -> None:
        self.json["outcomes"] = [
            {"index": o.index, "status": o.status.value, "message": o.message, "nit": o.nit,
             "nfev": o.nfev, "njev": o.njev} for o in outcomes]
        n = outcomes[0].x.size if outcomes else 0
        self.arrays["outcomes/x0"] = (np.stack([o.x0 for o in outcomes]) if outcomes
                                      else np.empty((0, n)))
        self.arrays["outcomes/x"] = (np.stack([o.x for o in outcomes]) if outcomes
                                     else np.empty((0, n)))
        self.arrays["outcomes/fun"] = np.array([o.fun for o in outcomes], dtype=np.float64)

    def rng(self, name: str, generator_state: Mapping[str, Any]) -> None:
        """A numpy bit generator's state; its big integers are kept as decimal strings."""
        self.json["scalars"][name] = json.loads(json.dumps(generator_state, default=str),
                                                parse_int=str)


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
                                   else np.empty((0, 3, history.n_starts)))}
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


def _segment_span(name: str) -> tuple[int, int, int]:
    """(level, first step, stop step) from a segment's file name."""
    *_, level, start, stop = name.removesuffix(".npz").split("-")
    return int(level.lstrip("L")) if level.startswith("L") else 99, int(start), int(stop)


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` atomically: into a synced temporary file, then renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    _write_atomically(path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]


class Checkpointer:
    """Writes a run's checkpoints into ``directory`` every ``every`` steps (if given) and
    when the run is interrupted.

    The history goes into segments, one per checkpoint, each holding the records made
    since the previous one, so a checkpoint costs the state and the new records, not the
    whole history again. A run resumed into the folder it came from (``resumed``) goes on
    with that folder's segments.
    """

    def __init__(self, directory: str | os.PathLike[str], every: int | None,
                 kind: str, config: dict[str, Any], resumed: Checkpoint | None = None,
                 ) -> None:
        self.directory = Path(directory)
        try:  # before any work: a folder that cannot be written is bad input
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidArgumentError(
                f"'checkpoint' folder {str(directory)!r} cannot be created: {exc}") from None
        if not os.access(self.directory, os.W_OK):
            raise InvalidArgumentError(
                f"'checkpoint' folder {str(directory)!r} is not writable")
        self.every = every
        self.kind = kind
        self.config = config
        self.token = os.urandom(4).hex()  # segment names of this run never collide
        self.segments: list[str] = []
        self.saved_upto = 0
        self._written: set[str] = set()  # files of this run that a later save may retire
        self._swept = False
        self._next_due: float | None = None
        if (resumed is not None and resumed.meta.get("history_segments")
                and resumed.path.parent.resolve() == self.directory.resolve()):
            self.segments = list(resumed.meta["history_segments"])
            self.saved_upto = int(resumed.meta["history_upto"])
            self._written = set(self.segments)

    def due(self, step: int) -> bool:
        """Whether a periodic checkpoint is due at ``step``: every ``every`` steps after
        the first step this writer saw (the run's start, or its resume)."""
        if self._next_due is None:
            self._next_due = step + (self.every or math.inf)
            return False
        if step < self._next_due:
            return False
        self._next_due = step + (self.every or math.inf)
        return True

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
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "optiframe_version": __version__, "kind": self.kind, "step": step,
                "config": self.config, "arrays": arrays_name,
                "history_segments": self.segments, "history_upto": self.saved_upto,
                **snapshot.json}
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
        self._written.add(name)


def save_at_interrupt(save: Callable[[Any], None], top: Any) -> str:
    """After Ctrl-C, save the checkpoint of the last whole step ``top`` (if any); return
    "" or, for the run's message, why it could not be written (a full disk...)."""
    if top is None:
        return ""
    try:
        save(top)
    except (OSError, CheckpointError) as exc:
        return f"; the checkpoint could not be written ({type(exc).__name__}: {exc})"
    return ""


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

    def scalar(self, name: str) -> Any:
        value = self.meta["scalars"][name]
        if isinstance(value, dict) and set(value) == {"float"}:
            return float(self.arrays[value["float"]])
        return value

    def array(self, name: str) -> np.ndarray:
        return self.arrays[name]

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
                values.append(self.arrays[f"tree/{name}/{i}"].copy())
            elif kind == "float":  # a Python float back as one; a numpy scalar keeps its type
                stored = self.arrays[f"tree/{name}/{i}"]
                values.append(float(stored) if stored.dtype == np.float64 else stored[()])
            else:
                values.append(value)
        return rebuild(template, iter(values))

    def history(self, dim: int, record_x: bool) -> History:
        history = History(dim, record_x)
        rows = self.arrays.get("history/rows", np.empty((0, len(COLUMNS))))
        history._rows.frombytes(np.ascontiguousarray(rows, dtype=np.float64).tobytes())
        if record_x:
            history._xs = list(self.arrays.get("history/xs", np.empty((0, dim))).copy())
        values = iter(self.arrays["history/epoch_values"].tolist())
        history.epoch_log = [{key: int(v) if key in ("epoch", "step") else v
                              for key, v in zip(keys, values)}
                             for keys in self.meta.get("epoch_keys", [])]
        return history

    def starts_history(self, n_starts: int, record_x: bool) -> StartsHistory:
        history = StartsHistory(n_starts, record_x)
        if "starts_history/steps" not in self.arrays:
            return history  # nothing recorded before the checkpoint
        for step, row in zip(self.arrays["starts_history/steps"].tolist(),
                             self.arrays["starts_history/rows"], strict=True):
            history._dense[step] = row.copy()
        if history._points is not None:
            at = 0
            for step, length in zip(self.arrays["points/step"].tolist(),
                                    self.arrays["points/length"].tolist(), strict=True):
                index = self.arrays["points/index"][at : at + length].copy()
                X = self.arrays["points/X"][at : at + length].copy()
                history._points.setdefault(step, []).append((index, X))
                at += length
        return history

    def outcomes(self) -> list[StartOutcome]:
        x0s, xs = self.arrays["outcomes/x0"], self.arrays["outcomes/x"]
        funs = self.arrays["outcomes/fun"].tolist()
        return [StartOutcome(index=o["index"], x0=x0s[i].copy(), x=xs[i].copy(), fun=funs[i],
                             status=Status(o["status"]), message=o["message"], nit=o["nit"],
                             nfev=o["nfev"], njev=o["njev"])
                for i, o in enumerate(self.meta.get("outcomes", []))]

    def rng_state(self, name: str) -> dict[str, Any]:
        """A bit generator state saved by :meth:`Snapshot.rng`, with its integers back."""
        def ints(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: ints(v) for k, v in node.items()}
            return int(node) if isinstance(node, str) and node.lstrip("-").isdigit() else node
        return cast(dict[str, Any], ints(self.meta["scalars"][name]))


def _upgrade(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Bring a checkpoint written in an earlier layout up to :data:`FORMAT_VERSION`, in
    place: each layout change adds its step here, so every earlier checkpoint loads.

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
    meta["format_version"] = FORMAT_VERSION


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read the checkpoint in directory ``path`` (or its ``checkpoint.json``).

    Raises :class:`~optiframe.errors.CheckpointError` naming the file when it is missing,
    not a checkpoint, written by a newer optiframe, or incomplete.
    """
    p = Path(path)
    json_path = p if p.suffix == ".json" else p / JSON_NAME
    if not json_path.is_file():
        raise CheckpointError(f"no checkpoint at {str(p)!r}: {json_path} does not exist")
    try:
        meta = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{json_path} is not a readable checkpoint: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path} is not an optiframe checkpoint (no 'format': "
                              f"{FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{json_path}: bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{json_path} was written by optiframe {meta.get('optiframe_version')} in "
            f"checkpoint format {version}; this optiframe reads formats up to "
            f"{FORMAT_VERSION}: upgrade optiframe to resume it")
    arrays_path = json_path.parent / str(meta.get("arrays"))
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{json_path}: cannot read its arrays {arrays_path}: {exc}"
                              ) from exc
    segments = meta.get("history_segments")
    if segments is not None:
        arrays.update(_read_segments(json_path, segments))
    _upgrade(meta, arrays)
    return Checkpoint(path=json_path, meta=meta, arrays=arrays)


def _read_segments(json_path: Path, names: list[str]) -> dict[str, np.ndarray]:
    """The history segments of a checkpoint, joined into one set of arrays."""
    parts: dict[str, list[np.ndarray]] = {}
    for name in names:
        try:
            with np.load(json_path.parent / name, allow_pickle=False) as npz:
                for key in npz.files:
                    parts.setdefault(key, []).append(npz[key])
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise CheckpointError(f"{json_path}: cannot read its history segment {name}: "
                                  f"{exc}") from exc
    joined = {}
    for key, arrays in parts.items():
        nonempty = [a for a in arrays if a.size] or arrays[:1]
        joined[key] = np.concatenate(nonempty) if len(nonempty) > 1 else nonempty[0]
    return joined


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


def run_config(runner: Runner, kind: str, shape: tuple[int, ...],
               seed: int | None = None) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed by ``runner``: text per item.

    Every stopping rule counts except ``max_steps``: a resumed run may go on longer.
    """
    return {
        "kind": kind,
        "objective": describe_objective(runner.objective),
        "optimizer": repr(runner.optimizer),
        "gradient": repr(runner.gradient),
        "schedules": repr(runner.schedules),
        "stop": stop_config(runner.stop),
        "batching": repr(runner.batching),
        "record_every": runner.record_every,
        "record_x": runner.record_x,
        "shape": list(shape),
        "seed": seed,
    }


def stop_config(stop: Any) -> dict[str, str]:
    """The stopping rules but ``max_steps``, as field -> repr."""
    return {f.name: repr(getattr(stop, f.name)) for f in attrs.fields(type(stop))
            if f.name != "max_steps"}


def check_config(checkpoint: Checkpoint, runner: Runner) -> None:
    """Refuse a checkpoint written with other components, saying what differs."""
    saved = checkpoint.config
    current = run_config(runner, saved.get("kind", "?"), tuple(saved.get("shape", ())),
                         saved.get("seed"))
    # a stopping rule added since the checkpoint was written had its default then
    defaults = stop_config(type(runner.stop)())
    saved["stop"] = {**defaults, **saved.get("stop", {})}
    differ = [f"{key}: the checkpoint has {saved.get(key)!r}, this runner {current[key]!r}"
              for key in current if key != "stop" and saved.get(key) != current[key]]
    differ += [f"stop: the checkpoint has {key} = {saved['stop'].get(key)}, this runner "
               f"{value}" for key, value in current["stop"].items()
               if saved["stop"].get(key) != value]
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
