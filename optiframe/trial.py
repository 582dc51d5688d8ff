"""What a step found, and a single start's first strong Wolfe trial taken at once.

:class:`Trial` is what a step length returns for its rows (:mod:`optiframe.line_step`).
:func:`first_accepted` takes a single start's first strong Wolfe trial where it meets
the conditions, without the search's packing, in the search's own arithmetic (the same
bits; tests/unit/test_trial.py runs both ways); where it does not, the search goes
on from what it evaluated (:class:`FirstTrialMemo`), so that no evaluation is made twice.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .numerics import NOISE_UNITS, count_nonzero, einsum
from .problem import Problem, RowError
from .replay import unasked

_EPS = float(np.finfo(float).eps)


class Trial(NamedTuple):
    """What a step length found for its rows: the new points ``X`` and values ``F`` (a
    row that found no step keeps its own), the accepted lengths ``A`` (NaN: none), the
    gradients there ``G`` (NaN rows where the search computed none; None for a point
    without one, or a fixed step), the evaluations (``nfev``) and gradients (``njev``)
    the step spent beyond its gradient, whether each row found a step (``ok``), the
    directions reset to the steepest descent (``resets``, 1 per row that was), the rows
    whose evaluations raised (``errors``, ``{row: exception}``), and the decrease of f
    each first trial promised (``gain``, ``-a0 g.d``, for the verdict of a row that
    found no step). One point: numbers."""

    X: Any
    F: Any
    A: Any
    G: Any
    nfev: Any
    njev: Any
    ok: Any
    resets: Any
    errors: dict[int, BaseException]
    gain: Any


class FirstTrialMemo:
    """What a single start's first trial evaluated (its point, the trial functions'
    answers and the errors they noted), for the search that goes on from it: each
    answer is given back once, at that point, so every evaluation is made and counted
    once, as without it."""

    def __init__(self, point: np.ndarray) -> None:
        self.point = point
        self.fa: Any = None
        self.g: Any = None
        self.f_error: BaseException | None = None
        self.g_error: BaseException | None = None

    def serving(self, values: Any, gradients: Any, errors: dict[int, BaseException],
                refunds: np.ndarray) -> tuple[Any, Any]:
        """``values`` and ``gradients`` with this memo's answers given back first."""
        def values_(P: np.ndarray, rows: np.ndarray) -> np.ndarray:
            if self.fa is not None and np.array_equal(P, self.point):
                fa, self.fa = self.fa, None
                if self.f_error is not None:
                    errors.setdefault(0, self.f_error)
                return fa
            return values(P, rows)

        def gradients_(P: np.ndarray, rows: np.ndarray, F: np.ndarray) -> np.ndarray:
            if self.g is not None and np.array_equal(P, self.point):
                g, self.g = self.g, None
                if self.g_error is not None:
                    errors.setdefault(0, self.g_error)
                    refunds[0] += unasked(self.g_error)  # (charged as the search's)
                return g
            return gradients(P, rows, F)

        return values_, gradients_


def first_accepted(p: Problem, X: np.ndarray, F: float, G: np.ndarray, X_prop: np.ndarray,
                   A: float, left: Any, levels: Any) -> Trial | FirstTrialMemo | None:
    """One start's strong Wolfe search where its first trial meets the conditions (and
    lowers f beyond its noise): that trial as the step, without the search's packing,
    in the arithmetic of :func:`~optiframe.line_step._first_trials` (or
    ``_first_trial_one``) and of :func:`~optiframe.linesearch._wolfe_one`'s first trial,
    and with the trial functions' answers (:func:`~optiframe.line_step._trial_functions`),
    so the same bits (tests/unit/test_trial.py compares the two ways). Within bounds,
    the direction is the box's free one, the trial projected; a first trial that would
    leave the box is taken where it meets the search's Armijo condition along the
    projected path (:meth:`~optiframe.linesearch.StrongWolfe.search`'s bent rows).
    Otherwise what it evaluated (a :class:`FirstTrialMemo`; None where it evaluated
    nothing), for the search to go on from."""
    cost = p.gradient_costs(levels)
    if left is not None and left[0] < 1 + cost:
        return None  # the search stops at the budget
    box, search = p.box, p.line_search
    if box is None:
        D = X_prop - X
        d0 = slope = float(einsum("i,i->", G, D))  # the slope
    else:  # the direction within the box, as the rows' code finds it (the same bits)
        D2 = box.free_direction(X[None], X_prop[None] - X[None], G[None])
        slope = float(einsum("ij,ij->i", G[None], D2)[0])  # (its test and promise)
        D = D2[0]
        d0 = float(einsum("i,i->", G, D))  # (the search's own)
    if not -math.inf < slope < 0.0:
        return None  # no descent direction: the search resets it
    a = 1.0 if p.natural_step or math.isnan(A) else min(1.0, 2.0 * A)
    bent = box is not None and float(box.max_step(X[None], D[None])[0]) < a
    trial = X + D if a == 1.0 else X + a * D
    if not count_nonzero(trial != X):  # (without ndarray.any's Python frame)
        return None  # a first trial to lengthen
    f0 = float(F)
    trial = trial[None] if box is None else box.project(trial[None])
    trial.flags.writeable = False
    memo = FirstTrialMemo(trial)
    f = _value(p, trial, memo)
    if bent:  # Armijo's condition along the projected path (its moved, its arithmetic)
        moved = float(einsum("ij,ij->i", G[None], trial - X[None])[0])
        enough = math.isfinite(f) and f <= f0 + search.c1 * moved
    else:
        enough = math.isfinite(f) and f <= f0 + search.c1 * a * d0 and not f >= f0
    if memo.f_error is not None or not enough:
        return memo  # too far: the search brackets or backtracks (or raises)
    g = _gradient(p, trial, f, memo, levels)
    curved = bent or abs(float(einsum("i,i->", g[0], D))) <= -search.c2 * d0
    if memo.g_error is not None or not curved or not (
            (f0 - f) > NOISE_UNITS * _EPS * abs(f0)):  # (_only_lowered's test)
        return memo
    return Trial(trial.copy()[0], f, a, g[0], 1 + cost, p.jev, True, 0, {}, -a * slope)


def _value(p: Problem, trial: np.ndarray, memo: FirstTrialMemo) -> float:
    """f at the trial point (1, n), as the search's trial function asks it (a point's, or
    a one-row stack's), kept in the memo with its error (NaN where it raised)."""
    if p.point:
        try:
            f = p.scalar(p.value(trial[0]))
        except (OverflowError, FloatingPointError):
            f = math.inf
        except Exception as exc:
            memo.f_error, f = exc, math.nan
        memo.fa = np.array([f])
        return f
    try:
        memo.fa = p.value(trial)
    except RowError as err:  # (its overflow is the row's inf already)
        memo.f_error, memo.fa = err.errors[0], err.values
    return float(memo.fa[0])


def _gradient(p: Problem, trial: np.ndarray, f: float, memo: FirstTrialMemo,
              levels: Any) -> np.ndarray:
    """The gradient at the trial point (1, n), as the search's trial function asks it,
    kept in the memo with its error (NaN where it raised)."""
    if p.point:
        try:
            g = np.asarray(p.gradient_at(trial[0], None, f, None if levels is None else
                                         np.array([levels])[0]), dtype=float
                           ).reshape(trial.shape)
        except (OverflowError, FloatingPointError):
            g = np.full(trial.shape, math.nan)
        except Exception as exc:
            memo.g_error, g = exc, np.full(trial.shape, math.nan)
    else:
        try:
            g = p.gradient_at(trial, None, memo.fa, None if levels is None else
                              np.array([levels]))
        except RowError as err:
            memo.g_error, g = err.errors[0], err.values
    memo.g = g
    return g
