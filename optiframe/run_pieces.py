"""The pieces every kind of run shares (:mod:`optiframe.runs`, :mod:`optiframe.on_workers`):
the loop's call that takes a Ctrl-C at its end as the run's, a stack's history recorders
and stream, the start-end callbacks, and the multi-start result."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from .errors import RunFailedError
from .history import StartsHistory
from .loop import advance
from .observers import Callbacks, Watch
from .outcome import Finished
from .problem import Problem
from .result import MultiStartResult
from .run_spec import RunSpec
from .state import RunState
from .status import Status
from .stream import open_stream


def advance_run(s: RunState, p: Problem, w: Watch, setup: Any = None) -> None:
    """:func:`~optiframe.loop.advance` (``setup``: the run's set-up hold, which it ends); a
    Ctrl-C that escapes it once every row has ended (as the loop handed the run over,
    before :meth:`Watch.ended`'s hold) is one that came as the run ended (``w.ctrl_c``)."""
    try:
        advance(s, p, w, setup)
    except KeyboardInterrupt:
        if s.running:  # a second Ctrl-C, while the first was handled: Python's own
            raise
        w.ended(s)  # (again, if it was cut: its last row is written once)
        w.ctrl_c = True


def noted(result: MultiStartResult, note: str) -> MultiStartResult:
    """The result with ``note`` (clipped starts, a write that failed) after its message."""
    return attrs.evolve(result, message=result.message + note) if note else result


def starts_recorder(history: StartsHistory, index: np.ndarray | None = None) -> Any:
    """A stack's history record function; ``index`` maps the starts' global indices to
    the history's columns (a worker's history holds only its job's starts)."""
    if index is None:
        return history.record

    def record(k: int, rows: np.ndarray, F: Any, GN: Any, SN: Any, X: Any,
               step_size: Any = None) -> None:
        history.record(k, np.searchsorted(index, rows), F, GN, SN, X, step_size)

    return record


def epoch_logger(history: StartsHistory, stream: Any = None) -> Any:
    def log(index: int, entry: dict[str, float]) -> None:
        row = {"start": index, **entry}
        history.epoch_log.append(row)
        if stream is not None:
            stream.epoch(row)
    return log


def start_end_caller(calls: Callbacks) -> Any:
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
