"""What the loop does when a cheap test fails: which rows stop, why, and what they end with.

Each function works out the verdicts of the rows at one stage of a step (the gradient,
the new values, the size of the step), finishes the rows that stop with
:func:`finish_rows`, and tells the loop which rows go on. They run only when something
happens, so they may spend what they like; every kind of run (one point or K rows, full
data or minibatches) goes through them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._tree import tree_leaves
from .errors import describe_error
from .finer_check import (
    checked_flat,
    checked_line_search,
    checked_precision,
    checked_widened,
    finer_name,
)
from .numerics import ROUNDING_UNITS
from .problem import OutOfBudgetError, Problem, RowError
from .replay import unasked
from .signals import deferred
from .state import RunState, keep_rows, per_row
from .status import Status
from .stop_rules import RuleView, Verdict, stage_verdicts

_ENDS_AT_BEST = (Status.DIVERGED, Status.NAN)


def finish_rows(s: RunState, p: Problem, rows: Sequence[int] | np.ndarray,
                verdicts: Sequence[Verdict], nfev: Any = None, njev: Any = None,
                resumable: bool = True) -> None:
    """End the rows ``rows`` with their verdicts, at what each has to show for it.

    A start that diverged or hit NaN ends at its best finite point (in training: the
    point of lowest finite batch loss); the others at their current one. In a training
    run ``fun`` is the loss over the whole training set there (computed now). ``nfev`` and
    ``njev`` are the rows' counts when the step in progress spent evaluations before
    they stopped (default: their counts at the last whole step).

    Ctrl-C while a training row's final loss is computed raises KeyboardInterrupt before
    any row ends, so the run stops at its last whole step as Ctrl-C does and a resumed
    run reaches these verdicts again (``resumable``: the state is the one they come
    from). Where it is not (after a step's commit, or an epoch logged), and for a second
    Ctrl-C (a verdict ``interrupted``), the row ends ``interrupted`` without that loss;
    the run then stops as Ctrl-C does.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if not len(rows):
        return
    verdicts = list(verdicts)
    cut = False  # a Ctrl-C ended a row: the run stops
    if s.point:
        x, fun = s.X, s.F
        if verdicts[0][0] in _ENDS_AT_BEST:
            x, fun = s.best_X, s.best_F
            verdicts[0] = _at_best(verdicts[0], float(fun), p.batches is not None)
        if p.batches is not None:
            fun, verdicts[0] = _whole_set_loss(p, x, verdicts[0], resumable)
        _end(s, [0], verdicts, x, fun, None if nfev is None else (nfev, njev))
        return
    X, F = s.X, s.F
    if p.batches is not None or not (  # (rows ending alike, at their points: no copies)
            verdicts.count(verdicts[0]) == len(verdicts) and verdicts[0][0] not in _ENDS_AT_BEST):
        X, F = X.copy(), np.array(F, dtype=float)
        for j, r in enumerate(rows.tolist()):
            if verdicts[j][0] in _ENDS_AT_BEST:
                X[r], F[r] = s.best_X[r], s.best_F[r]
                verdicts[j] = _at_best(verdicts[j], float(F[r]), p.batches is not None)
            if p.batches is not None:
                was = verdicts[j][0]
                F[r], verdicts[j] = _whole_set_loss(p, X[r], verdicts[j], resumable)
                cut = cut or (was is not Status.INTERRUPTED
                              and verdicts[j][0] is Status.INTERRUPTED)
    mask = None if nfev is None else _mask(rows, len(s.index))
    _end(s, rows, verdicts, X, F, None if mask is None else (
        np.where(mask, nfev, s.nfev), np.where(mask, njev, s.njev)))
    if cut and s.running:  # (the rows' losses after the Ctrl-C were computed: their
        raise KeyboardInterrupt  # verdicts were whole)


def _end(s: RunState, rows: Any, verdicts: Sequence[Verdict], X: Any, F: Any,
         counts: tuple[Any, Any] | None) -> None:
    """The rows' counts (``counts``: nfev and njev, where the step in progress spent
    evaluations) and their end, with Ctrl-C held over the two (between them, a Ctrl-C
    saved the rows running with the step's evaluations counted: a resumed run counted
    them again); then the start-end callbacks, the user's code, not held."""
    with deferred():
        if counts is not None:
            s.nfev, s.njev = counts
        block = s.finish(rows, verdicts, X, F, tell=False)
    s.tell(block)


def _at_best(verdict: Verdict, best: float, training: bool = False) -> Verdict:
    """The verdict of a start that ends at its best finite point, saying which: the
    message's figures then agree with ``x`` and ``fun`` (in training: the point of lowest
    batch loss, whose loss over the whole set ``fun`` is)."""
    status, detail = verdict
    seen = "batch loss" if training else "f"
    if not math.isfinite(best):
        return status, f"{detail}; no finite {seen} was seen: x is the start"
    if training:
        return status, (f"{detail}; x is the point of lowest batch loss seen, {best:.6g} "
                        "(fun: its loss over the whole training set)")
    return status, f"{detail}; x is the best finite point seen, f = {best:.6g} there"


def _mask(rows: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _whole_set_loss(p: Problem, x: np.ndarray, verdict: Verdict,
                    resumable: bool) -> tuple[float, Verdict]:
    """A training start's final value: the loss over the whole training set at ``x``,
    and its verdict (``interrupted`` where a Ctrl-C ended it: see :func:`finish_rows`)."""
    status, detail = verdict
    if status is Status.FAILED:
        return math.nan, verdict
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return float(p.objective.value(x)), verdict
    except KeyboardInterrupt:
        if resumable and status is not Status.INTERRUPTED:
            raise
        return math.nan, (Status.INTERRUPTED, f"{detail}; the final loss over the whole "
                                              "training set was not computed")
    except Exception as exc:
        return math.nan, (Status.FAILED, "the final loss over the whole training set raised "
                                         + describe_error(exc))


def settle_gradients(s: RunState, p: Problem, GN: Any, F: Any, nfev: Any, njev: Any,
                     deadline: float | None = None, G: Any = None,
                     ) -> tuple[np.ndarray | None, Any]:
    """The rows that the gradient stage's rules stop at step ``s.k``, and those whose step
    is skipped (a non-finite gradient or, training, a NaN batch loss). A convergence on
    forward differences that were all 0 (``G``, the rows' gradients) is checked first
    (:func:`~optiframe.finer_check.checked_flat`, within ``deadline``).

    Returns (the rows that go on, as a mask over the rows before, or None for one point;
    the skipped rows among those, as a mask, True for a skipped point, or None)."""
    view = RuleView(s, p, F=F, GN=GN, nfev=nfev)
    done, skip, verdicts = stage_verdicts(p.gates.gradient, view)
    if s.point:
        if done[0]:
            nfev = checked_flat(s, p, np.zeros(1, dtype=np.int64), verdicts, G, nfev, deadline)
            finish_rows(s, p, [0], verdicts, nfev, njev)
            return None, None
        # the loop commits a skipped step (and the count of skips)
        return None, (True if skip is not None and skip[0] else None)
    if done.any():
        rows = np.flatnonzero(done)
        nfev = checked_flat(s, p, rows, verdicts, G, nfev, deadline)
        finish_rows(s, p, rows, verdicts, nfev, njev)
    keep = ~done
    skip = None if skip is None else skip[keep]
    # the loop commits the count of skips with the step; skipped rows keep x and state
    return keep, (skip if skip is not None and skip.any() else None)


def skip_rows(X: np.ndarray, X_new: np.ndarray, opt: Any, opt_new: Any,
              skip: np.ndarray) -> tuple[np.ndarray, Any]:
    """The step's new points and state, with the skipped rows left where they were."""
    return (np.where(skip[:, None], X, X_new), keep_rows(opt_new, opt, skip, X.shape[0]))


def settle_values(s: RunState, p: Problem) -> np.ndarray | None:
    """Rows whose new value (committed at step ``s.k``) the value stage's rules stop
    (NaN, infinite, above the divergence limit) end there, at their best point. Returns
    the rows that go on."""
    done, _, verdicts = stage_verdicts(p.gates.value, RuleView(s, p))
    finish_rows(s, p, np.flatnonzero(done), verdicts)
    return None if s.point else ~done


def settle_steps(s: RunState, p: Problem, F_old: Any, skip: np.ndarray | None,
                 answered: Any = None) -> None:
    """Rows that the step stage's rules stop end where the step took them: a step of at
    most ``xtol``, a change in f of ``ftol``, a step that left x where it was (a skipped
    step is neither; runs with a stochastic gradient and training runs have no such
    rule), and the rules of ``stop_rules`` that run at this stage. ``answered`` (the
    loop's step) has its ``answered`` set to the step once the rules' verdicts are in
    the state (as soon as they answered, where they stop no row), so a Ctrl-C after
    that does not have them asked again."""
    rules = p.gates.step
    if not rules:
        return
    view = RuleView(s, p, F_old=F_old, skipped=skip)
    done, _, verdicts = stage_verdicts(rules, view)
    if answered is not None and not verdicts:
        answered.answered = s.k
        return
    rows = np.flatnonzero(done).tolist()
    verdicts = [_overflowed(s, r, v) for r, v in zip(rows, verdicts, strict=True)]
    finish_rows(s, p, rows, verdicts, resumable=False)  # (after the step's commit)
    if answered is not None:
        answered.answered = s.k


def stop_by_callback(s: RunState, p: Problem, stopped: Any) -> None:
    """The starts that a step's callbacks stopped (``True``: every one; else the indices
    they named) end ``callback_stop`` where the step took them (a training start with its
    loss over the whole set there, as every training start ends)."""
    rows = (np.arange(s.running) if stopped is True
            else np.flatnonzero(np.isin(s.index, stopped)))
    finish_rows(s, p, rows, [(Status.CALLBACK_STOP, f"at step {s.k}")] * len(rows),
                resumable=False)  # (after the step's commit)


def _overflowed(s: RunState, row: int, verdict: Verdict) -> Verdict:
    """A stall caused by an optimizer state that overflowed (Adam's, RMSprop's or
    Adagrad's sum of squared gradients, for gradients beyond about 1e154) says so."""
    if verdict[0] is not Status.STALLED:
        return verdict
    for leaf in tree_leaves(s.opt):
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f" and leaf.size:
            part = leaf[row] if not s.point and per_row(leaf, s.X.shape[0]) else leaf
            if np.isinf(part).any():
                return Status.NAN, (
                    f"the optimizer's state overflowed to inf at step {s.k}, so its step "
                    "is 0: gradients of magnitude beyond about 1e154 overflow their squares "
                    "(adam, rmsprop, adagrad); rescale the objective (divide f by a large "
                    "constant) or use an optimizer without squared gradients (gd, lbfgs)")
    return verdict


def fail_rows(s: RunState, p: Problem, err: RowError, stage: str, nfev: Any,
              njev: Any) -> None:
    """The rows that raised in ``stage`` of step ``s.k`` fail with their errors; they keep
    their last good point. A row whose error is :class:`OutOfBudgetError` (a check the
    budget cannot pay for) ends ``max_nfev`` instead."""
    rows = sorted(err.errors)
    nfev = charged(nfev, err.errors)
    spent = np.atleast_1d(nfev)
    verdicts = [_unpaid(p, s.k, int(spent[r if len(spent) > 1 else 0]), e)
                if isinstance(e := err.errors[r], OutOfBudgetError)
                else (Status.FAILED, f"{stage} raised at step {s.k}: " + describe_error(e))
                for r in rows]
    finish_rows(s, p, rows, verdicts, nfev, njev)


def charged(nfev: Any, errors: dict[int, BaseException]) -> Any:
    """The rows' counts ``nfev`` (one per row, or one number for a single start), less
    what the gradients that raised (``errors``, by row) would have evaluated and did not
    (:func:`~optiframe.replay.unasked`): a gradient that raised part way is charged what
    it asked."""
    refunds = {r: v for r, e in errors.items() if (v := unasked(e))}
    if not refunds:
        return nfev
    if np.ndim(nfev) == 0:
        return nfev - refunds.get(0, 0)
    out = np.array(nfev, dtype=np.int64)
    for r, v in refunds.items():
        out[r] -= v
    return out


def _unpaid(p: Problem, k: int, nfev: int, err: OutOfBudgetError) -> Verdict:
    """A row whose forward-difference gradient norm is at most gtol, where ``max_nfev``
    cannot pay for the central differences that would confirm it
    (:func:`~optiframe.problem.confirmed_gradient`): unconfirmed, no convergence."""
    return Status.MAX_NFEV, (
        f"{nfev} evaluations spent: the forward-difference gradient of step {k} has a "
        f"norm at most gtol, and the central differences that would confirm it need "
        f"{err.need} more than the budget of {p.budget} allows")


_EPS = float(np.finfo(float).eps)


def settle_searches(s: RunState, p: Problem, ok: Any, errors: dict[int, BaseException],
                    GN: Any, gain: Any, deadline: float | None = None) -> np.ndarray | None:
    """Rows whose line search at step ``s.k - 1`` found no acceptable step (or only one
    whose decrease was lost in f's rounding) end where the step began: ``converged`` if
    the first trial, which moved x, promised a decrease (``gain``) lost in f's rounding
    (f cannot be lowered within its precision), else ``line_search``; rows
    whose trial evaluations raised fail (``GN``: the gradient norms where the step began).
    A verdict of f's precision on forward or central differences is checked first
    (:func:`~optiframe.finer_check.checked_precision`, within ``deadline``, when
    ``max_time`` runs out), and one on Richardson's or adaptive differences, which have
    nothing finer, by widened central ones
    (:func:`~optiframe.finer_check.checked_widened`).
    Returns the rows that go on."""
    k = s.k - 1
    name = type(p.line_search).__name__
    rows = np.flatnonzero(~np.atleast_1d(ok)) if not errors else np.array(
        sorted(set(np.flatnonzero(~np.atleast_1d(ok)).tolist()) | set(errors)), dtype=np.int64)
    norms = np.atleast_1d(np.asarray(GN, dtype=float))
    gains = np.atleast_1d(np.asarray(gain, dtype=float))
    F = np.atleast_1d(np.asarray(s.F, dtype=float))
    verdicts: list[Verdict] = []
    precise: list[int] = []  # the verdicts of f's precision, not of a gradient norm
    nfev = np.atleast_1d(s.nfev)
    for r in rows.tolist():
        stopped = errors.get(r)
        if isinstance(stopped, OutOfBudgetError):
            verdicts.append(_out_of_budget(p, stopped.why, k, int(nfev[r])))
        elif r in errors:
            exc = errors[r]
            verdicts.append((Status.FAILED, f"the line search's evaluations raised at step "
                                            f"{k}: {describe_error(exc)}"))
        elif p.stochastic:  # one draw's direction: no evidence about f either way
            verdicts.append((Status.LINE_SEARCH, _one_draw_hint(name, k, float(norms[r]))))
        elif gains[r] <= ROUNDING_UNITS * _EPS * abs(F[r]):
            precise.append(len(verdicts))
            verdicts.append((Status.CONVERGED, (
                f"f cannot be lowered within its precision: at step {k} the line search's "
                f"first trial promised a decrease of {gains[r]:.3g}, below the rounding of "
                f"f = {F[r]:.6g} (gradient norm {norms[r]:.3g})")))
        else:
            verdicts.append((Status.LINE_SEARCH, line_search_hint(
                name, k, float(norms[r]), p.gtol, analytic=not p.by_differences,
                finer=_finer(p))))
    checked_line_search(s, p, rows, verdicts)
    checked_precision(s, p, rows, verdicts, precise, deadline)
    rows, verdicts = _climb(s, p, rows, verdicts, set(precise))
    checked_widened(s, p, rows, verdicts, deadline)
    finish_rows(s, p, rows, verdicts)
    if s.point:
        return None
    keep = np.ones(len(np.atleast_1d(ok)), dtype=bool)
    keep[rows] = False
    return keep


def _climb(s: RunState, p: Problem, rows: np.ndarray, verdicts: list[Verdict],
           precise: set[int]) -> tuple[np.ndarray, list[Verdict]]:
    """Adaptive differences: a row whose line search found no lower f with the gradient
    of its level goes on at the next level (forward, central, Richardson) instead of
    ending, where it is, its gradient measured anew: instead of ``line_search``, and
    instead of a verdict of f's precision (``precise``: a finer gradient may still show
    a descent, or earn convergence by its norm). Returns the rows that end, with their
    verdicts."""
    if not p.adaptive:
        return rows, verdicts
    top = p.finest_level
    levels = np.array(np.atleast_1d(s.fd_level), dtype=np.int64)
    shown = np.array(np.atleast_1d(s.fd_shown), dtype=np.int64)
    for j, v in enumerate(verdicts):  # a coarser level showed f's precision here already
        if v[0] is Status.LINE_SEARCH and shown[rows[j]] and levels[rows[j]] >= top:
            verdicts[j] = (Status.CONVERGED, (
                "f cannot be lowered within its precision: a line search showed it at this "
                "point, and the finest differences find no lower f either"))
    climb = [j for j, v in enumerate(verdicts)
             if (v[0] is Status.LINE_SEARCH or j in precise) and levels[rows[j]] < top]
    if not climb:
        return rows, verdicts
    up = rows[climb]
    levels[up] += 1
    shown[rows[[j for j in climb if j in precise]]] = 1
    # no step was taken: a step norm of NaN, so that no small-step rule reads it as one
    if s.point:
        s.fd_level, s.fd_shown, s.grad, s.SN = int(levels[0]), int(shown[0]), None, math.nan
        return rows[:0], []
    s.fd_level, s.fd_shown = levels, shown
    SN = np.array(s.SN, dtype=float)
    SN[up] = math.nan
    s.SN = SN
    if s.grad is not None:  # the gradient the failed search kept is the old level's
        grad = s.grad.copy()
        grad[up] = np.nan
        s.grad = grad
    climbed = set(climb)
    stay = [j for j in range(len(rows)) if j not in climbed]
    return rows[stay], [verdicts[j] for j in stay]


def _out_of_budget(p: Problem, why: int, k: int, nfev: int) -> Verdict:
    """A row whose line search ran out of evaluations or time before it found a step."""
    if why == 1:
        left = 0 if p.budget is None else p.budget - nfev
        where = (f"stopped with {left} of the budget of {p.budget} left, too few for a trial "
                 "and its gradient, and no trial of f alone lowered f" if left > 0
                 else f"stopped at the budget of {p.budget}")
        return Status.MAX_NFEV, (f"{nfev} evaluations spent: the line search of step {k} "
                                 f"{where}, at the best point it had")
    return Status.MAX_TIME, (f"max_time = {p.stop.max_time:g} s ran out during the line "
                             f"search of step {k}, at the best point it had")


def _one_draw_hint(name: str, k: int, grad_norm: float) -> str:
    """Why a line search ended a start whose gradient is a stochastic estimate."""
    return (f"{name} found no step at step {k} that lowers f enough along the direction of "
            f"one draw of the stochastic gradient (norm {grad_norm:.3g}); one draw shows "
            "nothing about a minimum: try gradient='forward' or 'central', or a fixed step "
            "(optimizer='gd'), which draws anew each step")


def _finer(p: Problem) -> str | None:
    """The name of finer differences than a run's, to suggest (None: adaptive ones, which
    climbed to their finest, Richardson's, or central ones within bounds)."""
    if p.adaptive or p.refine is None:
        return None
    return finer_name(p)


def line_search_hint(name: str, k: int, grad_norm: float, gtol: float,
                     analytic: bool = False, finer: str | None = "richardson") -> str:
    """Why a line search ended a start, and what to try (``analytic``: the run's gradient
    is the objective's own, not finite differences; ``finer``: the differences to
    suggest, None where the run's have no finer kind)."""
    why = (f"{name} found no step along the direction at step {k} that lowers f enough "
           f"(gradient norm {grad_norm:.3g}, gtol {gtol:g})")
    if analytic:
        return why + (": the analytic gradient may not be f's (check_gradient=True tests "
                      "it), f may not be smooth there, or near a minimum f's rounding hides "
                      "the decrease; if x is good enough, a larger gtol ends such runs "
                      "converged")
    tell = ("near a minimum the gradient is as accurate as f's rounding and the "
            "differences allow, so x is as good as the differences can tell")
    finest = " (the finest differences measured it)" if finer is None else ""
    other = "" if finer is None else f"gradient={finer!r}, "
    return why + f": {tell}{finest}; try a larger gtol, {other}or an analytic gradient (jac=...)"
