"""A multi-start run spread over ``workers``: each job is a stack of the starts it holds,
advanced by the same loop in the worker (:class:`StartsTask`); the parent collects the
jobs as they complete, checkpoints and streams each finished start as it arrives, and
hands its outcome to the ``on_start_end`` observers."""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from typing import Any

import attrs
import numpy as np

from .assembly import bind, callbacks_of, new_state, watch
from .checkpoint import Checkpoint, Snapshot, segment_arrays
from .errors import InvalidArgumentError, write_failure
from .executors import can_time_out, check_picklable, run_jobs
from .history import StartsHistory
from .observers import EVENTS
from .outcome import Finished
from .progress import Progress
from .result import MultiStartResult, ctrl_c_at_the_end
from .run_pieces import (
    advance_run,
    epoch_logger,
    finish_multistart,
    noted,
    start_end_caller,
    starts_recorder,
    streaming,
)
from .run_spec import RunSpec
from .signals import deferred, hold_to_the_end, sigterm_interrupts
from .status import Status, message


def for_workers(runner: RunSpec) -> Any:
    """What the workers get: the runner without the callback objects that only watch
    events of the calling process (``on_run_start``, ``on_start_end``, ``on_run_end``),
    which need not travel (nor be picklable)."""
    def travels(cb: Any) -> bool:
        events = [e for e in EVENTS if callable(getattr(cb, e, None))]
        return not events or any(e in ("on_step", "on_epoch") for e in events)

    worker: Any = copy.copy(runner)  # a shallow copy whose callbacks it may set
    worker.callbacks = tuple(cb for cb in runner.callbacks if travels(cb))
    return worker


def check_workers(runner: RunSpec, executor: Any) -> None:
    """Refuse, before any work, a combination that cannot work on this executor."""
    if getattr(executor, "needs_pickling", False):
        check_picklable(for_workers(runner), "the objective, optimizer or callbacks")
    if runner.start_timeout is not None and not can_time_out(executor):
        raise InvalidArgumentError(
            f"'start_timeout' needs an executor that can stop a start, but the 'workers' "
            f"given ({executor!r}) is a plain map: use workers=N (a process pool), a "
            "concurrent.futures executor's map, or drop start_timeout")


@attrs.frozen
class StartsTask:
    """What a worker runs: the starts of one job, advanced together by the step loop.

    Picklable when the runner is; ``__call__((index, X0))`` returns the job's finished
    starts, its history (columns in the order of ``index``) and per-epoch rows, and
    whether a Ctrl-C came as its run ended (for the caller to stop after keeping them).
    """

    runner: RunSpec
    entropy: int
    n_starts: int

    def __call__(self, job: tuple[np.ndarray, np.ndarray]) -> tuple[Finished, Any, bool]:
        index, X0 = job
        runner = self.runner
        p = bind(runner, False, X0.shape[1], self.n_starts, self.entropy)
        s = new_state(runner, p, X0, index, self.entropy)
        history = StartsHistory(len(index), runner.record_x)
        if p.batches is not None:
            p.batches.log = epoch_logger(history)
        calls = callbacks_of(runner)
        w = watch(runner, s, p, history, starts_recorder(history, index), None,
                  attrs.evolve(calls, run_start=(), start_end=(), run_end=()), None,
                  "", progress=False, holds_end=False)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            advance_run(s, p, w)
        block = Finished.join(s.finished, X0.shape[1])
        return block, history, w.ctrl_c and Status.INTERRUPTED not in block.status


def run_on_workers(runner: RunSpec, executor: Any, X0: np.ndarray, entropy: int,
                   done: Finished | None = None, history: StartsHistory | None = None,
                   resumed: Checkpoint | None = None) -> MultiStartResult:
    """Each start not in ``done`` alone through ``executor``, collected as it completes.

    As each start arrives it is checkpointed (with a ``checkpoint`` folder), streamed,
    counted on the progress bar and handed to the ``on_start_end`` observers. Ctrl-C
    ends the run: the starts that had not finished are reported ``interrupted``, and
    resuming the checkpoint runs only them. A start lost with its worker ``retries + 1``
    times ends ``failed`` on its own; so does one past ``start_timeout``.
    """
    K, n = X0.shape
    finished = [done] if done is not None and len(done) else []
    history = history if history is not None else StartsHistory(K, runner.record_x)
    have = set(np.concatenate([b.index for b in finished]).tolist()) if finished else set()
    todo = [k for k in range(K) if k not in have]
    ckpt = runner.checkpointer("workers", (K, n), entropy, resumed)
    calls = callbacks_of(runner)
    call_end = start_end_caller(calls)
    bar = Progress.create(runner.progress, K, f"optiframe, {K} starts on workers",
                          unit="start")
    if bar is not None:
        bar.tick(len(have), math.nan, force=True)

    trouble: list[str] = []  # a checkpoint that could not be written (a full disk)

    def save() -> None:
        if ckpt is not None:
            snap = Snapshot()
            snap.array("X0", X0)
            snap.finished(Finished.join(finished, n))
            # the records arrive start by start, not step by step: the whole history each time
            snap.arrays.update(segment_arrays(history, 0, 2**62))
            snap.json["epoch_log"] = list(history.epoch_log)
            try:
                ckpt.save(sum(len(b) for b in finished), snap)
            except OSError as exc:  # a full disk: warn once, the starts go on
                if not trouble:
                    trouble.append(f" Note: a checkpoint could not be written into "
                                   f"{str(ckpt.directory)!r}{write_failure(exc)}; the "
                                   "previous one is kept and resumes.")
                    warnings.warn(trouble[0].strip(), RuntimeWarning, stacklevel=2)

    with streaming(runner, history, n, None if resumed is None else 0,
                   todo if resumed is not None else None) as stream:
        def arrived(position: int, result: tuple[Finished, StartsHistory, bool]) -> None:
            block, part, ctrl_c_at_its_end = result
            if Status.INTERRUPTED in block.status:  # Ctrl-C reached the worker:
                raise KeyboardInterrupt  # stop here; the start is rerun on resume
            history.merge(part, block.index)
            if stream is not None:
                part.stream_to(stream, block.index)
            finished.append(block)
            save()
            if bar is not None:
                bar.tick(sum(len(b) for b in finished), _best_of(finished), force=True)
            if call_end is not None:
                call_end(block)
            if ctrl_c_at_its_end:  # (the start kept: the run stops after it)
                raise KeyboardInterrupt

        jobs = [(np.array([k]), X0[k : k + 1]) for k in todo]
        task = StartsTask(for_workers(runner), entropy, K)
        interrupted, late = False, list[int]()  # (late: Ctrl-C, SIGTERM as they stop)
        lost: dict[int, str] = {}
        try:
            with sigterm_interrupts(ckpt is not None):
                lost = {todo[i]: why for i, why in run_jobs(
                    executor, task, jobs, runner.retries, runner.start_timeout,
                    arrived).items()}
        except KeyboardInterrupt:
            interrupted = True
            with contextlib.suppress(OSError):
                save()
        finally:
            with deferred(late):  # (and from here the run's end holds Ctrl-C until the
                hold_to_the_end()  # run-end observers: it comes with the result)
                executor.close()
                if bar is not None:
                    bar.close(sum(len(b) for b in finished), _best_of(finished))
    have = set(np.concatenate([b.index for b in finished]).tolist()) if finished else set()
    rest = [k for k in range(K) if k not in have]
    if rest:
        statuses, messages = [], []
        for k in rest:
            if interrupted or k not in lost:
                statuses.append(Status.INTERRUPTED)
                messages.append(message(Status.INTERRUPTED, f"start {k} had not finished"))
            else:
                statuses.append(Status.FAILED)
                messages.append(message(Status.FAILED, f"start {k} {lost[k]}"))
        block = Finished(index=rest, x0=X0[rest], x=X0[rest], fun=np.full(len(rest), np.nan),
                         nit=np.zeros(len(rest)), nfev=np.zeros(len(rest)),
                         njev=np.zeros(len(rest)), status=statuses, message=messages)
        finished.append(block)
        if call_end is not None and not interrupted:
            call_end(attrs.evolve(block))
    notes = "".join(trouble) + ((stream.trouble or "") if stream is not None else "")
    result = noted(finish_multistart(runner, Finished.join(finished, n), history, None),
                    notes)  # (a Ctrl-C as the last start arrived: nothing to interrupt)
    ctrl_c_at_the_end(runner.on_interrupt, interrupted or bool(late), result)
    return result


def _best_of(blocks: list[Finished]) -> float:
    funs = np.concatenate([b.fun for b in blocks]) if blocks else np.array([])
    funs = funs[np.isfinite(funs)]
    return float(funs.min()) if funs.size else math.nan
