"""The run's state: one value holding a run at the top of a step.

:class:`RunState` holds the running starts (their points, values, counters, best points,
optimizer, schedule and random states), the starts that have finished, and the position
in the data of a training run. The step loop (:mod:`optiframe.loop`) advances it a step
at a time; a checkpoint (:mod:`optiframe.checkpoint`) saves and restores exactly it.

Two shapes of the same value:

* a *point* run (one ``x0``) keeps its one start as a point of shape (n,) and Python
  numbers, so that a single start costs no per-row array bookkeeping;
* a *stack* run keeps K >= 1 starts as rows: ``X`` is (K, n), ``F`` (K,), and every
  per-start array and optimizer-state leaf has K rows. Rows that finish are removed.

Arrays held here are never modified in place: each step makes new ones. So the state at
the top of a step is a set of references, and saving it costs no copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ._tree import tree_map
from .outcome import Finished
from .signals import deferred
from .status import Status, message

#: The per-start fields of a state, in the order checkpoints keep them.
ROW_FIELDS = ("X", "F", "SN", "nfev", "njev", "bad", "best_X", "best_F", "f_limit", "index",
              "x0", "step_size", "resets", "fd_level", "fd_shown")


def per_row(leaf: Any, n_rows: int) -> bool:
    """Whether a state-tree leaf has one entry per row."""
    return isinstance(leaf, np.ndarray) and leaf.ndim >= 1 and leaf.shape[0] == n_rows


def take_rows(tree: Any, keep: np.ndarray, n_rows: int) -> Any:
    """Keep rows ``keep`` (a mask or indices) of every (n_rows, ...) array in a state tree."""
    return tree_map(lambda a: a[keep] if per_row(a, n_rows) else a, tree)


def keep_rows(new: Any, old: Any, rows: np.ndarray, n_rows: int) -> Any:
    """``new`` state tree with the rows ``rows`` (a mask) taken from ``old`` instead.

    Per-start arrays are merged row by row; anything shared by all rows (a step
    counter) is kept from ``old`` only when every row is kept.
    """
    def merge(a: Any, b: Any) -> Any:
        if per_row(a, n_rows):
            return np.where(rows.reshape((-1,) + (1,) * (a.ndim - 1)), b, a)
        return b if rows.all() else a

    return tree_map(merge, new, old)


class BatchCursor(NamedTuple):
    """Where a training run is in its data: the epoch (1-based), the position of the next
    batch in it, the batch generator's state at the epoch's start, and per start the
    summed batch losses and sample count of the epoch so far. A new one each step (a
    tuple: cheap to make, and committed with the step)."""

    epoch: int = 1
    position: int = 0
    epoch_rng: dict[str, Any] | None = None
    total: Any = 0.0
    count: Any = 0


def _settled_counter(slot: str, doc: str) -> Any:
    """A :class:`RunState` counter kept in ``slot``: read or written, it first adds what
    every row spent since (:meth:`RunState.put`'s ``spent``)."""
    def get(s: RunState) -> Any:
        if s._due is not None:
            s._settle_due(s._due)
        return getattr(s, slot)

    def set_(s: RunState, value: Any) -> None:
        if s._due is not None:
            s._settle_due(s._due)
        setattr(s, slot, value)

    return property(get, set_, doc=doc)


class RunState:
    """A run at the top of a step (see the module docstring); the loop advances it."""

    __slots__ = (*(f for f in ROW_FIELDS if f not in ("nfev", "njev")), "_due", "_nfev",
                 "_njev", "cursor", "elapsed", "finished", "grad", "k", "listener", "n", "opt",
                 "point", "rng", "sched")
    # one point: floats and (n,) arrays; K rows: arrays with K entries (see the module)
    X: Any
    F: Any
    SN: Any
    _nfev: Any  # the counters nfev and njev (below), without what is due to them
    _njev: Any
    bad: Any
    best_X: Any
    best_F: Any
    f_limit: Any
    index: np.ndarray
    x0: Any
    step_size: Any  # the step length the last line search accepted (NaN: none)
    resets: Any  # directions that were no descent ones, reset to -g (line searches)
    fd_level: Any  # adaptive finite differences: 0 forward, 1 central, 2 Richardson
    fd_shown: Any  # adaptive: a coarser level's search showed f's precision at X (0 or 1)
    grad: Any  # the gradient a line search computed at X, for the next step (or None)

    def __init__(self, point: bool, n: int) -> None:
        self.point = point
        self.n = n
        self.k = 0
        self._due: tuple[int, int] | None = None  # what every row spent that nfev and
        # njev do not hold yet (put's spent; None: nothing)
        self.elapsed = 0.0
        self.finished: list[Finished] = []
        self.opt: Any = None
        self.sched: Any = ()
        self.rng: Any = None
        self.cursor: BatchCursor | None = None
        self.grad = None
        #: called with each block of starts as they finish (not part of the saved state)
        self.listener: Any = None

    # -- the rows --------------------------------------------------------------------------
    nfev = _settled_counter("_nfev", "The evaluations of f each row has spent (a number for "
                            "a point run).")
    njev = _settled_counter("_njev", "The evaluations of the gradient each row has spent.")

    def _settle_due(self, due: tuple[int, int]) -> None:
        """Add to the counters ``due``, what every row spent since (:meth:`put`'s
        ``spent``)."""
        self._nfev, self._njev, self._due = self._nfev + due[0], self._njev + due[1], None

    @property
    def running(self) -> int:
        """How many starts are still running."""
        return len(self.index)

    def start(self, X: np.ndarray, F: Any, index: np.ndarray, f_limit: Any,
              opt: Any) -> None:
        """Set the rows at step 0: points ``X`` (n,) or (K, n) with values ``F``."""
        if self.point:
            self.X, self.x0, self.F, self.best_X, self.best_F = X, X, F, X, F
            self.SN, self.nfev, self.njev, self.bad = float("nan"), 1, 0, 0
            self.step_size, self.resets, self.fd_level, self.fd_shown = float("nan"), 0, 0, 0
        else:
            K = X.shape[0]
            self.X, self.x0, self.F, self.best_X, self.best_F = X, X, F, X, F
            self.SN = np.full(K, np.nan)
            self.step_size = np.full(K, np.nan)
            self.resets = np.zeros(K, dtype=np.int64)
            self.fd_level = np.zeros(K, dtype=np.int64)
            self.fd_shown = np.zeros(K, dtype=np.int64)
            self.nfev = np.ones(K, dtype=np.int64)
            self.njev = np.zeros(K, dtype=np.int64)
            self.bad = np.zeros(K, dtype=np.int64)
        self.index, self.f_limit, self.opt = np.asarray(index, dtype=np.int64), f_limit, opt

    def hot(self) -> tuple[Any, ...]:
        """What the loop keeps in locals: k, X, F, SN, nfev, njev, opt, best_X, best_F,
        the schedules' and random states, the skip counts, the batch cursor, the
        divergence limits, and how many rows run."""
        return (self.k, self.X, self.F, self.SN, self.nfev, self.njev, self.opt,
                self.best_X, self.best_F, self.sched, self.rng, self.bad, self.cursor,
                self.f_limit, self.step_size, self.grad, len(self.index))

    def committed(self) -> tuple[Any, ...]:
        """What :meth:`put` writes, as it takes it (``put(*s.committed())`` puts the state
        back where it was): a step undone after its commit."""
        return (self.k, self.X, self.F, self.SN, self.nfev, self.njev, self.opt,
                self.best_X, self.best_F, self.sched, self.cursor, self.bad, self.step_size,
                self.grad, (self.resets, self.fd_level, self.fd_shown))

    def put(self, k: int, X: Any, F: Any, SN: Any, nfev: Any, njev: Any, opt: Any,
            best_X: Any, best_F: Any, sched: Any, cursor: BatchCursor | None,
            bad: Any, step_size: Any, grad: Any,
            searched: tuple[Any, Any, Any] | None = None,
            spent: tuple[int, int] | None = None) -> RunState:
        """Commit a step: every value that changes with it, in one assignment, so that an
        interruption sees the step whole or not at all (``searched``: a line search's
        resets, finite-difference levels and what they showed, committed with it).
        ``spent``: instead of ``nfev`` and ``njev``, the evaluations every row spent in the
        step, added to the counters when they are next read (a stack's fixed step then
        costs no two additions of K counters)."""
        due = self._due
        if spent is not None:
            nfev, njev = self._nfev, self._njev
            due = spent if due is None else (due[0] + spent[0], due[1] + spent[1])
        if searched is None:
            (self.k, self.X, self.F, self.SN, self._nfev, self._njev, self._due, self.opt,
             self.best_X, self.best_F, self.sched, self.cursor, self.bad, self.step_size,
             self.grad) = (k, X, F, SN, nfev, njev, due, opt, best_X, best_F, sched, cursor,
                           bad, step_size, grad)
        else:
            (self.k, self.X, self.F, self.SN, self._nfev, self._njev, self._due, self.opt,
             self.best_X, self.best_F, self.sched, self.cursor, self.bad, self.step_size,
             self.grad, self.resets, self.fd_level, self.fd_shown) = (
                k, X, F, SN, nfev, njev, due, opt, best_X, best_F, sched, cursor, bad,
                step_size, grad, *searched)
        return self

    def take(self, keep: np.ndarray) -> None:
        """Keep only the rows ``keep`` (a boolean mask) of a stack: all its fields or, cut
        by Ctrl-C, none (the rows are taken first, then set with Ctrl-C held)."""
        n_rows = len(self.index)
        rows = [getattr(self, name)[keep] for name in ROW_FIELDS]
        grad = None if self.grad is None else self.grad[keep]
        opt = take_rows(self.opt, keep, n_rows)
        sched = take_rows(self.sched, keep, n_rows)
        rng = (None if self.rng is None else
               [g for g, kept in zip(self.rng, keep.tolist(), strict=True) if kept])
        cursor = self.cursor
        if cursor is not None and isinstance(cursor.total, np.ndarray):
            cursor = cursor._replace(total=cursor.total[keep], count=cursor.count[keep])
        with deferred():
            for name, value in zip(ROW_FIELDS, rows, strict=True):
                setattr(self, name, value)
            self.grad, self.opt, self.sched, self.rng, self.cursor = (grad, opt, sched, rng,
                                                                      cursor)

    def finish(self, rows: np.ndarray | Sequence[int], verdicts: Sequence[tuple[Status, str]],
               x: Any = None, fun: Any = None, tell: bool = True) -> Finished | None:
        """End the starts at positions ``rows`` with their ``(status, detail)`` verdicts.

        Their final point and value are ``x`` and ``fun`` (one per row; default: the
        current rows). The finished starts join :attr:`finished` and leave the rows; the
        :attr:`listener` is told of them (``tell``; else the caller tells it, by
        :meth:`tell`, of the block returned).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return None
        X = self.X if x is None else x
        F = self.F if fun is None else fun
        if self.point:
            block = Finished(index=[self.index[0]], x0=self.x0[None], x=np.asarray(X)[None],
                             fun=[F], nit=[self.k], nfev=[self.nfev], njev=[self.njev],
                             status=[verdicts[0][0]],
                             message=[_with_resets(message(*verdicts[0]), self.resets)])
            self.finished.append(block)
            self.index = self.index[:0]
            if tell:
                self.tell(block)
            return block
        X, F = np.asarray(X), np.asarray(F, dtype=float)
        verdicts = list(verdicts)
        if verdicts.count(verdicts[0]) == len(verdicts):  # (rows stopping alike: one text)
            status, texts = [verdicts[0][0]] * len(rows), [message(*verdicts[0])] * len(rows)
        else:
            said: dict[tuple[Status, str], str] = {}  # rows stopping for one reason share it
            status = [v[0] for v in verdicts]
            texts = [said[v] if v in said else said.setdefault(v, message(*v)) for v in verdicts]
        resets = self.resets[rows]
        if resets.any():
            texts = [_with_resets(t, n) for t, n in zip(texts, resets.tolist(), strict=True)]
        block = Finished(index=self.index[rows], x0=self.x0[rows], x=X[rows], fun=F[rows],
                         nit=np.full(len(rows), self.k), nfev=self.nfev[rows],
                         njev=self.njev[rows], status=status, message=texts)
        keep = np.ones(len(self.index), dtype=bool)
        keep[rows] = False
        self.finished.append(block)
        self.take(keep)
        if tell:
            self.tell(block)
        return block

    def tell(self, block: Finished | None) -> None:
        """Tell the :attr:`listener` (the start-end callbacks) of finished starts."""
        if block is not None and self.listener is not None:
            self.listener(block)

    def finish_all(self, status: Status, detail: str) -> None:
        """End every running start with the same verdict (at their current points)."""
        self.finish(np.arange(self.running), [(status, detail)] * self.running)


def _with_resets(text: str, resets: int) -> str:
    """A finished start's message, noting the line search's resets of its direction."""
    if not resets:
        return text
    times = "once" if resets == 1 else f"{resets} times"
    return (f"{text} The optimizer's direction was no descent direction {times}: the line "
            "search reset it to the steepest descent.")

