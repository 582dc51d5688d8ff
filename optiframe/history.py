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
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from .errors import InvalidArgumentError

COLUMNS: tuple[str, ...] = ("step", "fun", "grad_norm", "step_norm", "nfev", "elapsed",
                             "step_size")
#: The columns of histories written before ``step_size`` existed (6 numbers a row).
OLD_COLUMNS = COLUMNS[:6]
_INT_COLUMNS = frozenset({"step", "nfev"})
_WIDTH = len(COLUMNS)


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

    __slots__ = ("_rows", "_xs", "dim", "epoch_log")

    def __init__(self, dim: int | None = None, record_x: bool = False) -> None:
        self._rows = array("d")
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

    # -- recording (used by the Runner) -------------------------------------------------
    def _repair(self) -> None:
        """Make the columns and the x record the same length after an interruption."""
        del self._rows[len(self._rows) - len(self._rows) % _WIDTH :]
        if self._xs is not None:
            rows = len(self._rows) // _WIDTH
            del self._xs[rows:]
            del self._rows[len(self._xs) * _WIDTH :]

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

    def to_csv(self, path: str | Path | None = None) -> str:
        """Write CSV (floats in their shortest exact form) to ``path``; return the text."""
        cols = self._flat_columns()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        for row in zip(*(c.tolist() for c in cols.values()), strict=False):
            writer.writerow([repr(v) for v in row])
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        """Write JSON to ``path`` and return it; NaN is null and infinities are strings."""
        data: dict[str, list[Any]] = {
            name: [_json_number(v) for v in values]
            for name, values in self.to_dict().items() if name != "x"
        }
        if self._xs is not None:
            data["x"] = [[_json_number(v) for v in row] for row in self.x.tolist()]
        text = json.dumps({"format": "optiframe-history", "version": 1, "columns": data})
        if path is not None:
            Path(path).write_text(text)
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
    def from_json(cls, source: str | Path) -> History:
        """Load a History from a JSON file path or a JSON string."""
        text = source if isinstance(source, str) and source.lstrip().startswith("{") else (
            Path(source).read_text()
        )
        doc = json.loads(text)
        if doc.get("format") != "optiframe-history":
            raise InvalidArgumentError("not an optiframe history JSON document")
        return cls.from_dict(doc["columns"])

    @classmethod
    def from_csv(cls, source: str | Path) -> History:
        """Load a History from a CSV file path or CSV text written by :meth:`to_csv`."""
        text = source if isinstance(source, str) and "\n" in source else Path(source).read_text()
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


#: the slot that holds a History's rows (LazyHistory fills it when first read)
_ROWS_SLOT: Any = History.__dict__["_rows"]


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
            _ROWS_SLOT.__set__(self, _packed(make()))
        return cast(Any, _ROWS_SLOT.__get__(self, type(self)))

    @_rows.setter
    def _rows(self, value: array[float]) -> None:
        _ROWS_SLOT.__set__(self, value)

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


class StartsHistory:
    """The record of a multi-start run: per recorded step, one scalar per start.

    ``fun``, ``grad_norm`` and ``step_norm`` are (rows, K) arrays, NaN where a start had
    already stopped; ``step`` is (rows,). Rows are the steps 0, every, 2 every, ...; each
    start's final point is in its :class:`~optiframe.result.StartOutcome`.
    """

    __slots__ = ("_dense", "_pending", "_points", "_stream", "epoch_log", "n_starts")

    def __init__(self, n_starts: int, record_x: bool = False) -> None:
        self.n_starts = n_starts
        #: one dict per start and finished epoch of a training run (start, epoch, step,
        #: train_loss and the epoch callbacks' metrics)
        self.epoch_log: list[dict[str, float]] = []
        #: step -> (start indices, points), only with record_x
        self._points: dict[int, list[tuple[np.ndarray, np.ndarray]]] | None = (
            {} if record_x else None)
        #: step -> (4, K) array of fun, grad_norm, step_norm, step_size
        self._dense: dict[int, np.ndarray] = {}
        #: records not yet scattered into rows: (step, start indices, fun, grad_norm,
        #: step_norm); the engine hands over its arrays, so recording costs no copy.
        self._pending: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                  Any]] = []
        #: a :class:`~optiframe.stream.HistoryStream` the records also go to, if any
        self._stream: Any = None

    def _record(self, step: int, index: np.ndarray, fun: np.ndarray, grad_norm: np.ndarray,
                step_norm: np.ndarray, X: np.ndarray | None = None,
                step_size: Any = None) -> None:
        self._pending.append((step, index, fun, grad_norm, step_norm, step_size))
        if self._stream is not None:
            self._stream.starts(step, index, fun, grad_norm, step_norm,
                                X if self._points is not None else None, step_size)
        if self._points is not None and X is not None:
            self._points.setdefault(step, []).append((index, X))

    @property
    def x(self) -> np.ndarray:
        """The recorded points, shape (rows, K, n), NaN where a start had stopped; only
        with ``record_x=True``."""
        if self._points is None:
            raise InvalidArgumentError(
                "the points were not recorded: run with record_x=True to keep x at each step")
        steps = sorted(self._rows)
        n = next((X.shape[1] for parts in self._points.values() for _, X in parts), 0)
        out = np.full((len(steps), self.n_starts, n), np.nan)
        for r, step in enumerate(steps):
            for index, X in self._points.get(step, ()):
                out[r, index] = X
        return out

    @property
    def _rows(self) -> dict[int, np.ndarray]:
        pending, dense = self._pending, self._dense
        i = 0
        while i < len(pending):
            # a run of new steps recorded for the same starts (the same index array, as
            # while no start ends) is scattered as one block
            index, sized = pending[i][1], pending[i][5] is not None
            j = i
            while (j < len(pending) and pending[j][1] is index and pending[j][0] not in dense
                   and (pending[j][5] is not None) == sized):
                j += 1
            if j - i > 1:
                block = np.full((j - i, 4, self.n_starts), np.nan)
                for c in range(4 if sized else 3):
                    block[:, c, index] = np.array([rec[2 + c] for rec in pending[i:j]])
                for rec, block_row in zip(pending[i:j], block, strict=True):
                    dense[rec[0]] = block_row
                i = j
                continue
            step, index, fun, grad_norm, step_norm, step_size = pending[i]
            row = dense.get(step)
            if row is None:
                row = dense[step] = np.full((4, self.n_starts), np.nan)
            row[0, index] = fun
            row[1, index] = grad_norm
            row[2, index] = step_norm
            if step_size is not None:
                row[3, index] = step_size
            i += 1
        pending.clear()
        return dense

    def merge(self, other: StartsHistory, index: np.ndarray) -> None:
        """Take the records of ``other`` (a worker's history, whose column j is start
        ``index[j]``) as those starts' records."""
        index = np.asarray(index, dtype=np.int64)
        for step, row in other._rows.items():
            mine = self._rows.get(step)
            if mine is None:
                mine = self._dense[step] = np.full((4, self.n_starts), np.nan)
            seen = ~np.isnan(row[0]) | ~np.isnan(row[1])
            mine[:, index[seen]] = row[:, seen]
        if self._points is not None and other._points is not None:
            for step, parts in other._points.items():
                for local, X in parts:
                    self._points.setdefault(step, []).append((index[local], X))
        self.epoch_log.extend(other.epoch_log)

    def stream_to(self, stream: Any, index: np.ndarray) -> None:
        """Write this (worker's) history to ``stream``, column j as start ``index[j]``."""
        index = np.asarray(index, dtype=np.int64)
        points = self._points or {}
        for step in sorted(self._rows):
            row = self._rows[step]
            seen = np.flatnonzero(~np.isnan(row[0]) | ~np.isnan(row[1]))
            X = None
            if self._points is not None:
                parts = points.get(step, [])
                X = np.concatenate([x for _, x in parts]) if parts else None
            stream.starts(step, index[seen], row[0, seen], row[1, seen], row[2, seen], X,
                          row[3, seen])
        for entry in self.epoch_log:
            stream.epoch(entry)

    @property
    def epochs(self) -> dict[str, np.ndarray]:
        """Per-epoch columns of a multi-model training run, one row per start and epoch:
        start, epoch, step, train_loss and every metric the epoch callbacks returned."""
        names: list[str] = []
        for row in self.epoch_log:
            names.extend(n for n in row if n not in names)
        return {n: np.array([row.get(n, np.nan) for row in self.epoch_log]) for n in names}

    def __len__(self) -> int:
        return len(self._rows)

    def _stacked(self, i: int) -> np.ndarray:
        return self.table()[:, i, :]

    def table(self) -> np.ndarray:
        """Every record at once: a (rows, 4, K) array of fun, grad_norm, step_norm and
        step_size per recorded step (the rows of :attr:`step`) and start."""
        rows = self._rows
        if not rows:
            return np.empty((0, 4, self.n_starts))
        return np.stack([rows[s] for s in sorted(rows)])

    @property
    def step(self) -> np.ndarray:
        return np.array(sorted(self._rows), dtype=np.int64)

    @property
    def fun(self) -> np.ndarray:
        return self._stacked(0)

    @property
    def grad_norm(self) -> np.ndarray:
        return self._stacked(1)

    @property
    def step_norm(self) -> np.ndarray:
        return self._stacked(2)

    @property
    def step_size(self) -> np.ndarray:
        return self._stacked(3)

    def __repr__(self) -> str:
        return f"<StartsHistory: {len(self)} rows x {self.n_starts} starts>"

    def to_dict(self) -> dict[str, list[Any]]:
        """Long format: one entry per (step, start) where the start was running."""
        out: dict[str, list[Any]] = {"step": [], "start": [], "fun": [], "grad_norm": [],
                                     "step_norm": [], "step_size": []}
        for s in sorted(self._rows):
            row = self._rows[s]
            for k in np.flatnonzero(~np.isnan(row[0]) | ~np.isnan(row[1])):
                out["step"].append(s)
                out["start"].append(int(k))
                out["fun"].append(float(row[0, k]))
                out["grad_norm"].append(float(row[1, k]))
                out["step_norm"].append(float(row[2, k]))
                out["step_size"].append(float(row[3, k]))
        return out

    def to_pandas(self) -> Any:
        """A long-format DataFrame: columns step, start, fun, grad_norm, step_norm,
        step_size."""
        import pandas as pd

        return pd.DataFrame(self.to_dict())

    def to_csv(self, path: str | Path | None = None) -> str:
        """Long-format CSV (see :meth:`to_dict`); written to ``path`` when given."""
        d = self.to_dict()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(d)
        for row in zip(*d.values(), strict=True):
            writer.writerow([repr(v) for v in row])
        if path is not None:
            Path(path).write_text(buf.getvalue())
        return buf.getvalue()
