"""History streaming: a run appends each record to a JSON Lines file as it is made.

With ``Runner(..., stream_history="run.jsonl")`` every history record is written as one
line and flushed at once, so a run that is killed leaves everything it recorded on disk.
The file is append-only: a resumed run (see :meth:`~optiframe.Runner.resume`) appends a
``{"resumed_at": k}`` line and goes on; :func:`load_history_stream` then drops the records
of steps from k on that the interrupted run had written after its checkpoint (a
multi-start run's marker, ``{"resumed_at": k, "running": [...]}``, names the starts it
goes on with: only theirs are dropped, and a start that ended at step k keeps its record;
``"epoch_again": true`` says the checkpoint holds the epoch ending at step k not yet
ended, so the run logs it again and its earlier rows are dropped).

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

import itertools
import json
import math
import os
import stat
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import unwritable_folder
from .errors import HistoryStreamError, InvalidArgumentError, write_failure
from .history import _WIDTH, COLUMNS, History, StartsHistory, _json_number
from .signals import deferred

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
                 rerun: list[int] | None = None, running: list[int] | None = None,
                 epoch_again: bool = False) -> None:
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
        elif resumed_at is not None:  # (a stack's: the starts it goes on with; and
            marker: dict[str, Any] = {"resumed_at": resumed_at}  # whether the epoch ending
            if running is not None:  # at the step is logged again)
                marker["running"] = [int(k) for k in running]
            if epoch_again:
                marker["epoch_again"] = True
            self._line(marker)

    #: why the stream stopped being written (a full disk), or None
    trouble: str | None = None
    _closed = False

    def _write(self, data: bytes) -> None:
        if self.trouble is not None:
            return
        try:
            os.write(self._fd, data)
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        """A write failed (a full disk): warn once, write no more; the history in memory
        stays whole, and the stream loads up to its last whole line."""
        self.trouble = (f" Note: the history stream {str(self.path)!r} could not be written "
                        f"on{write_failure(exc)}; it holds the records up to there, the "
                        "result's history holds them all.")
        warnings.warn(self.trouble.strip(), RuntimeWarning, stacklevel=3)

    def _line(self, obj: Any) -> None:
        self._write((json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def recorder(self, extend: Callable[[Iterable[float]], None],
                 ) -> Callable[[tuple[float, ...]], None]:
        """``extend`` (the History's row append) that also writes the row."""
        write, fd = os.write, self._fd

        def record(row: tuple[float, ...]) -> None:
            extend(row)
            if self.trouble is not None:
                return
            k, f, g, s, n, t, a = row
            try:
                write(fd, (f"[{int(k)},{_text(f)},{_text(g)},{_text(s)},{int(n)},{_text(t)},"
                           f"{_text(a)}]\n").encode())
            except OSError as exc:
                self._failed(exc)

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
        """Close the file (once: a second call does nothing). Ctrl-C waits for it (see
        :meth:`~optiframe.checkpoint.Checkpointer.close`)."""
        with deferred():
            if not self._closed:
                self._closed = True
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
        return history.recorder, history.points
    if history.points is not None:
        history.points = _StreamedPoints(history.points, stream)
    return stream.recorder(history.recorder), history.points


def check_stream_writable(path: Path | None) -> None:
    """Refuse, before any work, a stream file that cannot be written."""
    if path is None:
        return
    why = unwritable_folder(path.parent)  # checked without creating it: the run may be
    if why is not None:                   # refused later (a NaN x0), leaving nothing
        raise InvalidArgumentError(
            f"'stream_history' file {str(path)!r} cannot be written: {why}")
    if path.exists() and not os.access(path, os.W_OK):
        raise InvalidArgumentError(f"'stream_history' file {str(path)!r} cannot be written: "
                                   "permission denied")


def open_stream(path: Path | None, kind: str, dim: int, n_starts: int | None = None,
                resumed_at: int | None = None, record_x: bool = False,
                rerun: list[int] | None = None, running: list[int] | None = None,
                epoch_again: bool = False) -> HistoryStream | None:
    """The run's stream, or None without ``stream_history``. A resumed run appends a
    marker: ``resumed_at`` (records of later steps are dropped on load; a stack's marker
    names the starts still ``running`` at the checkpoint, whose records alone are
    dropped: a start that ended at step k keeps its record of step k; ``epoch_again``:
    the checkpoint holds the epoch ending at step k not yet ended, so the rows of that
    epoch that a run resumed from it before had logged are dropped too) or, for starts
    rerun on workers, ``rerun`` (those starts' earlier records are dropped)."""
    return (None if path is None
            else HistoryStream(path, kind, dim, n_starts, resumed_at, record_x, rerun,
                               running, epoch_again))


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
    :class:`~optiframe.errors.HistoryStreamError` naming the file and line number. The
    records of a single-start stream are parsed a block at a time as columns of numbers
    (a million records in about a second, in memory about the size of the file); any
    line that the columnar parse does not expect sends the file through the line-by-line
    reader, which names the bad line.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise HistoryStreamError(f"{p}: not a regular file, not a history stream")
            first = fh.readline()
            header = _header(p, first)
            if header.get("kind") != "multistart" and not header.get("record_x", False):
                fast = _columnar(fh)
                if fast is not None:
                    try:
                        return _single_history(header, *fast)
                    except _FallbackError:
                        pass
    except OSError as exc:
        raise HistoryStreamError(f"cannot read history stream {str(p)!r}: {exc}") from exc
    return _load_by_lines(p)


def _header(p: Path, first: bytes) -> dict[str, Any]:
    """The stream's header line, checked."""
    if not first.strip():
        raise HistoryStreamError(f"{p}: empty, not a history stream (no header line)")
    try:
        header = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise HistoryStreamError(f"{p}: line 1 is not a history stream header")
    version = header.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise HistoryStreamError(f"{p}: line 1: bad stream version {version!r} (an integer)")
    if version > VERSION:
        raise HistoryStreamError(f"{p}: stream version {version} is newer than "
                                 f"this optiframe reads ({VERSION}); upgrade optiframe")
    if header.get("kind") == "multistart":
        n = header.get("n_starts")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise HistoryStreamError(f"{p}: line 1: a multi-start stream's header needs "
                                     f"n_starts, a positive integer: {n!r}")
    dim = header.get("dim")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 0):
        raise HistoryStreamError(f"{p}: line 1: bad dim {dim!r}")
    return header


#: bytes the columnar parse reads at a time (whole lines)
BLOCK_BYTES = 1 << 22
_TO_NUMBERS = bytes.maketrans(b"[]\n", b"  ,")
_NUMBER_BYTES = np.zeros(256, dtype=bool)
_NUMBER_BYTES[list(b"0123456789.eE+-, naif[]\n")] = True


def _columnar(fh: Any) -> tuple[list[np.ndarray], list[tuple[int, Any]]] | None:
    """The records of a single-start stream as blocks of rows, and its other lines
    (resume markers, epochs) with the number of records before each; None when a line
    is not what the parse expects (the line-by-line reader then names it)."""
    blocks: list[np.ndarray] = []
    marks: list[tuple[int, Any]] = []
    count, width, carry = 0, 0, b""
    while True:
        data = fh.read(BLOCK_BYTES)
        if not data:
            break
        data = carry + data
        cut = data.rfind(b"\n") + 1
        data, carry = data[:cut], data[cut:]  # a torn last line stays in carry
        if not data:
            continue
        arr = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        starts = np.concatenate(([0], ends[:-1] + 1))
        firsts = arr[starts]
        others = np.flatnonzero(firsts != ord("["))
        edges = [-1, *others.tolist(), len(starts)]
        for a, b in itertools.pairwise(edges):
            if b - a > 1:  # record lines a+1 .. b-1
                rows = _record_rows(data, arr, starts[a + 1], ends[b - 1], ends[a + 1:b], width)
                if rows is None:
                    return None
                width = rows.shape[1]
                blocks.append(rows)
                count += len(rows)
            if b < len(starts):
                try:
                    line = json.loads(data[starts[b]:ends[b]].decode("utf-8"))
                except (UnicodeDecodeError, ValueError, RecursionError):
                    return None
                if not isinstance(line, dict):
                    return None
                marks.append((count, line))
    return blocks, marks


def _record_rows(data: bytes, arr: np.ndarray, lo: int, hi: int, ends: np.ndarray,
                 width: int) -> np.ndarray | None:
    """The record lines data[lo:hi + 1] (each ``[n, n, ...]``) as rows, or None."""
    lines = len(ends)
    if (arr[ends - 1] != ord("]")).any():
        return None
    seg = data[lo:hi + 1]
    if seg.count(b"[") != lines or seg.count(b"]") != lines:
        return None  # nested lists
    commas = np.cumsum(arr[lo:hi + 1] == ord(","))[ends - lo]
    per_line = np.diff(np.concatenate(([0], commas)))
    w = int(per_line[0]) + 1
    if (per_line != w - 1).any() or w not in (_WIDTH - 1, _WIDTH) or (width and w != width):
        return None
    seg = seg.replace(b"null", b"nan ").replace(b'"-inf"', b" -inf ").replace(b'"inf"',
                                                                           b" inf ")
    if not _NUMBER_BYTES[np.frombuffer(seg, dtype=np.uint8)].all():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(seg.translate(_TO_NUMBERS).rstrip(b","),
                                   dtype=np.float64, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != lines * w:
        return None
    rows = values.reshape(lines, w)
    step = rows[:, 0]
    if not (np.isfinite(step).all() and (step == np.floor(step)).all() and (step >= 0).all()):
        return None
    return rows


def _epochs_kept(epochs: list[tuple[int, dict[str, float]]], at: int,
                 marker: dict[str, Any]) -> list[tuple[int, dict[str, float]]]:
    """The epoch rows (by the step each ended at) a resume marker keeps: those of epochs
    ending by step ``at`` (logged before the checkpoint of step ``at`` was taken), but
    not the one ending at ``at`` where the marker says it is logged again (a run resumed
    from a checkpoint taken before that epoch ended had logged it, then stopped)."""
    if marker.get("epoch_again") is True:
        return [e for e in epochs if e[0] < at]
    return [e for e in epochs if e[0] <= at]


def _single_history(header: dict[str, Any], blocks: list[np.ndarray],
                    marks: list[tuple[int, Any]]) -> History:
    """A single-start History from the columnar parse, resume markers applied."""
    keep = [np.ones(len(b), dtype=bool) for b in blocks]
    offsets = np.cumsum([0] + [len(b) for b in blocks])
    epochs: list[tuple[int, dict[str, float]]] = []
    for at_count, line in marks:
        if "resumed_at" in line:
            at = line["resumed_at"]
            if isinstance(at, bool) or not isinstance(at, int):
                raise _FallbackError
            for i, b in enumerate(blocks):
                if offsets[i] >= at_count:
                    break
                upto = min(len(b), at_count - offsets[i])
                keep[i][:upto] &= b[:upto, 0] < at
            epochs = _epochs_kept(epochs, at, line)
        elif set(line) == {"epoch"} and isinstance(line["epoch"], dict):
            try:
                entry = {str(k): _unnum(v) for k, v in line["epoch"].items()}
                epochs.append((_int(entry["step"]), entry))
            except (ValueError, KeyError, TypeError, OverflowError):
                raise _FallbackError from None
        else:
            raise _FallbackError
    history = History(header.get("dim"), False)
    for i in range(len(blocks)):
        rows = blocks[i][keep[i]]
        blocks[i] = rows[:0]  # free the block as soon as it is in the history
        if rows.shape[1] == _WIDTH - 1:  # version 1: no step_size
            rows = np.hstack([rows, np.full((len(rows), 1), math.nan)])
        history.extend(rows)
    history.epoch_log = [entry for _, entry in epochs]
    return history


class _FallbackError(Exception):
    """The columnar parse met a line it does not expect."""


def _int(v: float) -> int:
    if not math.isfinite(v) or v != int(v):
        raise ValueError(f"not an integer: {v!r}")
    return int(v)


def _load_by_lines(p: Path) -> History | StartsHistory:
    """The line-by-line reader: every kind of stream, every line checked and named."""
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise HistoryStreamError(f"cannot read history stream {str(p)!r}: {exc}") from exc
    raw = data.split(b"\n")
    raw.pop()  # b"" when the file ends with a newline, else a torn line
    if not raw:
        raise HistoryStreamError(f"{p}: empty, not a history stream (no header line)")
    header = _header(p, raw[0])
    multi = header.get("kind") == "multistart"
    record_x = bool(header.get("record_x", False))
    rows: list[Any] = []  # [step, record, x or None] in file order
    epochs: list[tuple[int, dict[str, float]]] = []
    for number, chunk in enumerate(raw[1:], start=2):
        line = chunk.decode("utf-8", errors="replace")
        try:
            text = chunk.decode("utf-8")
            rec = json.loads(text)
            if isinstance(rec, dict) and "resumed_at" in rec:
                at = rec["resumed_at"]
                if isinstance(at, bool) or not isinstance(at, int):
                    raise ValueError(f"resumed_at is not an integer: {at!r}")
                if multi and "running" in rec:  # (the starts ended by then keep theirs)
                    going = {int(k) for k in rec["running"]}
                    rows = [r if r[0] < at else (r[0], *_without(going, *r[1:]))
                            for r in rows]
                else:  # (streams written before 2026-12-07: every start's)
                    rows = [r for r in rows if r[0] < at]
                epochs = _epochs_kept(epochs, at, rec)
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
                epochs.append((_int(entry["step"]), entry))
            elif multi and isinstance(rec, dict):
                values = [[_unnum(v) for v in rec[c]] for c in ("fun", "grad_norm",
                                                                 "step_norm")]
                index = [int(i) for i in rec["start"]]
                if any(not 0 <= i < header["n_starts"] for i in index):
                    raise ValueError("a start index outside 0 .. n_starts - 1")
                sizes = [_unnum(v) for v in rec.get("step_size", [None] * len(index))]
                if any(len(v) != len(index) for v in (*values, sizes)):
                    raise ValueError("columns of different lengths")
                X = (np.array([[_unnum(v) for v in r] for r in rec["x"]]) if "x" in rec
                     else None)
                rows.append((_int(_unnum(rec["step"])), index, *values, X, sizes))
            elif not multi and isinstance(rec, list) and len(rec) in (_WIDTH - 1, _WIDTH):
                if record_x and rows and rows[-1][2] is None:
                    raise ValueError("the record before it has no point")
                row = tuple(_unnum(v) for v in rec)
                if len(row) == _WIDTH - 1:  # version 1: no step_size
                    row = (*row, math.nan)
                rows.append([_int(row[0]), row, None])
            else:
                raise ValueError("not a record of this stream's kind")
        except UnicodeDecodeError:
            raise HistoryStreamError(f"{p}: line {number} is not UTF-8 text: "
                                     f"{line[:80]!r}") from None
        except RecursionError:
            raise HistoryStreamError(f"{p}: line {number} is not a history record (nested "
                                     "too deeply)") from None
        except (ValueError, KeyError, TypeError, OverflowError, AttributeError) as exc:
            raise HistoryStreamError(f"{p}: line {number} is not a history record "
                                     f"({exc}): {line[:80]!r}") from None
    if multi:
        starts = StartsHistory(int(header["n_starts"]), record_x)
        for step, index, fun, grad_norm, step_norm, X, sizes in rows:
            if index:
                starts.record(step, np.array(index), np.array(fun), np.array(grad_norm),
                               np.array(step_norm), X, np.array(sizes))
        starts.epoch_log = [{k: int(v) if k in ("epoch", "step", "start") else v
                             for k, v in entry.items()} for _, entry in epochs]
        return starts
    if record_x and rows and rows[-1][2] is None:
        rows.pop()  # its point line was torn off at the end
    history = History(header.get("dim"), record_x)
    for _, row, x in rows:
        history.append(row, x)
    history.epoch_log = [entry for _, entry in epochs]
    return history
