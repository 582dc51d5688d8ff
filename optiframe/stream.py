"""History streaming: a run appends each record to a JSON Lines file as it is made.

With ``Runner(..., stream_history="run.jsonl")`` every history record is written as one
line and flushed at once, so a run that is killed leaves everything it recorded on disk.
The file is append-only: a resumed run (see :meth:`~optiframe.Runner.resume`) appends a
``{"resumed_at": k}`` line and goes on; :func:`load_history_stream` then drops the records
of steps from k on that the interrupted run had written after its checkpoint.

Lines (strict JSON; NaN is written as null and infinities as "inf" / "-inf"):

* first, a header: ``{"format": "optiframe-history-stream", "version": 2, "kind": ...,
  "columns": [...], "dim": n, "n_starts": K, "record_x": bool}``;
* single-start and minibatch runs: one list per record, ``[step, fun, grad_norm,
  step_norm, nfev, elapsed, step_size]`` (followed by ``{"x": [...]}`` with
  ``record_x``), and ``{"epoch": {...}}`` after each epoch;
* multi-start runs: ``{"step": k, "start": [...], "fun": [...], "grad_norm": [...],
  "step_norm": [...], "step_size": [...]}`` per recorded step, one entry per running
  start (and ``"x"``, a list of rows, with ``record_x``), and ``{"epoch": {"start": k,
  ...}}`` per start and epoch; starts rerun on workers after a resume follow a
  ``{"rerun": [...]}`` line.

Version 1 streams (records of 6 numbers, no ``step_size``) still load.

A last line cut short (the process died while writing it) is ignored on load; any other
line that is not a record is an error naming its line number.

Example
-------
>>> import os, tempfile, optiframe as of
>>> path = os.path.join(tempfile.mkdtemp(), "run.jsonl")
>>> r = of.minimize("sphere", [1.0, 1.0], optimizer=of.GradientDescent(lr=0.25),
...                 max_steps=3, stream_history=path)
>>> h = of.load_history_stream(path)
>>> h.fun.tolist() == r.history.fun.tolist()
True
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import HistoryStreamError, InvalidArgumentError
from .history import _WIDTH, COLUMNS, History, StartsHistory, _json_number

FORMAT = "optiframe-history-stream"
#: 2: records carry ``step_size`` (a 7th number; version 1 streams, of 6, still load)
VERSION = 2


def _unnum(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, str):
        if v in ("inf", "-inf"):
            return float(v)
        raise ValueError(f"not a number: {v!r}")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"not a number: {v!r}")
    return float(v)


def _text(v: float) -> str:
    """A number as JSON text: repr (exact) when finite, else null, "inf" or "-inf"."""
    if v - v == 0.0:  # finite
        return repr(float(v))
    return "null" if v != v else ('"inf"' if v > 0 else '"-inf"')


class HistoryStream:
    """An open stream file; the loops write through :meth:`recorder`, :meth:`epoch` and
    :meth:`starts`. Each record is one ``os.write`` of a whole line on an unbuffered
    file: it reaches the operating system at once, and a crash can only tear the last
    line."""

    def __init__(self, path: Path, kind: str, dim: int, n_starts: int | None,
                 resumed_at: int | None, record_x: bool = False,
                 rerun: list[int] | None = None) -> None:
        self.path = path
        resuming = resumed_at is not None or rerun is not None
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if resuming else os.O_TRUNC)
        try:  # before any work: a file that cannot be written is bad input
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = resuming and (not path.exists() or path.stat().st_size == 0)
            if resuming and not fresh:
                _cut_torn_tail(path)
            self._fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise InvalidArgumentError(
                f"'stream_history' file {str(path)!r} cannot be written: {exc}") from None
        if not resuming or fresh:  # a resumed run into a new file starts it with a header
            self._line({"format": FORMAT, "version": VERSION, "kind": kind,
                        "columns": list(COLUMNS), "dim": dim, "n_starts": n_starts,
                        "record_x": record_x})
        if rerun is not None:
            self._line({"rerun": [int(k) for k in rerun]})
        elif resumed_at is not None:
            self._line({"resumed_at": resumed_at})

    def _line(self, obj: Any) -> None:
        os.write(self._fd, (json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def recorder(self, extend: Callable[[Iterable[float]], None],
                 ) -> Callable[[tuple[float, ...]], None]:
        """``extend`` (the History's row append) that also writes the row."""
        write, fd = os.write, self._fd

        def record(row: tuple[float, ...]) -> None:
            extend(row)
            k, f, g, s, n, t, a = row
            write(fd, (f"[{int(k)},{_text(f)},{_text(g)},{_text(s)},{int(n)},{_text(t)},"
                       f"{_text(a)}]\n").encode())

        return record

    def point(self, x: np.ndarray) -> None:
        """The point of the record just written (``record_x=True``)."""
        self._line({"x": [_json_number(v) for v in x.tolist()]})

    def epoch(self, entry: dict[str, float]) -> None:
        self._line({"epoch": {k: _json_number(v) for k, v in entry.items()}})

    def starts(self, step: int, index: np.ndarray, fun: np.ndarray, grad_norm: np.ndarray,
               step_norm: np.ndarray, X: np.ndarray | None = None,
               step_size: Any = None) -> None:
        line: dict[str, Any] = {"step": step, "start": index.tolist(),
                                "fun": [_json_number(v) for v in fun.tolist()],
                                "grad_norm": [_json_number(v) for v in grad_norm.tolist()],
                                "step_norm": [_json_number(v) for v in step_norm.tolist()]}
        if step_size is not None:
            line["step_size"] = [_json_number(v) for v in np.broadcast_to(
                step_size, np.shape(fun)).tolist()]
        if X is not None:
            line["x"] = [[_json_number(v) for v in row] for row in X.tolist()]
        self._line(line)

    def close(self) -> None:
        os.close(self._fd)


def _cut_torn_tail(path: Path) -> None:
    """Cut a torn last line (a crash or a full disk while it was written) back to the last
    complete line, so that what is appended next starts a line of its own."""
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if not size:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        at = size
        while at > 0:
            step = min(65536, at)
            fh.seek(at - step)
            block = fh.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                fh.truncate(at - step + cut + 1)
                return
            at -= step
        fh.truncate(0)


def check_stream_option(path: Any) -> Path | None:
    """The Runner's ``stream_history`` option, checked."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"'stream_history' must be a file path: {path!r}")
    p = Path(path)
    if p.is_dir():
        raise InvalidArgumentError(f"'stream_history' must be a file, but {str(p)!r} is a "
                                   "folder")
    return p


class _StreamedPoints(list[np.ndarray]):
    """A History's list of points that also streams each point it is given."""

    def __init__(self, items: list[np.ndarray], stream: HistoryStream) -> None:
        super().__init__(items)
        self._stream = stream

    def append(self, x: np.ndarray) -> None:
        super().append(x)
        self._stream.point(x)


def recording(history: History, stream: HistoryStream | None,
              ) -> tuple[Callable[[tuple[float, ...]], None], list[np.ndarray] | None]:
    """The loop's ``record(row)`` and points list for ``history``, streamed if asked."""
    if stream is None:
        return history._rows.extend, history._xs
    if history._xs is not None:
        history._xs = _StreamedPoints(history._xs, stream)
    return stream.recorder(history._rows.extend), history._xs


def check_stream_writable(path: Path | None) -> None:
    """Refuse, before any work, a stream file that cannot be written."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgumentError(
            f"'stream_history' file {str(path)!r} cannot be written: {exc}") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path,
                                                                               os.W_OK)):
        raise InvalidArgumentError(f"'stream_history' file {str(path)!r} cannot be written: "
                                   "permission denied")


def open_stream(path: Path | None, kind: str, dim: int, n_starts: int | None = None,
                resumed_at: int | None = None, record_x: bool = False,
                rerun: list[int] | None = None) -> HistoryStream | None:
    """The run's stream, or None without ``stream_history``. A resumed run appends a
    marker: ``resumed_at`` (records of later steps are dropped on load) or, for starts
    rerun on workers, ``rerun`` (those starts' earlier records are dropped)."""
    return (None if path is None
            else HistoryStream(path, kind, dim, n_starts, resumed_at, record_x, rerun))


def _without(again: set[int], index: list[int], fun: list[float], gn: list[float],
             sn: list[float], X: Any, sizes: list[float]) -> tuple[Any, ...]:
    """A multi-start record without the starts in ``again``."""
    keep = [j for j, k in enumerate(index) if k not in again]
    return ([index[j] for j in keep], [fun[j] for j in keep], [gn[j] for j in keep],
            [sn[j] for j in keep], None if X is None else X[keep], [sizes[j] for j in keep])


def load_history_stream(path: str | os.PathLike[str]) -> History | StartsHistory:
    """Read a streamed history: a :class:`~optiframe.History` for single-start and
    minibatch runs, a :class:`~optiframe.history.StartsHistory` for multi-start runs.

    A torn last line is ignored; a bad line elsewhere raises
    :class:`~optiframe.errors.HistoryStreamError` naming the file and line number.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise HistoryStreamError(f"cannot read history stream {str(p)!r}: {exc}") from exc
    lines = text.split("\n")
    torn_tail = lines.pop()  # "" when the file ends with a newline, else a torn line
    del torn_tail
    if not lines:
        raise HistoryStreamError(f"{p}: empty, not a history stream (no header line)")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise HistoryStreamError(f"{p}: line 1 is not a history stream header")
    if header.get("version", 0) > VERSION:
        raise HistoryStreamError(f"{p}: stream version {header.get('version')} is newer than "
                                 f"this optiframe reads ({VERSION}); upgrade optiframe")
    multi = header.get("kind") == "multistart"
    record_x = bool(header.get("record_x", False))
    rows: list[Any] = []  # [step, record, x or None] in file order
    epochs: list[tuple[int, dict[str, float]]] = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            rec = json.loads(line)
            if isinstance(rec, dict) and "resumed_at" in rec:
                at = int(rec["resumed_at"])
                rows = [r for r in rows if r[0] < at]
                epochs = [e for e in epochs if e[0] <= at]  # an epoch ending at `at`
                # was logged before the checkpoint of step `at` was taken
            elif multi and isinstance(rec, dict) and set(rec) == {"rerun"}:
                again = {int(k) for k in rec["rerun"]}
                rows = [(step, *_without(again, index, fun, gn, sn, X, sizes))
                        for step, index, fun, gn, sn, X, sizes in rows]
                epochs = [e for e in epochs if int(e[1].get("start", -1)) not in again]
            elif isinstance(rec, dict) and set(rec) == {"x"} and not multi:
                if not (record_x and rows and rows[-1][2] is None):
                    raise ValueError("a point with no record before it")
                rows[-1][2] = np.array([_unnum(v) for v in rec["x"]])
            elif isinstance(rec, dict) and "epoch" in rec:
                entry = {str(k): _unnum(v) for k, v in rec["epoch"].items()}
                epochs.append((int(entry["step"]), entry))
            elif multi and isinstance(rec, dict):
                values = [[_unnum(v) for v in rec[c]] for c in ("fun", "grad_norm",
                                                                 "step_norm")]
                index = [int(i) for i in rec["start"]]
                sizes = [_unnum(v) for v in rec.get("step_size", [None] * len(index))]
                if any(len(v) != len(index) for v in (*values, sizes)):
                    raise ValueError("columns of different lengths")
                X = (np.array([[_unnum(v) for v in r] for r in rec["x"]]) if "x" in rec
                     else None)
                rows.append((int(rec["step"]), index, *values, X, sizes))
            elif not multi and isinstance(rec, list) and len(rec) in (_WIDTH - 1, _WIDTH):
                if record_x and rows and rows[-1][2] is None:
                    raise ValueError("the record before it has no point")
                row = tuple(_unnum(v) for v in rec)
                if len(row) == _WIDTH - 1:  # version 1: no step_size
                    row = (*row, math.nan)
                rows.append([int(row[0]), row, None])
            else:
                raise ValueError("not a record of this stream's kind")
        except (ValueError, KeyError, TypeError) as exc:
            raise HistoryStreamError(f"{p}: line {number} is not a history record "
                                     f"({exc}): {line[:80]!r}") from None
    if multi:
        starts = StartsHistory(int(header["n_starts"]), record_x)
        for step, index, fun, grad_norm, step_norm, X, sizes in rows:
            if index:
                starts._record(step, np.array(index), np.array(fun), np.array(grad_norm),
                               np.array(step_norm), X, np.array(sizes))
        starts.epoch_log = [{k: int(v) if k in ("epoch", "step", "start") else v
                             for k, v in entry.items()} for _, entry in epochs]
        return starts
    if record_x and rows and rows[-1][2] is None:
        rows.pop()  # its point line was torn off at the end
    history = History(header.get("dim"), record_x)
    for _, row, x in rows:
        history._rows.extend(row)
        if history._xs is not None:
            history._xs.append(x)
    history.epoch_log = [entry for _, entry in epochs]
    return history
