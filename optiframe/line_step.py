"""The line step: the step's direction is the optimizer's proposal, its length the line
search's, for every row at once (see :mod:`optiframe.linesearch` for the searches).

:func:`line_step` prepares each row's search (the direction, or the steepest descent
where the proposal is no descent direction; the first trial, lengthened until it moves
x; what the first trial promises), runs the run's :class:`~optiframe.linesearch.LineSearch`
within the evaluations and time left (a search the budget stops with evaluations left,
too few for a trial and its gradient, spends them on f alone:
:func:`~optiframe.value_trials.values_only`), and holds a step whose decrease is only
f's noise to be no step. The search's restart policy (:meth:`LineSearch.restart_policy
<optiframe.linesearch.LineSearch.restart_policy>`, by default for quasi-Newton
optimizers) is carried out here: a row whose search fails along its own direction
searches once more along the steepest descent, as L-BFGS-B restarts (unless its
proposal was that steepest-descent step already: the same trials again), and
:func:`restarted` drops the memory that misled it. Rows of adaptive differences below
the finest level search with fewer trials (``Problem.climbing_search``). What a step
found is a named :class:`Trial`.

A single row without bounds prepares its search on Python floats
(:func:`_first_trial_one`, the same bits as the rows' code).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from .linesearch import (
    SearchResult,
    SearchTask,
    StrongWolfe,
    joined,
    task_rows,
)
from .numerics import (
    NOISE_UNITS,
    ROUNDING_UNITS,
    count_nonzero,
    einsum,
    lowered,
    moving_lengths,
    unit_steps,
)
from .objective import real_array
from .problem import OutOfBudgetError, Problem, RowError, rows_of, users_error
from .replay import unasked
from .state import keep_rows
from .trial import FirstTrialMemo, Trial, first_accepted
from .value_trials import Farther, probe, values_only

_EPS = float(np.finfo(float).eps)
#: A first trial that promised less than f's rounding and found no step is followed by
#: trials from one lengthened to promise this many times the rounding (``ROUNDING_UNITS
#: eps |f|``) down to one that promises the rounding (:func:`.probe`)
PROBE_UNITS = 10.0
#: Off: a single start's strong Wolfe search always goes the general way (the test of
#: :func:`~optiframe.trial.first_accepted` compares the two)
FIRST_ACCEPTED = True
#: the run's rows of a one-row search (read-only: the search's wrappers index with it)
_INDEX0 = np.zeros(1, dtype=np.int64)
_INDEX0.flags.writeable = False


def _only_lowered(res: SearchResult, F: np.ndarray) -> SearchResult:
    """``res`` with the rows whose accepted step lowered f only within the noise of
    computing it counted as finding no step (they may then retry, or end)."""
    if len(F) == 1:  # one row: the same test on Python floats
        f_old, f_new = float(F[0]), float(res.F[0])
        if not res.ok[0] or (f_old - f_new) > NOISE_UNITS * _EPS * abs(f_old):
            return res
        return attrs.evolve(res, ok=np.zeros(1, dtype=bool))
    ok = res.ok & lowered(F, res.F)
    return res if (ok == res.ok).all() else attrs.evolve(res, ok=ok)



class StepLength:
    """How far a step goes along the optimizer's proposal, for the rows of a step:
    :meth:`take` returns their :class:`Trial`. :class:`FixedStep` takes the proposal
    itself; :class:`LineStep` searches along it (Armijo, strong Wolfe, a plugin's
    search). The run binds one (``Problem.step_length``)."""

    searched: bool = False  # a line search: trials and gradients beyond the step's own

    def take(self, p: Problem, s: Any, m: Any, X_prop: Any,
             deadline: float | None = None) -> Trial:
        """The rows' step along ``X_prop - s.X``: ``s`` is the run's state at the top of
        the step, ``m`` the step's measurements (``F``, the gradient ``G``, the projected
        gradient ``PG``, the rows that ``skip`` their step, what the gradient cost,
        ``mf``, and the rows' finite-difference levels ``LV``); ``deadline``: when
        ``max_time`` runs out."""
        raise NotImplementedError


class FixedStep(StepLength):
    """The proposal is the step (gd, momentum, Adam, ...): f at the new points, one
    evaluation a row. Rows whose f raised are the trial's ``errors`` (the loop fails
    them before the commit, at their last pair); an overflow is an infinite f."""

    def take(self, p: Problem, s: Any, m: Any, X_prop: Any,
             deadline: float | None = None) -> Trial:
        errors: dict[int, BaseException] = {}
        try:
            F_new = p.value(X_prop)
            if p.point and type(F_new) is not float:  # a number, or a clear error
                F_new = p.scalar(F_new)
        except (OverflowError, FloatingPointError):
            F_new = math.inf
        except RowError as err:  # rows whose new point raised
            F_new, errors = err.values, err.errors
        return Trial(X_prop, F_new, s.step_size, None, 1, 0, True, 0, errors, math.nan)


class LineStep(StepLength):
    """The length a line search finds along the proposal (:func:`line_step`), under the
    search's restart policy."""

    searched = True

    def take(self, p: Problem, s: Any, m: Any, X_prop: Any,
             deadline: float | None = None) -> Trial:
        return line_step(p, s.X, m.F, m.G, m.PG, X_prop, s.step_size, s.rng, m.skip,
                         s.nfev + m.mf, deadline, s.SN, m.LV)


def _steepest(R: np.ndarray, X: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    """The steepest-descent directions ``R`` (rows) as steps of the last step's length
    (``last``, where it is known and positive) or of unit length (a raw ``-g`` of 1e30
    is no length to start from), each long enough to move x."""
    length = None
    if last is not None:
        length = np.where(np.isfinite(last) & (last > 0), last, 1.0)
    return unit_steps(R, X, length)


def line_step(p: Problem, X: Any, F: Any, G: Any, PG: Any, X_prop: Any, A: Any, rng: Any,
              skip: Any, spent: Any = 0, deadline: float | None = None,
              last: Any = None, levels: Any = 0) -> Trial:
    """A step whose direction is the optimizer's proposal ``X_prop - X`` and whose
    length the line search finds, for each row (see :mod:`optiframe.linesearch`).

    Returns the :class:`Trial`. Rows of ``skip`` (a non-finite
    gradient) stay where they are. ``spent``: the evaluations each row has spent,
    this step's gradient included (the search spends at most what ``max_nfev``
    leaves); ``deadline``: when ``max_time`` runs out; ``last``: the last step's
    length (a retry along the steepest descent starts with a step that long). A row
    whose search stopped for either without a step is among the errors as
    :class:`OutOfBudgetError`."""
    left = None if p.budget is None else p.budget - np.atleast_1d(spent)
    if not p.level_costs:
        levels = None  # one cost for every row: nothing to carry through the search
    if p.point:
        memo = None
        if _first_at_once(p, deadline):
            done = first_accepted(p, X, F, G, X_prop, A, left, levels)
            if isinstance(done, Trial):
                return done
            memo = done  # what the first trial evaluated: the search goes on from it
        one, reset, raised, gain = _search(
            p, X[None], np.array([F], dtype=float), G[None], PG[None], X_prop[None],
            np.array([A]), rng, _INDEX0, left, deadline,
            None if last is None else np.array([last], dtype=float),
            None if levels is None else np.array([levels]), memo)
        G_at = None if one.G is None or math.isnan(one.G[0, 0]) else one.G[0]
        # (where user code raised in the search, the start fails where the step began)
        found = bool(one.ok[0]) and users_error(raised) is None
        return Trial(one.X[0] if found else X, float(one.F[0]) if found else F,
                     float(one.alpha[0]) if found else math.nan, G_at if found else G,
                     int(one.nfev[0]) + int(one.njev[0]) * p.gradient_costs(levels),
                     int(one.njev[0]) * p.jev, found, int(reset[0]), raised,
                     float(gain[0]))
    K = X.shape[0]
    memo = None
    if K == 1 and skip is None and _first_at_once(p, deadline):  # one row: as a point
        done = first_accepted(p, X[0], F[0], G[0], X_prop[0], A[0], left,
                              None if levels is None else levels[0])
        if isinstance(done, Trial):
            return _one_row(done)
        memo = done
    rows = np.arange(K) if skip is None else np.flatnonzero(~skip)
    X_new, F_new, A_new = X.copy(), np.array(F, dtype=float), np.full(K, math.nan)
    G_new = np.full(X.shape, math.nan)
    nfev = np.zeros(K, dtype=np.int64)
    njev = np.zeros(K, dtype=np.int64)
    ok = np.ones(K, dtype=bool)
    resets = np.zeros(K, dtype=np.int64)
    gains = np.zeros(K)
    errors: dict[int, BaseException] = {}
    if len(rows):
        rng_rows = None if rng is None else [rng[i] for i in rows.tolist()]
        res, reset, errors, gains[rows] = _search(
            p, X[rows], F_new[rows], G[rows], PG[rows], X_prop[rows], A[rows], rng_rows, rows,
            None if left is None else left[rows], deadline,
            None if last is None else np.asarray(last, dtype=float)[rows],
            rows_of(levels, rows), memo)
        good = res.ok.copy()
        if errors:
            good[np.isin(rows, list(errors))] = False
        take = rows[good]
        X_new[take], F_new[take], A_new[take] = (res.X[good], res.F[good],
                                                 res.alpha[good])
        if res.G is not None:
            G_new[take] = res.G[good]
        failed = rows[~good]
        G_new[failed] = G[failed]
        nfev[rows] = res.nfev + res.njev * p.gradient_costs(rows_of(levels, rows))
        njev[rows] = res.njev * p.jev
        ok[rows] = good
        resets[rows] = reset
    if skip is not None:
        G_new[skip] = math.nan
    return Trial(X_new, F_new, A_new, G_new, nfev, njev, ok, resets, errors, gains)


def _first_at_once(p: Problem, deadline: float | None) -> bool:
    """Whether a single row's first strong Wolfe trial may be taken at once
    (:func:`~optiframe.trial.first_accepted`): no clock to watch between trials, and a
    gradient that is not a random draw."""
    return (FIRST_ACCEPTED and deadline is None and not p.stochastic
            and type(p.line_search) is StrongWolfe)


def _one_row(t: Trial) -> Trial:
    """A point's accepted :class:`Trial` as the rows' (one row of arrays)."""
    return Trial(t.X[None], np.array([t.F]), np.array([t.A]), t.G[None],
                 np.array([t.nfev], dtype=np.int64), np.array([t.njev], dtype=np.int64),
                 np.ones(1, dtype=bool), np.zeros(1, dtype=np.int64), {}, np.array([t.gain]))


def restarted(p: Problem, opt: Any, X: Any, resets: Any) -> Any:
    """The optimizer state ``opt`` with the rows whose direction was reset (``resets``
    > 0) started afresh: a quasi-Newton memory that misled the search is dropped
    (its ``forget``: the curvature pairs go, the point and gradient the step began
    at stay, so the steepest-descent step just taken makes the next pair, as in
    L-BFGS-B's restart; an optimizer without one starts from ``init``)."""
    forget = getattr(p.optimizer, "forget", None)
    fresh = forget(opt) if forget is not None else p.optimizer.init(X)
    if p.point:
        return fresh if resets else opt
    rows = np.asarray(resets) > 0
    if not rows.any():
        return opt
    return keep_rows(opt, fresh, rows, X.shape[0])


def _search(p: Problem, X: np.ndarray, F: np.ndarray, G: np.ndarray, PG: np.ndarray,
            P: np.ndarray, A: np.ndarray, rng: Any, index: np.ndarray,
            left: np.ndarray | None = None, deadline: float | None = None,
            last: Any = None, levels: Any = None, memo: FirstTrialMemo | None = None,
            ) -> tuple[SearchResult, np.ndarray, dict[int, BaseException], Any]:
    """The line search over rows ``index`` of the run (see :func:`line_step`). Under
    the search's restart policy (``p.restart``, by default a quasi-Newton optimizer's),
    a row whose search fails along its own direction searches once more along the
    steepest descent, as L-BFGS-B restarts: the retry counts as a reset, and the caller
    restarts the row's optimizer state. A row whose proposal was that very step (an
    empty quasi-Newton memory's) is not searched again: its trials would repeat."""
    res, reset, errors, gain = _search_shown(p, X, F, G, PG, P, A, rng, index, left,
                                             deadline, levels, memo)
    if res.ok[0] if len(F) == 1 else res.ok.all():  # every row found its step
        return res, reset, errors, gain
    _note_stopped(p, res, index, errors)
    if p.restart is None:  # the search's policy: the rows that found no step end
        return res, reset, errors, gain
    retry = ~res.ok & ~reset.astype(bool) & (res.stopped == 0)
    if errors:
        retry &= ~np.isin(index, list(errors))
    if not retry.any():
        return res, reset, errors, gain
    rows = np.flatnonzero(retry)
    R = _steepest(-(PG if p.box is not None else G)[rows], X[rows],
                  None if last is None else np.atleast_1d(last)[rows])
    P_again = X[rows] + R
    if p.natural_step:  # a proposal that was this steepest-descent step already (an
        new = (P_again != P[rows]).any(axis=1)  # empty memory) would search
        if not new.all():  # the same trials again
            rows, P_again = rows[new], P_again[new]
            if not len(rows):
                return res, reset, errors, gain
    sub_rng = None if rng is None else [rng[i] for i in rows.tolist()]
    spent = res.nfev[rows] + res.njev[rows] * p.gradient_costs(rows_of(levels, rows))
    again, _, more, gain_again = _search_shown(
        p, X[rows], F[rows], G[rows], PG[rows], P_again, np.full(len(rows), np.nan),
        sub_rng, index[rows], None if left is None else left[rows] - spent, deadline,
        rows_of(levels, rows))
    _note_stopped(p, again, index[rows], more)
    errors.update(more)
    reset = reset.copy()
    reset[rows] = 1
    gain = np.array(gain, dtype=float)
    # both attempts failed (a QN "step" that lowered f only within its noise was
    # retried: _only_lowered), so either one's promise lost in rounding shows it
    gain[rows] = np.minimum(gain[rows], gain_again)
    return _merged(res, again, rows, X.shape), reset, errors, gain


def searched_along(p: Problem, X: np.ndarray, F: np.ndarray, G: np.ndarray,
                   index: np.ndarray, left: np.ndarray | None, deadline: float | None,
                   ) -> tuple[SearchResult, dict[int, BaseException]]:
    """An Armijo search (``c1 = 1e-4``, values alone, going farther while f decreases:
    :class:`~optiframe.value_trials.Farther`) from rows ``index`` of the run, at
    ``X``, along the steepest descent of ``G`` (a gradient measured otherwise than the
    run's; projected within the bounds) from a step of unit length, followed where that
    step's promise is lost in f's rounding by the probe (:func:`_search_shown`: a
    decrease within f's noise is none), within ``left`` and ``deadline``. Returns the
    result and the rows' errors, by ``index`` (:class:`OutOfBudgetError` where the budget
    or the clock stopped a row without a step)."""
    PG = G if p.box is None else p.box.projected_gradient(X, G)
    P = X + _steepest(-PG, X, None)
    values_only_search = attrs.evolve(p, line_search=Farther(), restart=None)
    res, _, errors, _ = _search_shown(values_only_search, X, F, G, PG, P,
                                      np.full(len(F), math.nan), None, index, left, deadline)
    _note_stopped(p, res, index, errors)
    return res, errors


def _merged(res: SearchResult, again: SearchResult, rows: np.ndarray,
            shape: tuple[int, ...]) -> SearchResult:
    """``res`` with its rows ``rows`` as a second search of them (``again``, from the
    same points) found them, the evaluations of both counted."""
    alpha, Xs, Fs, ok = res.alpha.copy(), res.X.copy(), res.F.copy(), res.ok.copy()
    nfev, njev = res.nfev.copy(), res.njev.copy()
    alpha[rows], Xs[rows], Fs[rows], ok[rows] = again.alpha, again.X, again.F, again.ok
    nfev[rows] += again.nfev
    njev[rows] += again.njev
    Gs = res.G
    if res.G is not None or again.G is not None:
        Gs = np.full(shape, np.nan) if res.G is None else res.G.copy()
        Gs[rows] = np.nan if again.G is None else again.G
    stopped = np.array(res.stopped)  # (_search_once fills in a plugin search's None)
    stopped[rows] = again.stopped
    return SearchResult(alpha, Xs, Fs, Gs, nfev, njev, ok, stopped)


def _search_shown(p: Problem, X: np.ndarray, F: np.ndarray, G: np.ndarray,
                  PG: np.ndarray, P: np.ndarray, A: np.ndarray, rng: Any, index: np.ndarray,
                  left: np.ndarray | None = None, deadline: float | None = None,
                  levels: Any = None, memo: FirstTrialMemo | None = None,
                  ) -> tuple[SearchResult, np.ndarray, dict[int, BaseException], Any]:
    """:func:`_search_once`, a step that lowered f only within its noise counted as
    none. A row that found no step from a first trial whose promised decrease is lost in
    f's rounding has shown nothing about f (a backtracking search never lengthens its
    first trial; at x = 1e16 a step that moves x promises less than f's rounding):
    it backtracks (:func:`.probe`) from a trial lengthened to promise :data:`PROBE_UNITS`
    times that rounding down to one that promises the rounding. Only where none finds a
    lower f is f shown not to be lowered within its precision (the verdict reads the
    first trial's promise, ``gain``). Near a minimum this costs two to four evaluations
    at the run's end."""
    res, reset, errors, gain = _search_once(p, X, F, G, PG, P, A, rng, index, left,
                                            deadline, levels, memo=memo)
    res = _only_lowered(res, F)
    if res.ok[0] if len(F) == 1 else res.ok.all():  # every row found its step
        return res, reset, errors, gain
    rounding = ROUNDING_UNITS * _EPS * np.abs(F)
    short = ~res.ok & (np.asarray(res.stopped) == 0) & (gain <= rounding)
    if errors:
        short &= ~np.isin(index, list(errors))
    if not short.any():
        return res, reset, errors, gain
    rows = np.flatnonzero(short)
    sub_rng = None if rng is None else [rng[i] for i in rows.tolist()]
    spent = res.nfev[rows] + res.njev[rows] * p.gradient_costs(rows_of(levels, rows))
    again, _, more, _ = _search_once(
        p, X[rows], F[rows], G[rows], PG[rows], P[rows], A[rows], sub_rng, index[rows],
        None if left is None else left[rows] - spent, deadline, rows_of(levels, rows),
        PROBE_UNITS * rounding[rows])
    errors.update(more)
    return _merged(res, _only_lowered(again, F[rows]), rows, X.shape), reset, errors, gain


def _note_stopped(p: Problem, res: SearchResult, index: np.ndarray,
                  errors: dict[int, BaseException]) -> None:
    """Rows whose search the budget or the clock stopped before it found a step end
    with that status (:class:`OutOfBudgetError` among the errors)."""
    stopped = np.asarray(res.stopped)  # (_search_once fills in a plugin search's None)
    for i in np.flatnonzero(~res.ok & (stopped > 0)).tolist():
        errors.setdefault(int(index[i]), OutOfBudgetError(int(stopped[i])))


def _search_once(p: Problem, X: np.ndarray, F: np.ndarray, G: np.ndarray, PG: np.ndarray,
                 P: np.ndarray, A: np.ndarray, rng: Any, index: np.ndarray,
                 left: np.ndarray | None = None, deadline: float | None = None,
                 levels: Any = None, min_gain: np.ndarray | None = None,
                 memo: FirstTrialMemo | None = None,
                 ) -> tuple[SearchResult, np.ndarray, dict[int, BaseException], Any]:
    """One line search along the rows' proposed directions ``P - X``; with ``min_gain``,
    a backtracking probe instead (:func:`.probe`), from a length that promises that
    decrease (within ``alpha_max``) to one that promises a :data:`PROBE_UNITS`-th of it."""
    box = p.box
    first = (_first_trial_one(p, X, G, P, A) if box is None and len(F) == 1
             else None)
    D, alpha0, alpha_max, gain, reset = (
        first if first is not None else _first_trials(p, X, G, PG, P, A))
    probing = None  # (the rows that probe, and the length that promises one rounding)
    if min_gain is not None:  # the promise grows with the length (-a g.d)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            longer = np.minimum(alpha0 * (min_gain / gain), alpha_max)
            least = alpha0 * (min_gain / (PROBE_UNITS * gain))  # it promises one rounding
            grow = np.isfinite(longer) & (longer > alpha0)
            gain = np.where(grow, gain * (longer / alpha0), gain)
        alpha0, probing = np.where(grow, longer, alpha0), (grow, least)
    errors: dict[int, BaseException] = {}
    refunds = np.zeros(len(F), dtype=np.int64)
    values, gradients = _trial_functions(p, rng, index, errors, refunds, levels, memo)
    costs = p.gradient_costs(levels)
    cost = costs if type(costs) is int else int(np.max(costs))  # the dearest row's
    task = SearchTask(X=X, F=F, G=G, D=D, alpha0=alpha0, alpha_max=alpha_max,
                      values=values, gradients=gradients,
                      project=None if box is None else box.project,
                      cheap_gradients=cost == 0, budget=left,
                      gradient_cost=cost, deadline=deadline)
    if probing is not None:
        res = probe(task, *probing)
    elif not p.adaptive or levels is None:
        res = p.line_search.search(task)
    elif np.ndim(levels) == 0 or count_nonzero(levels == levels[0]) == len(levels):
        res = _search_at(p, levels)(task)
    else:  # rows at different levels (adaptive differences): each level on its own
        res = _searched_by_level(p, task, np.asarray(levels))
    if res.stopped is None:  # a line search that knows no budget (a plugin's)
        res = attrs.evolve(res, stopped=np.zeros(len(F), dtype=np.int8))
    if count_nonzero(refunds):  # gradients that raised part way: charged what they evaluated
        res = attrs.evolve(res, nfev=res.nfev - refunds)
    if left is not None and probing is None:  # the budget's last evaluations: f alone
        tail = values_only(task, res, costs, index, errors, p.line_search)
        if tail is not None:
            res = _merged(res, tail[1], tail[0], X.shape)
    return res, reset, errors, gain


def _search_at(p: Problem, levels: Any) -> Any:
    """The search of rows at one adaptive-differences level: below the finest, with
    fewer trials (``p.climbing_search``), else the run's."""
    if p.climbing_search is not None and int(np.max(levels)) < p.finest_level:
        return p.climbing_search.search
    return p.line_search.search


def _searched_by_level(p: Problem, task: SearchTask, levels: np.ndarray) -> SearchResult:
    """The search of ``task``'s rows in groups of one adaptive-differences level each,
    every group within its own gradient's cost (the budget test of a row whose gradient
    costs 1 is not the dearest row's 2) and trials, so that a stack's row searches as it
    would alone."""
    parts = []
    for level in np.unique(levels).tolist():
        rows = np.flatnonzero(levels == level)
        c = p.level_costs[level]
        sub = attrs.evolve(task_rows(task, rows), gradient_cost=c, cheap_gradients=c == 0)
        parts.append((rows, _search_at(p, level)(sub)))
    return joined(task, parts)


def _first_trials(p: Problem, X: np.ndarray, G: np.ndarray, PG: np.ndarray, P: np.ndarray,
                  A: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows' search directions (the proposal's, or the steepest descent where it
    is no descent direction: a reset), first trial lengths, largest feasible lengths,
    the decrease each first trial promises (``-a0 g.d``; inf where it cannot move x,
    which then shows nothing about f) and the resets (1 per row)."""
    box = p.box
    with np.errstate(invalid="ignore", over="ignore"):
        D = P - X
        if box is not None:
            D = box.free_direction(X, D, G)
        slope = einsum("ij,ij->i", G, D)
        # no descent direction (a finite slope is a finite direction's)
        reset = ~((slope < 0) & (slope > -math.inf))
    if reset.any():  # once: the steepest descent, a unit step
        D[reset] = _steepest(-(PG if box is not None else G)[reset], X[reset], None)
    if p.natural_step:
        alpha0 = np.ones(len(X))
    else:  # twice the last accepted length, at most the optimizer's own step
        alpha0 = np.where(np.isnan(A), 1.0, np.minimum(1.0, 2.0 * A))
    alpha0[reset] = 1.0
    alpha_max = (box.max_step(X, D) if box is not None else np.full(len(X), math.inf))
    # a first trial that would round back to x is lengthened until it moves x
    lengths = moving_lengths(X, D, alpha0, alpha_max)
    if lengths is alpha0:  # every first trial moves x
        moves = np.ones(len(X), dtype=bool)
    else:
        alpha0 = lengths
        with np.errstate(invalid="ignore", over="ignore"):
            moves = ((X + alpha0[:, None] * D) != X).any(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        if reset.any():  # the slope along the directions searched
            slope[reset] = einsum("ij,ij->i", G[reset], D[reset])
        gain = np.where(moves, -alpha0 * slope, math.inf)
    return D, alpha0, alpha_max, gain, reset.astype(np.int64)


def _first_trial_one(p: Problem, X: np.ndarray, G: np.ndarray, P: np.ndarray,
                     A: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """:func:`_first_trials` of one row without bounds, its tests on Python floats
    (the same bits); None when its direction is no descent one (the rows' code resets
    it)."""
    D = P - X
    slope = float(einsum("i,i->", G[0], D[0]))
    if not -math.inf < slope < 0.0:
        return None
    a = float(A[0])
    a0 = 1.0 if p.natural_step or math.isnan(a) else min(1.0, 2.0 * a)
    alpha0, alpha_max = np.array([a0]), np.array([math.inf])
    # (1.0 * D is D, the same bits; the run ignores overflow: runs.py)
    moves = count_nonzero((X + D if a0 == 1.0 else X + a0 * D) != X) > 0
    if not moves:  # lengthened until it moves x
        alpha0 = moving_lengths(X, D, alpha0, alpha_max)
        a0 = float(alpha0[0])
        moves = count_nonzero((X + a0 * D) != X) > 0
    return (D, alpha0, alpha_max, np.array([-a0 * slope if moves else math.inf]),
            np.zeros(1, dtype=np.int64))


def _trial_functions(p: Problem, rng: Any, index: np.ndarray,
                     errors: dict[int, BaseException], refunds: np.ndarray,
                     levels: Any = None, memo: FirstTrialMemo | None = None) -> tuple[Any, Any]:
    """f and the gradient at a line search's trial points (rows of its task, which
    are rows ``index`` of the run); rows that raise are noted in ``errors`` (the loop
    fails them once the search is over) and give NaN. A gradient that raised part way
    adds what it did not evaluate to its task row's ``refunds`` (the search charges
    each gradient its whole cost). ``memo``: what a single start's first trial
    evaluated already (:func:`~optiframe.trial.first_accepted`), given back once, with
    its errors."""
    point, value = p.point, p.value
    if memo is not None:
        return memo.serving(*_trial_functions(p, rng, index, errors, refunds, levels),
                            errors, refunds)

    def values(P: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if point and len(P) > 1:  # several trial lengths at once (Armijo's parallel)
            try:
                return real_array(p.objective.values(P), p.objective).reshape(-1)
            except (OverflowError, FloatingPointError):
                return np.full(len(P), math.inf)
            except Exception as exc:
                errors.setdefault(0, exc)
                return np.full(len(P), math.nan)
        if point:
            try:
                return np.array([p.scalar(value(P[0]))])
            except (OverflowError, FloatingPointError):
                return np.array([math.inf])
            except Exception as exc:
                errors.setdefault(0, exc)
                return np.array([math.nan])
        try:
            return value(P)
        except RowError as err:
            for i, error in err.errors.items():
                errors.setdefault(int(index[rows[i]]), error)
            return err.values

    def gradients(P: np.ndarray, rows: np.ndarray, F: np.ndarray) -> np.ndarray:
        if point:
            try:
                g = p.gradient_at(P[0], rng, float(F[0]), rows_of(levels, 0))
            except (OverflowError, FloatingPointError):
                return np.full(P.shape, math.nan)
            except Exception as exc:
                errors.setdefault(0, exc)
                refunds[0] += unasked(exc)
                return np.full(P.shape, math.nan)
            return np.asarray(g, dtype=float).reshape(P.shape)
        try:
            return p.gradient_at(P, None if rng is None else [rng[i] for i in rows.tolist()],
                              F, rows_of(levels, rows))
        except RowError as err:
            for i, error in err.errors.items():
                errors.setdefault(int(index[rows[i]]), error)
                refunds[rows[i]] += unasked(error)
            return err.values

    return values, gradients
