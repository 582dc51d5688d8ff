"""How starts are spread out: executors, collecting results as they complete, and
retrying a job whose worker died.

An executor is a component (hook ``register_executors``): a factory that, called with
keyword options, returns an object with ``close()`` and one of

* ``run_jobs(task, jobs, retries, timeout, on_result)`` (the built-in executors): runs
  ``task(job)`` for each job and reports each result as it completes, knowing which job
  each worker holds, so a job that kills its worker is retried on its own and a job past
  its timeout is stopped;
* ``submit(fn, item)`` returning a :class:`concurrent.futures.Future`: results are
  collected as they complete; a job whose future raises because the executor broke is
  lost (and retried while the executor still works);
* ``map(fn, items)``: results in order; if the map raises, the jobs it had not returned
  are retried one at a time.

and optionally ``needs_pickling`` (True: the run is checked for picklability before any
work). ``workers=`` in :func:`~optiframe.minimize` takes:

* an int: a pool of that many worker processes (the ``process`` executor);
* a registered name or a mapping ``{"name": ..., **options}`` (``"serial"``,
  ``"process"``, ``"dask"`` with optiframe-dask installed);
* any map-like callable: builtin ``map``, ``Executor.map`` (its executor's ``submit`` is
  used, so results arrive as they complete), ``multiprocessing.Pool.map`` (likewise, its
  ``apply_async``), Dask's ``Client.get_executor().map``.

The ``process`` executor's workers ignore Ctrl-C: the parent handles it (saves the
checkpoint of the finished starts, stops the workers). Process pools need the objective
to be picklable (defined at module level) and, in scripts, the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import multiprocessing.connection
import multiprocessing.pool
import pickle
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ._validation import check_int
from .errors import InvalidArgumentError, InvalidTypeError
from .hookspecs import Register, hookimpl
from .signals import deferred

Job = Any
OnResult = Callable[[int, Any], None]


@attrs.define
class SerialExecutor:
    """Runs the jobs one after the other in this process."""

    #: whether what it runs must be picklable (checked before any work when True)
    needs_pickling = False

    def run_jobs(self, task: Callable[[Job], Any], jobs: list[Job], retries: int,
                 timeout: float | None, on_result: OnResult) -> dict[int, str]:
        for i, job in enumerate(jobs):
            on_result(i, task(job))
        return {}

    def close(self) -> None:
        pass


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _worker_main(conn: Any, payload: bytes) -> None:
    """A worker process: run the task on each job received, send each result back."""
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if hasattr(signal, "SIGTERM"):  # (forked in a run that catches it: ended as usual)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    task = pickle.loads(payload)
    while True:
        try:
            i, job, timed = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if timed:  # the job has a timeout: its clock runs from here
                conn.send((i, None, None))
            reply = (i, True, task(job))
        except BaseException as exc:  # the task keeps user errors; this is anything else
            reply = (i, False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except Exception as exc:  # a result that cannot be pickled
            conn.send((i, False, f"its result could not be sent back ({type(exc).__name__}: "
                                 f"{exc})"))


#: Libraries that run threads of their own once imported: a process forked from one may
#: deadlock, so workers are spawned fresh instead.
THREADED_LIBRARIES = ("jax", "torch", "tensorflow")


def _start_method() -> str | None:
    """How worker processes start: the platform's default, or ``"spawn"`` once a library
    in :data:`THREADED_LIBRARIES` is imported in this process."""
    return "spawn" if any(name in sys.modules for name in THREADED_LIBRARIES) else None


class _Worker:
    def __init__(self, context: Any, payload: bytes) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, payload), daemon=True)
        self.process.start()
        child.close()
        self.job: int | None = None
        self.deadline = float("inf")

    def stop(self) -> None:
        """Kill the process (if alive) and release its pipe and handles, here rather than
        in a finalizer of the garbage collector's, where a Ctrl-C is lost ("Exception
        ignored in ...")."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        if self.process.exitcode is not None:
            self.process.close()


@attrs.define
class ProcessExecutor:
    """A pool of worker processes that knows which job each worker holds: a worker that
    dies loses exactly its job (retried alone, up to ``retries`` times, on a fresh worker),
    and a job past its ``timeout`` is stopped by stopping its worker.

    With ``keep_workers`` the workers outlive one ``run_jobs`` call and serve the next
    call with the same task (a run's evaluations, batch after batch) until :meth:`close`;
    otherwise each call starts its own and stops them when it returns.
    """

    needs_pickling = True

    max_workers: int = attrs.field(default=2, validator=lambda i, a, v: check_int(
        "workers", v, minimum=1))
    keep_workers: bool = False
    _kept: list[_Worker] = attrs.field(factory=list, init=False, repr=False)
    _payload: bytes | None = attrs.field(default=None, init=False, repr=False)
    _task: Any = attrs.field(default=None, init=False, repr=False)

    def run_jobs(self, task: Callable[[Job], Any], jobs: list[Job], retries: int,
                 timeout: float | None, on_result: OnResult) -> dict[int, str]:
        context = multiprocessing.get_context(_start_method())
        if task is not self._task or self._payload is None:
            payload = pickle.dumps(task)
            if payload != self._payload:  # kept workers run another task: start afresh
                self.close()
            self._task, self._payload = task, payload
        payload = self._payload
        workers = [w for w in self._kept if w.process.is_alive()]
        for w in self._kept:
            if w not in workers:
                w.stop()
        self._kept = []
        queue = collections.deque(range(len(jobs)))
        losses: collections.Counter[int] = collections.Counter()
        lost: dict[int, str] = {}
        finished = False
        try:
            # kept workers will serve the next calls too: start them all at once
            wanted = self.max_workers if self.keep_workers else 0
            while queue or any(w.job is not None for w in workers):
                while (queue or len(workers) < wanted) and len(workers) < self.max_workers:
                    with deferred():  # (a Ctrl-C as it starts: the worker listed, stopped)
                        workers.append(_Worker(context, payload))
                for w in workers:
                    if w.job is None and queue:
                        w.job = queue.popleft()
                        # the clock starts when the worker says it started the job, not
                        # now: a worker's boot (spawned, importing jax) is not the job's
                        w.deadline = float("inf")
                        w.conn.send((w.job, jobs[w.job], timeout is not None))
                busy = [w for w in workers if w.job is not None]
                wait = min(w.deadline for w in busy) - time.monotonic()
                ready = set(multiprocessing.connection.wait(
                    [w.conn for w in busy] + [w.process.sentinel for w in busy],
                    timeout=None if wait == float("inf") else max(wait, 0.0)))
                for w in busy:
                    i = w.job
                    assert i is not None
                    if w.conn in ready:
                        try:
                            _, ok, value = w.conn.recv()
                        except (EOFError, OSError):
                            ready.add(w.process.sentinel)  # died while answering
                        else:
                            if ok is None:  # the job started
                                if timeout is not None:
                                    w.deadline = time.monotonic() + timeout
                                continue
                            w.job = None
                            if ok:
                                on_result(i, value)
                            else:
                                lost[i] = f"could not be run: its job raised {value}"
                            continue
                    if w.process.sentinel in ready:
                        w.process.join(5)
                        why = (f"its worker process (pid {w.process.pid}) "
                               f"{_describe_exit(w.process.exitcode)}")
                        losses[i] += 1
                        if losses[i] > retries:
                            lost[i] = f"was lost with its worker {losses[i]} times ({why})"
                        else:
                            queue.appendleft(i)
                        w.stop()
                        workers.remove(w)
                    elif time.monotonic() >= w.deadline:
                        lost[i] = f"ran past its timeout of {timeout:g} s and was stopped"
                        w.stop()
                        workers.remove(w)
            finished = True
        finally:
            if finished and self.keep_workers:
                self._kept = workers
            else:  # Ctrl-C or an error here: no worker is left holding a job (a Ctrl-C
                with deferred():  # as they stop waits for the last)
                    for w in workers:
                        w.stop()
        return lost

    @property
    def alive(self) -> int:
        """How many kept workers are waiting for the next call."""
        return sum(w.process.is_alive() for w in self._kept)

    def close(self) -> None:
        """Stop the kept workers (the next call starts new ones)."""
        with deferred():  # (a Ctrl-C as they stop waits for the last)
            for w in self._kept:
                w.stop()
            self._kept = []
        self._payload = self._task = None


@attrs.define
class MapExecutor:
    """Wraps any map-like callable ``mapper(fn, items)``; a bound ``map`` of a
    :class:`concurrent.futures.Executor` or a :class:`multiprocessing.pool.Pool` is used
    through its executor, so that results arrive as they complete."""

    mapper: Callable[..., Iterable[Any]]

    @property
    def needs_pickling(self) -> bool:
        """Builtin map runs here; any other map may send the work to other processes."""
        owner = getattr(self.mapper, "__self__", None)
        return self.mapper is not map and not isinstance(owner, cf.ThreadPoolExecutor)

    @property
    def submit(self) -> Callable[..., cf.Future[Any]] | None:
        owner = getattr(self.mapper, "__self__", None)
        if isinstance(owner, cf.Executor):
            return owner.submit
        if isinstance(owner, multiprocessing.pool.Pool):
            return _pool_submit(owner)
        return None

    def map(self, fn: Callable[[Job], Any], items: list[Job]) -> Iterable[Any]:
        return self.mapper(fn, items)

    def close(self) -> None:
        pass


def _pool_submit(pool: multiprocessing.pool.Pool) -> Callable[..., cf.Future[Any]]:
    """``submit`` for a multiprocessing pool: its ``apply_async`` behind a Future."""
    def submit(fn: Callable[[Job], Any], item: Job) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        pool.apply_async(fn, (item,), callback=future.set_result,
                         error_callback=future.set_exception)
        return future

    return submit


@hookimpl
def register_executors(register: Register) -> None:
    register("serial", SerialExecutor)
    register("process", ProcessExecutor)


def check_workers(workers: Any) -> Any:
    """A ``workers=`` argument checked without starting anything (a bad one is refused
    before any work, even where the run would never use workers); returns it."""
    import numbers

    from .plugins import get_registry

    if isinstance(workers, bool):
        raise InvalidTypeError(f"'workers' must be an int, a name or a map-like callable: "
                               f"{workers!r}")
    if isinstance(workers, numbers.Integral):
        check_int("workers", workers, minimum=1)
    elif isinstance(workers, str):
        get_registry().get("executor", workers)
    elif isinstance(workers, Mapping):
        name = workers.get("name")
        if not isinstance(name, str):
            raise InvalidTypeError(f"'workers' given as a mapping needs a 'name': {workers!r}")
        get_registry().get("executor", name)
    elif not callable(workers) and not (hasattr(workers, "close") and any(
            hasattr(workers, m) for m in ("run_jobs", "submit", "map"))):
        raise InvalidTypeError(
            f"'workers' must be an int, an executor name or a map-like callable: {workers!r}")
    return workers


def as_executor(workers: Any) -> Any:
    """The executor for a ``workers=`` argument (None is not accepted here)."""
    import numbers

    from .plugins import get_registry

    check_workers(workers)
    if isinstance(workers, numbers.Integral):
        return ProcessExecutor(int(workers))
    if isinstance(workers, str):
        return get_registry().get("executor", workers).factory()
    if isinstance(workers, Mapping):
        params = dict(workers)
        name = params.pop("name")
        return get_registry().get("executor", name).factory(**params)
    if hasattr(workers, "close") and any(hasattr(workers, m) for m in
                                         ("run_jobs", "submit", "map")):
        return workers
    return MapExecutor(workers)


def can_time_out(executor: Any) -> bool:
    """Whether ``executor`` can stop a job at its timeout."""
    return hasattr(executor, "run_jobs") or getattr(executor, "submit", None) is not None


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


def run_jobs(executor: Any, task: Callable[[Job], Any], jobs: list[Job], retries: int,
             timeout: float | None, on_result: OnResult) -> dict[int, str]:
    """Run ``task`` over ``jobs`` through ``executor``, calling ``on_result(i, result)`` as
    each job completes; return the jobs that could not be run, with why.

    A job lost with its worker is run again, up to ``retries`` times; where the executor
    cannot say which job its dead worker held, the jobs it lost are run again one at a
    time, so that a job that kills every worker it runs on is the only one lost.
    """
    if hasattr(executor, "run_jobs"):
        return dict(executor.run_jobs(task, jobs, retries, timeout, on_result))
    submit = getattr(executor, "submit", None)
    if submit is not None:
        return _run_futures(submit, task, jobs, retries, timeout, on_result)
    return _run_mapped(executor.map, task, jobs, retries, on_result)


def _run_futures(submit: Callable[..., cf.Future[Any]], task: Callable[[Job], Any],
                 jobs: list[Job], retries: int, timeout: float | None,
                 on_result: OnResult) -> dict[int, str]:
    lost: dict[int, str] = {}
    losses: collections.Counter[int] = collections.Counter()
    pending = list(range(len(jobs)))
    alone = False  # after a loss, jobs run one at a time: each loss is then that job's
    while pending:
        batch = pending[:1] if alone else pending
        pending = pending[len(batch):]
        futures: dict[cf.Future[Any], int] = {}
        started: dict[cf.Future[Any], float] = {}
        for i in batch:
            try:
                f = submit(task, jobs[i])
            except Exception as exc:  # the executor is gone (shut down, broken)
                lost[i] = f"could not be run: the executor refused it ({type(exc).__name__}: {exc})"
                continue
            futures[f] = i
            started[f] = time.monotonic()
        while futures:
            wait = None if timeout is None else max(
                0.0, min(started[f] for f in futures) + timeout - time.monotonic())
            done, _ = cf.wait(futures, timeout=wait, return_when=cf.FIRST_COMPLETED)
            if not done:  # the oldest job is past its timeout
                f = min(futures, key=lambda f: started[f])
                f.cancel()
                lost[futures.pop(f)] = (f"ran past its timeout of {timeout:g} s and was "
                                        "abandoned (its worker may still be running it)")
                continue
            for f in done:
                i = futures.pop(f)
                try:
                    on_result(i, f.result())
                except (cf.BrokenExecutor, cf.CancelledError, OSError, EOFError) as exc:
                    losses[i] += 1
                    why = f"{type(exc).__name__}: {exc}"
                    if losses[i] > retries:
                        lost[i] = f"was lost with its worker {losses[i]} times ({why})"
                    else:
                        pending.append(i)
                        alone = True
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    lost[i] = f"could not be run: its job raised {type(exc).__name__}: {exc}"
        pending.sort()
    return lost


def _run_mapped(mapper: Callable[..., Iterable[Any]], task: Callable[[Job], Any],
                jobs: list[Job], retries: int, on_result: OnResult) -> dict[int, str]:
    lost: dict[int, str] = {}
    losses: collections.Counter[int] = collections.Counter()
    pending = list(range(len(jobs)))
    try:  # everything in one map, in order
        for i, result in zip(pending, mapper(task, [jobs[i] for i in pending]), strict=False):
            on_result(i, result)
            pending = pending[1:]
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        first = f"{type(exc).__name__}: {exc}"
    else:
        return lost
    for i in pending:  # what the map lost, one job at a time
        why = first
        while True:
            try:
                (result,) = list(mapper(task, [jobs[i]]))
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
                losses[i] += 1
                if losses[i] > retries:
                    lost[i] = f"was lost with its worker {losses[i]} times ({why})"
                    break
                continue
            on_result(i, result)
            break
    return lost
