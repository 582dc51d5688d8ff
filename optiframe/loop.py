"""The step loop: one loop advances every kind of run, a step at a time.

A step, as :func:`_steps` reads: the top-of-step observers, *measure* the slope at the
rows' points (the gradient; in a training run, the batch loss and gradient of the step's
batch), *record*, the gradient-stage rules, the optimizer's *proposal*, its *length* and f
at the new points (the run's :class:`~optiframe.line_step.StepLength`: a fixed step or a
line search, returning a named trial), the *commit*, the value-stage rules and the
step's observers. Each phase is a method of :class:`_Step`; on the way down each stage's
rules (:mod:`optiframe.stop_rules`) are one cheap comparison, their gate, and only when
it fails does a function of :mod:`optiframe.settle` ask the stage's rules which rows stop
and why. Everything that watches the
run (history, stream, checkpoints, progress, callbacks, plugin hooks, the clock, the
evaluation budget) is reached through the :class:`~optiframe.observers.Watch` at fixed
places.

The carry is the :class:`~optiframe.state.RunState` itself: what changes every step is
committed to it in one assignment (``s.put``), so a checkpoint, an observer or Ctrl-C
always sees a whole step; a step's own values (its gradient, its proposal) live in the
phase's locals until then. On Ctrl-C a stochastic step's random draws are undone and the
Watch saves the state, which a resumed run starts from.

One start with a fixed step on the full data (gradient descent, momentum, Adam...) runs
:func:`_point_steps` instead: the same arithmetic on locals, at the speed of a
hand-written loop (tests/unit/test_loop.py holds it to the general loop's bits).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .line_step import restarted
from .numerics import F_FLOOR, count_nonzero
from .observers import Watch, step_info
from .problem import SMALL, Problem, RowError, confirmed_gradient, row_norms_top, users_error
from .replay import unasked
from .settle import (
    fail_rows,
    settle_gradients,
    settle_searches,
    settle_steps,
    settle_values,
    skip_rows,
    stop_by_callback,
)
from .state import RunState
from .step_values import Measured, Moved

#: Off: every run takes the general loop (the bit-identity test compares the two paths).
FAST_PATH = True

#: a 1-D array's least and largest entries, NaN where one is (without ``a.min()``'s frame),
#: and how many of a boolean array's entries hold (``count == len``: ``all()``, faster)
_min, _max, _count = np.minimum.reduce, np.maximum.reduce, count_nonzero


def advance(s: RunState, p: Problem, w: Watch, setup: Any = None) -> None:
    """Step the running rows of ``s`` until none is left; each row that stops joins
    ``s.finished`` with its verdict. Ctrl-C and user code's errors end the rows still
    running at the last whole step. ``setup``: the run's set-up hold (a
    :class:`~optiframe.signals.deferred` with its list), ended here, within the loop's
    handling: a Ctrl-C it held, or one as it ends, stops the run at once."""
    try:
        if setup is not None:
            setup.__exit__(None, None, None)
            if setup.came:
                raise KeyboardInterrupt
        if (FAST_PATH and s.point and p.batches is None and p.line_search is None
                and not p.gates.asked and not p.adaptive):
            _point_steps(s, p, w)
        else:
            _steps(s, p, w)
    except KeyboardInterrupt:
        w.interrupted(s)
    except Exception as exc:  # user code that could not be traced to rows
        if s.point:  # a gradient that raised part way is charged what it asked
            s.nfev -= unasked(exc)
        w.failed(s, exc)
    w.ended(s)


def _steps(s: RunState, p: Problem, w: Watch) -> None:
    """The loop of every kind of run: one point or K rows, full data or batches, a fixed
    step or a line search."""
    step, F_old = _Step(s, p, w), None  # F_old: f before a step committed, not yet observed
    try:
        while True:  # (not `while s.running:`: see _point_steps)
            if not s.running:
                break
            if step.training and p.batches.epoch_done(s.cursor):
                p.batches.end_epoch(s, w)  # epoch end: observers, the next epoch
                continue
            if s.k >= w.next_top:  # a checkpoint, a progress tick, the budget or the clock
                w.top(s)
                if not s.running:
                    break
            if step.keep_rng:
                step.keep_draws()
            m = step.measure()  # the slope at the rows' points
            if m is None:
                continue  # every row raised
            step.record(m)
            if step.gradient_stops(m):  # the gradient-stage rules
                m = step.settle_gradient(m)
                if m is None:
                    continue  # the rows ended, or the step was skipped
            moved = step.move(m)  # the proposal, its length and f at the new points
            if moved is None:
                continue  # every row raised
            rows, F_old = s.index, step.commit(m, moved)  # the step is whole
            step.observe(m, moved, F_old)  # the value-stage rules and the step's observers
            F_old = None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and F_old is not None:  # (in observe, or as
            step.observe_cut(m, moved, F_old, rows)  # type: ignore[arg-type]  # the loop
            # went on to it; m and moved are the committed step's, set)
        step.undo_draws()
        raise


def _point_steps(s: RunState, p: Problem, w: Watch) -> None:
    """One start, a fixed step, the full data: :func:`_steps`' arithmetic, on locals."""
    stochastic, valued, scheduled, bounded, small, guarded = (
        p.stochastic, p.valued, p.schedules is not None, p.box is not None, s.n <= SMALL,
        not type(p.objective).trusted)
    grad, value, norm, dist, opt_step, fev, jev, cost = (
        p.grad, p.value, p.norm, p.dist, p.step, p.fev, p.jev, p.step_cost)
    (k_max, low, high), xtol, ftol, inf = p.gates.window, p.stop.xtol, p.stop.ftol, math.inf
    extend, xs, every, clock, t0, calls, keep_rng = (
        w.extend, w.xs, w.every, w.clock, w.t0, w.calls, stochastic and w.checkpoint is not None)
    step = _Step(s, p, w)  # the slow paths: the general loop's phases, on the state
    (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, lim, A, live, XL), ahead, next_top = (
        _locals(s, small), False, w.next_top)  # ahead: the state is ahead of the locals
    on_gradient, on_value, F_old = (fev, jev), (cost, jev), None  # what a step has spent, by
    try:  # phase; F_old: f before the last step committed here
        while True:  # (not `while live:`, whose back jump CPython 3.11 makes conditional, and
            if not live:  # a conditional one does not warm the code up: the loop would run
                break  # unspecialized until its 8th call: 14 % more instructions a step)
            paid = on_gradient  # (a user error from here on: the gradient is spent)
            if k >= next_top:  # a checkpoint, a progress tick, the budget or the clock
                ahead = _put(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, bad, A)
                w.top(s)
                if not s.running:
                    break
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, lim, A, live, XL
                 ), ahead, next_top = _locals(s, small), False, w.next_top
            if keep_rng:
                step.keep_draws()
            try:  # -- measure
                G = grad(X, rng) if stochastic else (grad(X, F) if valued else grad(X))
            except (OverflowError, FloatingPointError):  # a non-finite gradient
                G = np.full(X.shape, math.nan)
            PG = p.projected(X, G) if bounded else G
            GN = math.hypot(*PG.tolist()) if small else norm(PG)
            if every == 1 or k % every == 0:  # -- record
                extend((k, F, GN, SN, NF + fev, clock() - t0, A))
                if xs is not None:
                    xs.append(X)
            if k >= k_max or not low < GN < high:  # -- the gradient-stage rules
                ahead = _put(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, bad, A)
                step.settle_gradient(Measured(F, G, PG, GN, fev, jev, 0))
                if not s.running:
                    break
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, lim, A, live, XL
                 ), ahead, F_old = _locals(s, small), False, None  # the step was skipped
                continue  # (F_old None: the rules of a committed step have nothing to ask)
            step_fn, sched_new = p.scheduled(sched, k, F) if scheduled else (opt_step, sched)
            X_new, opt_new = step_fn(X, PG, opt)  # -- the optimizer's step, f at the new point
            X_new = p.project(X_new) if bounded else X_new
            if guarded:
                X_new.setflags(write=False)  # the iterate: an objective may not write into it
            paid = on_value  # (and from here on, f at the new point)
            try:
                F_new = value(X_new)
                if type(F_new) is not float:  # a number, or a clear error
                    F_new = p.scalar(F_new)
            except (OverflowError, FloatingPointError):
                F_new = inf
            if -inf < F_new < bF:  # the best point: idempotent, so it may precede the commit
                bX, bF = X_new, F_new
            XL_new: Any = X_new.tolist() if small else None
            F_old, k, X, F, SN, NF, NJ, opt, sched, XL, step.rng_top = (  # -- commit
                F, k + 1, X_new, F_new, math.dist(XL_new, XL) if small else dist(X_new, X),
                NF + cost, NJ + jev, opt_new, sched_new, XL_new, None)
            if not F_FLOOR < F <= lim or calls or xtol >= SN or (  # -- the value-stage rules
                    ftol > 0.0 and p.stop.f_converged(F_old, F)):  # and the step's observers
                ahead = _put(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, bad, A)
                step.observe(Measured(F_old, G, PG, GN, fev, jev, 0),
                             Moved(X, opt, sched, None, F, bX, bF), F_old)
                (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, lim, A, live, XL
                 ), ahead = _locals(s, small), False
    except BaseException as exc:
        if not ahead:  # the locals hold the last whole step; a user error (the start
            nf, nj = paid if isinstance(exc, Exception) else (0, 0)  # fails) counts what
            _put(s, k, X, F, SN, NF + nf, NJ + nj, opt, bX, bF, sched, bad, A)  # it spent
            step.undo_draws()
        step.cut_short(exc, F_old)  # (Ctrl-C: the last committed step's rules again)
        raise
    if not ahead:
        _put(s, k, X, F, SN, NF, NJ, opt, bX, bF, sched, bad, A)


def _kept_best(every: bool, better: np.ndarray, X: np.ndarray, F: np.ndarray,
               best_X: np.ndarray, best_F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's best point and value: ``X``, ``F`` where ``better``, else the best so
    far (no copies while ``every`` row is better, as every start that descends is)."""
    if every:
        return X, F
    return np.where(better[:, None], X, best_X), np.where(better, F, best_F)


def _locals(s: RunState, small: bool) -> tuple[Any, ...]:
    """:func:`_point_steps`' locals from the state: k, X, F, SN, nfev, njev, opt, best_X,
    best_F, sched, rng, bad, f_limit, step_size, the running count and X as a list."""
    (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, _, lim, A, _, live) = s.hot()
    return (k, X, F, SN, NF, NJ, opt, bX, bF, sched, rng, bad, lim, A, live,
            X.tolist() if small else None)


def _put(s: RunState, k: int, X: Any, F: Any, SN: Any, NF: Any, NJ: Any, opt: Any, bX: Any,
         bF: Any, sched: Any, bad: Any, A: Any) -> bool:
    """:func:`_point_steps`' locals into the state (before a slow path reads it); True:
    from here the state is ahead of the locals."""
    s.put(k, X, F, SN, NF, NJ, opt, bX, bF, sched, None, bad, A, None)
    return True


class _Step:
    """The phases of a step, for any kind of run; the run's flags are read once."""

    def __init__(self, s: RunState, p: Problem, w: Watch) -> None:
        self.s, self.p, self.w = s, p, w
        self.point, self.training = s.point, p.batches is not None
        self.small = s.point and s.n <= SMALL  # norms on Python floats: no frame, no BLAS
        self.searched, self.bounded = p.line_search is not None, p.box is not None
        self.guarded = not type(p.objective).trusted  # hand user code read-only iterates
        # a stochastic step draws from the rows' generators before it commits: with a
        # checkpoint to write on Ctrl-C, the step's start keeps their states to go back to
        self.keep_rng = p.stochastic and w.checkpoint is not None
        self.stochastic, self.valued = p.stochastic, p.valued
        self.rng_top: list[tuple[Any, Any]] | None = None
        self.opt_step, self.norm, self.dist = p.step, p.norm, p.dist
        self.length, self.calls = p.step_length.take, w.calls  # the step's length
        self.confirm = p.adaptive and p.gtol > 0.0  # see confirmed_gradient (a fixed
        # step's levels climb only by it; a training run has no levels)
        self.spent = (p.step_cost, p.jev)  # what a fixed step costs each row
        self.undo: Any = None  # the state before a commit whose searches failed (None:
        # they did not), and the step's generator states: what settling them undoes
        self.lim, self.lim_min = None, math.inf  # the divergence limits, and their least
        self.best_within = False  # every row's best value within its limit (_values_ok)
        self.k_max, self.low, self.high = p.gates.window  # the gradient stage's gate
        self.ask_gradient, self.ask_step = ("gradient" in p.gates.asked,
                                            "step" in p.gates.asked)
        self.answered = -1  # the last step whose step-stage rules answered (ask_again)

    def keep_draws(self) -> None:
        """The rows' generator states at the step's start (``keep_rng``: a stochastic
        run with a checkpoint to write on Ctrl-C)."""
        self.rng_top = [(g, g.bit_generator.state) for g in self.s.rng]

    def undo_draws(self) -> None:
        """Ctrl-C (or an error) before the commit: the step's random draws are undone."""
        for g, state in self.rng_top or ():
            g.bit_generator.state = state

    def measure(self) -> Measured | None:
        """The gradient at the rows' points (training: and the batch loss); rows whose
        gradient raised fail, the others go on (None: none is left)."""
        s, p = self.s, self.p
        X, F, LV = s.X, s.F, s.fd_level
        mf: Any = p.fev
        mj: Any = p.jev
        try:
            if self.training:
                F, G = (p.batches.measure(s.cursor, X, s.rng) if self.stochastic
                        else p.batches.measure(s.cursor, X))
            elif self.searched:
                G, mf, mj = p.searched_gradient(X, s.grad, s.rng, F, LV)
            elif self.stochastic:
                G = p.grad(X, s.rng)
            elif self.confirm:  # adaptive differences with a fixed step: at each row's level
                mf = p.gradient_costs(LV)
                G = p.gradient_at(X, s.rng, F, LV)
            else:
                G = p.grad(X, F) if self.valued else p.grad(X)
        except (OverflowError, FloatingPointError):  # a point's gradient is non-finite
            G = np.full(X.shape, math.nan)
        except RowError as err:  # some rows raised: they fail, the others go on
            left = self._drop_failed(err, mf, mj)
            if left is None:
                return None
            G, F, mf, mj, LV = left
        except Exception:  # a single start's own error: it fails (Watch.failed), counting
            if self.point:  # the gradient as a stack's row does
                s.nfev, s.njev = s.nfev + mf, s.njev + mj
            raise
        if self.confirm:  # forward differences at most gtol: central ones decide (the
            try:  # rows left, when others raised)
                G, mf, mj, LV = confirmed_gradient(p, s.X, F, G, mf, mj, LV, s.rng, s.nfev)
            except (OverflowError, FloatingPointError):
                G = np.full(s.X.shape, math.nan)
            except RowError as err:
                left = self._drop_failed(err, mf, mj)
                if left is None:
                    return None
                G, F, mf, mj, LV = left
        PG = p.projected(s.X, G) if self.bounded else G  # what the bounds let a step follow
        if self.point:
            return Measured(F, G, PG, math.hypot(*PG.tolist()) if self.small
                             else self.norm(PG), mf, mj, LV)
        GN, top = row_norms_top(PG)  # (the largest, for the gate: no second reduction)
        return Measured(F, G, PG, GN, mf, mj, LV, top)

    def _drop_failed(self, err: RowError, mf: Any, mj: Any) -> tuple[Any, ...] | None:
        """The rows whose gradient raised fail; returns the gradient, f, what the gradient
        cost and the finite-difference levels of the rows left (None: none is)."""
        s = self.s
        if err.costs is not None:  # what each row's gradient cost (a search, a check)
            mf, mj = err.costs
        fail_rows(s, self.p, err, "the gradient", s.nfev + mf, s.njev + mj)
        if not s.running:
            return None
        kept = err.kept
        G, F = err.values[kept], err.losses[kept] if self.training else s.F
        mf, mj = (mf[kept] if np.ndim(mf) else mf), (mj[kept] if np.ndim(mj) else mj)
        return G, F, mf, mj, s.fd_level if err.levels is None else err.levels[kept]

    def record(self, m: Measured) -> None:
        s, w = self.s, self.w
        if w.every == 1 or s.k % w.every == 0:
            if self.point:
                w.extend((s.k, m.F, m.GN, s.SN, s.nfev + m.mf, w.clock() - w.t0,
                          s.step_size))
                if w.xs is not None:
                    w.xs.append(s.X)
            else:
                w.rec(s.k, s.index, m.F, m.GN, s.SN, s.X,
                      s.step_size if self.searched else None)

    def gradient_stops(self, m: Measured) -> bool:
        """The gradient-stage gate, one comparison on the way down: the built-in rules'
        window (the step limit, a gradient at most gtol or not finite), a training run's
        alarm (a batch loss to settle), and rules of the run's own, asked every step."""
        p, GN = self.p, m.GN
        if self.training and p.batches.alarm(m.F, self.s):
            return True
        if self.s.k >= self.k_max or self.ask_gradient:
            return True
        if self.point:
            return not self.low < GN < self.high
        return not (_min(GN) > self.low and m.top < self.high)

    def settle_gradient(self, m: Measured) -> Measured | None:
        """The rows that stop at the gradient stage end; a point whose gradient is not
        finite skips its step (committed here). Returns the step's measurements of the
        rows that go on (None: none is left, or the point skipped)."""
        s, p, w = self.s, self.p, self.w
        if s.k >= p.max_steps:  # a budget ends the starts: their checkpoint first
            w.budget_end(s)
        keep, skip = settle_gradients(s, p, m.GN, m.F, s.nfev + m.mf, s.njev + m.mj,
                                      w.deadline, m.G)
        if not s.running:
            if self.point and not self.training and s.k % w.every:  # the last gradient
                w.extend((s.k, s.F, m.GN, s.SN, s.nfev, w.clock() - w.t0, s.step_size))
                if w.xs is not None:
                    w.xs.append(s.X)
            return None
        if skip is True:  # one point with a non-finite gradient: the step is skipped
            cursor = p.batches.moved(s.cursor, None, True) if self.training else s.cursor
            s.put(s.k + 1, s.X, s.F, 0.0, s.nfev + m.mf, s.njev + m.mj, s.opt, s.best_X,
                  s.best_F, s.sched, cursor, s.bad + 1, s.step_size, None)
            self.rng_top = None
            return None
        if keep is not None:
            m.keep(keep)
        m.skip = skip
        return m

    def move(self, m: Measured) -> Moved | None:
        """The optimizer's proposal (under its schedules), its length (a line search)
        and f at the new points, and the best points; rows whose f raised fail (None:
        none is left)."""
        s, p = self.s, self.p
        if p.schedules is not None:
            step, sched = p.scheduled(s.sched, s.k, m.F)
        else:
            step, sched = self.opt_step, s.sched
        X_new, opt_new = step(s.X, m.PG, s.opt)
        if m.skip is not None:
            X_new, opt_new = skip_rows(s.X, X_new, s.opt, opt_new, m.skip)
        if self.bounded and not self.searched:  # the step, projected into the bounds
            X_new = p.project(X_new)
        if self.guarded:
            X_new.setflags(write=False)  # the iterate: an objective may not write into it
        new = Moved(X_new, opt_new, sched, s.cursor)
        if self.training:
            new.F, new.A, new.Gn = m.F, s.step_size, s.grad
            new.cursor = p.batches.moved(s.cursor, m.F if m.skip is None else np.where(
                m.skip, np.nan, m.F), self.point)
            self._best_batch(m, new)
            return new
        try:
            t = self.length(p, s, m, new.X, self.w.deadline)
        except Exception:  # a single start's f raised at its new point: it fails (as in
            if self.point and not self.searched:  # Watch.failed), counting the step's
                s.nfev, s.njev = s.nfev + m.mf + 1, s.njev + m.mj  # evaluations
            raise
        if t.errors and not self.searched:  # a fixed step's rows whose f raised fail
            t = self._fail(m, new, t)
            if t is None:
                return None  # every row's f raised
        (new.X, new.F, new.A, new.Gn, new.snf, new.snj, new.ok, new.RS, new.errors,
         new.gain) = t
        if p.restart is not None and (new.RS if self.point else new.RS.any()):
            new.opt = restarted(p, new.opt, s.X, new.RS)  # the search's restart policy
        self._best(m, new)
        return new

    def _fail(self, m: Measured, new: Moved, t: Any) -> Any:
        """A fixed step's rows whose f raised fail, at their last pair; the trial, the
        step's proposal and measurements keep the others. Returns the trial of the rows
        left (None: none is)."""
        s, p = self.s, self.p
        err = RowError(t.F, t.errors)
        fail_rows(s, p, err, "the objective", s.nfev + m.mf + 1, s.njev + m.mj)  # (f raised)
        if not s.running:
            return None
        kept = err.kept
        new.opt, new.sched = p.take(new.opt, kept), p.take(new.sched, kept)
        m.keep(kept)
        return t._replace(X=t.X[kept], F=t.F[kept], A=t.A[kept] if np.ndim(t.A) else t.A,
                          errors={})

    def _best(self, m: Measured, new: Moved) -> None:
        """Each row's best point so far (NaN is never better; -inf is not a best
        point)."""
        s = self.s
        if self.point:
            better = -math.inf < new.F < s.best_F
            new.bX, new.bF = (new.X, new.F) if better else (s.best_X, s.best_F)
            return
        if m.skip is not None:
            new.F = np.where(m.skip, m.F, new.F)
        better = s.best_F > new.F
        new.fmin = _min(new.F)
        if new.fmin == -math.inf:
            better &= -math.inf < new.F
        new.improved = _count(better) == len(better)
        new.bX, new.bF = _kept_best(new.improved, better, new.X, new.F, s.best_X, s.best_F)

    def _best_batch(self, m: Measured, new: Moved) -> None:
        """A training row's point of lowest finite batch loss so far (measured at the
        step's point, ``m.F``): where a start that diverges or turns NaN ends."""
        s, loss, best = self.s, m.F, self.s.best_F  # (best NaN: none yet)
        if self.point:
            better = -math.inf < loss < math.inf and not loss >= best
            new.bX, new.bF = (s.X, loss) if better else (s.best_X, best)
            return
        if m.skip is not None:
            loss = np.where(m.skip, np.nan, loss)
        better = np.isfinite(loss) & ~(loss >= best)
        new.bX, new.bF = _kept_best(_count(better) == len(better), better, s.X, loss,
                                    s.best_X, best)

    def commit(self, m: Measured, new: Moved) -> Any:
        """The step, whole, in one assignment; returns f before it."""
        s, p = self.s, self.p
        F_old = m.F
        SN = self.dist(new.X, s.X)
        bad = s.bad if m.skip is None else s.bad + m.skip
        searched = spent = None
        if self.searched:  # the gradient's and the search's costs, per row
            if new.errors or not (new.ok if self.point else new.ok.all()):  # to settle
                self.undo = s.committed(), self.rng_top
            LV, SH = m.LV, s.fd_shown
            if p.adaptive:  # finer differences where these misled; a move forgets
                LV = p.climbed(LV, new.RS, new.snf, new.snj, new.ok)  # what a coarser
                SH = (0 if new.ok else SH) if self.point else np.where(new.ok, 0, SH)
                new.Gn = p.handed_over(new.Gn, LV, m.LV)
            searched = (s.resets + new.RS, LV, SH)
            nfev, njev = s.nfev + m.mf + new.snf, s.njev + m.mj + new.snj
        elif self.confirm:  # a fixed step, adaptive differences: the gradient at the rows'
            searched = (s.resets, m.LV, s.fd_shown)  # levels (committed), f at the new
            nfev, njev = s.nfev + m.mf + 1, s.njev + m.mj  # point
        elif self.point:  # a fixed step (or training): the step's cost, known ahead
            nfev, njev = s.nfev + self.spent[0], s.njev + self.spent[1]
        else:  # (every row's: the counters add it when next read, not K additions a step)
            nfev = njev = None
            spent = self.spent
        s.put(s.k + 1, new.X, new.F, SN, nfev, njev, new.opt, new.bX, new.bF, new.sched,
              new.cursor, bad, new.A, new.Gn, searched, spent)
        self.rng_top = None
        return F_old

    def observe_cut(self, m: Measured, new: Moved, F_old: Any, rows: Any) -> None:
        """Ctrl-C after the step's commit (of ``rows``, f before it ``F_old``) and before
        :meth:`observe` returned: the checkpoint is to hold the step with its verdicts,
        so its rules are asked now, as observe asks them (a rule asked again ends no more
        rows), or a step whose searches failed, none settled yet, is undone (a resumed
        run takes it again, checks and all)."""
        s = self.s
        if not s.running:
            return
        if self.undo is not None:
            if len(s.index) == len(rows):  # (no row ended since the commit)
                (saved, self.rng_top), self.undo = self.undo, None
                s.put(*saved)
            return  # (rows settled by their searches: as a Ctrl-C in the settling)
        keep = None if s.point else np.isin(rows, s.index)
        skip = m.skip if keep is None or m.skip is None else m.skip[keep]
        self.ask_again(new, F_old if keep is None else F_old[keep], skip)

    def cut_short(self, exc: BaseException, F_old: Any) -> None:
        """:func:`_point_steps` stopped by ``exc``: for a Ctrl-C, the rules of the step it
        committed last (f before it: ``F_old``; None: none, or a skipped step) are asked
        again, as the Ctrl-C may have cut them short."""
        if isinstance(exc, KeyboardInterrupt) and F_old is not None:
            self.ask_again(None, F_old, None)

    def ask_again(self, new: Moved | None, F_old: Any, skip: Any) -> None:
        """The value- and step-stage rules of the state's last step (f before it:
        ``F_old``, of the running rows; ``new``: the step's values, None for one point),
        asked again where a Ctrl-C may have cut them short: they end the rows that they
        stop and no more; the step-stage rules not at all once they answered this step
        (``answered``, set by :func:`~optiframe.settle.settle_steps`)."""
        s, p = self.s, self.p
        if s.running and not self.training and not (
                F_FLOOR < s.F <= s.f_limit if new is None else self._values_ok(new)):
            settle_values(s, p)
        if s.running and self.answered != s.k:  # (observe's test before them only saves
            settle_steps(s, p, F_old, skip, self)  # time: it stops no row; rules that
            # answered are not asked again: a rule of the run's own may count its calls)

    def _values_ok(self, new: Moved) -> bool:
        """Whether every new value is a number above ``F_FLOOR`` and within its divergence
        limit (for a stack: no test of the limits where every row found a new best and
        every best lies within its limit, one comparison where the values all lie below
        the least limit; a line search accepts only finite values below f0)."""
        s = self.s
        if self.point:
            return F_FLOOR < s.F <= s.f_limit
        if self.searched:
            return bool(new.fmin > F_FLOOR)
        if s.f_limit is not self.lim:  # rows ended since: their least limit anew, and
            self.lim, self.lim_min = s.f_limit, _min(s.f_limit)  # whether every best value
            self.best_within = bool((s.best_F <= s.f_limit).all())  # lies within it
        if new.improved and self.best_within:  # every new value is its row's best, and
            return bool(new.fmin > F_FLOOR)  # the best only goes down: within the limits
        return bool((_max(s.F) <= self.lim_min or (s.f_limit >= s.F).all())
                    and new.fmin > F_FLOOR)

    def observe(self, m: Measured, new: Moved, F_old: Any) -> None:
        """The value-stage rules (a line search that found no step; NaN, infinite, at
        ``F_FLOOR`` or above the divergence limit), then the step's observers and small
        steps."""
        s, p, w = self.s, self.p, self.w
        skip = m.skip
        if self.undo is not None:  # a line search that found no step, or raised
            raised = users_error(new.errors) if self.point else None
            if raised is not None:
                w.failure = raised  # a single start raises it, with the result
            # (Ctrl-C in a check's evaluations: the loop's observe_cut undoes the step)
            keep = settle_searches(s, p, new.ok, new.errors, m.GN, new.gain, w.deadline)
            self.undo = None
            if not s.running:
                return
            if keep is not None:
                F_old, skip = F_old[keep], None if skip is None else skip[keep]
        elif not self.training and not self._values_ok(new):
            keep = settle_values(s, p)
            if not s.running:
                return
            if keep is not None:
                F_old, skip = F_old[keep], None if skip is None else skip[keep]
        stop = p.stop
        if self.calls or self.ask_step or (not self.training and (
                (stop.xtol >= s.SN or (stop.ftol > 0.0 and stop.f_converged(F_old, s.F)))
                if self.point else (not _min(s.SN) > stop.xtol or (
                    stop.ftol > 0.0 and stop.any_f_converged(F_old, s.F))))):
            # (Ctrl-C in a callback: the loops ask the step's rules, observe_cut, cut_short)
            stopped = bool(self.calls) and w.step(step_info(s))
            settle_steps(s, p, F_old, skip, self)  # the step stage's rules
            if stopped is not False and s.running:  # every start, or those a callback named
                stop_by_callback(s, p, stopped)
