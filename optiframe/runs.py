"""Every kind of run, assembled from the same pieces (:mod:`optiframe.assembly`).

A run binds its :class:`~optiframe.problem.Problem`, makes its
:class:`~optiframe.state.RunState` (or restores it from a checkpoint), attaches its
observers in a :class:`~optiframe.observers.Watch`, and hands both to the one step loop
(:func:`~optiframe.loop.advance`). The kinds differ only in what they hand over:

* one ``x0``: a point state;
* K starts together: one stack of K rows;
* K starts on ``workers``: each job is a stack of the starts it holds, advanced by the
  same loop in the worker; the parent collects the jobs as they complete, checkpoints
  and streams each finished start as it arrives, and hands its outcome to the
  ``on_start_end`` observers.

Row k's arithmetic never depends on the other rows, and each start's randomness comes
from its own child of the run's seed, so a start gives the same bits on every path.
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from ._validation import as_point
from .assembly import FailedAtStartError, bind, callbacks_of, new_state, root_entropy, watch
from .batching import epoch_to_log
from .bounds import as_box
from .checkpoint import Checkpoint, Snapshot, load_checkpoint, segment_arrays
from .errors import (
    InvalidArgumentError,
    PluginError,
    RunFailedError,
    describe_error,
    write_failure,
)
from .executors import as_executor, can_time_out, check_picklable, run_jobs
from .gradcheck import require_matching_gradient
from .history import History, StartsHistory
from .loop import advance
from .observers import EVENTS, Callbacks, Watch
from .optimizers._fields import check_coordinates
from .outcome import Finished
from .problem import Problem
from .progress import Progress
from .result import MultiStartResult, Result, ctrl_c_at_the_end, reraise
from .run_spec import RunSpec
from .signals import deferred, hold_to_the_end, sigterm_interrupts
from .starts import MultiStart, as_starts, check_seed
from .state import RunState
from .status import Status, message
from .stream import open_stream, recording

# -- one start ------------------------------------------------------------------------------


def check_shapes(runner: RunSpec, n: int) -> None:
    """Refuse, before any work, points of ``n`` coordinates that the objective does not
    take, or an optimizer's per-coordinate array (a learning rate) of another length."""
    runner.objective.check_dim(n)
    check_coordinates(runner.optimizer, n)


def run_point(runner: RunSpec, x0: Any, seed: Any, resumed: Checkpoint | None = None) -> Result:
    """Minimize from one point (or go on from the point run saved in ``resumed``)."""
    note = ""
    if resumed is None:
        x = as_point(x0)
        check_shapes(runner, x.size)
        x, note = clipped_x0(runner.box(x.size), x)
        x.flags.writeable = False  # the iterate: an objective may not write into it
        if runner.check_gradient:
            require_matching_gradient(runner.objective, x)
        entropy = root_entropy(check_seed(seed))
        n = x.size
    else:
        n = int(resumed.meta["state"]["n"])
        entropy = _saved_entropy(resumed)
    p = bind(runner, True, n, 1, entropy)
    runner.started(1, seed, resumed is not None)
    if resumed is None:
        try:
            s = new_state(runner, p, x, np.array([0]), entropy)
        except FailedAtStartError as failed:
            return _failed_at_start(runner, x, failed.exc)
        history = History(n, runner.record_x)
    else:
        s = _restored(resumed, runner, p)
        history = resumed.history(n, runner.record_x)
    early: list[int] = []  # Ctrl-C as the run is set up: held, then the loop stops at once
    stream = ckpt = None
    late: list[int] = []  # Ctrl-C (or SIGTERM) after the loop, while the run ends
    try:
        with deferred(early):
            stream = open_stream(runner.stream_history, "single", n, None,
                                 None if resumed is None else resumed.step, runner.record_x,
                                 epoch_again=resumed is not None and epoch_to_log(p.batches,
                                                                                 s.cursor))
            extend, xs = recording(history, stream)
            if p.batches is not None:
                def log(index: int, entry: dict[str, float]) -> None:
                    history.epoch_log.append(entry)
                    if stream is not None:
                        stream.epoch(entry)

                p.batches.log = log
            ckpt = runner.checkpointer("single", (n,), entropy, resumed)
            calls = callbacks_of(runner)
            s.listener = _start_end_caller(calls)
            w = watch(runner, s, p, history, extend, xs, calls, ckpt,
                      "optiframe training" if p.batches is not None else "optiframe")
        with sigterm_interrupts(ckpt is not None), \
                np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _advance(s, p, w, bool(early))
    finally:
        with deferred(late):  # (the run is over: a Ctrl-C from here on, see below)
            if stream is not None:
                stream.close()
            if ckpt is not None:
                ckpt.close()
    with deferred(late):
        note += w.storage_note + ((stream.trouble or "") if stream is not None else "")
        (block,) = [b for b in s.finished if len(b)]
        opt, state = p.optimizer, s.opt  # scipy's hess_inv, where the optimizer keeps one
        hess_inv_at = None if state is None else (lambda: opt.inverse_hessian(state))
        result = Result(x=block.x[0], fun=float(block.fun[0]), status=block.status[0],
                        message=block.message[0] + note, nit=int(block.nit[0]),
                        nfev=int(block.nfev[0]), njev=int(block.njev[0]), history=history,
                        hess_inv_at=hess_inv_at)
    ctrl_c_at_the_end(runner.on_interrupt, w.ctrl_c or bool(late), result)
    if result.status is Status.FAILED:
        if isinstance(w.failure, PluginError) or w.failure is None:  # not the user's code
            if runner.raise_errors is True:
                raise RunFailedError(result.message, result) from w.failure
        elif runner.raise_errors is not False:
            reraise(w.failure, result)
    return result


def _advance(s: RunState, p: Problem, w: Watch, ctrl_c: bool = False) -> None:
    """:func:`~optiframe.loop.advance`; a Ctrl-C that escapes it once every row has ended
    (as the loop handed the run over, before :meth:`Watch.ended`'s hold) is one that came
    as the run ended (``w.ctrl_c``)."""
    try:
        advance(s, p, w, ctrl_c)
    except KeyboardInterrupt:
        if s.running:  # a second Ctrl-C, while the first was handled: Python's own
            raise
        w.ended(s)  # (again, if it was cut: its last row is written once)
        w.ctrl_c = True


def _failed_at_start(runner: RunSpec, x: np.ndarray, exc: BaseException) -> Result:
    """The objective raised at x0: status failed, with x0 kept and the error named."""
    history = History(x.size, runner.record_x)
    history.append((0, math.nan, math.nan, math.nan, 1, 0.0, math.nan), x)
    text = message(Status.FAILED, f"the objective raised at x0: {describe_error(exc)}")
    result = Result(x=x, fun=math.nan, status=Status.FAILED, message=text, nit=0, nfev=1,
                    njev=0, history=history)
    if runner.raise_errors is not False:
        reraise(exc, result)
    return result


def _restored(cp: Checkpoint, runner: RunSpec, p: Problem) -> RunState:
    init_sched = ((lambda rows: p.schedules.init(rows)) if p.schedules is not None
                  else (lambda rows: ()))
    s = cp.state(runner.optimizer.init, init_sched, p.fev, p.jev)
    if p.batches is not None:
        if s.cursor is None:
            raise InvalidArgumentError(f"{cp.path} holds a run without minibatches: resume it "
                                       "without batch_size")
        p.batches.restore(s)
    return s


# -- many starts ----------------------------------------------------------------------------


def starting_points(runner: RunSpec, x0: Any, starts: Any, seed: int | None,
                    entropy: int) -> tuple[np.ndarray, str]:
    """The (K, n) starting points, checked before any work and clipped into the run's
    bounds, and the note saying how many were clipped ("" if none)."""
    x = as_point(x0) if x0 is not None else None
    n = x.size if x is not None else runner.objective.dim
    if n is None and runner.bounds is not None:
        n = as_box(runner.bounds, None).n  # type: ignore[union-attr]
    box = None if n is None else runner.box(n)
    if isinstance(starts, MultiStart):
        X0 = starts.points(n, x, runner.objective, entropy, box)
    elif isinstance(starts, int) and not isinstance(starts, bool):
        raise InvalidArgumentError(
            f"'starts' must be a MultiStart or a (K, n) array: write "
            f"starts=MultiStart({starts}) for {starts} sampled starts")
    else:
        X0 = as_starts(starts, n)
    check_shapes(runner, X0.shape[1])
    if box is None:
        return X0, ""
    if box.n != X0.shape[1]:
        runner.box(X0.shape[1])  # raises: the bounds have the wrong length
    outside = ((box.lo > X0) | (box.hi < X0)).any(axis=1)
    if not outside.any():
        return X0, ""
    return box.project(X0), (f" Note: {int(outside.sum())} of {len(X0)} starting points "
                             "were outside the bounds and were clipped into them.")


def clipped_x0(box: Any, x: np.ndarray) -> tuple[np.ndarray, str]:
    """x0 clipped into the bounds, and the note saying which coordinates were."""
    if box is None:
        return x, ""
    out = box.outside(x)
    if not len(out):
        return x, ""
    shown = ", ".join(str(i) for i in out[:8].tolist()) + (", ..." if len(out) > 8 else "")
    return box.project(x), (f" Note: x0 was outside the bounds in coordinate"
                            f"{'s' if len(out) > 1 else ''} {shown} and was clipped into them.")


def run_multistart(runner: RunSpec, x0: Any, starts: Any, seed: Any,
                   workers: Any) -> MultiStartResult:
    """Run every start: together as one stack, or spread over ``workers``."""
    seed = check_seed(seed)
    entropy = root_entropy(seed)
    executor = None if workers is None else as_executor(workers)
    if executor is not None:
        check_workers(runner, executor)
    X0, note = starting_points(runner, x0, starts, seed, entropy)
    _check_share(runner.stop.max_nfev, X0.shape[0])
    X0.flags.writeable = False  # the iterates: an objective may not write into them
    if runner.check_gradient:
        require_matching_gradient(runner.objective, X0[0])
    runner.started(X0.shape[0], seed)
    if executor is None:
        result = run_stack(runner, X0, entropy)
    else:
        result = run_on_workers(runner, executor, X0, entropy)
    return _noted(result, note)


def _check_share(max_nfev: int | None, K: int) -> None:
    """Refuse a budget that cannot give each of ``K`` starts one evaluation (its f at
    x0): a multi-start run shares ``max_nfev`` equally, ``max_nfev // K`` a start."""
    if max_nfev is not None and max_nfev < K:
        raise InvalidArgumentError(
            f"'max_nfev' = {max_nfev} cannot be shared among {K} starts (each gets "
            f"max_nfev // {K} evaluations and needs at least one, its f at x0): raise "
            f"max_nfev to at least {K}, or run fewer starts")


def _noted(result: MultiStartResult, note: str) -> MultiStartResult:
    """The result with ``note`` (clipped starts, a write that failed) after its message."""
    return attrs.evolve(result, message=result.message + note) if note else result


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


def _starts_recorder(history: StartsHistory, index: np.ndarray | None = None) -> Any:
    """A stack's history record function; ``index`` maps the starts' global indices to
    the history's columns (a worker's history holds only its job's starts)."""
    if index is None:
        return history.record

    def record(k: int, rows: np.ndarray, F: Any, GN: Any, SN: Any, X: Any,
               step_size: Any = None) -> None:
        history.record(k, np.searchsorted(index, rows), F, GN, SN, X, step_size)

    return record


def _epoch_logger(history: StartsHistory, stream: Any = None) -> Any:
    def log(index: int, entry: dict[str, float]) -> None:
        row = {"start": index, **entry}
        history.epoch_log.append(row)
        if stream is not None:
            stream.epoch(row)
    return log


def run_stack(runner: RunSpec, X0: np.ndarray, entropy: int,
              resumed: Checkpoint | None = None) -> MultiStartResult:
    """Every start advanced together as one stack of rows (or the stack saved in
    ``resumed``, to its end)."""
    K, n = X0.shape
    p = bind(runner, False, n, K, entropy)
    if resumed is None:
        s = new_state(runner, p, X0, np.arange(K), entropy)
        history = StartsHistory(K, runner.record_x)
    else:
        s = _restored(resumed, runner, p)
        history = resumed.starts_history(K, runner.record_x)
    calls = callbacks_of(runner)
    early: list[int] = []  # Ctrl-C as the run is set up: held, then the loop stops at once
    with contextlib.ExitStack() as files:
        with deferred(early):
            stream = files.enter_context(streaming(
                runner, history, n, None if resumed is None else resumed.step,
                running=None if resumed is None else s.index.tolist(),
                epoch_again=resumed is not None and epoch_to_log(p.batches, s.cursor)))
            if p.batches is not None:
                p.batches.log = _epoch_logger(history, stream)
            ckpt = runner.checkpointer("multistart", (K, n), entropy, resumed)
            s.listener = _start_end_caller(calls)
            w = watch(runner, s, p, history, _starts_recorder(history), None, calls, ckpt,
                      f"optiframe, {K} starts")
        late: list[int] = []  # Ctrl-C (or SIGTERM) after the loop, while the run ends
        try:
            with sigterm_interrupts(ckpt is not None), \
                    np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                _advance(s, p, w, bool(early))
        finally:
            with deferred(late):
                if ckpt is not None:
                    ckpt.close()
        notes = w.storage_note + ((stream.trouble or "") if stream is not None else "")
    with deferred(late):
        result = _noted(finish_multistart(runner, Finished.join(s.finished, n), history,
                                          w.failure), notes)
    ctrl_c_at_the_end(runner.on_interrupt, w.ctrl_c or bool(late), result)
    return result


def _start_end_caller(calls: Callbacks) -> Any:
    if not calls.start_end:
        return None

    def call(block: Finished) -> None:
        for outcome in block.outcomes():
            for cb in calls.start_end:
                cb(outcome)

    return call


@contextlib.contextmanager
def streaming(runner: RunSpec, history: StartsHistory, dim: int,
              resumed_at: int | None, rerun: list[int] | None = None,
              running: list[int] | None = None, epoch_again: bool = False) -> Iterator[Any]:
    """Stream ``history``'s records to the runner's ``stream_history`` file, if any."""
    stream = open_stream(runner.stream_history, "multistart", dim, history.n_starts,
                         resumed_at, runner.record_x, rerun, running, epoch_again)
    history.stream = stream
    try:
        yield stream
    finally:
        history.stream = None
        if stream is not None:
            stream.close()


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
            p.batches.log = _epoch_logger(history)
        calls = callbacks_of(runner)
        w = watch(runner, s, p, history, _starts_recorder(history, index), None,
                  attrs.evolve(calls, run_start=(), start_end=(), run_end=()), None,
                  "", progress=False, holds_end=False)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _advance(s, p, w)
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
    call_end = _start_end_caller(calls)
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
    result = _noted(finish_multistart(runner, Finished.join(finished, n), history, None),
                    notes)  # (a Ctrl-C as the last start arrived: nothing to interrupt)
    ctrl_c_at_the_end(runner.on_interrupt, interrupted or bool(late), result)
    return result


def _best_of(blocks: list[Finished]) -> float:
    funs = np.concatenate([b.fun for b in blocks]) if blocks else np.array([])
    funs = funs[np.isfinite(funs)]
    return float(funs.min()) if funs.size else math.nan


def finish_multistart(runner: RunSpec, finished: Finished, history: StartsHistory,
                      failure: BaseException | None) -> MultiStartResult:
    """Gather the outcomes into the result; with ``raise_errors``, raise if any failed."""
    result = gather(finished, history, runner.minima_tol)
    if Status.FAILED in finished.status and runner.raise_errors is True:
        failed = [i for i, s in enumerate(finished.status) if s is Status.FAILED]
        first = failed[0]
        raise RunFailedError(f"{len(failed)} of {len(finished)} starts failed; first: start "
                             f"{finished.index[first]}: {finished.message[first]}",
                             result) from failure
    return result


def gather(finished: Finished, history: StartsHistory, minima_tol: float) -> MultiStartResult:
    """The result of a multi-start run: the best start and every start."""
    best = finished.best()
    counts = finished.statuses()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    text = (f"Best of {len(finished)} starts: start {int(finished.index[best])} ({summary}). "
            f"{finished.message[best]}")
    return MultiStartResult(
        x=finished.x[best], fun=float(finished.fun[best]), status=finished.overall(best),
        message=text, nit=int(finished.nit.max()), nfev=int(finished.nfev.sum()),
        njev=int(finished.njev.sum()), history=history,  # type: ignore[arg-type]
        finished=finished, minima_tol=minima_tol, best=best)


# -- resuming ---------------------------------------------------------------------------------


def resume(runner: RunSpec, where: Any, workers: Any) -> Result:
    """Go on with the run saved in the checkpoint folder ``where``."""
    from .checkpoint import check_config

    cp = load_checkpoint(where)
    check_config(cp, runner)
    shape = tuple(int(v) for v in cp.config["shape"])
    entropy = _saved_entropy(cp)
    if cp.kind == "single":
        if workers is not None:
            raise InvalidArgumentError("'workers' apply to resuming multi-start runs")
        return run_point(runner, None, None, cp)
    K, n = shape
    _check_share(runner.stop.max_nfev, K)  # (a budget may change on resume)
    runner.started(K, None, True)
    if cp.kind == "multistart":
        if workers is not None:
            raise InvalidArgumentError(
                "'workers' apply to resuming a multi-start run checkpointed on workers; this "
                "one advanced its starts together: resume it without workers")
        return run_stack(runner, np.empty((K, n)), entropy, cp)
    X0, done = cp.array("X0"), cp.finished(n)
    history = cp.starts_history(K, runner.record_x)
    if workers is not None:
        executor = as_executor(workers)
        check_workers(runner, executor)
        return run_on_workers(runner, executor, X0, entropy, done, history, cp)
    # the others together as one stack: the same bits, by the loop's design
    todo = np.array([k for k in range(K) if k not in set(done.index.tolist())], dtype=np.int64)
    p = bind(runner, False, n, K, entropy)
    s = new_state(runner, p, X0[todo], todo, entropy)
    part = StartsHistory(len(todo), runner.record_x)
    if p.batches is not None:
        p.batches.log = _epoch_logger(part)
    w = watch(runner, s, p, part, _starts_recorder(part, todo), None, callbacks_of(runner),
              None, f"optiframe, {len(todo)} starts")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _advance(s, p, w)
    history.merge(part, todo)
    result = finish_multistart(runner, Finished.join([done, *s.finished], n), history,
                               w.failure)
    ctrl_c_at_the_end(runner.on_interrupt, w.ctrl_c, result)
    return result


def _saved_entropy(cp: Checkpoint) -> int:
    """The entropy of the run that wrote ``cp`` (its config's seed; formats before 4 kept
    the seed given, or None)."""
    seed = cp.config.get("seed")
    return root_entropy(seed if isinstance(seed, int) and not isinstance(seed, bool) else None)
