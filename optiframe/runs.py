"""Every kind of run, assembled from the same pieces (:mod:`optiframe.assembly`).

A run binds its :class:`~optiframe.problem.Problem`, makes its
:class:`~optiframe.state.RunState` (or restores it from a checkpoint), attaches its
observers in a :class:`~optiframe.observers.Watch`, and hands both to the one step loop
(:func:`~optiframe.loop.advance`). The kinds differ only in what they hand over:

* one ``x0``: a point state;
* K starts together: one stack of K rows;
* K starts on ``workers``: each job is a stack of the starts it holds, advanced by the
  same loop in the worker (:mod:`optiframe.on_workers`).

What the kinds share (the loop's call, a stack's recorders and stream, the multi-start
result) is in :mod:`optiframe.run_pieces`.

Row k's arithmetic never depends on the other rows, and each start's randomness comes
from its own child of the run's seed, so a start gives the same bits on every path.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from ._validation import as_point
from .assembly import FailedAtStartError, bind, callbacks_of, new_state, root_entropy, watch
from .batching import epoch_to_log
from .bounds import as_box
from .checkpoint import Checkpoint, committed_nfev, load_checkpoint
from .errors import (
    CheckpointError,
    InvalidArgumentError,
    PluginError,
    RunFailedError,
    describe_error,
)
from .evaluation import RUN_EVALUATIONS, EvaluationStats
from .executors import as_executor
from .gradcheck import require_matching_gradient
from .history import History, StartsHistory
from .on_workers import check_workers, run_on_workers
from .optimizers._fields import check_coordinates
from .outcome import Finished
from .problem import Problem
from .result import MultiStartResult, Result, ctrl_c_at_the_end, reraise
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
from .signals import deferred, sigterm_interrupts
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
    early: list[int] = []  # Ctrl-C from f(x0) on, as the run is set up: held, then the
    setup = deferred(early)  # loop stops at once (new_state takes the hold)
    stream = ckpt = None
    late: list[int] = []  # Ctrl-C (or SIGTERM) after the loop, while the run ends
    try:
        if resumed is None:
            try:
                s = new_state(runner, p, x, np.array([0]), entropy, setup)
            except FailedAtStartError as failed:
                return _failed_at_start(runner, x, failed.exc)
            history = History(n, runner.record_x)
        else:
            s = _restored(resumed, runner, p)
            history = resumed.history(n, runner.record_x)
            setup.__enter__()
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
        s.listener = start_end_caller(calls)
        w = watch(runner, s, p, history, extend, xs, calls, ckpt,
                  "optiframe training" if p.batches is not None else "optiframe")
        if setup.swap is not None:  # (unwatched, it swapped the handlers: ended before
            setup.__exit__(None, None, None)  # SIGTERM's goes in, so each goes back)
        with sigterm_interrupts(ckpt is not None), \
                np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            advance_run(s, p, w, setup)
    finally:
        setup.__exit__(None, None, None)  # (ended by the loop; here if it never began,
        # or the set-up raised)
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
    return noted(result, note)


def _check_share(max_nfev: int | None, K: int) -> None:
    """Refuse a budget that cannot give each of ``K`` starts one evaluation (its f at
    x0): a multi-start run shares ``max_nfev`` equally, ``max_nfev // K`` a start."""
    if max_nfev is not None and max_nfev < K:
        raise InvalidArgumentError(
            f"'max_nfev' = {max_nfev} cannot be shared among {K} starts (each gets "
            f"max_nfev // {K} evaluations and needs at least one, its f at x0): raise "
            f"max_nfev to at least {K}, or run fewer starts")


def run_stack(runner: RunSpec, X0: np.ndarray, entropy: int,
              resumed: Checkpoint | None = None) -> MultiStartResult:
    """Every start advanced together as one stack of rows (or the stack saved in
    ``resumed``, to its end)."""
    K, n = X0.shape
    p = bind(runner, False, n, K, entropy)
    early: list[int] = []  # Ctrl-C from f(x0) on, as the run is set up: held, then the
    setup = deferred(early)  # loop stops at once (new_state takes the hold)
    with contextlib.ExitStack() as files:
        try:
            if resumed is None:
                s = new_state(runner, p, X0, np.arange(K), entropy, setup)
                history = StartsHistory(K, runner.record_x)
            else:
                s = _restored(resumed, runner, p)
                history = resumed.starts_history(K, runner.record_x)
                setup.__enter__()
            calls = callbacks_of(runner)
            stream = files.enter_context(streaming(
                runner, history, n, None if resumed is None else resumed.step,
                running=None if resumed is None else s.index.tolist(),
                epoch_again=resumed is not None and epoch_to_log(p.batches, s.cursor)))
            if p.batches is not None:
                p.batches.log = epoch_logger(history, stream)
            ckpt = runner.checkpointer("multistart", (K, n), entropy, resumed)
            s.listener = start_end_caller(calls)
            w = watch(runner, s, p, history, starts_recorder(history), None, calls, ckpt,
                      f"optiframe, {K} starts")
        except BaseException:
            setup.__exit__(None, None, None)  # (else the loop ends it: see advance)
            raise
        if setup.swap is not None:  # (unwatched, it swapped the handlers: ended before
            setup.__exit__(None, None, None)  # SIGTERM's goes in, so each goes back)
        late: list[int] = []  # Ctrl-C (or SIGTERM) after the loop, while the run ends
        try:
            with sigterm_interrupts(ckpt is not None), \
                    np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                advance_run(s, p, w, setup)
        finally:
            setup.__exit__(None, None, None)  # (ended by the loop; here if it never began)
            with deferred(late):
                if ckpt is not None:
                    ckpt.close()
        notes = w.storage_note + ((stream.trouble or "") if stream is not None else "")
    with deferred(late):
        result = noted(finish_multistart(runner, Finished.join(s.finished, n), history,
                                          w.failure), notes)
    ctrl_c_at_the_end(runner.on_interrupt, w.ctrl_c or bool(late), result)
    return result


# -- resuming ---------------------------------------------------------------------------------


def carried_evaluations(cp: Checkpoint) -> EvaluationStats | None:
    """The evaluation stats of the part of a run before its checkpoint (None: it kept
    none, no ``evaluate`` or ``cache``; an earlier checkpoint that kept only its cache
    hits, as ``cache_hits``: those)."""
    meta = cp.meta
    try:
        if "evaluation" in meta:
            return EvaluationStats.from_json(meta["evaluation"])
        hits = int(meta.get("cache_hits", 0))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's evaluation stats are damaged: {exc}") from exc
    return EvaluationStats(0, hits, 0, 0.0, 0.0, 0) if hits else None


def resume(runner: RunSpec, where: Any, workers: Any) -> Result:
    """Go on with the run saved in the checkpoint folder ``where``."""
    from .checkpoint import check_config

    cp = load_checkpoint(where)
    check_config(cp, runner)
    counted = RUN_EVALUATIONS.get()
    if counted is not None:  # the evaluations before the checkpoint (the cache is not saved)
        counted.carried = carried_evaluations(cp)
        counted.resumed_nfev = committed_nfev(cp.arrays)
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
        p.batches.log = epoch_logger(part)
    w = watch(runner, s, p, part, starts_recorder(part, todo), None, callbacks_of(runner),
              None, f"optiframe, {len(todo)} starts")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        advance_run(s, p, w)
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
