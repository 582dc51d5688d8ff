"""The step loop: one loop advances every kind of run, a step at a time.

A step: measure the slope at the rows' points (the gradient; in a training run, the batch
loss and gradient of the step's batch), record, test the stop rules, take the step,
evaluate the new points (full-data runs), commit, test the new points, tell the
observers.

The same code serves one point (``state.point``: floats and an (n,) array) and K rows
(arrays with one entry per start): the few tests that differ are one line each, written
for both. On the way down every test is one cheap comparison; only when it fails does a
function of :mod:`optiframe.settle` work out which rows stop and why. Everything that
watches the run (history, stream, checkpoints, progress, callbacks, plugin hooks, the
clock, the evaluation budget) is reached through the :class:`~optiframe.observers.Watch`
at fixed places.

The state (:class:`~optiframe.state.RunState`) changes only at the commit of a step and
when rows finish, so a KeyboardInterrupt anywhere leaves it at a whole step: what a
checkpoint saves and a resumed run starts from. The loop reads its values into locals,
which a single start needs to run at the speed of a hand-written loop.
"""

from __future__ import annotations

import math

import numpy as np

from .observers import Watch, step_info
from .problem import Problem, RowError
from .settle import (
    fail_rows,
    settle_gradients,
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
    point, batches, stop = s.point, p.batches, p.stop
    grad, value, norm, dist = p.grad, p.value, p.norm, p.dist
    fev, jev, gtol, max_steps, xtol = p.fev, p.jev, p.gtol, p.max_steps, stop.xtol
    use_ftol, inf = stop.ftol > 0.0, math.inf
    extend, rec, xs, every, clock, calls = w.extend, w.rec, w.xs, w.every, w.clock, w.calls
    t0 = w.t0
    k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
    while s.running:
        if batches is not None and batches.epoch_done(s):  # epoch end: observers, next epoch
            batches.end_epoch(s, w)
            k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
            continue
        if k >= w.next_top:  # a checkpoint, a progress tick, the budget or the clock
            w.top(s)
            k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
            if not s.running:
                break
        try:  # -- measure: the slope (and, training, the batch loss) at the rows' points
            if batches is not None:
                F, G = batches.measure(s, X)
            else:
                G = grad(X) if s.rng is None else grad(X, s.rng)
        except (OverflowError, FloatingPointError):  # one point: its gradient is non-finite
            G = np.full(X.shape, math.nan)
        except RowError as err:  # some rows raised: they fail, the others go on
            fail_rows(s, p, err, "the gradient", NF + fev, NJ + jev)
            k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
            if not s.running:
                break
            G = err.values[err.kept]
            if batches is not None:
                F = err.losses[err.kept]
        GN = norm(G)
        if k % every == 0:
            if point:
                extend((k, F, GN, SN, NF + fev, clock() - t0))
                if xs is not None:
                    xs.append(X)
            else:
                rec(k, s.index, F, GN, SN, X)
            s.last_recorded = k
        skip = None
        if ((batches is not None and batches.alarm(F, s)) or k >= max_steps or not (
                (gtol < GN < inf) if point else (GN.min() > gtol and GN.max() < inf))):
            losses = F
            keep, skip = settle_gradients(s, p, GN, F, NF + fev, NJ + jev)
            k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
            if not s.running:
                break
            if skip is True:  # one point with a non-finite gradient: the step is skipped
                s.put(k + 1, X, F, 0.0, NF + fev, NJ + jev, opt, bX, bF, s.sched,
                      batches and batches.moved(s, None), s.bad + 1)
                k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
                continue
            if keep is not None:
                G = G[keep]
                if batches is not None:
                    F = losses[keep]
        # -- step and evaluate -------------------------------------------------------------
        step, sched = (p.step, s.sched) if p.schedules is None else p.scheduled(s, k, F)
        X_new, opt_new = step(X, G, opt)
        if skip is not None:
            X_new, opt_new = skip_rows(X, X_new, opt, opt_new, skip)
        if batches is None:
            try:
                F_new = value(X_new)
            except (OverflowError, FloatingPointError):
                F_new = inf
            except RowError as err:  # rows whose new point raised keep their last good pair
                fail_rows(s, p, err, "the objective", NF + fev, NJ + jev)
                X_new, opt_new = X_new[err.kept], p.take(opt_new, err.kept)
                F_new, G = err.values[err.kept], G[err.kept]
                skip = None if skip is None else skip[err.kept]
                k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
                if not s.running:
                    break
            if point:
                if type(F_new) is not float:
                    F_new = p.scalar(F_new)
                if -inf < F_new < bF:
                    bX, bF = X_new, F_new
            else:
                if skip is not None:
                    F_new = np.where(skip, F, F_new)
                better = (bF > F_new) & (F_new > -inf)
                bX, bF = np.where(better[:, None], X_new, bX), np.where(better, F_new, bF)
            NF = NF + fev + 1
        else:
            F_new, NF = F, NF + fev
        F_old, k, X, F, SN, NJ, opt = F, k + 1, X_new, F_new, dist(X_new, X), NJ + jev, opt_new
        s.put(k, X, F, SN, NF, NJ, opt, bX, bF, sched,
              batches and batches.moved(s, F_old if skip is None else np.where(skip, np.nan,
                                                                              F_old)),
              s.bad if skip is None else s.bad + skip)
        # -- what the new points end ------------------------------------------------------
        if batches is None:
            if not ((-inf < F <= s.f_limit) if point else (
                    (s.f_limit >= F).all() and F.min() > -inf)):
                keep = settle_values(s, p)
                k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()
                if not s.running:
                    break
                F_old = F_old[keep]
                skip = None if skip is None else skip[keep]
            small = (xtol >= SN or (use_ftol and stop.f_converged(F_old, F))) if point else (
                SN.min() <= xtol or use_ftol)
        else:
            small = False
        stopped = bool(calls) and w.step(step_info(s))
        if small:
            settle_small_steps(s, p, F_old, skip)
        if stopped and s.running:
            s.finish_all(Status.CALLBACK_STOP, f"at step {k}")
        if small or stopped:
            k, X, F, SN, NF, NJ, opt, bX, bF = s.hot()


__all__ = ["advance"]
