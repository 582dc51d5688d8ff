"""Expensive objectives: each batch of points a run needs (the points of a finite-difference
gradient, the starts of a stack, a line search's trials) evaluated at once on a pool of
worker processes or a Dask cluster, with a cache of the points already evaluated.

``of.minimize(f, x0, evaluate=8)`` wraps the objective in a :class:`ParallelObjective`:
every estimator and line search already hands a row-vectorized objective whole stacks of
points, so they all go to the pool as one batch, one job per point (or, for an objective
that takes a stack itself, one slice of the stack per worker). The values are the ones
``f`` returns in this process, so the iterates are the serial run's, bit for bit.

``evaluate=`` takes an int (that many worker processes), ``"processes"`` (one per core),
an executor name or mapping (``"dask"`` with optiframe-dask installed, ``{"name": "dask",
"address": ...}``), or any map-like callable (``executor.map``); see
:mod:`optiframe.executors`. The pool starts at the first batch and is stopped when the run
ends. A worker that dies during an evaluation is replaced and the evaluation retried
(``retries``); one that runs past ``eval_timeout`` seconds is stopped and the run ends
``failed`` with an :class:`~optiframe.errors.EvaluationError`, keeping its history.

The cache (``cache=`` entries, least recently used dropped first) serves a point whose
bits were evaluated before; ``r.nfev`` counts the real evaluations and
``r.evaluation`` says how many were served from the cache.
"""

from __future__ import annotations

import collections
import contextlib
import numbers
import os
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import attrs
import numpy as np

from ._validation import check_int, check_real
from .errors import EvaluationError, InvalidArgumentError, InvalidTypeError
from .executors import (
    ProcessExecutor,
    as_executor,
    can_time_out,
    check_picklable,
    check_workers,
    run_jobs,
)
from .objective import Objective, stacked_output

__all__ = ["EvaluationStats", "ParallelObjective", "check_evaluate", "open_evaluation"]

#: points kept by the cache when ``cache`` is not given and ``evaluate`` is
DEFAULT_CACHE = 1024

#: the stats after each of the last ``MARKS`` batches a ParallelObjective kept (a
#: checkpoint looks up those of its last whole step, a few batches back)
MARKS = 1024


@attrs.frozen
class EvaluationStats:
    """What a run's evaluations cost: ``evaluations`` of f really made, ``cache_hits``
    served from the cache, ``batches`` sent to the workers, ``seconds`` spent waiting for
    them, ``busy`` seconds the workers spent evaluating, over ``workers`` workers."""

    evaluations: int
    cache_hits: int
    batches: int
    seconds: float
    busy: float
    workers: int

    @property
    def asked(self) -> int:
        """The evaluations asked (real ones and cache hits: what a run's ``nfev`` counts)."""
        return self.evaluations + self.cache_hits

    @property
    def per_second(self) -> float:
        """Evaluations per second of waiting for the pool."""
        return self.evaluations / self.seconds if self.seconds > 0 else 0.0

    @property
    def occupancy(self) -> float:
        """The share of the workers' time spent evaluating while the run waited for them
        (1.0: no worker idle)."""
        if self.seconds <= 0 or self.workers <= 0:
            return 0.0
        return min(1.0, self.busy / (self.seconds * self.workers))

    def since(self, before: EvaluationStats) -> EvaluationStats:
        """What was spent after ``before`` (the same objective's earlier stats)."""
        return EvaluationStats(
            self.evaluations - before.evaluations, self.cache_hits - before.cache_hits,
            self.batches - before.batches, self.seconds - before.seconds,
            self.busy - before.busy, self.workers)

    def plus(self, later: EvaluationStats) -> EvaluationStats:
        """These stats followed by ``later`` ones (a resumed run's part after its
        checkpoint), on ``later``'s workers."""
        return EvaluationStats(
            self.evaluations + later.evaluations, self.cache_hits + later.cache_hits,
            self.batches + later.batches, self.seconds + later.seconds,
            self.busy + later.busy, later.workers)

    def to_json(self) -> dict[str, Any]:
        """The stats as a JSON object (a checkpoint keeps them)."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> EvaluationStats:
        """Stats from :meth:`to_json`'s object (a checkpoint's ``evaluation``)."""
        if not isinstance(data, dict):
            raise ValueError(f"evaluation stats must be a JSON object: {data!r}")
        return cls(int(data.get("evaluations", 0)), int(data.get("cache_hits", 0)),
                   int(data.get("batches", 0)), float(data.get("seconds", 0.0)),
                   float(data.get("busy", 0.0)), int(data.get("workers", 0)))

    def __str__(self) -> str:
        return (f"{self.evaluations} evaluations ({self.cache_hits} from the cache) in "
                f"{self.batches} batches on {self.workers} workers, "
                f"{self.per_second:.3g}/s, occupancy {self.occupancy:.0%}")


@attrs.define
class RunEvaluations:
    """A run's origin for counting its objective's evaluations: the stats ``before`` it
    began (None: the objective keeps none, no ``evaluate`` or ``cache``), and those
    ``carried`` from the checkpoint it resumed (the part before it: the cache itself is
    not saved)."""

    before: EvaluationStats | None
    carried: EvaluationStats | None = None
    #: the evaluations asked of the objective in the part before the checkpoint resumed
    #: (its ``nfev``, cache hits included: the state counts them as asked)
    resumed_nfev: int = 0

    def so_far(self, now: EvaluationStats | None) -> EvaluationStats | None:
        """What the run's evaluations cost so far, the part before its checkpoint's
        included (None: no stats, in neither part)."""
        own = None if now is None or self.before is None else now.since(self.before)
        if self.carried is None or own is None:
            return own if own is not None else self.carried
        return self.carried.plus(own)

    def at_commit(self, objective: Any, nfev: int) -> EvaluationStats | None:
        """:meth:`so_far` as of the run's last whole step, which asked ``nfev`` evaluations
        since the run began (its resumed part's included): a checkpoint's, which a
        resumed run goes on from (the evaluations of the step under way, made again,
        are not in it)."""
        marks = getattr(objective, "marks", None)
        if self.before is None or marks is None:
            return self.so_far(None)
        target = self.before.asked + nfev - self.resumed_nfev
        at = None
        for at in reversed(marks):  # the newest after which at most that many had been
            if at[0] + at[1] <= target:  # asked (none: the oldest kept, the closest known)
                break
        stats = self.before if at is None else EvaluationStats(*at)
        return self.so_far(stats if stats.asked >= self.before.asked else self.before)

    def hits(self, now: EvaluationStats | None) -> int:
        """The run's cache hits so far, the part before its checkpoint's included."""
        stats = self.so_far(now)
        return 0 if stats is None else stats.cache_hits


#: the run being counted in this context (set by the Runner for a run's length)
RUN_EVALUATIONS: ContextVar[RunEvaluations | None] = ContextVar(
    "optiframe_run_evaluations", default=None)


def check_evaluate(evaluate: Any) -> Any:
    """An ``evaluate=`` argument checked without starting anything; returns it."""
    if evaluate is None or evaluate == "processes":
        return evaluate
    if isinstance(evaluate, numbers.Integral) and not isinstance(evaluate, bool):
        check_int("evaluate", evaluate, minimum=1)
        return evaluate
    if isinstance(evaluate, (str, dict)) or callable(evaluate) or hasattr(evaluate, "close"):
        return check_workers(evaluate)
    raise InvalidTypeError(
        f"'evaluate' must be a number of worker processes, 'processes', an executor name "
        f"such as 'dask', or a map-like callable (executor.map): {evaluate!r}")


def _executor_of(evaluate: Any) -> tuple[Any, int]:
    """The executor for ``evaluate`` (a kept pool for processes) and its worker count."""
    if evaluate == "processes":
        evaluate = os.cpu_count() or 1
    if isinstance(evaluate, numbers.Integral):
        return ProcessExecutor(int(evaluate), keep_workers=True), int(evaluate)
    executor = as_executor(evaluate)
    if isinstance(executor, ProcessExecutor):  # "process" or {"name": "process", ...}
        executor.keep_workers = True
    size = (getattr(executor, "max_workers", None) or getattr(executor, "n_workers", None)
            or getattr(getattr(evaluate, "__self__", None), "_max_workers", None) or 1)
    return executor, int(size)


@attrs.frozen
class EvaluateTask:
    """What a worker runs: f at each row of a block, as ``(True, values, seconds)``, or
    ``(False, exception, seconds)`` when f raised (re-raised in the run's process)."""

    objective: Objective

    def __call__(self, block: np.ndarray) -> tuple[bool, Any, float]:
        t = time.perf_counter()
        try:  # values(): one call for a vectorized objective, else value() row by row
            values = self.objective.values
            out = stacked_output(values(block), values, (len(block),))
        except Exception as exc:
            return False, exc, time.perf_counter() - t
        return True, out, time.perf_counter() - t


class PointCache:
    """f at the points evaluated last, keyed by their exact bits (at most ``size``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: collections.OrderedDict[bytes, float] = collections.OrderedDict()
        self.hits = 0

    def get(self, key: bytes) -> float | None:
        if not self.size:
            return None
        value = self.values.get(key)
        if value is not None:
            self.values.move_to_end(key)
            self.hits += 1
        return value

    def put(self, key: bytes, value: float) -> None:
        if self.size:
            self.values[key] = value
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)

    def items(self) -> list[tuple[bytes, float]]:
        """The entries (each point's bits and its value), least recently used first: a
        copy, what :meth:`restore` takes back (a global search's journal keeps them)."""
        return list(self.values.items())

    def restore(self, items: Any) -> None:
        """Hold exactly the entries :meth:`items` gave, in their order (the hits counted
        so far are kept)."""
        self.values = collections.OrderedDict(items)
        while len(self.values) > self.size:
            self.values.popitem(last=False)


class ParallelObjective(Objective):
    """``objective`` whose points are evaluated in batches on workers, through a cache.

    It is row-vectorized, so finite differences, stacks of starts and line searches hand
    it whole stacks; a single point goes to the pool too (the objective runs where
    ``evaluate`` says). Analytic gradients are computed in the run's process.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> f = of.ParallelObjective(of.FunctionObjective.from_callable(np.sum), map)
    >>> f.values(np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0]])).tolist()
    [3.0, 3.0, 7.0]
    >>> f.stats().evaluations, f.stats().cache_hits
    (2, 1)
    """

    def __init__(self, objective: Objective, evaluate: Any, *, cache: int | None = None,
                 timeout: float | None = None, retries: int = 2) -> None:
        self.objective = objective
        self.evaluate = check_evaluate(evaluate)
        self.cache = PointCache(DEFAULT_CACHE if cache is None else
                                check_int("cache", cache, minimum=0))
        self.timeout = None if timeout is None else check_real("eval_timeout", timeout,
                                                               positive=True)
        self.retries = check_int("retries", retries, minimum=0)
        self.task = EvaluateTask(objective)
        executor, _ = _executor_of(self.evaluate)  # nothing starts until a batch
        if getattr(executor, "needs_pickling", False):
            check_picklable(self.task, "the objective")
        if self.timeout is not None and not can_time_out(executor):
            raise InvalidArgumentError(
                f"'eval_timeout' needs workers that can stop an evaluation, but "
                f"evaluate={evaluate!r} is a plain map: use evaluate=N (a process pool) "
                "or a concurrent.futures executor's map, or drop eval_timeout")
        self.dim = objective.dim
        self._executor: Any = None
        self._workers = 1
        self._opened = 0
        self.evaluations = self.batches = 0
        self.seconds = self.busy = 0.0
        #: called after each batch with the stats so far (a progress bar)
        self.listener: Callable[[EvaluationStats], None] | None = None
        #: the stats after each of the last batches asked, as tuples of the fields of
        #: EvaluationStats (cheaper to make; see RunEvaluations.at_commit)
        self.marks: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=MARKS)

    # -- the Objective interface -------------------------------------------------------

    @property
    def vectorized(self) -> bool:
        return True

    @property
    def has_gradient(self) -> bool:
        return self.objective.has_gradient

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.objective.gradient(x)

    def gradients(self, X: np.ndarray) -> np.ndarray:
        return self.objective.gradients(X)

    def value(self, x: np.ndarray) -> float:
        return float(self.values(np.asarray(x)[None, :])[0])

    def values(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if not self.cache.size:  # without a cache, f is asked at every point it was
            out = self._evaluate(X) if len(X) else np.empty(0)
            self._mark()
            return out
        out = np.empty(len(X))
        todo: dict[bytes, list[int]] = {}  # each point once, even if it comes twice
        for i, row in enumerate(X):
            key = row.tobytes()
            if key in todo:
                todo[key].append(i)
                self.cache.hits += 1
                continue
            cached = self.cache.get(key)
            if cached is None:
                todo[key] = [i]
            else:
                out[i] = cached
        if todo:
            first = [rows[0] for rows in todo.values()]
            found = self._evaluate(X[first])
            for (key, rows), value in zip(todo.items(), found, strict=True):
                out[rows] = value
                self.cache.put(key, float(value))
        self._mark()
        return out

    def _mark(self) -> None:
        self.marks.append((self.evaluations, self.cache.hits, self.batches, self.seconds,
                           self.busy, self._workers))

    # -- the pool --------------------------------------------------------------------

    def _blocks(self, P: np.ndarray) -> list[np.ndarray]:
        """One job per point, or, for an objective that takes a stack, a slice per worker."""
        if self.objective.vectorized:
            return [b for b in np.array_split(P, min(self._workers, len(P))) if len(b)]
        return [P[i:i + 1] for i in range(len(P))]

    def _evaluate(self, P: np.ndarray) -> np.ndarray:
        executor = self._open()
        blocks = self._blocks(P)
        results: dict[int, Any] = {}

        def keep(i: int, result: Any) -> None:
            results[i] = result

        t = time.perf_counter()
        lost = run_jobs(executor, self.task, blocks, self.retries, self.timeout, keep)
        self.seconds += time.perf_counter() - t
        self.batches += 1
        if lost:
            i = min(lost)
            point = np.array2string(blocks[i][0], precision=6, threshold=8)
            raise EvaluationError(f"the evaluation of f at {point} {lost[i]}")
        values = []
        for i in range(len(blocks)):
            ok, value, seconds = results[i]
            self.busy += seconds
            if not ok:
                raise value
            values.append(value)
        self.evaluations += len(P)
        if self.listener is not None:
            self.listener(self.stats())
        return np.concatenate(values)

    def _open(self) -> Any:
        if self._executor is None:
            self._executor, self._workers = _executor_of(self.evaluate)
        return self._executor

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Keep the pool for everything inside (nested sessions share it); stop it at the
        end of the outermost."""
        self._opened += 1
        try:
            yield
        finally:
            self._opened -= 1
            if not self._opened:
                self.close()

    def close(self) -> None:
        """Stop the pool (a later batch starts a new one)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()

    def stats(self) -> EvaluationStats:
        """The evaluations so far (see :class:`EvaluationStats`)."""
        return EvaluationStats(self.evaluations, self.cache.hits, self.batches,
                               self.seconds, self.busy, self._workers)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_executor"], state["listener"], state["_opened"] = None, None, 0
        state["marks"] = collections.deque(maxlen=MARKS)
        return state

    def __repr__(self) -> str:
        return repr(self.objective)


def open_evaluation(objective: Objective, evaluate: Any, cache: int | None,
                    eval_timeout: float | None, retries: int) -> Objective:
    """The objective a run evaluates: ``objective`` itself, or, with ``evaluate`` or a
    ``cache``, a :class:`ParallelObjective` around it (``evaluate=None`` with a cache:
    evaluated here, through the cache)."""
    if evaluate is None and not cache:
        if eval_timeout is not None:
            raise InvalidArgumentError(
                "'eval_timeout' needs 'evaluate' (evaluations on workers can be stopped; "
                "this process cannot stop its own)")
        return objective
    return ParallelObjective(objective, map if evaluate is None else evaluate, cache=cache,
                             timeout=eval_timeout, retries=retries)
