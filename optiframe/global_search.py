"""The service a global strategy works through: one budget, one random stream, samples,
local searches, and the record of what was found.

A :class:`~optiframe.strategies.Strategy` never calls the objective or a Runner itself:
it asks :class:`GlobalSearch` for points (:meth:`GlobalSearch.sample`), their values
(:meth:`GlobalSearch.evaluate`, counted) and local searches from points
(:meth:`GlobalSearch.local`: the run's optimizer, gradient, bounds, callbacks and
workers, as one multi-start stack per call, within the budget it is given). The search
keeps every local search as a start of one :class:`~optiframe.result.MultiStartResult`
(so ``r.minima``, ``r.starts`` and ``r.statuses()`` read as for multi-start), and the
best value against evaluations (``r.trace``). ``max_nfev`` is the whole search's budget,
honoured exactly: a sample is cut to what is left, a local search is given at most what
is left. With a cache (``cache=``, ``evaluate=``) the budget and the trace count the
evaluations asked, those the cache served included, as a run's ``max_nfev`` does: a
cache changes what a search costs (``r.nfev``, the real evaluations), never where it
goes. ``max_time`` is checked between calls and given to each local search.

Local searches in exploration stop as scipy's L-BFGS-B does by default (``gtol=1e-5``,
``ftol=2.2e-9``) and estimate gradients by forward differences (n evaluations, where the
run's ``"auto"`` would take central ones in a box): a basin is found for a third of the
cost. A reserve of the budget (5 %, at most 50 (n + 1) evaluations) then polishes the
best point with the run's own settings (its gtol, ftol and gradient).
"""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .errors import InvalidArgumentError
from .global_journal import Replayed, asked, digest, local_arrays
from .gradient_choice import AutoGradient
from .gradients import ForwardDifference
from .history import StartsHistory
from .objective import Objective
from .outcome import Finished
from .problem import RowError, stack_values
from .result import GlobalResult, MultiStartResult
from .status import MESSAGES, Status

if TYPE_CHECKING:
    from .runner import Runner

#: how local searches in exploration stop (scipy's L-BFGS-B defaults: pgtol, factr eps)
EXPLORE = {"gtol": 1e-5, "ftol": 2.2e-9}

#: primes for the Halton sequence's coordinates (enough for 40 dimensions)
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
           79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163,
           167, 173)


def halton(first: int, m: int, n: int, shift: np.ndarray) -> np.ndarray:
    """Points ``first`` to ``first + m - 1`` of the n-D Halton sequence in [0, 1)^n, each
    coordinate rotated by ``shift`` (Cranley-Patterson: an unbiased randomization that
    keeps the low discrepancy)."""
    if n > len(_PRIMES):
        raise InvalidArgumentError(f"the Halton sample takes at most {len(_PRIMES)} "
                                   f"coordinates, not {n}: use sampler='uniform'")
    index = np.arange(first + 1, first + m + 1, dtype=np.int64)
    out = np.zeros((m, n))
    for d in range(n):
        base, i, scale = _PRIMES[d], index.copy(), 1.0
        while i.any():
            scale /= base
            out[:, d] += (i % base) * scale
            i //= base
    return (out + shift) % 1.0


@attrs.frozen(eq=False)
class NearKnownMinimum:
    """A step callback for local searches in exploration (MLSL's test along the way):
    the starts that come within ``radius`` (in the unit box) of a known minimum while
    their value is still above it are stopped (``StopIteration`` naming them)."""

    lo: np.ndarray
    width: np.ndarray
    minima: np.ndarray  # (m, n), in the unit box
    values: np.ndarray  # (m,)
    radius: float

    def __call__(self, info: Any) -> None:
        X = np.atleast_2d(info.x)
        U = (X - self.lo) / self.width
        d2 = np.sum((U[:, None, :] - self.minima[None, :, :]) ** 2, axis=-1)
        nearest = np.argmin(d2, axis=1)
        rows = np.arange(len(U))
        value = self.values[nearest]
        above = np.atleast_1d(info.fun) > value + 1e-8 * np.maximum(1.0, np.abs(value))
        heading = (d2[rows, nearest] <= self.radius**2) & above
        if heading.any():
            raise StopIteration(np.atleast_1d(info.index)[heading])

    def key(self) -> str:
        return digest(self.minima, self.values, self.radius)


@attrs.define
class Trace:
    """The best value found against the evaluations spent, one entry per change."""

    nfev: list[int] = attrs.field(factory=list)
    best: list[float] = attrs.field(factory=list)

    def add(self, nfev: int, best: float) -> None:
        if not self.best or best < self.best[-1]:
            self.nfev.append(nfev)
            self.best.append(best)

    def best_at(self, nfev: int) -> float:
        """The best value after ``nfev`` evaluations (inf before the first)."""
        k = int(np.searchsorted(self.nfev, nfev, side="right"))
        return self.best[k - 1] if k else math.inf


class GlobalSearch:
    """One global search's budget, random stream and findings (see the module)."""

    def __init__(self, runner: Runner, box: Any, budget: int, entropy: int,
                 workers: Any = None, deadline: float | None = None,
                 journal: Any = None) -> None:
        self.runner, self.box, self.budget = runner, box, int(budget)
        self.n = box.n
        self.lo, self.width = box.lo, box.hi - box.lo
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
        self.journal = journal
        self.workers, self.deadline = workers, deadline
        self.used = 0
        self.blocks: list[Finished] = []
        #: the final points and values of the local searches that ended at a point, in
        #: the order of the searches (what minima_points returns)
        self._minima: list[tuple[np.ndarray, np.ndarray]] = []
        self.histories: list[tuple[StartsHistory, np.ndarray]] = []
        self.trace = Trace()
        self.best_x: np.ndarray | None = None
        self.best_f = math.inf
        self._sampled: tuple[np.ndarray, float] | None = None  # a point sampled and its f
        self.local_searches = 0
        self.points_sampled = 0  # the points evaluate() spent the budget on
        self.raised = 0  # of them, those whose f raised
        self.first_error: str | None = None  # the first of those errors, and where
        self.failed_at_start = 0  # local searches whose user code raised at their start
        self._halton_next = 0
        self._halton_shift = self.rng.random(self.n)
        self.listener: Any = None  # a progress bar: listener(used, budget, best_f)
        #: the cheapest local search worth starting: f at the start and two gradients
        self.min_local = 2 * (self.n + 1) + 1
        if self.budget < self.min_local:  # refused before any evaluation
            raise InvalidArgumentError(_no_local_search(self.budget, self.min_local, self.n))
        #: kept for the polish of the best point
        self.reserve = min(self.budget // 20, 50 * (self.n + 1))
        explore = runner.gradient
        if isinstance(explore, AutoGradient) and not runner.objective.has_gradient:
            explore = ForwardDifference()
        self._explore_gradient = explore

    # -- what a strategy asks --------------------------------------------------------------
    @property
    def remaining(self) -> int:
        """The evaluations exploration may still spend (the polish's reserve aside)."""
        return self.budget - self.reserve - self.used

    @property
    def done(self) -> bool:
        """The budget (or the time) is spent: no local search is worth starting."""
        return self.remaining < self.min_local or self._late()

    def _late(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def sample(self, m: int, kind: str = "uniform") -> np.ndarray:
        """``m`` points in the box: ``"uniform"`` draws, or the next ``"halton"`` points
        of one randomized low-discrepancy sequence (each call continues it)."""
        if kind == "halton":
            unit = halton(self._halton_next, m, self.n, self._halton_shift)
            self._halton_next += m
        else:
            unit = self.rng.random((m, self.n))
        return self.lo + self.width * unit

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        """Points as coordinates in the unit box (distances comparable across axes)."""
        return (X - self.lo) / self.width

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """f at the rows of ``X`` that the budget allows (the first ones): an array as
        long as the rows evaluated; NaN and infinities count as +inf, and so does a row
        whose f raised (counted in ``raised``, the first error kept in ``first_error``).
        Raises :class:`NothingEvaluatesError` where user code has raised at every point
        tried so far (sampled, or a local search's start), n + 1 or more, and nothing
        evaluated to a number: the search ends there, ``failed``."""
        X = np.asarray(X, dtype=float)[: max(self.remaining, 0)]
        if not len(X):
            return np.empty(0)
        key = digest(X)
        answer = None if self.journal is None else self.journal.answer("evaluate", key)
        if answer is not None:  # f as the objective gave it (NaN too); a journal written
            raw = answer["arrays"].get("raw", answer["arrays"].get("F"))  # before 2026-12-07
            meta = answer["meta"]  # kept F alone, NaN as +inf
            raised, error = int(meta.get("raised", 0)), meta.get("error")
        else:
            with np.errstate(all="ignore"):
                raw, raised, error = _values(self.runner.objective, X)
            if self.journal is not None:
                self.journal.record("evaluate", key, {"raw": raw},
                                    {"raised": raised, "error": error})
        F = np.where(np.isnan(raw), np.inf, raw)
        self.used += len(X)
        self.points_sampled += len(X)
        self.raised += raised
        self.first_error = self.first_error or error
        k = int(np.argmin(F))
        if self._sampled is None:
            self._sampled = (np.array(X[k], dtype=float), float(raw[k]))
        self._found(X[k], float(F[k]))
        self._end_if_nothing_evaluates()
        return F

    def local(self, X0: np.ndarray, budget: int | None = None, stop_near: float = 0.0,
              **stop: Any) -> Finished:
        """Local searches from the rows of ``X0`` (one stack: each row gets an equal share
        of ``budget``, at most what is left), with the run's optimizer and the
        exploration's gradient and tolerances (:data:`EXPLORE`; ``stop`` overrides them).
        With ``stop_near`` > 0, a search that comes within that distance (in the unit
        box) of a known minimum while still above its value is stopped: it is heading
        into a basin already found (:class:`NearKnownMinimum`, status ``callback_stop``).
        Returns their outcomes, each row's start index the search's own."""
        budget = self.remaining if budget is None else min(int(budget), self.remaining)
        if budget < self.min_local:  # what is left pays for no local search
            return Finished.empty(self.n)
        watch = None
        if stop_near > 0:
            minima, values = self.minima_points()
            if len(minima):
                watch = NearKnownMinimum(self.lo, self.width, self.to_unit(minima), values,
                                         float(stop_near))
        return self._run(X0, budget, {**EXPLORE, **stop}, self._explore_gradient, watch)

    def polish(self) -> None:
        """A last local search from the best point, with the run's own settings and every
        evaluation left (the reserve included)."""
        if self.best_x is None or self._late():
            return
        budget = self.budget - self.used
        if budget >= self.min_local:
            self._run(self.best_x, budget, {}, self.runner.gradient)

    def _run(self, X0: np.ndarray, budget: int, stop: dict[str, Any], gradient: Any,
             watch: Any = None) -> Finished:
        X0 = np.atleast_2d(np.asarray(X0, dtype=float))
        K = min(len(X0), budget // self.min_local)  # (budget >= min_local: local, polish)
        X0 = self.box.project(X0[:K])
        runner = copy.copy(self.runner)
        limits: dict[str, Any] = {"max_nfev": budget // K * K}
        if self.deadline is not None:
            limits["max_time"] = max(self.deadline - time.monotonic(), 1e-9)
        runner.stop = attrs.evolve(runner.stop, **limits, **stop)
        runner.gradient = gradient
        runner.progress = False
        runner.checkpoint = runner.checkpoint_every = runner.stream_history = None
        runner.on_interrupt = "raise"  # Ctrl-C ends the whole search (run_strategy decides)
        if watch is not None:
            runner.callbacks = (*runner.callbacks, watch)
        first = self.local_searches
        index = np.arange(first, first + K, dtype=np.int64)
        seed = int(self.rng.integers(2**62))
        key = digest(X0, budget, sorted(stop.items()), seed, repr(gradient),
                     None if watch is None else watch.key())
        answer = None if self.journal is None else self.journal.answer("local", key)
        if answer is not None:
            return self._keep(Replayed(answer), index)
        try:
            result = runner.run(starts=X0, seed=seed, workers=self.workers)
        except KeyboardInterrupt as stop_:
            partial = getattr(stop_, "result", None)
            if partial is not None:
                self._keep(partial, index)
            raise
        if self.journal is not None:
            self.journal.record("local", key, *local_arrays(result))
        return self._keep(result, index)

    def _sampled_best(self, name: str) -> Finished:
        """The best point the strategy's samples found, as the one outcome of a search
        whose budget (``max_nfev``) or time (``max_time``: at least the box's centre is
        evaluated) ran out before a local search could start; ``nan`` where every value
        sampled was NaN or infinite."""
        late = self._late()
        if self._sampled is None:  # max_time ran out before any sample: the box's centre
            self.evaluate((self.lo + 0.5 * self.width)[None])  # (one point: no verdict)
        if self.best_x is None and self.raised == self.points_sampled > 0:  # raised everywhere
            x, fun = self._sampled  # type: ignore[misc]
            status, x = Status.FAILED, x[None]
            k = self.points_sampled
            where = "the one point" if k == 1 else f"all {k} points"
            text = (f"{MESSAGES[Status.FAILED]}: the objective raised at {where} strategy "
                    f"{name!r} sampled (the first: {self.first_error}), so no local search "
                    "started: check the objective and the bounds")
        elif self.best_x is None:  # every value sampled was NaN or infinite (or raised)
            x, fun = self._sampled  # type: ignore[misc]
            status, x = Status.NAN, x[None]
            text = (f"{MESSAGES[Status.NAN]}: every one of the {self.used} points strategy "
                    f"{name!r} sampled gave f NaN or infinite, so no local search started: "
                    "check the objective's domain and the bounds")
        elif late:
            status, x, fun = Status.MAX_TIME, self.best_x[None], self.best_f
            text = (f"{MESSAGES[Status.MAX_TIME]}: max_time = {self.runner.stop.max_time:g} s "
                    f"ran out before strategy {name!r} could start a local search; x is the "
                    f"best of the {self.used} points evaluated")
        else:
            status, x, fun = Status.MAX_NFEV, self.best_x[None], self.best_f
            text = (f"{MESSAGES[Status.MAX_NFEV]}: strategy {name!r} spent {self.used} of "
                    f"{self.budget} evaluations sampling the box, and what was left paid for "
                    f"no local search (one needs at least {self.min_local}); x is the best "
                    "point sampled: raise max_nfev")
        return self._sampled_outcome(x, fun, status, text)

    def _interrupted_sampling(self, name: str) -> Finished:
        """The one outcome of a search stopped by Ctrl-C before any local search ended:
        the best point of the batches of points evaluated whole (none: the box's centre,
        f NaN; nothing more is evaluated)."""
        if self.best_x is not None:
            x, fun = self.best_x, self.best_f
            where = f"x is the best of the {self.used} points evaluated before it"
        elif self._sampled is not None:  # every value NaN or infinite, or raised
            x, fun = self._sampled
            where = (f"none of the {self.used} points evaluated gave a finite f; x is the "
                     "first of them")
        else:  # (the values of a batch cut short are not kept: resumed, it is asked again)
            x, fun = self.lo + 0.5 * self.width, math.nan
            where = ("it came while the first points were evaluated; x is the box's centre, "
                     "f not known")
        text = (f"{MESSAGES[Status.INTERRUPTED]}: strategy {name!r} was stopped before any "
                f"local search ended; {where}")
        return self._sampled_outcome(np.array(x, dtype=float).reshape(1, -1), fun,
                                     Status.INTERRUPTED, text)

    def _sampled_outcome(self, x: np.ndarray, fun: float, status: Status,
                         text: str) -> Finished:
        """A search's one outcome at a sampled point ``x`` (1, n), no local search run."""
        return Finished(index=[0], x0=x, x=x, fun=[fun], nit=[0], nfev=[self.used],
                        njev=[0], status=[status], message=[text])

    # -- bookkeeping ---------------------------------------------------------------------------
    def _keep(self, result: Any, index: np.ndarray) -> Finished:
        done = result.finished
        done = attrs.evolve(done, index=index[done.index])
        self.blocks.append(done)
        self.histories.append((result.history, index))
        self.local_searches += len(index)
        self.used += asked(result)  # (cache hits too: a cache changes no search's path)
        usable = done.at_a_point()
        self._minima.append((done.x[usable], done.fun[usable]))
        if usable.any():
            k = int(np.flatnonzero(usable)[np.argmin(done.fun[usable])])
            self._found(done.x[k], float(done.fun[k]))
        else:
            self._tick()
        self.failed_at_start += sum(s is Status.FAILED and i == 0
                                    for s, i in zip(done.status, done.nit, strict=True))
        self._end_if_nothing_evaluates()
        return done

    def _end_if_nothing_evaluates(self) -> None:
        """End the search where user code raised at every point tried (sampled, or a
        local search's start), at least n + 1 of them (no fluke of one region), and
        nothing evaluated to a number."""
        tried = self.points_sampled + self.local_searches
        if self.best_x is None and self.raised + self.failed_at_start == tried > self.n:
            raise NothingEvaluatesError(self.first_error)

    def _found(self, x: np.ndarray, f: float) -> None:
        if f < self.best_f:
            self.best_f, self.best_x = f, np.array(x, dtype=float)
        self.trace.add(self.used, self.best_f)
        self._tick()

    def _tick(self) -> None:
        if self.listener is not None:
            self.listener(self.used, self.budget, self.best_f)

    def minima_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The final points and values of the local searches so far that ended at a
        point (for strategies that avoid known basins)."""
        if not self._minima:
            return np.empty((0, self.n)), np.empty(0)
        if len(self._minima) > 1:  # kept as one block until the next local search
            self._minima[:] = [(np.concatenate([x for x, _ in self._minima]),
                                np.concatenate([f for _, f in self._minima]))]
        return self._minima[0]

    def result(self, name: str, minima_tol: float, interrupted: bool = False,
               hits: int = 0) -> GlobalResult:
        """Everything found, as a multi-start result (``hits``: of the evaluations asked,
        those the cache served; ``nfev`` counts the others, the real ones)."""
        from .run_pieces import gather

        finished = Finished.join(self.blocks, self.n)
        history = StartsHistory(max(len(finished), 1), self.runner.record_x)
        for part, index in self.histories:
            history.merge(part, index)
        if not len(finished):  # no local search (left, or ended yet): the best point sampled
            finished = self._interrupted_sampling(name) if interrupted else self._sampled_best(
                name)
        result = gather(finished, history, minima_tol)
        status = Status.INTERRUPTED if interrupted else result.status
        cached = f", {hits} of them from the cache" if hits else ""
        text = (f"Global search ({name}): {self.local_searches} local searches, "
                f"{self.used} of {self.budget} evaluations{cached}. " + result.message)
        sampled = self.points_sampled
        if self.raised and (self.blocks or self.raised < sampled):  # (else _sampled_best's)
            text += (f" The objective raised at {self.raised} of the {sampled} points "
                     f"sampled (the first: {self.first_error}); they count as +inf.")
        fields: dict[str, Any] = {str(a.alias): getattr(result, a.name)
                                  for a in attrs.fields(MultiStartResult) if a.init}
        fields.update(status=status, message=text, nfev=max(0, self.used - hits))
        return GlobalResult(**fields, trace=self.trace, strategy=name)


class NothingEvaluatesError(Exception):
    """User code raised at every point a global search tried (n + 1 or more) and nothing
    evaluated to a number: the search ends."""


def _values(objective: Objective, X: np.ndarray) -> tuple[np.ndarray, int, str | None]:
    """f at the rows of ``X`` (NaN where f raised, +inf where it overflowed), how many
    rows raised, and the first error with its point (:func:`~optiframe.problem.stack_values`:
    each row asked once, unless a vectorized objective raised for the stack)."""
    try:
        return stack_values(objective)(X), 0, None
    except RowError as err:
        i = min(err.errors)
        where = np.array2string(X[i], precision=6, separator=", ", threshold=20)
        return (err.values, len(err.errors),
                f"{type(err.errors[i]).__name__}: {err.errors[i]} at x = {where}")


def _no_local_search(budget: int, min_local: int, n: int) -> str:
    """Why a global search cannot start: its budget pays for no local search."""
    return (f"a global search's budget of max_nfev = {budget} evaluations leaves no local "
            f"search (one needs at least {min_local} in {n} dimensions): raise max_nfev")
