"""How starts are spread out: executors, and retrying starts whose worker died.

An executor is a component (hook ``register_executors``): a factory that, called with
keyword options, returns an object with ``map(fn, items)`` (an iterator of results in
order), ``close()``, and optionally ``needs_pickling`` (True: the run is checked for
picklability before any work). ``workers=`` in :func:`~optiframe.minimize` takes:

* an int: a pool of that many worker processes (the ``process`` executor);
* a registered name or a mapping ``{"name": ..., **options}`` (``"serial"``,
  ``"process"``, ``"dask"`` with optiframe-dask installed);
* any map-like callable: builtin ``map``, ``Executor.map``, ``multiprocessing.Pool.map``,
  Dask's ``Client.get_executor().map``.

A worker that dies takes its starts with it: those starts are resubmitted, up to
``retries`` times, while finished starts are kept; a start that still cannot be run ends
``failed``, named by its index. Process pools need the objective to be picklable
(defined at module level) and, in scripts, the ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import concurrent.futures as cf
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import attrs

from ._validation import check_int
from .errors import InvalidArgumentError, InvalidTypeError
from .hookspecs import Register, hookimpl

Job = Any
Mapper = Callable[[Callable[[Job], Any], list[Job]], Iterable[Any]]


class WorkerLostError(Exception):
    """The job's worker died before returning a result."""


@attrs.define
class SerialExecutor:
    """Runs the starts one after the other in this process."""

    #: whether what it runs must be picklable (checked before any work when True)
    needs_pickling = False

    def map(self, fn: Callable[[Job], Any], items: list[Job]) -> Iterator[Any]:
        return map(fn, items)

    def close(self) -> None:
        pass


@attrs.define
class ProcessExecutor:
    """A pool of worker processes; a dead worker's starts go to a fresh pool."""

    needs_pickling = True

    max_workers: int = attrs.field(default=2, validator=lambda i, a, v: check_int(
        "workers", v, minimum=1))
    _pool: cf.ProcessPoolExecutor | None = attrs.field(default=None, init=False)

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.max_workers)
        return self._pool

    def map(self, fn: Callable[[Job], Any], items: list[Job]) -> Iterator[Any]:
        pool = self._get_pool()
        futures = [pool.submit(fn, item) for item in items]
        for future in futures:
            try:
                yield future.result()
            except BrokenProcessPool:
                # The pool is unusable: the caller resubmits the rest to a new one.
                self.close()
                raise WorkerLostError("a worker process died") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


@attrs.define
class MapExecutor:
    """Wraps any map-like callable ``mapper(fn, items)``."""

    mapper: Callable[..., Iterable[Any]]

    @property
    def needs_pickling(self) -> bool:
        """Builtin map runs here; any other map may send the work to other processes."""
        return self.mapper is not map

    def map(self, fn: Callable[[Job], Any], items: list[Job]) -> Iterator[Any]:
        return iter(self.mapper(fn, items))

    def close(self) -> None:
        pass


@hookimpl
def register_executors(register: Register) -> None:
    register("serial", SerialExecutor)
    register("process", ProcessExecutor)


def as_executor(workers: Any) -> Any:
    """The executor for a ``workers=`` argument (None is not accepted here)."""
    from .plugins import get_registry

    if isinstance(workers, bool):
        raise InvalidTypeError(f"'workers' must be an int, a name or a map-like callable: "
                               f"{workers!r}")
    if isinstance(workers, int):
        check_int("workers", workers, minimum=1)
        return ProcessExecutor(workers)
    if isinstance(workers, str):
        return get_registry().get("executor", workers).factory()
    if isinstance(workers, Mapping):
        params = dict(workers)
        name = params.pop("name", None)
        if not isinstance(name, str):
            raise InvalidTypeError(f"'workers' given as a mapping needs a 'name': {workers!r}")
        return get_registry().get("executor", name).factory(**params)
    if hasattr(workers, "map") and hasattr(workers, "close"):
        return workers
    if callable(workers):
        return MapExecutor(workers)
    raise InvalidTypeError(
        f"'workers' must be an int, an executor name or a map-like callable: {workers!r}")


def check_picklable(obj: Any, what: str) -> None:
    """Refuse, before any work, what cannot be sent to another process."""
    try:
        pickle.dumps(obj)
    except Exception as exc:
        raise InvalidArgumentError(
            f"{what} cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
            "define the objective and callbacks at module level (not as a lambda or a local "
            "function), or run without workers"
        ) from exc


def map_with_retries(executor: Any, fn: Callable[[Job], Any], jobs: list[Job],
                     retries: int, on_result: Callable[[int, Any], None] | None = None,
                     ) -> tuple[dict[int, Any], dict[int, str]]:
    """Run ``fn`` over ``jobs`` (by position); resubmit those lost with a dead worker.

    Returns the results by position, and for positions that could not be run after
    ``retries`` resubmissions, why. ``on_result(position, result)`` is called as each
    result arrives.
    """
    results: dict[int, Any] = {}
    pending = list(range(len(jobs)))
    last_error = ""
    for _attempt in range(retries + 1):
        if not pending:
            break
        it = iter(executor.map(fn, [jobs[i] for i in pending]))
        done = 0
        try:
            for position, result in zip(pending, it, strict=False):
                results[position] = result
                done += 1
                if on_result is not None:
                    on_result(position, result)
        except Exception as exc:  # a dead worker, whatever the executor calls it
            last_error = f"{type(exc).__name__}: {exc}"
        pending = pending[done:]
    return results, {i: last_error for i in pending}
