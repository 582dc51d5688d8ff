"""Trials of f alone, beyond a line search's own: a row takes a point where f decreased
enough (Armijo's sufficient decrease) or, going farther, lower still, and the gradient
there is left to the next step (a row of NaN).

* :func:`probe`: trials from a lengthened first one down to one that promises f's
  rounding, for a row whose first trial promised a decrease lost in that rounding and
  found no step (it has shown nothing about f yet);
* :func:`values_only`: a search the budget stopped with evaluations left, too few for a
  trial and its gradient, spends them on f alone: backtracking to a point of sufficient
  decrease, then, where no backtracking was needed, doubling the length while f goes on
  decreasing. The budget then cannot pay for another step: the run ends ``max_nfev``
  there, at a lower point than the search's start, where before those evaluations went
  unspent;
* :class:`Farther`: Armijo's search that, where its first length decreased f enough,
  goes on doubling it while f decreases: how far f can be lowered along a direction
  (the finer checks' search, :func:`~optiframe.line_step.searched_along`), not a step.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from .interpolation import quadratic_minimizer
from .linesearch import (
    BUDGET,
    CLOCK,
    Armijo,
    LineSearch,
    SearchResult,
    SearchTask,
    along,
    joined,
    task_rows,
)
from .numerics import einsum


def probe(task: SearchTask, longer: np.ndarray, least: np.ndarray) -> SearchResult:
    """A short :class:`~optiframe.linesearch.Armijo` search (``c1 = 1e-4``, along the path
    the bounds leave) for each row whose first length was made ``longer`` (the others
    have shown what they can), from that length down to the row's ``least`` (the length
    that promises one rounding of f), within the budget and the time. A single trial at
    the longest length would step across a narrow valley whose floor a shorter one
    reaches (a decrease of 2.6 roundings at half that length, in Rosenbrock's valley at
    |x| = 1e7)."""
    rows = np.flatnonzero(longer)
    if not len(rows):
        return joined(task, [])
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        res = Armijo(c1=1e-4, shrink=0.5).search(task_rows(task, rows), shortest=least[rows])
    return joined(task, [(rows, res)])


def values_only(task: SearchTask, res: SearchResult, costs: Any, index: np.ndarray,
                errors: dict[int, BaseException], search: LineSearch,
                ) -> tuple[np.ndarray, SearchResult] | None:
    """The rows of ``res`` that the budget stopped without a step, with evaluations left
    but too few for a trial and its gradient (``costs`` each), and what backtracking on f
    alone found for them (from the length their search would have tried next: halving to
    the first sufficient decrease, or, where that length decreased f enough, doubling it
    while f goes on decreasing; within what is left and the time; a row that finds no
    lower f stays stopped by the budget, or by the clock); None where there are none.
    Rows whose f raised (``errors``, by the run's row ``index``) spend nothing more; the
    backtracking asks for the run's ``search``'s sufficient decrease (its ``c1``)."""
    if task.budget is None or res.stopped is None:
        return None
    by_budget = res.stopped == BUDGET
    if not by_budget.any():
        return None  # (every step of a run with a budget asks: most stop for no budget)
    rest = task.budget - (res.nfev + res.njev * costs)
    tail = ~res.ok & by_budget & (rest >= 1)
    if errors:
        tail &= ~np.isin(index, list(errors))
    rows = np.flatnonzero(tail)
    if not len(rows):
        return None
    a = res.alpha[rows]
    start = np.where(np.isfinite(a) & (a > 0), a, task.alpha0[rows])
    sub = attrs.evolve(task_rows(task, rows), alpha0=start, budget=rest[rows],
                       gradient_cost=0, cheap_gradients=False)
    c1 = getattr(search, "c1", 1e-4)
    backtracked = Armijo(c1=c1, shrink=0.5, max_trials=int(rest[rows].max())).search(sub)
    found = _doubled(sub, backtracked)[0]
    why = np.where(found.ok, 0, np.where(found.stopped == CLOCK, CLOCK, BUDGET))
    return rows, attrs.evolve(found, stopped=why.astype(np.int8))


@attrs.frozen
class Farther(Armijo):
    """:class:`~optiframe.linesearch.Armijo`'s backtracking, then, where its first length
    decreased f enough, twice the length while f goes on decreasing, then the vertex of
    the parabola through the last three lengths (or, where the first length overshot,
    the quadratic's minimizer short of it; within the budget and the time): a verdict
    that f cannot be lowered beyond its rounding is overturned by the lowest f along the
    direction, which a first sufficient decrease of 90 roundings may be far from (1650
    roundings 30 times farther, in Rosenbrock at |x| = 5e15), and where doubling stopped,
    up to twice short of it, 13 % below it (874 roundings against 1007 at |x| = 1e16)."""

    def search(self, task: SearchTask, shortest: np.ndarray | None = None) -> SearchResult:
        res = super().search(task, shortest)
        doubled, before, rose = _doubled(task, res)
        nearer = _nearer(task, res, doubled)  # (a first length past the minimum)
        first = np.isnan(before)  # (the first doubling rose: the parabola's left end is 0)
        before = np.where(nearer.alpha != doubled.alpha, np.nan,
                          np.where(first, task.F, before))
        return _vertex(task, nearer, np.where(first, 0.0, 0.5), before, rose)


def _nearer(task: SearchTask, first: SearchResult, res: SearchResult) -> SearchResult:
    """``res`` with each row whose first length decreased f enough and twice it did not
    going back to the minimizer of the quadratic through f(x), its slope and that f,
    where it is shorter and lowers f: a first step that overshoots the minimum along
    the direction (one trial, within the budget and the time)."""
    # (accepted at once, and the doubling, tried, rose)
    rows = np.flatnonzero(res.ok & (first.nfev == 1) & (res.nfev > 1)
                          & (res.alpha == task.alpha0))
    if not len(rows) or task.out_of_time():
        return res
    slope = einsum("ij,ij->i", task.G[rows], task.D[rows])
    a = res.alpha[rows]
    q = quadratic_minimizer(0.0, task.F[rows], slope, a, res.F[rows])
    can = np.isfinite(q) & (q > 0) & (q < a) & task.affordable(rows, res.nfev, res.njev, 1)
    return _lower_at(task, res, rows[can], q[can])


def _lower_at(task: SearchTask, res: SearchResult, rows: np.ndarray,
              q: np.ndarray) -> SearchResult:
    """``res`` with rows ``rows`` tried once more, at lengths ``q``, and moved there where
    f is lower (the trial counted either way)."""
    if not len(rows):
        return res
    with np.errstate(invalid="ignore", over="ignore"):
        trial = along(task, rows, q)
        F_t = np.asarray(task.values(trial, rows), dtype=float)
    nfev = res.nfev.copy()
    nfev[rows] += 1
    lower = np.isfinite(F_t) & (F_t < res.F[rows])
    alpha, X, F = res.alpha.copy(), res.X.copy(), res.F.copy()
    rows = rows[lower]
    alpha[rows], X[rows], F[rows] = q[lower], trial[lower], F_t[lower]
    return attrs.evolve(res, alpha=alpha, X=X, F=F, nfev=nfev)


def _vertex(task: SearchTask, res: SearchResult, left: np.ndarray, before: np.ndarray,
            rose: np.ndarray) -> SearchResult:
    """``res`` with each row whose doubling rose trying the vertex of the parabola
    through its last three lengths, taken where it lowers f: ``left`` times b, b and
    2 b, where b is the row's length in ``res`` (``left`` 1/2, or 0 where the first
    doubling rose), with f ``before``, at b, and where it ``rose``. Doubling stops up to
    twice short of the lowest f along the direction (one trial, within the budget and
    the time)."""
    rows = np.flatnonzero(res.ok & np.isfinite(before) & np.isfinite(rose))
    if not len(rows) or task.out_of_time():
        return res
    rows = rows[task.affordable(rows, res.nfev, res.njev, 1)]
    if not len(rows):
        return res
    b, fa, fb, fc = res.alpha[rows], before[rows], res.F[rows], rose[rows]
    w = 1.0 - left[rows]  # (b - a) / b
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # (c = 2 b: the vertex b - ((b-a)^2 (fb-fc) - (b-c)^2 (fb-fa)) /
        # (2 ((b-a) (fb-fc) - (b-c) (fb-fa))))
        q = b - 0.5 * b * (w * w * (fb - fc) - (fb - fa)) / (w * (fb - fc) + (fb - fa))
        can = np.isfinite(q) & (q > left[rows] * b) & (q < 2.0 * b) & (q != b)
    return _lower_at(task, res, rows[can], q[can])


def _doubled(task: SearchTask, res: SearchResult,
             ) -> tuple[SearchResult, np.ndarray, np.ndarray]:
    """``res`` with each row whose first trial decreased f enough (an unshortened
    length) going on to twice the length while that lowers f and evaluations are left
    (in :func:`values_only` they are the budget's last, and would go unspent); and each
    row's f at half its final length where the doubling lowered f at least once and at
    twice it where that was tried and did not (NaN otherwise)."""
    alpha, X, F, nfev = res.alpha.copy(), res.X.copy(), res.F.copy(), res.nfev.copy()
    before, rose = np.full(len(F), np.nan), np.full(len(F), np.nan)
    active = np.flatnonzero(res.ok & (alpha == task.alpha0))
    while len(active):
        a = 2.0 * alpha[active]
        can = task.affordable(active, nfev, res.njev, 1)
        if task.project is None:  # (along a projected path any length is feasible)
            can &= a <= task.alpha_max[active]
        active, a = active[can], a[can]
        if not len(active) or task.out_of_time():
            break
        with np.errstate(invalid="ignore", over="ignore"):
            trial = along(task, active, a)
            F_t = np.asarray(task.values(trial, active), dtype=float)
        nfev[active] += 1
        lower = np.isfinite(F_t) & (F_t < F[active])
        rose[active[~lower]] = F_t[~lower]
        active = active[lower]
        before[active] = F[active]
        X[active], F[active], alpha[active] = trial[lower], F_t[lower], a[lower]
    return attrs.evolve(res, alpha=alpha, X=X, F=F, nfev=nfev), before, rose
