"""Global strategies: how a budget of evaluations is spent to find the deepest valley.

``of.minimize(f, bounds=box, strategy="tiktak", max_nfev=20_000, seed=0)`` runs a
:class:`Strategy` through a :class:`~optiframe.global_search.GlobalSearch`: samples of
the box, and local searches (the run's optimizer, gradient and workers) from chosen
points, until the budget is spent. The result is a
:class:`~optiframe.result.GlobalResult`: every local search a start (``r.starts``,
``r.minima``), ``r.nfev`` every evaluation, ``r.trace`` the best f against evaluations.

Strategies are components (hook ``register_strategies``); the built-ins:

* ``restarts`` (:class:`Restarts`): local searches from new random points, each given
  the budget that is left; the honest baseline.
* ``tiktak`` (:class:`TikTak`, the default): a quasi-random (Halton) sample, its best
  tenth kept, local searches from each kept point moved towards the best minimum found
  so far by a weight that grows (Arnoud, Guvenen & Kleineberg 2019).
* ``mlsl`` (:class:`MLSL`): multi-level single linkage (Rinnooy Kan & Timmer 1987):
  sample in rounds, start a local search only from a sampled point with no better
  sampled point, and no known minimum, within a critical distance that shrinks as the
  sample grows.
* ``basinhopping`` (:class:`BasinHopping`): perturb the current minimum, descend,
  accept by the Metropolis rule (Wales & Doye 1997), the step adapted to accept half.

>>> import optiframe as of
>>> r = of.minimize("rastrigin", bounds=[(-5.12, 5.12)] * 2, strategy="tiktak",
...                 max_nfev=3000, seed=0)
>>> round(r.fun, 9), r.nfev <= 3000
(0.0, True)
"""

from __future__ import annotations

import abc
import contextlib
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ._validation import check_real, nonneg_real, positive_int, positive_real
from .errors import InvalidArgumentError
from .evaluation import RunEvaluations
from .executors import as_executor
from .global_search import GlobalSearch, NothingEvaluatesError
from .hookspecs import Register, hookimpl
from .result import carrying
from .signals import deferred, hold_to_the_end, watched

if TYPE_CHECKING:
    from .runner import Runner

#: the strategy of ``of.minimize(f, bounds=box)`` without x0 (the best on
#: benchmarks/bench_global.py)
DEFAULT_STRATEGY = "tiktak"
#: a global search's budget when max_nfev is not given: this many evaluations per
#: coordinate
DEFAULT_BUDGET_PER_DIM = 2000


class Strategy(abc.ABC):
    """Base of global strategies; subclass it as a frozen attrs class."""

    @abc.abstractmethod
    def search(self, g: GlobalSearch) -> None:
        """Spend ``g``'s budget (``g.sample``, ``g.evaluate``, ``g.local``) until
        ``g.done``; what was found is ``g``'s record."""


def _fraction(instance: Any, attribute: Any, value: Any) -> None:
    check_real(attribute.name, value, positive=True)
    if value > 1:
        raise InvalidArgumentError(f"'{attribute.name}' must be in (0, 1]: {value!r}")


@attrs.frozen
class Restarts(Strategy):
    """Local searches from new points until the budget is spent, ``batch`` at a time (as
    one stack), each batch given what is left: budget a search does not use goes to
    the next."""

    batch: int = attrs.field(default=1, validator=positive_int)
    sampler: str = attrs.field(default="uniform")

    def search(self, g: GlobalSearch) -> None:
        while not g.done:
            g.local(g.sample(self.batch, self.sampler))


@attrs.frozen
class TikTak(Strategy):
    """TikTak: an exploration sample (Halton points), its best ``keep`` fraction kept in
    order of value; the i-th local search starts at ``(1 - w) s_i + w x_best``,
    w = clip(sqrt(i / N), 0.1, 0.995), drawn towards the best minimum found so far. Each
    search gets at most ``local_share`` of the budget left (budget it does not use goes
    to the next), ``batch`` searches at a time as one stack. When the kept points run
    out, a new sample: the first is ``sample`` of the budget (at least ``least`` points
    per coordinate, so the first local search starts early), each next ``growth`` times
    larger (at most half of what is left)."""

    sample: float = attrs.field(default=0.005, validator=_fraction)
    keep: float = attrs.field(default=0.3, validator=_fraction)
    local_share: float = attrs.field(default=0.5, validator=_fraction)
    batch: int = attrs.field(default=1, validator=positive_int)
    growth: float = attrs.field(default=2.0, validator=positive_real)
    least: int = attrs.field(default=5, validator=positive_int)

    def search(self, g: GlobalSearch) -> None:
        share = self.sample
        while not g.done:
            m = max(int(share * g.remaining), self.least * g.n)
            share = min(share * self.growth, 0.5)
            X = g.sample(m, "halton")
            F = g.evaluate(X)
            X = X[: len(F)]
            order = np.argsort(F, kind="stable")
            kept = X[order[: max(int(self.keep * len(F)), 1)]]
            N = len(kept)
            for i in range(0, N, self.batch):
                if g.done:
                    return
                k = np.arange(i, min(i + self.batch, N))
                w = np.clip(np.sqrt((k + 1) / N), 0.1, 0.995)[:, None]
                best = g.best_x if g.best_x is not None else kept[0]
                starts = (1.0 - w) * kept[k] + w * best if i else kept[k]
                g.local(starts, max(int(self.local_share * g.remaining), g.min_local))


@attrs.frozen
class MLSL(Strategy):
    """Multi-level single linkage: each round samples ``per_round`` points per
    coordinate (uniform); a local search starts from a sampled point (among the best
    ``reduce`` fraction) when no better sampled point lies within the critical distance
    r_k = (Gamma(1 + n/2) sigma log(kN) / (kN))^(1/n) / sqrt(pi) (in the unit box) and no
    known minimum does either. The round's searches run as one stack, and a search that
    comes within ``stop_near`` (in the unit box) of a known minimum while still above
    its value is stopped there (the test along the way; 0 turns it off)."""

    per_round: int = attrs.field(default=10, validator=positive_int)
    sigma: float = attrs.field(default=4.0, validator=positive_real)
    reduce: float = attrs.field(default=0.2, validator=_fraction)
    stop_near: float = attrs.field(default=0.02, validator=nonneg_real)

    def search(self, g: GlobalSearch) -> None:
        n = g.n
        U, F = np.empty((0, n)), np.empty(0)
        # for each sampled point: the distance to the nearest better sampled point and to
        # the nearest known minimum, updated as points and minima come (NLopt's way)
        better, known = np.empty(0), np.empty(0)
        used = np.empty(0, dtype=bool)
        seen_minima = 0
        while not g.done:
            X = g.sample(max(self.per_round * n, 2))
            new_f = g.evaluate(X)
            P = g.to_unit(X[: len(new_f)])
            d = _distances(P, U)  # new x old
            lower_old = F[None, :] < new_f[:, None]
            near = np.where(lower_old, d, np.inf).min(axis=1, initial=np.inf)
            dp = _distances(P, P)
            near = np.minimum(near, np.where(new_f[None, :] < new_f[:, None], dp,
                                             np.inf).min(axis=1, initial=np.inf))
            better = np.minimum(better, np.where(new_f[:, None] < F[None, :], d,
                                                 np.inf).min(axis=0, initial=np.inf))
            minima, _ = g.minima_points()
            Mu = g.to_unit(minima) if len(minima) else np.empty((0, n))
            known = np.concatenate([known, _distances(P, Mu).min(axis=1, initial=np.inf)])
            U, F = np.concatenate([U, P]), np.concatenate([F, new_f])
            better = np.concatenate([better, near])
            used = np.concatenate([used, np.zeros(len(new_f), dtype=bool)])
            total = len(F)
            if total < 2:
                continue
            r = (math.gamma(1 + n / 2) * self.sigma * math.log(total) / total) ** (1 / n)
            r /= math.sqrt(math.pi)
            cut = np.sort(F)[max(int(self.reduce * total), 1) - 1]
            starts = np.flatnonzero(~used & (cut >= F) & np.isfinite(F) & (better > r)
                                    & (known > r))
            if not len(starts):
                continue
            used[starts] = True
            g.local(g.lo + g.width * U[starts], stop_near=self.stop_near)
            minima, _ = g.minima_points()
            if len(minima) > seen_minima:  # the new minima: each point's nearest
                fresh = g.to_unit(minima[seen_minima:])
                known = np.minimum(known, _distances(U, fresh).min(axis=1, initial=np.inf))
                seen_minima = len(minima)


def _distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of A and of B, (len(A), len(B))."""
    if not len(A) or not len(B):
        return np.empty((len(A), len(B)))
    d2 = (np.sum(A * A, axis=1)[:, None] + np.sum(B * B, axis=1)[None, :]
          - 2.0 * (A @ B.T))
    return np.sqrt(np.maximum(d2, 0.0))


@attrs.frozen
class BasinHopping(Strategy):
    """Basin hopping: descend from the best of a small sample, then repeat: perturb the
    current minimum by up to ``step`` of the box's width per coordinate, descend, and
    accept the new minimum if it is lower or with probability exp(-(f_new - f) / T)
    (``temperature``). Every ``interval`` hops the step is scaled to accept about half.
    """

    step: float = attrs.field(default=0.2, validator=positive_real)
    temperature: float = attrs.field(default=1.0, validator=positive_real)
    interval: int = attrs.field(default=10, validator=positive_int)

    def search(self, g: GlobalSearch) -> None:
        if g.done:  # (max_time ran out before the sample)
            return
        X = g.sample(max(10 * g.n, 2), "halton")
        F = g.evaluate(X)
        if not len(F):
            return
        done = g.local(X[int(np.argmin(F))])
        if not len(done):  # the sample spent what a local search needs
            return
        x, f = done.x[0], float(done.fun[0])
        step, accepted, hops = self.step, 0, 0
        while not g.done:
            trial = x + step * g.width * g.rng.uniform(-1.0, 1.0, g.n)
            done = g.local(trial)
            if not len(done):
                return
            y, fy = done.x[0], float(done.fun[0])
            hops += 1
            if np.isfinite(fy) and (fy < f or g.rng.random() < math.exp(
                    -(fy - f) / self.temperature)):
                x, f, accepted = y, fy, accepted + 1
            if hops % self.interval == 0:
                step *= 1.1 if accepted / self.interval > 0.5 else 1 / 1.1
                accepted = 0


BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {
    "restarts": Restarts,
    "tiktak": TikTak,
    "mlsl": MLSL,
    "basinhopping": BasinHopping,
}


@hookimpl
def register_strategies(register: Register) -> None:
    for name, cls in BUILTIN_STRATEGIES.items():
        register(name, cls)


def run_strategy(runner: Runner, strategy: Any, x0: Any, seed: Any, workers: Any,
                 resume: bool = False) -> Any:
    """The global search ``strategy`` (a :class:`Strategy`, a registered name or a
    mapping) over the runner's bounds, with ``max_nfev`` as its whole budget (by default
    2000 evaluations per coordinate); ``x0``, when given, is the first local search.
    With the runner's ``checkpoint`` folder, the search's journal is kept there
    (:mod:`optiframe.global_journal`); ``resume`` goes on with it."""
    watch = watched()  # (Ctrl-C held cheaply where it must wait; the end held to its end)
    with watch:
        result, ctrl_c = _searched(runner, strategy, x0, seed, workers, resume)
    if (ctrl_c or watch.late) and runner.on_interrupt == "raise":  # Ctrl-C as it ended:
        raise carrying(result)  # the whole result; the script stops
    return result


def _searched(runner: Runner, strategy: Any, x0: Any, seed: Any, workers: Any,
              resume: bool) -> tuple[Any, bool]:
    """:func:`run_strategy` within its watch: the result, and whether a Ctrl-C came as the
    search ended (the search whole; its end holds Ctrl-C to the watch's end)."""
    from .assembly import root_entropy
    from .plugins import get_registry
    from .starts import check_seed

    strategy = get_registry().build("strategy", strategy if strategy is not None
                                    else DEFAULT_STRATEGY, Strategy)
    name = type(strategy).__name__
    n = None if x0 is None else int(np.size(x0))
    box = runner.box(n if n is not None else _dim(runner))
    if box is None or not box.finite:
        raise InvalidArgumentError(
            f"strategy {name!r} searches a box: pass finite bounds=[(lo, hi), ...] for every "
            "coordinate")
    budget = runner.stop.max_nfev
    if budget is None:
        budget = DEFAULT_BUDGET_PER_DIM * box.n
    deadline = (None if runner.stop.max_time is None
                else time.monotonic() + runner.stop.max_time)
    seed = check_seed(seed)
    runner.check_workers_with_evaluate(workers)
    journal = None
    if runner.checkpoint is not None:
        journal = _journal(runner.checkpoint, runner, strategy, box, budget, seed, x0, resume)
        entropy = journal.config["entropy"]
    elif resume:
        raise InvalidArgumentError("resume=True goes on with a global search's checkpoint: "
                                   "pass checkpoint=<its folder>")
    else:
        entropy = root_entropy(seed)
    executor = None if workers is None else _KeptOpen(as_executor(workers))
    g = GlobalSearch(runner, box, budget, entropy, executor, deadline, journal)
    bar = _bar(runner, budget, name)
    if bar is not None:
        g.listener = bar
    interrupted = False
    late: list[int] = []  # Ctrl-C (or SIGTERM) after the search, while it ends
    counted = RunEvaluations(runner.evaluation_stats())
    if journal is not None:
        journal.track(runner.objective, counted)
    try:
        with runner.evaluating():  # one pool of evaluation workers for the whole search
            if x0 is not None:
                g.local(np.asarray(x0, dtype=float).reshape(1, -1))
            with contextlib.suppress(NothingEvaluatesError):  # f raised at every point
                strategy.search(g)  # tried: the search ends, failed
                g.polish()
    except KeyboardInterrupt as stop:
        if journal is not None:
            journal.save()
        if runner.on_interrupt == "raise":
            stop.result = g.result(name, runner.minima_tol, True,  # type: ignore[attr-defined]
                                   counted.hits(runner.evaluation_stats()))
            raise
        interrupted = True
    finally:
        with deferred(late):  # (the search is over: a Ctrl-C from here on, see below)
            if bar is not None:
                bar.close(g.used, budget, g.best_f)
            if executor is not None:
                executor.executor.close()
    with deferred(late):
        hold_to_the_end()
        if journal is not None:
            journal.save()
        after = runner.evaluation_stats()
        result = g.result(name, runner.minima_tol, interrupted, counted.hits(after))
        if after is not None:  # (a resumed search's: both parts)
            result = attrs.evolve(result, evaluation=counted.so_far(after))
    return result, bool(late) and not interrupted


def _journal(folder: str | Path, runner: Runner, strategy: Strategy, box: Any, budget: int,
             seed: int | None, x0: Any, resume: bool) -> Any:
    """The search's journal in ``folder`` (the runner's checkpoint folder): its
    configuration (what a resumed search must agree on) and, to resume, its calls."""
    from .assembly import root_entropy
    from .checkpoint_config import describe, describe_objective
    from .global_journal import Journal, saved_entropy

    saved = saved_entropy(folder) if resume else None
    config = {
        "strategy": describe(strategy), "budget": int(budget), "seed": seed,
        "lo": box.lo.tolist(), "hi": box.hi.tolist(),
        "x0": None if x0 is None else np.asarray(x0, dtype=float).reshape(-1).tolist(),
        "objective": describe_objective(runner.objective),
        "optimizer": describe(runner.optimizer), "gradient": describe(runner.gradient),
        "stop": {k: v for k, v in describe(runner.stop).items()
                 if k not in ("class", "max_time")},
        "entropy": saved if saved is not None else root_entropy(seed),
    }
    return Journal(folder, config, resume)


def _dim(runner: Runner) -> int:
    n = getattr(runner.objective, "dim", None)
    if n is None and runner.bounds is not None:
        from .bounds import as_box

        box = as_box(runner.bounds, None)
        n = None if box is None else box.n
    if n is None:
        raise InvalidArgumentError("a global search needs the number of coordinates: pass "
                                   "bounds with one (lo, hi) pair per coordinate")
    return int(n)


class _KeptOpen:
    """One executor for every local search of a search (one process pool, one Dask
    cluster), closed when the search ends, not after each local search."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def __getattr__(self, name: str) -> Any:
        return getattr(self.executor, name)

    def close(self) -> None:
        """Kept open: the search closes the executor when it ends."""


class _Bar:
    """The search's progress bar: evaluations spent of the budget, the best f."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.shown, self.last = bar, 0, 0.0

    def __call__(self, used: int, budget: int, best: float) -> None:
        now = time.perf_counter()
        if now - self.last >= 0.2:
            self.bar.update(used - self.shown)
            self.bar.set_postfix_str(f"best f={best:.6g}, {budget - used} evaluations left")
            self.shown, self.last = used, now

    def close(self, used: int, budget: int, best: float) -> None:
        """The search is over: the bar shows what it spent and found."""
        self.last = -math.inf
        self(used, budget, best)
        self.bar.close()


def _bar(runner: Runner, budget: int, name: str) -> _Bar | None:
    from .progress import Progress

    made = Progress.create(runner.progress, budget, f"optiframe {name}", unit="eval")
    return None if made is None else _Bar(made.bar)
