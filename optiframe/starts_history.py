"""The record of a multi-start run: :class:`StartsHistory`, one scalar per start and
recorded step (a single start's record is :class:`~optiframe.history.History`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._files import Target, write_csv
from ._table import format_table, head_and_tail
from .errors import InvalidArgumentError


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

    @property
    def stream(self) -> Any:
        """The :class:`~optiframe.stream.HistoryStream` every record also goes to (None:
        none)."""
        return self._stream

    @stream.setter
    def stream(self, stream: Any) -> None:
        self._stream = stream

    def record(self, step: int, index: np.ndarray, fun: np.ndarray, grad_norm: np.ndarray,
               step_norm: np.ndarray, X: np.ndarray | None = None,
               step_size: Any = None) -> None:
        """Record step ``step`` of the starts ``index`` (columns of this history): their
        f, gradient norms, step norms, points (kept with ``record_x``) and step lengths.
        The arrays are kept as they are, not copied: hand over arrays not written again."""
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

    def segment(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The records of steps in [start, stop), as named arrays (a checkpoint segment:
        ``starts_history/steps`` and ``/rows``, and with points ``points/...``)."""
        dense = self._rows
        steps = sorted(s for s in dense if start <= s < stop)
        out = {"starts_history/steps": np.array(steps, dtype=np.int64),
               "starts_history/rows": (np.stack([dense[s] for s in steps]) if steps
                                       else np.empty((0, 4, self.n_starts)))}
        if self._points is not None:
            out.update(_packed_points([(s, index, X) for s in sorted(self._points)
                                       if start <= s < stop for index, X in self._points[s]]))
        return out

    def ended_at(self, step: int, running: np.ndarray) -> dict[str, np.ndarray]:
        """The records of step ``step`` of the starts not in ``running`` (those that
        ended in that step), as :meth:`segment`'s arrays; empty where there are none.

        A checkpoint taken in step k holds the records of the steps before k; those of
        the starts that ended in step k (at its gradient) are their last, which a
        resumed run does not make again."""
        row = self._rows.get(step)
        if row is None:
            return {}
        ended = np.ones(self.n_starts, dtype=bool)
        ended[np.asarray(running, dtype=np.int64)] = False
        seen = ended & (~np.isnan(row[0]) | ~np.isnan(row[1]))
        if not seen.any():
            return {}
        kept = np.where(seen, row, np.nan)
        out = {"starts_history/steps": np.array([step], dtype=np.int64),
               "starts_history/rows": kept[None]}
        if self._points is not None:
            parts = [(step, index[seen[index]], X[seen[index]])
                     for index, X in self._points.get(step, ())]
            out.update(_packed_points([part for part in parts if len(part[1])]))
        return out

    @classmethod
    def from_segment(cls, arrays: Mapping[str, np.ndarray], n_starts: int,
                     record_x: bool) -> StartsHistory:
        """A history of the records in ``arrays`` (:meth:`segment`'s names; rows written
        before ``step_size`` get NaN there)."""
        history = cls(n_starts, record_x)
        if "starts_history/steps" not in arrays:
            return history  # nothing recorded
        for step, row in zip(arrays["starts_history/steps"].tolist(),
                             arrays["starts_history/rows"], strict=True):
            if len(row) == 3:  # written before step_size
                row = np.vstack([row, np.full((1, n_starts), np.nan)])
            history._dense[step] = row.copy()
        if history._points is not None and "points/step" in arrays:
            at = 0
            for step, length in zip(arrays["points/step"].tolist(),
                                    arrays["points/length"].tolist(), strict=True):
                index = arrays["points/index"][at : at + length].copy()
                X = arrays["points/X"][at : at + length].copy()
                history._points.setdefault(step, []).append((index, X))
                at += length
        return history

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

    #: the first and the last rows ``print(history)`` shows (the others are counted)
    SHOWN_ROWS: int = 5

    def __str__(self) -> str:
        """Per recorded step, how many starts were running and the least, median and
        largest f among them, as an aligned table (the first and last
        :data:`SHOWN_ROWS` rows; every start's values are in ``fun``, ``grad_norm``,
        ... and the exports)."""
        steps, fun = self.step, self.fun
        rows: list[list[str]] = []
        for i in head_and_tail(len(steps), self.SHOWN_ROWS):
            if i is None:
                rows.append(["..."] * 5)
                continue
            f = fun[i][~np.isnan(fun[i])]
            rows.append([str(int(steps[i])), str(len(f)),
                         *(f"{v:.6g}" for v in ((f.min(), np.median(f), f.max()) if len(f)
                                                else (math.nan,) * 3))])
        head = f"StartsHistory: {len(steps)} rows x {self.n_starts} starts"
        return head + "\n" + format_table(["step", "running", "least fun", "median fun",
                                           "largest fun"], rows, [True] * 5)

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

    def to_csv(self, path: Target | None = None) -> str:
        """Long-format CSV (see :meth:`to_dict`); written to ``path`` (a path or an open
        text file) when given."""
        d = self.to_dict()
        rows = zip(*d.values(), strict=True)
        return write_csv(path, d, ([repr(v) for v in row] for row in rows))


def _packed_points(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Recorded points, (step, start indices, points) each, as a segment's arrays."""
    return {"points/step": np.array([s for s, _, _ in parts], dtype=np.int64),
            "points/length": np.array([len(i) for _, i, _ in parts], dtype=np.int64),
            "points/index": (np.concatenate([i for _, i, _ in parts]) if parts
                             else np.empty(0, dtype=np.int64)),
            "points/X": (np.concatenate([X for _, _, X in parts]) if parts
                         else np.empty((0, 0)))}
