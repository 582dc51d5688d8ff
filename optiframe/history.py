"""The record of a run: a columnar :class:`History` of scalars per recorded step.

Each row describes one iterate x_k: ``step`` (k), ``fun`` (f(x_k)), ``grad_norm``
(|grad f(x_k)|, or of the projected gradient in a bounded run; NaN where it was not
computed), ``step_norm`` (|x_k - x_{k-1}|, NaN at k = 0), ``nfev`` (function
evaluations so far), ``elapsed`` (seconds since the start) and ``step_size`` (the step
length the line search accepted for the step to x_k; NaN without a line search). The
points themselves are kept only on request (``record_x=True``), so a million-step run in
1000-D costs 56 bytes a row, not 8 kB.
"""

from __future__ import annotations

import csv
import io
import json
import math
import struct
from array import array
from collections.abc import Mapping, Sequence
from itertools import starmap
from pathlib import Path
from typing import Any, cast

import numpy as np

from ._files import Target, read_text, write_csv, write_text
from ._table import format_table, head_and_tail
from .errors import InvalidArgumentError
from .starts_history import StartsHistory

COLUMNS: tuple[str, ...] = ("step", "fun", "grad_norm", "step_norm", "nfev", "elapsed",
                             "step_size")
#: The columns of histories written before ``step_size`` existed (6 numbers a row).
OLD_COLUMNS = COLUMNS[:6]
_INT_COLUMNS = frozenset({"step", "nfev"})
_WIDTH = len(COLUMNS)
#: packs one record's numbers as the row store's bytes (struct's ``d``: the values an
#: ``array("d")`` holds)
_PACK_ROW = struct.Struct(f"{_WIDTH}d").pack


class History:
    """A columnar record of a run; columns are numpy arrays, one entry per recorded step.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> r = of.minimize("sphere", [1.0, 1.0], optimizer=of.GradientDescent(lr=0.25))
    >>> h = r.history
    >>> h.step[:3].tolist(), h.fun[:3].tolist()
    ([0, 1, 2], [2.0, 0.5, 0.125])
    >>> print(h.to_csv().splitlines()[0])
    step,fun,grad_norm,step_norm,nfev,elapsed,step_size
    """

    __slots__ = ("_packed", "_pending", "_xs", "dim", "epoch_log")

    def __init__(self, dim: int | None = None, record_x: bool = False) -> None:
        self._packed = array("d")
        #: records the loop appended (tuples), not yet packed into ``_packed``: appending
        #: a tuple to a list costs a sixth of array("d").extend's per-number parsing
        self._pending: list[tuple[float, ...]] = []
        self._xs: list[np.ndarray] | None = [] if record_x else None
        self.dim = dim
        #: one dict per finished epoch of a minibatch run (epoch, step, train_loss, metrics)
        self.epoch_log: list[dict[str, float]] = []

    @property
    def epochs(self) -> dict[str, np.ndarray]:
        """Per-epoch columns of a minibatch run: epoch, step, train_loss (the mean batch
        loss over the epoch) and every metric the epoch callbacks returned."""
        names: list[str] = []
        for row in self.epoch_log:
            names.extend(n for n in row if n not in names)
        return {n: np.array([row.get(n, np.nan) for row in self.epoch_log]) for n in names}

    # -- recording (used by the Runner, checkpoints and streams) ------------------------
    def append(self, row: Sequence[float], x: np.ndarray | None = None) -> None:
        """Add one record: the numbers of :data:`COLUMNS`, in order, and the point (kept
        only when the history records points)."""
        self._rows.extend(row)
        if self._xs is not None and x is not None:
            self._xs.append(x)

    def extend(self, rows: np.ndarray, xs: Sequence[np.ndarray] | None = None) -> None:
        """Add a block of records: ``rows`` (records, len(COLUMNS)) and their points."""
        self._rows.frombytes(np.ascontiguousarray(rows, dtype=np.float64).tobytes())
        if self._xs is not None and xs is not None:
            self._xs.extend(xs)

    @property
    def recorder(self) -> Any:
        """The loop's ``record(row)``: keeps one record, a tuple of the numbers of
        :data:`COLUMNS` (no checks; the fastest way in, for code that writes whole rows).
        The records are packed when the history is next read, or by :meth:`settle`."""
        return self._pending.append

    def settle(self) -> None:
        """Pack the records kept by :attr:`recorder` into the row store (the loop calls
        it every few hundred steps: packed, a record takes 56 bytes, not a tuple's few
        hundred, and the tuples kept stay too few to start a pass of Python's garbage
        collector)."""
        pending = self._pending
        if not pending:
            return
        packed, n = self._packed, len(pending)
        data, mark = b"".join(starmap(_PACK_ROW, pending)), len(packed)
        try:
            packed.frombytes(data)
        except BufferError:  # a numpy view of the store is alive (a frame that an exception
            grown = array("d", packed)  # being handled keeps): a new store, the old one's
            grown.frombytes(data)  # views untouched
            self._packed = grown
            del pending[:n]
        except BaseException:  # Ctrl-C is raised as frombytes returns: packed, the rows
            if len(packed) != mark:  # leave the list (not packed twice on the next read)
                del pending[:n]
            raise
        else:  # (no call between frombytes and this: nothing can interrupt in between)
            del pending[:n]  # (in place: the recorder handed out appends to this list)

    @property
    def _rows(self) -> array[float]:
        """The flat row store (every record, packed)."""
        self.settle()
        return self._packed

    @_rows.setter
    def _rows(self, rows: array[float]) -> None:
        self._pending.clear()
        self._packed = rows

    @property
    def points(self) -> list[np.ndarray] | None:
        """The recorded points, as the list they are appended to (None without
        ``record_x``); a stream replaces it with a list that also writes each point."""
        return self._xs

    @points.setter
    def points(self, points: list[np.ndarray] | None) -> None:
        self._xs = points

    def segment(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The records of steps in [start, stop), as named arrays (a checkpoint segment:
        ``history/rows`` and, with points, ``history/xs``)."""
        table = self._table()
        a, b = (int(i) for i in np.searchsorted(table[:, 0], [start, stop])) if len(
            table) else (0, 0)
        out = {"history/rows": table[a:b].copy()}
        if self._xs is not None:
            xs = self._xs[a:b]
            out["history/xs"] = np.stack(xs) if xs else np.empty((0, self.dim or 0))
        return out

    @classmethod
    def from_segment(cls, arrays: Mapping[str, np.ndarray], dim: int,
                     record_x: bool) -> History:
        """A history of the records in ``arrays`` (:meth:`segment`'s names; rows written
        before ``step_size`` get NaN there)."""
        history = cls(dim, record_x)
        rows = arrays.get("history/rows", np.empty((0, _WIDTH)))
        if rows.shape[1] == _WIDTH - 1:  # written before step_size
            rows = np.hstack([rows, np.full((len(rows), 1), np.nan)])
        xs = list(arrays.get("history/xs", np.empty((0, dim))).copy()) if record_x else None
        history.extend(rows, xs)
        return history

    @property
    def last_step(self) -> int | None:
        """The step of the last record (None before the first)."""
        return int(self._rows[-_WIDTH]) if len(self._rows) >= _WIDTH else None

    def _repair(self) -> None:
        """Make the columns and the x record the same length after an interruption. The
        store is cut where it must be, or copied where a numpy view of it is alive (the
        interrupted frame, which the exception keeps, may hold one: the store cannot be
        resized then)."""
        rows = self._rows
        keep = len(rows) - len(rows) % _WIDTH
        if self._xs is not None:
            whole = min(keep // _WIDTH, len(self._xs))
            del self._xs[whole:]
            keep = whole * _WIDTH
        if keep < len(rows):
            try:
                del rows[keep:]
            except BufferError:
                self._packed = rows[:keep]  # (a slice of an array is a new array)

    # -- reading ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows) // _WIDTH

    def _table(self) -> np.ndarray:
        return np.frombuffer(self._rows, dtype=np.float64).reshape(-1, _WIDTH)

    def column(self, name: str) -> np.ndarray:
        """One column as a new numpy array (int64 for ``step`` and ``nfev``)."""
        if name == "x":
            return self.x
        if name not in COLUMNS:
            raise InvalidArgumentError(f"unknown history column {name!r}; columns: {COLUMNS}")
        col = self._table()[:, COLUMNS.index(name)].copy()
        return col.astype(np.int64) if name in _INT_COLUMNS else col

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names, with ``x`` last when points were recorded."""
        return (*COLUMNS, "x") if self._xs is not None else COLUMNS

    @property
    def step(self) -> np.ndarray:
        return self.column("step")

    @property
    def fun(self) -> np.ndarray:
        return self.column("fun")

    @property
    def grad_norm(self) -> np.ndarray:
        return self.column("grad_norm")

    @property
    def step_norm(self) -> np.ndarray:
        return self.column("step_norm")

    @property
    def nfev(self) -> np.ndarray:
        return self.column("nfev")

    @property
    def elapsed(self) -> np.ndarray:
        return self.column("elapsed")

    @property
    def x(self) -> np.ndarray:
        """The recorded points, shape (rows, n); only with ``record_x=True``."""
        if self._xs is None:
            raise InvalidArgumentError(
                "the points were not recorded: run with record_x=True to keep x at each step"
            )
        if not self._xs:
            return np.empty((0, self.dim or 0))
        return np.stack(self._xs)

    def __repr__(self) -> str:
        extra = ", with x" if self._xs is not None else ""
        return f"<History: {len(self)} rows{extra}>"

    #: the first and the last rows ``print(history)`` shows (the others are counted)
    SHOWN_ROWS: int = 5

    def __str__(self) -> str:
        """The records as an aligned table, the first and last :data:`SHOWN_ROWS` rows
        (``elapsed`` aside; every column is in :meth:`to_pandas` and the exports)."""
        names = [n for n in COLUMNS if n != "elapsed"]
        table = self._table()[:, [COLUMNS.index(n) for n in names]]
        rows = [["..."] * len(names) if i is None else
                [str(int(v)) if n in _INT_COLUMNS else f"{v:.6g}"
                 for n, v in zip(names, table[i], strict=True)]
                for i in head_and_tail(len(table), self.SHOWN_ROWS)]
        head = f"History: {len(table)} row{'s' if len(table) != 1 else ''}" + (
            ", with x" if self._xs is not None else "")
        return head + "\n" + format_table(names, rows, [True] * len(names))

    # -- export -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, list[Any]]:
        """Columns as lists of Python numbers (``x`` as a list of lists if recorded)."""
        out: dict[str, list[Any]] = {name: self.column(name).tolist() for name in COLUMNS}
        if self._xs is not None:
            out["x"] = self.x.tolist()
        return out

    def to_pandas(self) -> Any:
        """A pandas DataFrame with one row per record (``x`` split into x0, x1, ...)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "History.to_pandas needs pandas: pip install pandas"
            ) from exc
        return pd.DataFrame(self._flat_columns())

    def _flat_columns(self) -> dict[str, np.ndarray]:
        cols = {name: self.column(name) for name in COLUMNS}
        if self._xs is not None:
            xs = self.x
            for j in range(xs.shape[1]):
                cols[f"x{j}"] = xs[:, j]
        return cols

    def to_csv(self, path: Target | None = None) -> str:
        """Write CSV (floats in their shortest exact form) to ``path`` (a path or an open
        text file); return the text."""
        cols = self._flat_columns()
        rows = zip(*(c.tolist() for c in cols.values()), strict=False)
        return write_csv(path, cols, ([repr(v) for v in row] for row in rows))

    def to_json(self, path: Target | None = None) -> str:
        """Write JSON to ``path`` (a path or an open text file) and return it; NaN is null
        and infinities are strings."""
        data: dict[str, list[Any]] = {
            name: [_json_number(v) for v in values]
            for name, values in self.to_dict().items() if name != "x"
        }
        if self._xs is not None:
            data["x"] = [[_json_number(v) for v in row] for row in self.x.tolist()]
        text = json.dumps({"format": "optiframe-history", "version": 1, "columns": data})
        write_text(path, text)
        return text

    def to_npz(self, path: str | Path) -> None:
        """Write the columns (and ``x`` if recorded) to a ``.npz`` file; no pickle."""
        arrays: dict[str, Any] = {name: self.column(name) for name in COLUMNS}
        if self._xs is not None:
            arrays["x"] = self.x
        np.savez(path, allow_pickle=False, **arrays)

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def from_npz(cls, path: str | Path) -> History:
        """Load a History written by :meth:`to_npz` (with ``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            columns: dict[str, Any] = {name: data[name].tolist() for name in data.files}
        return cls.from_dict(columns)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> History:
        """A History of the numeric ``columns`` (every name of :data:`COLUMNS`, arrays of
        one length), without per-value conversion: the fast way to build one in code."""
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise InvalidArgumentError(f"history columns missing: {missing}")
        h = cls()
        h._rows = _packed(columns)
        return h

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[Any]]) -> History:
        """Rebuild a History from :meth:`to_dict` output."""
        if "step_size" not in data and all(c in data for c in OLD_COLUMNS):
            data = {**data, "step_size": [math.nan] * len(data["step"])}  # written before it
        missing = [c for c in COLUMNS if c not in data]
        if missing:
            raise InvalidArgumentError(f"history data lacks columns {missing}")
        lengths = {len(data[c]) for c in COLUMNS}
        xs = data.get("x")
        if xs is not None:
            lengths.add(len(xs))
        if len(lengths) != 1:
            raise InvalidArgumentError(f"history columns have different lengths: {lengths}")
        h = cls(record_x=xs is not None)
        for row in zip(*(data[c] for c in COLUMNS), strict=False):
            h._rows.extend(_from_json_number(v) for v in row)
        if xs is not None:
            assert h._xs is not None
            h._xs.extend(np.array([_from_json_number(v) for v in x]) for x in xs)
            h.dim = len(xs[0]) if xs else None
        return h

    @classmethod
    def from_json(cls, source: Target) -> History:
        """Load a History from a JSON file path, an open file or a JSON string."""
        text = read_text(source, isinstance(source, str) and source.lstrip().startswith("{"))
        doc = json.loads(text)
        if doc.get("format") != "optiframe-history":
            raise InvalidArgumentError("not an optiframe history JSON document")
        return cls.from_dict(doc["columns"])

    @classmethod
    def from_csv(cls, source: Target) -> History:
        """Load a History from a CSV file path, an open file or CSV text written by
        :meth:`to_csv`."""
        text = read_text(source, isinstance(source, str) and "\n" in source)
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        rows = [[float(v) for v in row] for row in reader if row]
        cols = {name: [r[i] for r in rows] for i, name in enumerate(header)}
        xnames = [c for c in header if c.startswith("x") and c[1:].isdigit()]
        data: dict[str, Any] = {c: cols[c] for c in COLUMNS if c in cols}
        if xnames:
            data["x"] = [[cols[c][i] for c in xnames] for i in range(len(rows))]
        return cls.from_dict(data)


def _packed(columns: Mapping[str, Any]) -> array[float]:
    """The numeric ``columns`` as a History's flat row store."""
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise InvalidArgumentError(f"history columns missing: {missing}")
    table = np.column_stack([np.asarray(columns[c], dtype=np.float64) for c in COLUMNS])
    rows = array("d")
    rows.frombytes(np.ascontiguousarray(table).tobytes())
    return rows


#: History's row store, as LazyHistory reads it after making its rows
_ROWS = cast(property, History.__dict__["_rows"])


class LazyHistory(History):
    """A History whose rows are made when first read: ``make()`` returns its columns (as
    :meth:`History.from_columns` takes them). A sweep gives each row of a stack one, so a
    table of 100 runs builds only the histories that are read. Pickled or copied, it is a
    plain History."""

    __slots__ = ("_make",)

    def __init__(self, make: Any) -> None:
        self._make = make
        super().__init__()

    @property
    def _rows(self) -> array[float]:
        make = self._make
        if make is not None:
            self._make = None
            self._packed = _packed(make())
        return cast(Any, _ROWS.__get__(self, History))

    @_rows.setter
    def _rows(self, value: array[float]) -> None:
        self._make = None
        _ROWS.__set__(self, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return _plain_history, (self._rows, self._xs, self.dim, self.epoch_log)


def _plain_history(rows: array[float], xs: Any, dim: int | None,
                   epoch_log: list[dict[str, float]]) -> History:
    """A History with these contents (how a LazyHistory is unpickled)."""
    h = History(dim)
    h._rows, h._xs, h.epoch_log = rows, xs, epoch_log
    return h


def _json_number(v: float) -> float | str | None:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _from_json_number(v: Any) -> float:
    return math.nan if v is None else float(v)


__all__ = ["COLUMNS", "OLD_COLUMNS", "History", "LazyHistory", "StartsHistory"]
