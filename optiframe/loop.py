"""The step loop: one loop advances every kind of run, a step at a time.

A step: measure the slope at the rows' points (the gradient; in a training run, the batch
loss and gradient of the step's batch), record, test the stop rules, take the step,
evaluate the new points (full-data runs), commit, test the new points, tell the
observers.

The same code serves one point (``point``: floats and an (n,) array) and K rows (arrays
with one entry per start), full data and batches (``training``): the few tests that
differ are one line each, written for both (a flag read from a local costs a few
nanoseconds: the recompiled variants the loop once had, one per kind of run, measured no
faster). On the way down every test is one cheap comparison; only when
it fails does a function of :mod:`optiframe.settle` work out which rows stop and why.
Everything that watches the run (history, stream, checkpoints, progress, callbacks,
plugin hooks, the clock, the evaluation budget) is reached through the
:class:`~optiframe.observers.Watch` at fixed places.

The loop keeps what changes every step in locals (a single start must run at the speed
of a hand-written loop) and changes them in one assignment per step, the commit, so that
at any moment they hold a whole step (the best point alone may be updated before the
commit: redoing the step updates it the same way). The state
(:class:`~optiframe.state.RunState`) receives them (``s.put``) before anything reads it:
a slow path, an observer, the end of the run. On Ctrl-C the state is brought up to the
last whole step and the Watch saves it: what a resumed run starts from.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .line_step import line_step, restarted
from .observers import Watch, step_info
from .problem import SMALL, Problem, RowError
from .settle import (
    fail_rows,
    settle_gradients,
    settle_searches,
    settle_small_steps,
    settle_values,
    skip_rows,
)
from .state import RunState
from .status import Status


def advance(s: RunState, p: Problem, w: Watch) -> None:
    """Step the running rows of ``s`` until none is left; each row that stops joins
    ``s.finished`` with its verdict. KeyboardInterrupt and exceptions from user code end
    the rows still running (``interrupted``, ``failed``), at the last whole step."""
    try:
        _steps(s, p, w)
    except KeyboardInterrupt:
        w.interrupted(s)
    except Exception as exc:  # user code that could not be traced to rows
        w.failed(s, exc)
    w.ended(s)


def _steps(s: RunState, p: Problem, w: Watch) -> None:
    point, training, scheduled, stochastic = (s.point, p.batches is not None,
                                              p.schedules is not None, p.stochastic)
    small = point and s.n <= SMALL  # norms on Python floats: no frame, no BLAS
    searched, bounded, valued = p.line_search is not None, p.box is not None, p.valued
    adaptive = p.adaptive  # finite differences that climb to finer ones (problem.py)
    guarded = not type(p.objective).trusted  # user code: hand it read-only iterates
    natural = p.natural_step  # a quasi-Newton memory, restarted where its direction is reset
    batches, stop, grad, value, norm, dist, opt_step = (p.batches, p.stop, p.grad, p.value,
                                                        p.norm, p.dist, p.step)
    fev, jev, gtol, max_steps, xtol, cost = (p.fev, p.jev, p.gtol, p.max_steps, stop.xtol,
                                             p.step_cost)
    use_ftol, inf, ninf, every_step = stop.ftol > 0.0, math.inf, -math.inf, w.every == 1
    extend, rec, xs, every, clock, calls, t0 = (w.extend, w.rec, w.xs, w.every, w.clock,
                                                w.calls, w.t0)
    hypot, math_dist = math.hypot, math.dist
    # XL: a small point's coordinates as a list (each step converts only the new point);
    # sched_new, cursor_new, bad_new: what the commit takes when the step leaves them;
    # A: the last step's length (line searches; NaN without), Gn: the gradient at X that
    # the last line search computed (or None)
    (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
     lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
    next_top = w.next_top
    newer = False  # the state is ahead of the locals (inside a slow path)
    mf: Any = fev  # what this step's gradient cost (a line search may have paid it)
    mj: Any = jev
    # a stochastic step draws from the rows' generators before it commits: with a
    # checkpoint to write on Ctrl-C, the step's start keeps their states to go back to
    keep_rng, rng_top = stochastic and w.checkpoint is not None, None
    try:
        while live:
            if training and batches.epoch_done(cursor):  # epoch end: observers, next epoch
                newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
                batches.end_epoch(s, w)
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                 lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                newer = False
                continue
            if k >= next_top:  # a checkpoint, a progress tick, the budget or the clock
                newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
                w.top(s)
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                 lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                newer = False
                next_top = w.next_top
                if not live:
                    break
            if stochastic and keep_rng:
                rng_top = [g.bit_generator.state for g in rng]
            try:  # -- measure: the slope at the rows' points (training: and the batch loss)
                if training:  # F: this step's batch loss
                    F, G = (batches.measure(cursor, X, rng) if stochastic
                            else batches.measure(cursor, X))
                elif searched:
                    G, mf, mj = p.searched_gradient(X, Gn, rng, F, s.fd_level)
                else:
                    G = grad(X, rng) if stochastic else (grad(X, F) if valued else grad(X))
            except (OverflowError, FloatingPointError):  # a point's gradient is non-finite
                G = np.full(X.shape, math.nan)
            except RowError as err:  # some rows raised: they fail, the others go on
                newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
                if searched:
                    mf, mj = err.costs
                fail_rows(s, p, err, "the gradient", NF + mf, NJ + mj)
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                 lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                newer = False
                if not live:
                    break
                G = err.values[err.kept]
                if searched:
                    mf, mj = mf[err.kept], mj[err.kept]
                if training:
                    F = err.losses[err.kept]
            PG = p.projected(X, G) if bounded else G  # what the bounds let the step follow
            GN: Any = hypot(*PG.tolist()) if small else norm(PG)
            if every_step or k % every == 0:
                if point:
                    extend((k, F, GN, SN, NF + mf, clock() - t0, A))
                    if xs is not None:
                        xs.append(X)
                else:
                    rec(k, s.index, F, GN, SN, X, A if searched else None)
            if not point:  # rows whose step is skipped (a non-finite gradient)
                skip = None
            if ((training and batches.alarm(F, s)) or k >= max_steps or not (
                    (gtol < GN < inf) if point else (GN.min() > gtol and GN.max() < inf))):
                newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
                if k >= max_steps:  # a budget ends the starts: their checkpoint first
                    w.budget_end(s)
                losses = F
                keep, skip = settle_gradients(s, p, GN, F, NF + mf, NJ + mj)
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                 lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                newer = False
                if not live:
                    if point and not training and k % every:  # the last gradient's record
                        extend((k, F, GN, SN, NF, clock() - t0, A))
                        if xs is not None:
                            xs.append(X)
                    break
                if skip is True:  # one point with a non-finite gradient: the step is skipped
                    k, SN, NF, NJ, bad, cursor, Gn = (k + 1, 0.0, NF + mf, NJ + mj, bad + 1,
                                                      batches.moved(cursor, None, True)
                                                      if training else cursor, None)
                    bad_new, cursor_new = bad, cursor
                    continue
                if not point:
                    G, PG = G[keep], PG[keep]
                    if searched:
                        mf, mj = mf[keep], mj[keep]
                    if training:
                        F = losses[keep]
                    if skip is not None:
                        bad_new = bad + skip
            # -- step and evaluate ------------------------------------------------------------
            if scheduled:
                step, sched_new = p.scheduled(sched, k, F)
                X_new, opt_new = step(X, PG, opt)
            else:
                X_new, opt_new = opt_step(X, PG, opt)
            if not point and skip is not None:
                X_new, opt_new = skip_rows(X, X_new, opt, opt_new, skip)
            if bounded and not searched:  # the step, projected into the bounds
                X_new = p.project(X_new)
            if guarded:
                X_new.setflags(write=False)  # the iterate: an objective may not write into it
            if training:
                F_new = F
                cursor_new = batches.moved(cursor, F if point or skip is None else np.where(
                    skip, np.nan, F), point)
            else:
                if searched:  # the step's length, found along its direction
                    X_new, F_new, A_new, Gn_new, snf, snj, ok, RS, errors, gain = line_step(
                        p, X, F, G, PG, X_new, A, rng, None if point else skip, NF + mf,
                        w.deadline, SN, s.fd_level)
                    if natural and (RS if point else RS.any()):
                        opt_new = restarted(p, opt_new, X, RS)
                else:
                    try:
                        F_new = value(X_new)
                        if point and type(F_new) is not float:  # a number, or a clear error
                            F_new = p.scalar(F_new)
                    except (OverflowError, FloatingPointError):
                        F_new = inf
                    except RowError as err:  # rows whose new point raised keep their last pair
                        newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad,
                                      A, Gn)
                        fail_rows(s, p, err, "the objective", NF + fev, NJ + jev)
                        X_new, opt_new = X_new[err.kept], p.take(opt_new, err.kept)
                        sched_new = p.take(sched_new, err.kept)
                        F_new, G = err.values[err.kept], G[err.kept]
                        skip = None if point or skip is None else skip[err.kept]
                        (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                         lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                        bad_new = bad if point or skip is None else bad + skip
                        newer = False
                        if not live:
                            break
                if point:  # the best point: idempotent, so it may precede the commit
                    if ninf < F_new < bF:
                        bX, bF = X_new, F_new
                else:
                    if skip is not None:
                        F_new = np.where(skip, F, F_new)
                    fmin = F_new.min()
                    better = bF > F_new  # NaN is never better; -inf is not a best point:
                    if fmin == ninf:
                        better &= F_new > ninf
                    if better.all():  # descending: every start's best is its new point
                        bX, bF = X_new, F_new
                    else:
                        bX = np.where(better[:, None], X_new, bX)
                        bF = np.where(better, F_new, bF)
            # -- commit: the step is whole ---------------------------------------------------
            if small:
                XL_new = X_new.tolist()
            if searched:
                LV, SH = s.fd_level, s.fd_shown
                if adaptive:  # finer differences where these misled; a move forgets
                    LV = p.climbed(LV, RS, snf, snj, ok)  # what a coarser level showed at X
                    SH = (0 if ok else SH) if point else np.where(ok, 0, SH)
                F_old, k, X, F, SN, NF, NJ, opt, sched, bad, cursor, XL, rng_top, A, Gn, \
                    s.resets, s.fd_level, s.fd_shown = (
                        F, k + 1, X_new, F_new,
                        math_dist(XL_new, XL) if small else dist(X_new, X), NF + mf + snf,
                        NJ + mj + snj, opt_new, sched_new, bad_new, cursor_new,
                        XL_new if small else None, None, A_new, Gn_new, s.resets + RS, LV, SH)
            else:
                F_old, k, X, F, SN, NF, NJ, opt, sched, bad, cursor, XL, rng_top = (
                    F, k + 1, X_new, F_new, math_dist(XL_new, XL) if small else dist(X_new, X),
                    NF + cost, NJ + jev, opt_new, sched_new, bad_new, cursor_new,
                    XL_new if small else None, None)
            # -- what the new points end ------------------------------------------------------
            if searched and (errors or not (ok if point else ok.all())):
                # no acceptable step, or the search's evaluations raised
                newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
                keep = settle_searches(s, p, ok, errors, GN, gain)
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                 lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                newer = False
                if not live:
                    break
                if not point:  # (a point still running climbed to finer differences)
                    F_old = F_old[keep]
                    skip = None if skip is None else skip[keep]
            # (NaN, infinite, above the divergence limit; a line search only lowers f)
            if not training and not searched and not ((ninf < F <= lim) if point else (
                    (F.max() <= lim_min or (lim >= F).all()) and fmin > ninf)):
                newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
                keep = settle_values(s, p)
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                 lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                newer = False
                if not live:
                    break
                F_old = F_old[keep]
                skip = None if point or skip is None else skip[keep]
            if not point and skip is not None:
                bad_new = bad
            if calls or (not training and ((xtol >= SN or (use_ftol and stop.f_converged(
                    F_old, F))) if point else (SN.min() <= xtol or use_ftol))):
                # -- the observers of the step, and small steps ----------------------------------
                newer = _sync(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
                stopped = bool(calls) and w.step(step_info(s))
                if not training:
                    settle_small_steps(s, p, F_old, None if point else skip)
                if stopped is True and s.running:
                    s.finish_all(Status.CALLBACK_STOP, f"at step {k}")
                elif stopped is not False and s.running:  # the starts a callback named
                    s.finish_starts(stopped, Status.CALLBACK_STOP, f"at step {k}")
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
                 lim_min, live, XL, sched_new, cursor_new, bad_new) = _reread(s, small)
                newer = False
    except BaseException:
        if not newer:  # the locals hold the last whole step
            s.put(k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)
            if stochastic and rng_top is not None:  # the step's draws are undone
                for g, state in zip(s.rng, rng_top, strict=True):
                    g.bit_generator.state = state
        raise
    s.put(k, X, F, SN, NF, NJ, opt, bX, bF, sched, cursor, bad, A, Gn)


def _reread(s: RunState, small: bool) -> tuple[Any, ...]:
    """The loop's locals from the state (after a slow path changed it): :meth:`RunState.hot`,
    the point as a list (small points), and what the next commit takes unchanged."""
    (k, X, F, SN, nfev, njev, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
     live) = s.hot()
    lim_min = lim if s.point else (lim.min() if live else math.inf)
    return (k, X, F, SN, nfev, njev, opt, bX, bF, sched, rng, bad, cursor, lim, A, Gn,
            lim_min, live, X.tolist() if small else None, sched, cursor, bad)


def _sync(s: RunState, *hot: Any) -> bool:
    """Bring the state up to the loop's locals before a slow path; True: from here the
    state is ahead of the locals."""
    s.put(*hot)
    return True


__all__ = ["advance"]
