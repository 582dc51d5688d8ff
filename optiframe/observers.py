"""What watches a run: the one place where the loop meets its observers.

The loop (:mod:`optiframe.loop`) reaches its observers through a :class:`Watch` at fixed
places: it records each k-th step into the history (and its stream); when the step count
reaches :attr:`Watch.next_top` it lets the top-of-step observers act (a periodic
checkpoint, a progress tick, the evaluation budget, the clock of ``max_time``); after each
step it hands a :class:`StepInfo` to the step callbacks; at each epoch's end an
:class:`EpochInfo` per start to the epoch callbacks; as each start ends, its outcome to the
``on_start_end`` observers; and when Ctrl-C or an exception ends the run, the Watch saves
the checkpoint and ends the starts still running.

Callbacks are functions (called after each step with a :class:`StepInfo`) or objects with
any of the methods ``on_run_start(run)``, ``on_step(info)``, ``on_epoch(info)``,
``on_start_end(outcome)`` and ``on_run_end(result)``, as Keras and Lightning callbacks are
(``on_run_end`` may return a note, a str, which is added to the result's message: a
tracker says so when it could not record the run). ``on_run_end`` also sees the result
of a run that ends by raising (a failed single start, Ctrl-C), before the exception
propagates.
Step and epoch callbacks run where the starts run (in a worker process when ``workers``
spreads them out); ``on_run_start``, ``on_start_end`` and ``on_run_end`` run in the
process that called :func:`~optiframe.minimize`.
"""

from __future__ import annotations

import collections
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from .errors import InvalidTypeError, describe_error, refused_call, write_failure
from .signals import deferred, hold_to_the_end
from .status import Status

#: A single start's history packs the records the loop kept at least this often (steps):
#: fewer than the 700 new objects at which Python's collector starts a pass
#: (``gc.get_threshold()``), so that the kept tuples start none (with 4096, a 20,000-step
#: run made about 11 passes, and at times a full one of 10 ms).
SETTLE_EVERY = 512

#: The methods a callback object may have, one per event of a run.
EVENTS = ("on_run_start", "on_step", "on_epoch", "on_start_end", "on_run_end")

#: What each event hands its callables (each takes that one argument), and its name.
_ARGUMENTS = {"on_run_start": ("the run", "run"), "on_step": ("a StepInfo", "info"),
              "on_epoch": ("an EpochInfo", "info"),
              "on_start_end": ("the start's outcome", "outcome"),
              "on_run_end": ("the result", "result")}


def _check_takes_one(fn: Callable[..., Any], option: str, event: str | None) -> None:
    """Refuse ``fn`` unless it can be called with one positional argument (what ``event``
    hands it; None: a function of ``option``, called after each step or epoch), before any
    work: a wrong signature would otherwise fail at the first step, with Python's
    TypeError naming neither the option nor the event. A callable whose signature Python
    cannot read (some builtins) is taken as it is."""
    refused = refused_call(fn, None)
    if refused is not None:
        what, arg = _ARGUMENTS[event or ("on_epoch" if "epoch" in option else "on_step")]
        form = f"def {event}(self, {arg})" if event else f"def callback({arg})"
        raise InvalidTypeError(f"'{option}': {refused} must take one argument, "
                               f"{what}: {form}: ...")


def _readonly(a: Any) -> Any:
    if isinstance(a, np.ndarray):
        a = a.view()
        a.flags.writeable = False
    return a


@attrs.frozen
class StepInfo:
    """What a step callback sees after each step.

    ``x`` is a read-only view of the new point (shape (n,)); in a multi-start run it holds
    the running starts' points, one per row, ``fun`` and ``step_norm`` have one entry per
    row, and ``index`` gives each row's start (a single start's ``index`` is 0). Each
    (start, step) reaches the callbacks exactly once, whichever executor runs it: with
    ``workers`` a call carries the starts of one worker's job. In a training run ``fun``
    is the batch loss.
    """

    step: int
    x: np.ndarray
    fun: Any
    step_norm: Any
    index: Any = 0
    nfev: Any = None


@attrs.frozen
class EpochInfo:
    """What an epoch callback sees at the end of each epoch, once per start: return a dict
    of metrics to record them in ``history.epochs``; raise StopIteration to stop the start
    after this epoch (``raise StopIteration({"val_loss": v})`` records its metrics too).
    ``x`` is a read-only view of the start's parameters, ``train_loss`` the mean batch
    loss over the epoch, ``index`` the start (0 in a single-model run)."""

    epoch: int
    step: int
    x: np.ndarray
    train_loss: float
    index: int = 0


def step_info(s: Any) -> StepInfo:
    """The :class:`StepInfo` of the step just committed to the state ``s``."""
    if s.point:
        return StepInfo(s.k, _readonly(s.X), s.F, s.SN, 0, s.nfev)
    return StepInfo(s.k, _readonly(s.X), _readonly(s.F), _readonly(s.SN),
                    _readonly(s.index), _readonly(s.nfev))


def callback_tuple(name: str, value: Any) -> tuple[Any, ...]:
    """The ``callbacks`` or ``epoch_callbacks`` argument as a tuple: None is none, one
    callable or one object with event methods (``callbacks`` only) a tuple of one, any
    other iterable its items; anything else an error naming the argument."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) and (callable(value) or (
            name == "callbacks" and any(callable(getattr(value, e, None)) for e in EVENTS))):
        return (value,)
    if not isinstance(value, (str, bytes)):
        try:
            return tuple(value)
        except TypeError:
            pass
    what = ("callables or objects with any of the methods " + ", ".join(EVENTS)
            if name == "callbacks" else "callables")
    raise InvalidTypeError(f"'{name}' must be one of, or a list of, {what}: {value!r}")


@attrs.frozen
class Callbacks:
    """A run's callbacks sorted by event: each field holds the callables for one event."""

    run_start: tuple[Callable[..., Any], ...] = ()
    step: tuple[Callable[..., Any], ...] = ()
    epoch: tuple[Callable[..., Any], ...] = ()
    start_end: tuple[Callable[..., Any], ...] = ()
    run_end: tuple[Callable[..., Any], ...] = ()

    def any(self) -> bool:
        """Whether any event has a callback."""
        return bool(self.run_start or self.step or self.epoch or self.start_end
                    or self.run_end)

    @classmethod
    def of(cls, callbacks: Sequence[Any], epoch_callbacks: Sequence[Any] = ()) -> Callbacks:
        """Sort ``callbacks`` (functions called after each step, or objects with event
        methods) and ``epoch_callbacks`` (functions called after each epoch)."""
        events: dict[str, list[Callable[..., Any]]] = {e: [] for e in EVENTS}
        for cb in callbacks:
            methods = [e for e in EVENTS if callable(getattr(cb, e, None))]
            if methods:
                for e in methods:
                    _check_takes_one(getattr(cb, e), "callbacks", e)
                    events[e].append(getattr(cb, e))
            elif callable(cb):
                _check_takes_one(cb, "callbacks", None)
                events["on_step"].append(cb)
            else:
                raise InvalidTypeError(
                    f"'callbacks' must hold callables or objects with any of the methods "
                    f"{', '.join(EVENTS)}: {cb!r}")
        for cb in epoch_callbacks:
            if not callable(cb):
                raise InvalidTypeError(f"'epoch_callbacks' must hold callables: {cb!r}")
            _check_takes_one(cb, "epoch_callbacks", None)
            events["on_epoch"].append(cb)
        return cls(*(tuple(events[e]) for e in EVENTS))

    def __add__(self, other: Callbacks) -> Callbacks:
        if not other.any():  # (most runs: no plugin hooks)
            return self
        return Callbacks(*(a + b for a, b in zip(attrs.astuple(self, recurse=False),
                                                  attrs.astuple(other, recurse=False),
                                                  strict=True)))


def _outcome(s: Any) -> str:
    """How the run's starts ended, for the progress bar: a single start's status
    (``diverged``), or each status with its count (``converged 18, max_steps 2``)."""
    counts: collections.Counter[str] = collections.Counter()
    for block in s.finished:
        counts.update(block.statuses())
    if s.point or counts.total() == 1:
        return next(iter(counts), "")
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


class Watch:
    """The observers of one advance of the loop over a state (see the module docstring).

    ``history`` is a :class:`~optiframe.history.History` (one point) or
    :class:`~optiframe.history.StartsHistory`; ``recorder`` its record function, streamed
    if the run streams; ``checkpoint`` a callable saving the state (or None); ``progress``
    a :class:`~optiframe.progress.Progress` (or None); ``budget`` the evaluations allowed
    per start and ``cost`` the evaluations of a step; ``deadline`` the
    :func:`time.perf_counter` reading at which ``max_time`` is reached.
    """

    def __init__(self, s: Any, p: Any, history: Any, recorder: Any, xs: Any, every: int,
                 calls: Callbacks, *, checkpoint: Any = None, checkpoint_every: int | None = None,
                 progress: Any = None, deadline: float | None = None) -> None:
        self.p = p
        self.history = history
        self.extend: Any = recorder if s.point else None
        self.rec: Any = None if s.point else recorder
        self.xs: Any = xs
        self.every = every
        self.calls = calls.step
        self.epoch_calls = calls.epoch
        self.clock = time.perf_counter
        self.t0 = self.clock() - s.elapsed
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        start = s.k
        self.save_at = (start + checkpoint_every if checkpoint is not None and checkpoint_every
                        else math.inf)
        self.progress = progress
        self.tick_at = start if progress is not None else math.inf
        # a single start's records are packed every SETTLE_EVERY steps (History.settle)
        self.settle_at = start + SETTLE_EVERY if s.point else math.inf
        self.budget = p.budget
        self.deadline = deadline
        # the top-of-step rules are asked every step: a budget, a clock, or rules of the
        # run's own at this stage
        self.ask_top = "top" in p.gates.asked
        self.rules_due = self.budget is not None or deadline is not None or self.ask_top
        self.timed = deadline is not None or self.ask_top  # the rules read the clock
        self.failure: BaseException | None = None
        self.ctrl_c = False  # Ctrl-C (or SIGTERM) stopped the run
        self.holds_end = False  # a run's own: its end holds Ctrl-C to the run-end observers
        self.storage_note = ""  # a periodic checkpoint that could not be written
        self.saved_step: int | None = None
        self.next_top: float = 0
        self._plan(start, first=True)

    def _periodic_checkpoint(self, s: Any) -> None:
        """A periodic save; one that cannot be written (a full disk) warns once and the
        run goes on: the previous checkpoint stays whole and resumes, and the result's
        message says what happened."""
        try:
            self.checkpoint(s)
            self.saved_step = s.k
        except OSError as exc:
            if self.storage_note:
                return
            kept = (f"the checkpoint of step {self.saved_step} is kept and resumes"
                    if self.saved_step is not None else "no earlier checkpoint of this run")
            folder = getattr(self.checkpoint, "folder", None) or getattr(exc, "filename", "")
            self.storage_note = (f" Note: the checkpoint of step {s.k} could not be written "
                                 f"into {str(folder)!r}{write_failure(exc)}; {kept}.")
            warnings.warn(self.storage_note.strip(), RuntimeWarning, stacklevel=2)

    def _plan(self, k: int, first: bool = False) -> None:
        """When the top-of-step observers are next due: every step under a budget or a
        clock (from the first step on: a budget that cannot pay for one step, or a clock
        already past, takes none), else at the next checkpoint or progress tick."""
        if self.rules_due:
            self.next_top = k if first else k + 1
        else:
            self.next_top = min(self.save_at, self.tick_at, self.settle_at)

    # -- top of a step ------------------------------------------------------------------
    def top(self, s: Any) -> None:
        """The top-of-step observers, when one is due at step ``s.k``."""
        k = s.k
        if k >= self.save_at:
            self._periodic_checkpoint(s)
            self.save_at = k + self.checkpoint_every
        if k >= self.settle_at:
            self.history.settle()
            self.settle_at = k + SETTLE_EVERY
        if k >= self.tick_at:
            self.progress.tick(k, _best(s))
            self.tick_at = (k // self.progress.every + 1) * self.progress.every
        if self.rules_due and s.running:  # one clock reading for the gate and the rules
            elapsed = self.clock() - self.t0 if self.timed else math.nan
            if self._top_stops(s, elapsed):
                from .settle import finish_rows
                from .stop_rules import RuleView, stage_verdicts

                view = RuleView(s, self.p, elapsed=elapsed)
                done, _, verdicts = stage_verdicts(self.p.gates.top, view)
                if done.any():
                    self.budget_end(s)  # a resumed run with a larger budget goes on
                    finish_rows(s, self.p, np.flatnonzero(done), verdicts)
        self._plan(k)

    def _top_stops(self, s: Any, elapsed: float) -> bool:
        """The top-of-step gate: a start whose next step the budget cannot pay for,
        ``max_time`` passed (the Clock rule's own test), or rules of the run's own at
        this stage."""
        if self.ask_top:
            return True
        if self.budget is not None and bool(np.any(
                s.nfev + self.p.step_costs(s.fd_level, s.grad) > self.budget)):
            return True
        max_time = self.p.stop.max_time
        return max_time is not None and elapsed >= max_time

    def budget_end(self, s: Any) -> None:
        """A budget (max_steps, max_nfev, max_time, epochs) is about to end starts: the
        checkpoint is written first, with them still running, so that a resumed run with
        a larger budget goes on (and with the same one ends where this one did)."""
        if self.checkpoint is not None:
            self._periodic_checkpoint(s)

    # -- after a step -------------------------------------------------------------------
    def step(self, info: StepInfo) -> Any:
        """Hand ``info`` to the step callbacks: False to go on, True if one raised
        StopIteration, or the start indices it named (``StopIteration(indices)``: only
        those starts stop)."""
        try:
            for cb in self.calls:
                cb(info)
        except StopIteration as stop:
            named = stop.value
            if named is None or isinstance(named, bool):
                return True
            return np.asarray(named, dtype=np.int64).reshape(-1)
        return False

    def epoch(self, info: EpochInfo) -> tuple[dict[str, float], bool]:
        """The metrics the epoch callbacks return for one start, and whether one raised
        StopIteration (its metrics count when it raises ``StopIteration({...})``; the
        callbacks after it are not called)."""
        metrics: dict[str, float] = {}
        stopped = False
        for cb in self.epoch_calls:
            try:
                extra = cb(info)
            except StopIteration as stop:
                extra, stopped = stop.value, True
            if isinstance(extra, dict):
                metrics.update({str(key): float(v) for key, v in extra.items()})
            if stopped:
                break
        return metrics, stopped

    # -- the end ----------------------------------------------------------------------------
    def interrupted(self, s: Any) -> None:
        """Ctrl-C: save the checkpoint of the last whole step, end the running starts."""
        self.ctrl_c = True
        _repair(self.history)
        _drop_finished(s)
        note = ""
        if self.checkpoint is not None:
            try:
                self.checkpoint(s)
            except OSError as exc:
                note = f"; the checkpoint could not be written ({type(exc).__name__}: {exc})"
            except Exception as exc:  # a CheckpointError
                note = f"; the checkpoint could not be written ({type(exc).__name__}: {exc})"
        from .settle import finish_rows

        detail = f"{_where(s, self.p)}{note}"
        finish_rows(s, self.p, range(s.running), [(Status.INTERRUPTED, detail)] * s.running)

    def failed(self, s: Any, exc: BaseException) -> None:
        """User code raised where it cannot be traced to rows: the running starts fail."""
        _repair(self.history)
        _drop_finished(s)
        self.failure = exc
        from .settle import finish_rows

        detail = f"{_where(s, self.p)}: {describe_error(exc)}"
        finish_rows(s, self.p, range(s.running), [(Status.FAILED, detail)] * s.running)

    def ended(self, s: Any) -> None:
        """The run is over: the last row of a single start's history (written once, if
        this is called again), the progress bar. A Ctrl-C meanwhile waits, and counts as
        one that came as the run ended; from here a run's own watch (``holds_end``) holds
        it until the run-end observers (:func:`~optiframe.signals.hold_to_the_end`)."""
        came: list[int] = []
        with deferred(came):
            if self.holds_end:
                hold_to_the_end()
            if self.progress is not None:
                self.progress.close(s.k, _best(s), _outcome(s))
            if (s.point and self.p.batches is None and self.failure is None
                    and self.history.last_step != s.k):
                # step k has no record yet
                block = s.finished[-1]
                self.extend((s.k, s.F, math.nan, s.SN, int(block.nfev[0]),
                             self.clock() - self.t0, s.step_size))
                if self.xs is not None:
                    self.xs.append(s.X)
        self.ctrl_c = self.ctrl_c or bool(came)


def _where(s: Any, p: Any) -> str:
    if p.batches is not None and s.cursor is not None:
        return f"in epoch {s.cursor.epoch}, at step {s.k}"
    return f"at step {s.k}"


def _best(s: Any) -> float:
    """The best value among the running starts (or the last one), for progress bars; in
    training, the mean batch loss of the epoch so far (the best start's)."""
    c = s.cursor
    if c is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.atleast_1d(np.asarray(c.total, dtype=float)
                                  / np.asarray(c.count, dtype=float))
        means = means[np.isfinite(means)]
        if means.size:
            return float(means.min())
    if s.point:  # (once it ended: its result's f, the best finite one where it diverged)
        if s.finished and len(s.finished[-1].fun):
            return float(s.finished[-1].fun[-1])
        return float(s.F)
    funs = [np.asarray(s.F, dtype=float).reshape(-1)] + [b.fun for b in s.finished if len(b)]
    values = np.concatenate(funs)
    finite = values[np.isfinite(values)]  # the best of every start, running or finished
    return float(finite.min()) if finite.size else math.nan


def _repair(history: Any) -> None:
    if hasattr(history, "_repair"):
        history._repair()


def _drop_finished(s: Any) -> None:
    """Rows already in ``s.finished`` (an interruption between finishing rows and taking
    them out) leave the running rows."""
    if s.point or not s.running or not s.finished:
        return
    done = np.concatenate([b.index for b in s.finished])
    again = np.isin(s.index, done)
    if again.any():
        s.take(~again)
