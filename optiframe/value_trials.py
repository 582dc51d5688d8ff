"""Trials of f alone, beyond a line search's own: each takes the first point where f
decreases enough (Armijo's sufficient decrease) and leaves the gradient there to the next
step (a row of NaN).

* :func:`probe`: one trial, lengthened, for a row whose first trial promised a decrease
  lost in f's rounding and found no step (it has shown nothing about f yet);
* :func:`values_only`: a search the budget stopped with evaluations left, too few for a
  trial and its gradient, spends them backtracking on f alone. The budget then cannot pay
  for another step: the run ends ``max_nfev`` there, at a lower point than the search's
  start, where before those evaluations went unspent.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from .linesearch import BUDGET, CLOCK, Armijo, SearchResult, SearchTask, task_rows
from .numerics import einsum


def probe(task: SearchTask, longer: np.ndarray) -> SearchResult:
    """One trial for each row whose first length was made ``longer`` (the others have
    shown what they can), taken where f decreases enough (``c1 = 1e-4``, along the path
    the bounds leave); one evaluation a row, within the budget and the time."""
    K = len(task.F)
    nfev, ok = np.zeros(K, dtype=np.int64), np.zeros(K, dtype=bool)
    stopped = np.zeros(K, dtype=np.int8)
    active = np.flatnonzero(longer)
    if len(active) and task.out_of_time():
        stopped[active], active = CLOCK, active[:0]
    elif len(active) and task.budget is not None:
        stopped[active[task.budget[active] < 1]] = BUDGET
        active = active[task.budget[active] >= 1]
    X, F = task.X.copy(), task.F.copy()
    alpha = np.full(K, math.nan)
    if len(active):
        with np.errstate(invalid="ignore", over="ignore"):
            trial = task.X[active] + task.alpha0[active, None] * task.D[active]
            if task.project is not None:
                trial = task.project(trial)
            trial.flags.writeable = False
            F_t = np.asarray(task.values(trial, active), dtype=float)
            nfev[active] = 1
            moved = einsum("ij,ij->i", task.G[active], trial - task.X[active])
            good = np.isfinite(F_t) & (F_t <= task.F[active] + 1e-4 * moved)
        rows = active[good]
        X[rows], F[rows], alpha[rows], ok[rows] = trial[good], F_t[good], task.alpha0[rows], True
    return SearchResult(alpha, X, F, np.full(task.X.shape, math.nan), nfev,
                        np.zeros(K, dtype=np.int64), ok, stopped)


def values_only(task: SearchTask, res: SearchResult, costs: Any, index: np.ndarray,
                errors: dict[int, BaseException], c1: float,
                ) -> tuple[np.ndarray, SearchResult] | None:
    """The rows of ``res`` that the budget stopped without a step, with evaluations left
    but too few for a trial and its gradient (``costs`` each), and what backtracking on f
    alone found for them (from the length their search would have tried next, halving,
    within what is left and the time; a row that finds no lower f stays stopped by the
    budget, or by the clock); None where there are none. Rows whose f raised
    (``errors``, by the run's row ``index``) spend nothing more."""
    if task.budget is None or res.stopped is None:
        return None
    rest = task.budget - (res.nfev + res.njev * costs)
    tail = ~res.ok & (np.asarray(res.stopped) == BUDGET) & (rest >= 1)
    if errors:
        tail &= ~np.isin(index, list(errors))
    rows = np.flatnonzero(tail)
    if not len(rows):
        return None
    a = res.alpha[rows]
    start = np.where(np.isfinite(a) & (a > 0), a, task.alpha0[rows])
    sub = attrs.evolve(task_rows(task, rows), alpha0=start, budget=rest[rows],
                       gradient_cost=0, cheap_gradients=False)
    found = Armijo(c1=c1, shrink=0.5, max_trials=int(rest[rows].max())).search(sub)
    why = np.where(found.ok, 0, np.where(np.asarray(found.stopped) == CLOCK, CLOCK, BUDGET))
    return rows, attrs.evolve(found, stopped=why.astype(np.int8))
