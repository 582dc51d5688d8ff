"""Multi-start runs: sample the starts, run them (together or spread out), gather the result."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ._validation import as_point
from .batching import run_batches_stack
from .checkpoint import Checkpoint, Checkpointer, Snapshot, segment_arrays
from .errors import InvalidArgumentError, RunFailedError
from .executors import as_executor, check_picklable, map_with_retries
from .history import StartsHistory
from .multistart import run_one_start, run_stack
from .result import MESSAGES, MultiStartResult, StartOutcome, Status
from .starts import MultiStart, as_starts, check_seed
from .stream import open_stream

if TYPE_CHECKING:
    from .runner import Runner


def starting_points(runner: Runner, x0: Any, starts: Any, seed: Any) -> np.ndarray:
    """The (K, n) starting points, checked before any work."""
    seed = check_seed(seed)
    x = as_point(x0) if x0 is not None else None
    n = x.size if x is not None else runner.objective.dim
    if isinstance(starts, MultiStart):
        K = starts.n_starts
        children = np.random.SeedSequence(seed).spawn(K + 1)
        X0 = starts.points(n, x, runner.objective, children[:K], children[K])
    elif isinstance(starts, int) and not isinstance(starts, bool):
        raise InvalidArgumentError(
            f"'starts' must be a MultiStart or a (K, n) array: write "
            f"starts=MultiStart({starts}) for {starts} sampled starts")
    else:
        X0 = as_starts(starts, n)
    runner.objective.check_dim(X0.shape[1])
    return X0


def run_multistart(runner: Runner, x0: Any, starts: Any, seed: Any,
                   workers: Any) -> MultiStartResult:
    if runner.schedules:
        raise InvalidArgumentError(
            "schedules are not supported in multi-start runs yet: each start would need "
            "its own schedule state")
    X0 = starting_points(runner, x0, starts, seed)
    K = X0.shape[0]
    history = StartsHistory(K, runner.record_x)
    batch_seed = check_seed(seed) if runner.batching is not None else None
    if workers is not None and runner.stream_history is not None:
        raise InvalidArgumentError(
            "'stream_history' applies to runs without 'workers' (all starts advanced "
            "together as one array); drop workers= to stream a multi-start run")
    if workers is None:
        kind = "multistart" if runner.batching is None else "minibatch-multistart"
        ckpt = runner.checkpointer(kind, X0.shape, batch_seed)
        with streaming(runner, history, X0.shape[1], None), \
                np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if runner.batching is not None:
                outcomes = run_batches_stack(runner, X0, np.arange(K), history, batch_seed,
                                             ckpt)
            else:
                outcomes = run_stack(runner, X0, np.arange(K), history, ckpt)
    else:
        ckpt = runner.checkpointer("multistart-workers", X0.shape, batch_seed)
        outcomes = run_on_workers(runner, X0, history, batch_seed, workers, ckpt, [])
    return finish_multistart(runner, outcomes, history)


def run_on_workers(runner: Runner, X0: np.ndarray, history: StartsHistory,
                   batch_seed: int | None, workers: Any, checkpointer: Checkpointer | None,
                   finished: list[StartOutcome]) -> list[StartOutcome]:
    """Run each start not in ``finished`` alone through the executor ``workers``.

    With a checkpointer, a checkpoint of the finished starts (outcomes and histories) is
    written as each one arrives and when the run is interrupted; resuming reruns the
    others. Ctrl-C ends the run: starts not finished are reported ``interrupted``.
    """
    K = X0.shape[0]
    done = {o.index: o for o in finished}
    todo = [k for k in range(K) if k not in done]
    executor = as_executor(workers)
    if getattr(executor, "needs_pickling", False):
        check_picklable(runner, "the objective, optimizer or callbacks")
    job = functools.partial(run_one_start, runner, batch_seed=batch_seed)

    def save() -> None:
        if checkpointer is not None:
            snap = Snapshot()
            snap.array("X0", X0)
            snap.outcomes([done[k] for k in sorted(done)])
            snap.arrays.update(segment_arrays(history, 0, 2**62))
            checkpointer.save(len(done), snap)

    def arrived(position: int, result: tuple[StartOutcome, StartsHistory]) -> None:
        outcome, start_history = result
        if outcome.status is Status.INTERRUPTED:  # Ctrl-C reached the start's worker:
            raise KeyboardInterrupt  # stop here; the start is rerun on resume
        done[outcome.index] = outcome
        history.merge_start(start_history, outcome.index)
        save()

    interrupted = False
    lost: dict[int, str] = {}
    try:
        _, lost_positions = map_with_retries(executor, job, [(k, X0[k]) for k in todo],
                                             runner.retries, arrived)
        lost = {todo[p]: why for p, why in lost_positions.items()}
    except KeyboardInterrupt:
        interrupted = True
        save()
    finally:
        executor.close()
    def not_run(k: int, status: Status, why: str) -> StartOutcome:
        return StartOutcome(index=k, x0=X0[k], x=X0[k], fun=float("nan"), status=status,
                            message=f"{MESSAGES[status]}: start {k} {why}.", nit=0, nfev=0,
                            njev=0)

    return [done[k] if k in done
            else not_run(k, Status.INTERRUPTED, "had not finished")
            if interrupted or k not in lost
            else not_run(k, Status.FAILED, f"was lost with its worker {runner.retries + 1} "
                                           f"times ({lost[k]})")
            for k in range(K)]


def resume_multistart(runner: Runner, cp: Checkpoint, checkpointer: Checkpointer | None,
                      workers: Any = None) -> MultiStartResult:
    """Go on with the multi-start run saved in ``cp`` (see :meth:`Runner.resume`)."""
    K = int(cp.config["shape"][0])
    history = cp.starts_history(K, runner.record_x)
    if cp.kind == "multistart-workers":
        X0, finished = cp.array("X0"), cp.outcomes()
        seed = cp.config.get("seed")
        if workers is not None:
            outcomes = run_on_workers(runner, X0, history, seed, workers, checkpointer,
                                      finished)
        else:  # the others together as one array: the same bits, by the engine's design
            todo = np.array([k for k in range(K) if k not in {o.index for o in finished}],
                            dtype=np.int64)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                if runner.batching is not None:
                    rest = run_batches_stack(runner, X0[todo], todo, history, seed)
                else:
                    rest = run_stack(runner, X0[todo], todo, history)
            outcomes = finished + rest
        return finish_multistart(runner, outcomes, history)
    empty = np.empty((0, int(cp.config["shape"][1])))
    with streaming(runner, history, empty.shape[1], cp.step), \
            np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if cp.kind == "minibatch-multistart":
            outcomes = run_batches_stack(runner, empty, np.arange(0), history,
                                         cp.config.get("seed"), checkpointer, cp)
        else:
            outcomes = run_stack(runner, empty, np.arange(0), history, checkpointer, cp)
    return finish_multistart(runner, outcomes, history)


@contextlib.contextmanager
def streaming(runner: Runner, history: StartsHistory, dim: int,
              resumed_at: int | None) -> Iterator[None]:
    """Stream ``history``'s records to the runner's ``stream_history`` file, if any."""
    stream = open_stream(runner.stream_history, "multistart", dim, history.n_starts,
                         resumed_at, runner.record_x)
    history._stream = stream
    try:
        yield
    finally:
        history._stream = None
        if stream is not None:
            stream.close()


def finish_multistart(runner: Runner, outcomes: list[StartOutcome],
                      history: StartsHistory) -> MultiStartResult:
    """Gather the outcomes into the result; with ``raise_errors``, raise if any failed."""
    K = history.n_starts
    outcomes.sort(key=lambda o: o.index)
    result = gather(outcomes, history, runner.minima_tol)
    failed = [o for o in outcomes if o.status is Status.FAILED]
    if failed and runner.raise_errors:
        raise RunFailedError(f"{len(failed)} of {K} starts failed; first: start "
                             f"{failed[0].index}: {failed[0].message}", result)
    return result


def gather(outcomes: list[StartOutcome], history: StartsHistory,
           minima_tol: float) -> MultiStartResult:
    """The result of a multi-start run: the best start and every start."""
    finite = [o for o in outcomes if np.isfinite(o.fun)]
    best = min(finite, key=lambda o: (o.fun, o.index)) if finite else outcomes[0]
    result = MultiStartResult(
        x=best.x, fun=best.fun, status=best.status, message=best.message,
        nit=max(o.nit for o in outcomes), nfev=sum(o.nfev for o in outcomes),
        njev=sum(o.njev for o in outcomes), history=history,  # type: ignore[arg-type]
        starts=tuple(outcomes), minima_tol=minima_tol)
    summary = ", ".join(f"{v} {k}" for k, v in sorted(result.statuses().items()))
    message = f"Best of {len(outcomes)} starts: start {best.index} ({summary}). {best.message}"
    return attrs.evolve(result, message=message)
