"""Line searches: how far to go along a direction, for every start at once.

An optimizer proposes a step; with a line search the step's direction ``d`` is kept and
its length ``alpha`` is searched: each row (start) accepts its own. A line search is a
component (hook ``register_line_searches``):

``armijo``
    backtracking from ``alpha0`` until f decreases enough (Armijo's condition
    ``f(x + a d) <= f(x) + c1 a g.d``), shrinking by safeguarded quadratic interpolation;
    with bounds the trial points follow the projected path ``P(x + a d)`` and the
    condition uses the displacement actually taken.
``wolfe``
    the strong Wolfe conditions (sufficient decrease and ``|g(x + a d).d| <= c2 |g.d|``):
    bracketing then zoom with cubic interpolation (Nocedal and Wright, Algorithms 3.5 and
    3.6); until a bracket is found, each trial goes to the minimizer of the cubic through
    the last two, 1.1 to 4 strides beyond the last (Moré and Thuente's first stage, as
    scipy's ``dcsrch``; :mod:`optiframe.interpolation`). The gradient is evaluated only
    at trials that decrease f enough, and the one at the accepted point is handed to the
    next step. With bounds the search stays within the largest feasible step along ``d``.

A trial whose value is NaN or infinite counts as "too far": the step shrinks. A row that
finds no acceptable step ends ``line_search``. Every trial is counted (``nfev``, ``njev``).

A search spends at most what ``max_nfev`` leaves a row (``SearchTask.budget``), and tries
nothing after ``SearchTask.deadline`` (``max_time``): a row stopped so keeps its best point
of sufficient decrease (or x), and ``SearchResult.stopped`` says why (1: budget, 2: clock).
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import numpy as np

from ._validation import check_int, check_real
from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .interpolation import cubic_minimizer, extrapolated, quadratic_minimizer
from .numerics import einsum

#: a trial whose promised decrease ``a |g.d|`` is below this times |f| is lost in rounding
_ROUNDING = 4.0 * float(np.finfo(float).eps)


@attrs.frozen(eq=False)
class SearchTask:
    """What a line search works on, one row per start: points ``X`` (K, n), values ``F``,
    gradients ``G``, directions ``D`` (descent: ``g.d < 0``), initial steps ``alpha0``
    (K,), upper limits ``alpha_max`` (K,) (inf, or the largest feasible step), and the
    objective: ``values(P, rows)`` (the values at points P of the task's rows ``rows``) and
    ``gradients(P, rows, F)`` (the gradients there, given those values F);
    ``project(X)`` keeps points in the bounds (or is None); ``cheap_gradients`` says that a
    gradient costs no evaluations of f (an analytic one), so a search may take it at every
    trial."""

    X: np.ndarray
    F: np.ndarray
    G: np.ndarray
    D: np.ndarray
    alpha0: np.ndarray
    alpha_max: np.ndarray
    values: Callable[[np.ndarray, np.ndarray], np.ndarray]
    gradients: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    project: Callable[[np.ndarray], np.ndarray] | None = None
    cheap_gradients: bool = False
    #: the evaluations each row may still spend (None: no budget), what one gradient
    #: costs in evaluations, and the perf_counter reading after which no trial starts
    budget: np.ndarray | None = None
    gradient_cost: int = 0
    deadline: float | None = None

    def affordable(self, rows: np.ndarray, nfev: np.ndarray, njev: np.ndarray,
                   need: int) -> np.ndarray:
        """Which of ``rows`` can spend ``need`` more evaluations, given what their search
        has spent (``nfev`` values, ``njev`` gradients)."""
        if self.budget is None:
            return np.ones(len(rows), dtype=bool)
        spent = nfev[rows] + njev[rows] * self.gradient_cost
        return self.budget[rows] - spent >= need

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline


#: ``SearchResult.stopped``: why a row's search stopped early
BUDGET, CLOCK = 1, 2


@attrs.frozen(eq=False)
class SearchResult:
    """What a line search found, per row: the step length ``alpha``, the new points and
    values, the gradients there (None where not evaluated), how many values and gradients
    it evaluated, whether the row found an acceptable step (``ok``), and whether its
    search was stopped early (``stopped``: 0, or :data:`BUDGET` or :data:`CLOCK`)."""

    alpha: np.ndarray
    X: np.ndarray
    F: np.ndarray
    G: np.ndarray | None
    nfev: np.ndarray
    njev: np.ndarray
    ok: np.ndarray
    stopped: np.ndarray | None = None


@attrs.frozen
class Restart:
    """A restart policy (L-BFGS-B's): a row whose search fails searches once more along
    the steepest descent, and the optimizer's state starts afresh (``forget``/``init``)."""


class LineSearch(abc.ABC):
    """Base class of line searches; subclass it as a frozen attrs class."""

    #: True: its steps meet a curvature condition (no shorter than f's slope asks), so
    #: ``xtol``/``ftol`` may end a run ``converged``; False: such a stop ends ``stalled``
    curvature: ClassVar[bool] = False
    #: True: it spends at most ``task.budget`` (a step may begin with less left than a trial)
    budgeted: ClassVar[bool] = False

    @abc.abstractmethod
    def search(self, task: SearchTask) -> SearchResult:
        """Find a step length for each row of ``task``."""

    def restart_policy(self, optimizer: Any) -> Restart | None:
        """What a row does when its search finds no step: :class:`Restart` for an
        optimizer whose step is a natural first trial (quasi-Newton's ``natural_step``:
        its memory may mislead), else None (the row ends). Override to choose."""
        return Restart() if getattr(optimizer, "natural_step", False) else None


def _c1(instance: Any, attribute: Any, value: Any) -> None:
    check_real(attribute.name, value, positive=True)
    if value >= 1:
        raise InvalidArgumentError(f"{attribute.name!r} must be in (0, 1): {value!r}")


def _trials(instance: Any, attribute: Any, value: Any) -> None:
    check_int(attribute.name, value, minimum=1)


def task_rows(task: SearchTask, rows: np.ndarray) -> SearchTask:
    """The task of some of ``task``'s rows (its objective calls map back to them)."""
    return SearchTask(X=task.X[rows], F=task.F[rows], G=task.G[rows], D=task.D[rows],
                      alpha0=task.alpha0[rows], alpha_max=task.alpha_max[rows],
                      values=lambda P, sub: task.values(P, rows[sub]),
                      gradients=lambda P, sub, F: task.gradients(P, rows[sub], F),
                      project=task.project, cheap_gradients=task.cheap_gradients,
                      budget=None if task.budget is None else task.budget[rows],
                      gradient_cost=task.gradient_cost, deadline=task.deadline)


def tallies(K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A search's per-row counts of values and gradients, found flags and stop reasons."""
    return (np.zeros(K, dtype=np.int64), np.zeros(K, dtype=np.int64), np.zeros(K, dtype=bool),
            np.zeros(K, dtype=np.int8))


def joined(task: SearchTask, parts: list[tuple[np.ndarray, SearchResult]]) -> SearchResult:
    """One result for ``task`` from its groups' (``parts``: each group's rows and its own
    search's result, every row in one group); a gradient a group left out is NaN."""
    K = len(task.F)
    alpha, X, F = np.full(K, math.nan), task.X.copy(), task.F.copy()
    G = None if all(res.G is None for _, res in parts) else np.full(task.X.shape, math.nan)
    nfev, njev, ok, stopped = tallies(K)
    for rows, res in parts:
        alpha[rows], X[rows], F[rows], ok[rows] = res.alpha, res.X, res.F, res.ok
        nfev[rows], njev[rows] = res.nfev, res.njev
        if res.stopped is not None:
            stopped[rows] = res.stopped
        if G is not None and res.G is not None:
            G[rows] = res.G
    return SearchResult(alpha, X, F, G, nfev, njev, ok, stopped)


def stop_early(task: SearchTask, active: np.ndarray, nfev: np.ndarray, njev: np.ndarray,
                need: int, stopped: np.ndarray) -> np.ndarray:
    """The rows of ``active`` that may try one more step (one value and, where it needs
    one, a gradient: ``need`` evaluations); the others are marked in ``stopped``."""
    if task.out_of_time():
        stopped[active] = CLOCK
        return active[:0]
    can = task.affordable(active, nfev, njev, need)
    if not can.all():
        stopped[active[~can]] = BUDGET
        return active[can]
    return active


def _first_lengths(task: SearchTask) -> np.ndarray:
    """Each row's first length: any along a projected path, at most ``alpha_max`` else."""
    return (task.alpha0.astype(float) if task.project is not None
            else np.minimum(task.alpha0, task.alpha_max))


def along(task: SearchTask, rows: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The trial points of ``rows`` at step lengths ``alpha``."""
    P = task.X[rows] + alpha[:, None] * task.D[rows]
    if task.project is not None:
        P = task.project(P)
    P.flags.writeable = False  # a trial may become the iterate: the objective may not write
    return P


@attrs.frozen
class Armijo(LineSearch):
    """Backtracking until ``f(x + a d) <= f(x) + c1 a g.d`` (see the module docstring).

    Example
    -------
    >>> import optiframe as of
    >>> r = of.minimize("rosenbrock", [-1.2, 1.0],
    ...                 optimizer=of.GradientDescent(lr=1.0, line_search="armijo"),
    ...                 max_steps=20000)
    >>> r.status, r.x.round(4).tolist()
    ('converged', [1.0, 1.0])
    """

    budgeted: ClassVar[bool] = True
    c1: float = attrs.field(default=1e-4, validator=_c1)
    shrink: float = attrs.field(default=0.5, validator=_c1)
    max_trials: int = attrs.field(default=40, validator=_trials)
    #: trial lengths evaluated at once (see :meth:`search_parallel`); 1: one at a time
    parallel: int = attrs.field(default=1, validator=_trials)

    def search(self, task: SearchTask, shortest: np.ndarray | None = None) -> SearchResult:
        if self.parallel > 1:
            return self.search_parallel(task)
        K = len(task.F)
        slope = einsum("ij,ij->i", task.G, task.D)
        alpha, least = _first_lengths(task), np.zeros(K) if shortest is None else shortest
        X_new, F_new = task.X.copy(), task.F.copy()
        nfev, njev, ok, stopped = tallies(K)
        active = np.arange(K)
        for _ in range(self.max_trials):
            active = stop_early(task, active, nfev, njev, 1, stopped)
            if not len(active):
                break
            trial = along(task, active, alpha[active])
            F_t = task.values(trial, active)
            nfev[active] += 1
            moved = einsum("ij,ij->i", task.G[active], trial - task.X[active])
            good = np.isfinite(F_t) & (F_t <= task.F[active] + self.c1 * moved)
            done = active[good]
            X_new[done], F_new[done], ok[done] = trial[good], F_t[good], True
            bad = ~good
            if not bad.any():
                break
            rows, a = active[bad], alpha[active[bad]]
            # the minimizer of the quadratic through f(0), f'(0) and f(a), kept within
            # [0.1 a, shrink a]; a non-finite trial is simply cut by shrink
            f0, s, fa = task.F[rows], slope[rows], F_t[bad]
            q = quadratic_minimizer(0.0, f0, s, a, fa)
            q = np.where(np.isfinite(q), q, self.shrink * a)
            alpha[rows] = np.clip(q, 0.1 * a, self.shrink * a)
            # a step whose promised decrease is lost in f's rounding (or below `shortest`) fails
            active = rows[(alpha[rows] * np.abs(s) > _ROUNDING * np.abs(f0))
                          & (alpha[rows] >= least[rows])]
            if not len(active):
                break
        return SearchResult(alpha, X_new, F_new, None, nfev, njev, ok, stopped)

    def search_parallel(self, task: SearchTask) -> SearchResult:
        """``parallel = p`` lengths at once: each round evaluates ``a, a*shrink, ...,
        a*shrink**(p-1)`` in one batch (with ``evaluate=p``, one evaluation time) and
        takes the longest with sufficient decrease; a round without one goes on from
        ``a*shrink**p``. The accepted length depends on p, not on the workers' timing,
        so a run is reproducible for the same p; it may differ from the one-at-a-time
        search, whose next trial interpolates the last. Every trial counts in ``nfev``;
        a row whose budget cannot pay for a round stops (status ``max_nfev``)."""
        K, p = len(task.F), self.parallel
        alpha = _first_lengths(task)
        slope = einsum("ij,ij->i", task.G, task.D)
        X_new, F_new = task.X.copy(), task.F.copy()
        nfev, njev, ok, stopped = tallies(K)
        powers = self.shrink ** np.arange(p)
        active = np.arange(K)
        for _ in range(-(-self.max_trials // p)):
            active = stop_early(task, active, nfev, njev, p, stopped)
            if not len(active):
                break
            lengths = alpha[active, None] * powers  # (rows, p), longest first
            rows = np.repeat(active, p)
            trial = along(task, rows, lengths.reshape(-1))
            F_t = task.values(trial, rows).reshape(len(active), p)
            nfev[active] += p
            moved = einsum("ij,ij->i", task.G[rows], trial - task.X[rows])
            good = np.isfinite(F_t) & (
                F_t <= task.F[active, None] + self.c1 * moved.reshape(len(active), p))
            found = good.any(axis=1)
            first = np.argmax(good, axis=1)  # the longest length that decreased f enough
            done = active[found]
            pick = np.flatnonzero(found) * p + first[found]
            X_new[done], F_new[done], ok[done] = trial[pick], F_t[found, first[found]], True
            alpha[done] = lengths[found, first[found]]
            rest = active[~found]
            alpha[rest] = alpha[rest] * self.shrink ** p
            # a step whose promised decrease is lost in f's rounding cannot succeed
            active = rest[alpha[rest] * np.abs(slope[rest]) > _ROUNDING * np.abs(task.F[rest])]
            if not len(active):
                break
        return SearchResult(alpha, X_new, F_new, None, nfev, njev, ok, stopped)


@attrs.frozen
class StrongWolfe(LineSearch):
    """The strong Wolfe conditions, by bracketing and zoom (see the module docstring).

    Example
    -------
    >>> import optiframe as of
    >>> r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.LBFGS())
    >>> r.status, r.x.round(6).tolist(), r.nit < 50
    ('converged', [1.0, 1.0], True)
    """

    curvature: ClassVar[bool] = True
    budgeted: ClassVar[bool] = True
    c1: float = attrs.field(default=1e-4, validator=_c1)
    c2: float = attrs.field(default=0.9, validator=_c1)
    max_trials: int = attrs.field(default=30, validator=_trials)

    def __attrs_post_init__(self) -> None:
        if self.c2 <= self.c1:
            raise InvalidArgumentError(f"'c2' must be > 'c1' ({self.c1}): {self.c2!r}")

    def search(self, task: SearchTask) -> SearchResult:
        if task.project is None:
            return self._wolfe(task)
        # with bounds: rows whose first trial leaves the box backtrack along the projected
        # path (a bent one has no curvature condition), the others search within the box
        bent = task.alpha_max < task.alpha0
        if not bent.any():
            return self._wolfe(task)
        flat, bent_rows = np.flatnonzero(~bent), np.flatnonzero(bent)
        sub = task_rows(task, bent_rows)
        if sub.budget is not None:  # armijo finds no gradient: keep one's cost
            sub = attrs.evolve(sub, budget=sub.budget - task.gradient_cost)
        parts = [(flat, self._wolfe(task_rows(task, flat)))] if len(flat) else []
        parts.append((bent_rows, Armijo(self.c1, 0.5, self.max_trials).search(sub)))
        res = joined(task, parts)
        G = np.full(task.X.shape, math.nan) if res.G is None else res.G
        done = bent_rows[parts[-1][1].ok]  # the gradient at armijo's accepted points, for
        if len(done):  # the next step
            G[done] = task.gradients(res.X[done], done, res.F[done])
            res.njev[done] += 1
        return attrs.evolve(res, G=G)

    def _wolfe(self, task: SearchTask) -> SearchResult:
        if len(task.F) == 1:
            return _wolfe_one(task, self.c1, self.c2, self.max_trials)
        b = _Bracket.start(task)
        need = 1 + task.gradient_cost  # a trial may need its gradient
        active = np.arange(len(task.F))
        for _ in range(self.max_trials):
            active = stop_early(task, active, b.nfev, b.njev, need, b.stopped)
            if not len(active):
                break
            accept = b.try_lengths(task, active, self.c1, self.c2)
            active = active[~accept]
            if not len(active):
                break
            active = b.next_lengths(task, active)
        # out of trials (or of budget, or time): a row whose bracket's lower end
        # decreased f takes it
        b.take_lower_ends(np.flatnonzero(~b.ok & (b.lo_a > 0)))
        return SearchResult(b.a, b.X_new, b.F_new, b.G_new, b.nfev, b.njev, b.ok, b.stopped)


@attrs.define(eq=False)
class _Bracket:
    """The strong Wolfe search's rows: each one's trial length ``a``, its bracket (``lo``:
    the best length with sufficient decrease so far, its f, slope, point and gradient;
    ``hi``: the other end once ``zoom``), what it has spent, and its accepted step."""

    f0: np.ndarray
    d0: np.ndarray
    a: np.ndarray
    lo_a: np.ndarray
    lo_f: np.ndarray
    lo_d: np.ndarray
    lo_X: np.ndarray
    lo_G: np.ndarray
    hi_a: np.ndarray
    hi_f: np.ndarray
    hi_d: np.ndarray
    zoom: np.ndarray
    ok: np.ndarray
    X_new: np.ndarray
    F_new: np.ndarray
    G_new: np.ndarray
    nfev: np.ndarray
    njev: np.ndarray
    stopped: np.ndarray

    @classmethod
    def start(cls, task: SearchTask) -> _Bracket:
        K = len(task.F)
        f0 = task.F
        d0 = einsum("ij,ij->i", task.G, task.D)
        nans = np.full(K, np.nan)
        nfev, njev, ok, stopped = tallies(K)
        return cls(f0=f0, d0=d0, a=np.minimum(task.alpha0, task.alpha_max),
                   lo_a=np.zeros(K), lo_f=f0.copy(), lo_d=d0.copy(), lo_X=task.X.copy(),
                   lo_G=task.G.copy(), hi_a=nans, hi_f=nans.copy(), hi_d=nans.copy(),
                   zoom=np.zeros(K, dtype=bool), ok=ok, X_new=task.X.copy(), F_new=f0.copy(),
                   G_new=task.G.copy(), nfev=nfev, njev=njev, stopped=stopped)

    def try_lengths(self, task: SearchTask, active: np.ndarray, c1: float,
                    c2: float) -> np.ndarray:
        """Evaluate the ``active`` rows' trials; accept those that meet both conditions
        and update the others' brackets. Returns which of ``active`` accepted."""
        trial = along(task, active, self.a[active])
        f = task.values(trial, active)
        self.nfev[active] += 1
        at = self.a[active]
        f0, d0 = self.f0[active], self.d0[active]
        armijo = np.isfinite(f) & (f <= f0 + c1 * at * d0)
        # too far: no sufficient decrease, or no better than lo -> hi becomes the trial
        far = ~armijo | (f >= self.lo_f[active])
        # a cheap gradient helps at a failed trial too: the next trial comes from a cubic
        want = ~far | (np.isfinite(f) if task.cheap_gradients else False)
        near = active[want]
        g = np.full((len(active), task.X.shape[1]), np.nan)
        if len(near):
            g[want] = task.gradients(trial[want], near, f[want])
            self.njev[near] += 1
        d = einsum("ij,ij->i", g, task.D[active])
        accept = ~far & (np.abs(d) <= -c2 * d0)
        done = active[accept]
        self.X_new[done], self.F_new[done], self.G_new[done] = trial[accept], f[accept], g[accept]
        self.ok[done], self.a[done] = True, at[accept]
        # the rest update their bracket
        for mask, lo_side in ((far & ~accept, False), (~far & ~accept, True)):
            rows = active[mask]
            if len(rows):
                self._narrow(rows, lo_side, at[mask], f[mask], d[mask], trial[mask], g[mask])
        return accept

    def _narrow(self, rows: np.ndarray, lo_side: bool, at: np.ndarray, f: np.ndarray,
                d: np.ndarray, trial: np.ndarray, g: np.ndarray) -> None:
        """The trials of ``rows`` become an end of their brackets."""
        if not lo_side:  # the trial is the new upper end: zoom between lo and it
            self.hi_a[rows], self.hi_f[rows], self.hi_d[rows] = at, np.where(
                np.isfinite(f), f, np.inf), d
            self.zoom[rows] = True
            return
        # the trial decreased enough: it is the new lower end
        flip = self.zoom[rows] & (d * (self.hi_a[rows] - at) >= 0)
        flip |= ~self.zoom[rows] & (d >= 0)  # past a minimum: zoom back
        for hi, lo in ((self.hi_a, self.lo_a), (self.hi_f, self.lo_f), (self.hi_d, self.lo_d)):
            hi[rows] = np.where(flip, lo[rows], hi[rows])
        self.zoom[rows] |= flip
        grow = ~self.zoom[rows]  # no bracket yet: the next trial extrapolates from lo
        if grow.any():
            g_rows = rows[grow]
            self.a[g_rows] = extrapolated(self.lo_a[g_rows], self.lo_f[g_rows],
                                           self.lo_d[g_rows], at[grow], f[grow], d[grow])
        self.lo_a[rows], self.lo_f[rows], self.lo_d[rows] = at, f, d
        self.lo_X[rows], self.lo_G[rows] = trial, g

    def take_lower_ends(self, rows: np.ndarray) -> None:
        """``rows`` accept the lower ends of their brackets."""
        self.X_new[rows], self.F_new[rows], self.G_new[rows] = (
            self.lo_X[rows], self.lo_f[rows], self.lo_G[rows])
        self.ok[rows], self.a[rows] = True, self.lo_a[rows]

    def next_lengths(self, task: SearchTask, active: np.ndarray) -> np.ndarray:
        """The ``active`` rows' next trials: extrapolate while there is no bracket, else
        interpolate inside it; returns the rows still searching."""
        lo_a, a, amax = self.lo_a, self.a, task.alpha_max
        z = self.zoom[active]
        grow = active[~z]  # (_narrow set their extrapolated trials)
        a[grow] = np.minimum(a[grow], amax[grow])
        capped = grow[(a[grow] == lo_a[grow]) & (lo_a[grow] > 0)]  # at alpha_max already
        if len(capped):
            self.take_lower_ends(capped)
            active = active[~np.isin(active, capped)]
            z = self.zoom[active]
        rows = active[z]
        if len(rows):
            la, ha = lo_a[rows], self.hi_a[rows]
            hi_f, hi_d = self.hi_f[rows], self.hi_d[rows]
            c = np.where(np.isfinite(hi_d) & np.isfinite(hi_f),
                         cubic_minimizer(la, self.lo_f[rows], self.lo_d[rows], ha, hi_f, hi_d),
                         quadratic_minimizer(la, self.lo_f[rows], self.lo_d[rows], ha, hi_f))
            left, right = np.minimum(la, ha), np.maximum(la, ha)
            margin = 0.1 * (right - left)
            # safeguarded: an interpolated step too near an end is moved in to 10% of the
            # bracket from that end (Moré-Thuente's rule, not a bisection)
            a[rows] = np.where(np.isfinite(c), np.clip(c, left + margin, right - margin),
                               0.5 * (la + ha))
            # a bracket too small to tell points apart: take lo if it decreased f
            tiny = ((right - left) <= 1e-14 * np.maximum(1.0, right)) | (
                right * np.abs(self.d0[rows]) <= _ROUNDING * np.abs(self.f0[rows]))
            stop = rows[tiny]
            if len(stop):
                self.take_lower_ends(stop[lo_a[stop] > 0])
                active = active[~np.isin(active, stop)]
        return active


def _wolfe_one(task: SearchTask, c1: float, c2: float, max_trials: int) -> SearchResult:
    """:meth:`StrongWolfe._wolfe` of a single row, its bracket in Python floats: the same
    arithmetic in the same order as :class:`_Bracket`'s (interpolation by the same
    functions, on float64 scalars), so the same bits, without the rows' bookkeeping."""
    G0, D0 = task.G[0], task.D[0]
    f0, d0 = float(task.F[0]), float(einsum("i,i->", G0, D0))
    a, amax = float(task.alpha0[0]), float(task.alpha_max[0])
    a = a if a <= amax else (amax if amax < a else math.nan)  # np.minimum's, on floats
    lo_a, lo_f, lo_d, lo_X, lo_G = 0.0, f0, d0, task.X, task.G
    hi_a = hi_f = hi_d = math.nan
    zoom = ok = False
    X_new, F_new, G_new = task.X, f0, task.G
    nfev = njev = stopped = 0
    cost, budget = task.gradient_cost, None if task.budget is None else task.budget[0]
    row = np.zeros(1, dtype=np.int64)
    X, D, project, deadline = task.X, task.D, task.project, task.deadline
    for _ in range(max_trials):
        if deadline is not None and time.perf_counter() >= deadline:
            stopped = CLOCK
            break
        if budget is not None and budget - (nfev + njev * cost) < 1 + cost:
            stopped = BUDGET
            break
        trial = X + D if a == 1.0 else X + a * D  # (_along's point, the same bits)
        if project is not None:
            trial = project(trial)
        trial.flags.writeable = False
        fa = task.values(trial, row)
        f = float(fa[0])
        nfev += 1
        finite = math.isfinite(f)
        far = not (finite and f <= f0 + c1 * a * d0) or f >= lo_f
        if not far or (finite and task.cheap_gradients):
            g = np.array(task.gradients(trial, row, fa), dtype=float).reshape(trial.shape)
            njev += 1
        else:
            g = np.full(trial.shape, math.nan)
        d = float(einsum("i,i->", g[0], D0))
        if not far and abs(d) <= -c2 * d0:
            X_new, F_new, G_new, ok = trial.copy(), f, g, True
            break
        if far:  # the trial is the new upper end: zoom between lo and it
            hi_a, hi_f, hi_d, zoom = a, f if finite else math.inf, d, True
        else:  # the trial decreased enough: the new lower end
            if (d * (hi_a - a) >= 0) if zoom else (d >= 0):  # past a minimum: zoom back
                hi_a, hi_f, hi_d, zoom = lo_a, lo_f, lo_d, True
            if not zoom:  # no bracket yet: the next trial extrapolates from lo (below)
                ext = float(extrapolated(*(np.float64(v) for v in (lo_a, lo_f, lo_d, a, f, d))))
            lo_a, lo_f, lo_d, lo_X, lo_G = a, f, d, trial, g
        if not zoom:  # extrapolate
            a = min(ext, amax)
            if a == lo_a and lo_a > 0:  # at alpha_max already
                break
            continue
        la, ha, lf, ld = (np.float64(v) for v in (lo_a, hi_a, lo_f, lo_d))
        if math.isfinite(hi_d) and math.isfinite(hi_f):
            c = float(cubic_minimizer(la, lf, ld, ha, np.float64(hi_f), np.float64(hi_d)))
        else:
            c = float(quadratic_minimizer(la, lf, ld, ha, np.float64(hi_f)))
        left, right = min(lo_a, hi_a), max(lo_a, hi_a)
        margin = 0.1 * (right - left)
        a = min(max(c, left + margin), right - margin) if math.isfinite(c) else 0.5 * (
            lo_a + hi_a)
        if (right - left) <= 1e-14 * max(1.0, right) or (
                right * abs(d0) <= _ROUNDING * abs(f0)):  # too small to tell points apart
            break
    if not ok and lo_a > 0:  # the bracket's lower end decreased f: take it
        X_new, F_new, G_new, ok, a = lo_X.copy(), lo_f, lo_G, True, lo_a
    # (an accepted trial's gradient is this search's own array; the task's is copied)
    return SearchResult(np.array([a]), X_new if ok else task.X.copy(), np.array([F_new]),
                        G_new if ok else task.G.copy(), np.array([nfev]), np.array([njev]),
                        np.array([ok]), np.array([stopped], dtype=np.int8))


def line_search_of(optimizer: Any, registry: Any) -> LineSearch | None:
    """The line search an optimizer asks for (``line_search``); None for a fixed step."""
    spec = getattr(optimizer, "line_search", None)
    if spec is None:
        return None
    return registry.build("line_search", spec, LineSearch)


BUILTIN_LINE_SEARCHES: dict[str, type[LineSearch]] = {"armijo": Armijo, "wolfe": StrongWolfe}


@hookimpl
def register_line_searches(register: Register) -> None:
    for name, cls in BUILTIN_LINE_SEARCHES.items():
        register(name, cls)


__all__ = ["Armijo", "LineSearch", "Restart", "SearchResult", "SearchTask", "StrongWolfe",
           "line_search_of"]
