"""The loop: :class:`Runner` drives an optimizer from x0 and records a :class:`History`.

The step loop is kept lean: components are bound to the objective once, the history
is appended as one row of six floats, and callbacks and point recording cost nothing
unless asked for. ``benchmarks/bench_core.py`` measures it against hand-written loops.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ._validation import as_point, check_int, check_real, did_you_mean
from .batching import Batching, BatchSampler, run_batches
from .checkpoint import (
    Checkpoint,
    Checkpointer,
    Snapshot,
    check_checkpoint_options,
    check_config,
    load_checkpoint,
    run_config,
    save_at_interrupt,
)
from .errors import (
    InvalidArgumentError,
    InvalidTypeError,
    OptiframeError,
    PluginError,
    RunFailedError,
)
from .gradients import GradientEstimator
from .history import History
from .objective import FunctionObjective, Objective, as_scalar
from .optimizers import Optimizer
from .plugin_calls import epoch_hooks, run_end_hooks, step_hooks
from .plugins import get_registry
from .progress import TICK, Progress
from .result import MESSAGES, Result, Status
from .schedules import ScheduledOptimizer, build_schedules
from .signals import sigterm_interrupts
from .starts import check_seed
from .stopping import STOP_OPTIONS, StopRules
from .stream import (
    HistoryStream,
    check_stream_option,
    check_stream_writable,
    open_stream,
    recording,
)

RUNNER_OPTIONS = ("callbacks", "record_every", "record_x", "raise_errors", "schedules", "progress",
                  "minima_tol", "retries", "batch_size", "epochs", "shuffle", "drop_last",
                  "batch_sampler", "epoch_callbacks", "checkpoint", "checkpoint_every",
                  "stream_history")


@attrs.frozen
class StepInfo:
    """What a callback sees after each step: ``x`` is a read-only view of the new point.

    In a multi-start run ``x`` holds the running starts' points, one per row, and ``fun``
    and ``step_norm`` are arrays with one entry per row.
    """

    step: int
    x: np.ndarray
    fun: Any
    step_norm: Any


def as_objective(spec: Any) -> Objective:
    """An Objective from an instance, a registered name or mapping, or a plain callable."""
    if isinstance(spec, Objective):
        return spec
    if isinstance(spec, (str, dict)) or (isinstance(spec, type) and issubclass(spec, Objective)):
        return get_registry().build("objective", spec, Objective)
    if callable(spec):
        return FunctionObjective.from_callable(spec)
    raise InvalidTypeError(
        f"'fun' must be a callable, an Objective or a registered objective name: {spec!r}"
    )


def check_options(options: Iterable[str]) -> None:
    """Refuse option names the Runner does not know, suggesting the closest one."""
    known = (*STOP_OPTIONS, *RUNNER_OPTIONS)
    for name in options:
        if name not in known:
            hint = did_you_mean(name, known)
            raise InvalidArgumentError(
                f"unknown option {name!r}.{hint} Options: {', '.join(sorted(known))}"
            )


#: Below this size, norms are faster on Python floats than through BLAS.
_SMALL = 64


def norm(v: np.ndarray) -> float:
    """Euclidean norm of a 1-D array; exact for huge finite entries (v @ v overflows)."""
    if v.size <= _SMALL:
        return math.hypot(*v.tolist())
    s = math.sqrt(v @ v)
    if s == math.inf and np.isfinite(v).all():
        m = float(np.abs(v).max())
        return m * math.sqrt((v / m) @ (v / m))
    return s


class Runner:
    """Runs an optimizer on an objective and records what happens.

    Components may be instances or registered names (``"gd"``, ``"central"``, ...).
    Options: the :class:`~optiframe.stopping.StopRules` fields (``max_steps``,
    ``gtol``, ``ftol``, ``xtol``, ``detect_divergence``, ``divergence_factor``) and
    ``callbacks`` (called with a :class:`StepInfo` after each step; raise
    StopIteration to stop), ``record_every`` (keep every k-th step; the last is always
    kept), ``record_x`` (keep the points too), ``raise_errors`` (re-raise an exception
    from user code as :class:`~optiframe.errors.RunFailedError`, with the partial result,
    instead of returning status ``failed``), ``schedules`` (a mapping from a
    hyperparameter name to a schedule, e.g. ``{"lr": "cosine"}``; see
    :mod:`optiframe.schedules`), and for multi-start runs ``minima_tol`` (final points
    closer than this are one minimum) and ``retries`` (resubmissions of starts lost with
    a dead worker), ``progress`` (a progress bar: None shows one when stderr is a terminal
    and tqdm is installed), ``checkpoint`` (a folder to save the run's full state in, at
    interruption and, with ``checkpoint_every=N``, every N steps; see :meth:`resume` and
    :mod:`optiframe.checkpoint`), ``stream_history`` (a file to append each history
    record to as it is made, flushed at once; see :mod:`optiframe.stream`).

    Example
    -------
    >>> import optiframe as of
    >>> runner = of.Runner("rosenbrock", of.GradientDescent(lr=1e-3), "analytic",
    ...                    max_steps=50_000, gtol=1e-6)
    >>> r = runner.run([-1.0, 1.0])
    >>> r.status, r.x.round(4).tolist()
    ('converged', [1.0, 1.0])
    """

    def __init__(
        self,
        objective: Any,
        optimizer: Any = "gd",
        gradient: Any = "auto",
        *,
        callbacks: Sequence[Callable[[StepInfo], Any]] | Callable[[StepInfo], Any] = (),
        record_every: int = 1,
        record_x: bool = False,
        raise_errors: bool = False,
        schedules: Mapping[str, Any] | None = None,
        minima_tol: float = 1e-3,
        retries: int = 2,
        batch_size: int | None = None,
        epochs: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        batch_sampler: Any = None,
        epoch_callbacks: Sequence[Callable[..., Any]] | Callable[..., Any] = (),
        progress: bool | None = None,
        checkpoint: Any = None,
        checkpoint_every: int | None = None,
        stream_history: Any = None,
        **stop_options: Any,
    ) -> None:
        check_options(stop_options)
        registry = get_registry()
        self.objective: Objective = as_objective(objective)
        self.optimizer: Optimizer = registry.build("optimizer", optimizer, Optimizer)
        self.gradient: GradientEstimator = registry.build(
            "gradient", gradient, GradientEstimator
        )
        self.stop = StopRules(**stop_options)
        if callable(callbacks):
            callbacks = (callbacks,)
        self.callbacks = tuple(callbacks)
        for cb in self.callbacks:
            if not callable(cb):
                raise InvalidTypeError(f"'callbacks' must hold callables: {cb!r}")
        self.record_every = check_int("record_every", record_every, minimum=1)
        if not isinstance(record_x, bool):
            raise InvalidArgumentError(f"'record_x' must be True or False: {record_x!r}")
        self.record_x = record_x
        self.raise_errors = bool(raise_errors)
        self.minima_tol = check_real("minima_tol", minima_tol, positive=True)
        self.retries = check_int("retries", retries, minimum=0)
        self.schedules = build_schedules(schedules, registry)
        if self.schedules:
            ScheduledOptimizer(self.optimizer, self.schedules)  # checks the names now
        self.stop_given = dict(stop_options)
        Progress.create(False if progress is None else progress, 0, "")  # checks the value
        self.progress = progress
        if callable(epoch_callbacks):
            epoch_callbacks = (epoch_callbacks,)
        self.epoch_callbacks = tuple(epoch_callbacks)
        self.batching = self._batching(registry, batch_size, epochs, shuffle, drop_last,
                                       batch_sampler)
        self.checkpoint, self.checkpoint_every = check_checkpoint_options(checkpoint,
                                                                          checkpoint_every)
        self.stream_history = check_stream_option(stream_history)

    def _batching(self, registry: Any, batch_size: Any, epochs: Any, shuffle: Any,
                  drop_last: Any, batch_sampler: Any) -> Batching | None:
        """The minibatch settings, checked now; None for full-batch runs."""
        if batch_size is None:
            if epochs is not None or batch_sampler is not None:
                raise InvalidArgumentError(
                    "'epochs' and 'batch_sampler' need 'batch_size' (minibatch descent)")
            return None
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, bool):
                raise InvalidArgumentError(f"{name!r} must be True or False: {flag!r}")
        if batch_sampler is None:
            batch_sampler = "shuffle" if shuffle else "sequential"
        batching = Batching(
            batch_size=check_int("batch_size", batch_size, minimum=1),
            epochs=check_int("epochs", 1 if epochs is None else epochs, minimum=1),
            drop_last=drop_last,
            sampler=registry.build("batch_sampler", batch_sampler, BatchSampler))
        batching.check(self.objective)
        return batching

    def __repr__(self) -> str:
        return (f"Runner({self.objective!r}, {self.optimizer!r}, {self.gradient!r}, "
                f"stop={self.stop!r})")

    def run(self, x0: Any = None, *, starts: Any = None, seed: Any = None,
            workers: Any = None) -> Result:
        """Minimize from ``x0`` (never modified) and return the :class:`Result`.

        With ``starts`` (a :class:`~optiframe.starts.MultiStart` or a (K, n) array), run
        every start and return a :class:`~optiframe.result.MultiStartResult`; ``seed``
        makes the sampled starts reproducible and ``workers`` spreads them out (see
        :mod:`optiframe.executors`); without ``workers`` the starts advance together as
        one array.
        """
        with sigterm_interrupts(self.checkpoint is not None):
            result = self._run(x0, starts, seed, workers)
        return self._ended(result)

    def _ended(self, result: Result) -> Result:
        """Hand the result to the plugins' ``on_run_end``: a plugin failing there turns
        the result into status ``failed``, naming the plugin, with everything kept."""
        try:
            run_end_hooks(result)
        except PluginError as exc:
            result = attrs.evolve(result, status=Status.FAILED,
                                  message=f"{MESSAGES[Status.FAILED]}: {exc}.")
            if self.raise_errors:
                raise RunFailedError(result.message, result) from exc
        return result

    def _run(self, x0: Any, starts: Any, seed: Any, workers: Any) -> Result:
        check_stream_writable(self.stream_history)
        if starts is not None:
            from .runs import run_multistart

            return run_multistart(self, x0, starts, seed, workers)
        if self.batching is not None:
            if workers is not None:
                raise InvalidArgumentError("'workers' apply to multi-start runs")
            if x0 is None:
                raise InvalidArgumentError("'x0' is required: the parameters to start from")
            x = as_point(x0)
            self.objective.check_dim(x.size)
            seed = check_seed(seed)
            return run_batches(self, x, self.batching, seed,
                               self.epoch_callbacks + epoch_hooks(),
                               self.checkpointer("minibatch", x.shape, seed))
        if workers is not None or seed is not None:
            raise InvalidArgumentError(
                "'workers' and 'seed' apply to multi-start runs (starts=MultiStart(...)); "
                "'seed' also to minibatch runs (batch_size=...)")
        if x0 is None:
            raise InvalidArgumentError("'x0' is required: the point to start from")
        x = as_point(x0)
        objective = self.objective
        objective.check_dim(x.size)
        estimator = self.gradient.for_objective(objective)
        grad = estimator.bind(objective)
        fev_per_grad, jev_per_grad = estimator.evaluations(objective, x.size)
        checkpointer = self.checkpointer("single", x.shape)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                f = as_scalar(objective.value(x), objective)
            except (OverflowError, FloatingPointError):
                f = math.inf  # overflow at x0: the run ends diverged, with x0 kept
            except OptiframeError:
                raise  # the objective's result is unusable: bad input, refused
            except Exception as exc:
                return self._failed_at_start(x, exc)
            state = self.optimizer.init(x)
            return self._loop(x, f, state, grad, fev_per_grad, jev_per_grad, checkpointer)

    def step_callbacks(self) -> tuple[Callable[[StepInfo], Any], ...]:
        """What runs after each step: the ``callbacks`` and the plugins' ``on_step``."""
        return self.callbacks + step_hooks()

    def checkpointer(self, kind: str, shape: tuple[int, ...], seed: int | None = None,
                     resumed: Checkpoint | None = None) -> Checkpointer | None:
        """The run's checkpoint writer, or None when no ``checkpoint`` folder is set."""
        if self.checkpoint is None:
            return None
        return Checkpointer(self.checkpoint, self.checkpoint_every, kind,
                            run_config(self, kind, shape, seed), resumed)

    def resume(self, checkpoint: Any = None, *, workers: Any = None) -> Result:
        """Resume the run saved in the folder ``checkpoint`` (default: this Runner's own
        ``checkpoint`` option) and run it to the end.

        The Runner must be configured as the one that wrote the checkpoint (objective,
        optimizer, gradient, schedules, stopping rules, batching, recording), except
        ``max_steps``, which may be raised to run longer; otherwise
        :class:`~optiframe.errors.CheckpointError` says what differs. Resumed to the end,
        the run gives the bits an uninterrupted run gives (the ``elapsed`` column aside).
        With its own ``checkpoint`` option the resumed run goes on saving checkpoints.
        A multi-start run checkpointed on ``workers`` reruns its unfinished starts on
        ``workers`` (default: together as one array, which gives the same bits).
        """
        with sigterm_interrupts(self.checkpoint is not None):
            result = self._resume(checkpoint, workers)
        return self._ended(result)

    def _resume(self, checkpoint: Any, workers: Any) -> Result:
        check_stream_writable(self.stream_history)
        where = self.checkpoint if checkpoint is None else checkpoint
        if where is None:
            raise InvalidArgumentError(
                "'checkpoint' is required: the folder of the checkpoint to resume")
        cp = load_checkpoint(where)
        check_config(cp, self)
        shape = tuple(cp.config["shape"])
        ckpt = self.checkpointer(cp.kind, shape, cp.config.get("seed"), cp)
        if cp.kind in ("multistart", "minibatch-multistart", "multistart-workers"):
            from .runs import resume_multistart

            return resume_multistart(self, cp, ckpt, workers)
        if workers is not None:
            raise InvalidArgumentError("'workers' apply to resuming multi-start runs")
        if cp.kind == "minibatch":
            assert self.batching is not None  # check_config compared the batching
            x = cp.array("x").copy()
            return run_batches(self, x, self.batching, cp.config.get("seed"),
                               self.epoch_callbacks + epoch_hooks(), ckpt, cp)
        x = cp.array("x").copy()
        estimator = self.gradient.for_objective(self.objective)
        grad = estimator.bind(self.objective)
        fev_per_grad, jev_per_grad = estimator.evaluations(self.objective, x.size)
        state = cp.tree("optimizer", self.optimizer.init(x))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._loop(x, cp.scalar("f"), state, grad, fev_per_grad, jev_per_grad,
                              ckpt, cp)

    def _failed_at_start(self, x: np.ndarray, exc: Exception) -> Result:
        """The objective raised at x0: status failed, with x0 kept and the error named."""
        history = History(x.size, self.record_x)
        history._rows.extend((0, math.nan, math.nan, math.nan, 1, 0.0))
        if history._xs is not None:
            history._xs.append(x)
        result = self._result(history, x, math.nan, x, math.nan, Status.FAILED,
                              f"the objective raised at x0: {type(exc).__name__}: {exc}",
                              0, 1, 0)
        if self.raise_errors:
            raise RunFailedError(result.message, result) from exc
        return result

    def _loop(self, x: np.ndarray, f: float, state: Any, grad: Callable[..., np.ndarray],
              fev_per_grad: int, jev_per_grad: int, checkpointer: Checkpointer | None = None,
              restored: Checkpoint | None = None) -> Result:
        stream = open_stream(self.stream_history, "single", x.size, None,
                             None if restored is None else restored.step, self.record_x)
        try:
            return self._steps(x, f, state, grad, fev_per_grad, jev_per_grad, checkpointer,
                               restored, stream)
        finally:
            if stream is not None:
                stream.close()

    def _steps(self, x: np.ndarray, f: float, state: Any, grad: Callable[..., np.ndarray],
               fev_per_grad: int, jev_per_grad: int, checkpointer: Checkpointer | None,
               restored: Checkpoint | None, stream: HistoryStream | None) -> Result:
        stop = self.stop
        value = self.objective.value
        opt_step = self.optimizer.step
        scheduled = ScheduledOptimizer(self.optimizer, self.schedules) if self.schedules else None
        max_steps, gtol, xtol = stop.max_steps, stop.gtol, stop.xtol
        max_bad, skipped = stop.max_bad_gradients, 0
        use_ftol = stop.ftol > 0.0
        f_limit = stop.divergence_limit(f)
        callbacks = self.step_callbacks()
        every = self.record_every
        history = History(x.size, self.record_x)
        if restored is not None:
            history = restored.history(x.size, self.record_x)
        record, xs = recording(history, stream)
        clock = time.perf_counter
        inf = math.inf
        hypot, dist = math.hypot, math.dist
        small = x.size <= _SMALL

        nfev, njev, k = 1, 0, 0
        gnorm = snorm = math.nan
        best_x, best_f = x, f
        status, detail = stop.at_start(f)
        last_recorded = -1
        t0 = clock()
        if restored is not None:
            k, nfev, njev = (restored.scalar(name) for name in ("step", "nfev", "njev"))
            snorm, best_f, f_limit = (restored.scalar(n) for n in ("snorm", "best_f", "f_limit"))
            best_x = restored.array("best_x").copy()
            last_recorded = restored.scalar("last_recorded")
            skipped = restored.scalar("skipped")
            t0 -= restored.scalar("elapsed")
            if scheduled is not None:
                scheduled.states = restored.tree("schedules", scheduled.states)
            status, detail = None, ""
        bar = Progress.create(self.progress, max_steps, "optiframe")
        top: tuple[Any, ...] | None = None

        def save(top: tuple[Any, ...]) -> None:
            assert checkpointer is not None
            snap = Snapshot()
            (x, f, state, k, nfev, njev, snorm, best_x, best_f, last_recorded,
             schedule_states, skipped) = top
            for name, value in (("step", k), ("nfev", nfev), ("njev", njev), ("f", f),
                                ("snorm", snorm), ("best_f", best_f), ("f_limit", f_limit),
                                ("last_recorded", last_recorded), ("skipped", skipped),
                                ("elapsed", clock() - t0)):
                snap.scalar(name, value)
            snap.array("x", x)
            snap.array("best_x", best_x)
            snap.tree("optimizer", state)
            snap.tree("schedules", schedule_states)
            snap.history(history, k)
            checkpointer.save(k, snap)

        try:
            while status is None:
                if checkpointer is not None:
                    top = (x, f, state, k, nfev, njev, snorm, best_x, best_f, last_recorded,
                           list(scheduled.states) if scheduled is not None else [], skipped)
                    if checkpointer.due(k):
                        save(top)
                if bar is not None and not k % TICK:
                    bar.tick(k, f)
                try:
                    g = grad(x)
                except (OverflowError, FloatingPointError):
                    g = np.full(x.shape, math.nan)  # a non-finite gradient: see below
                nfev += fev_per_grad
                njev += jev_per_grad
                gnorm = hypot(*g.tolist()) if small else norm(g)
                if k % every == 0:
                    record((k, f, gnorm, snorm, nfev, clock() - t0))
                    if xs is not None:
                        xs.append(x)
                    last_recorded = k
                if not gtol < gnorm < inf or k >= max_steps:
                    if not gnorm < inf and k < max_steps and skipped < max_bad:
                        # a NaN or inf gradient: skip the step, x and state unchanged
                        skipped += 1
                        k += 1
                        snorm = 0.0
                        continue
                    status, detail = stop.at_gradient(gnorm, k, skipped)
                    break
                if scheduled is not None:
                    opt_step = scheduled.at(k, f).step
                x_new, state = opt_step(x, g, state)
                try:
                    f_new = value(x_new)
                except (OverflowError, FloatingPointError):
                    f_new = inf
                nfev += 1
                snorm = dist(x_new.tolist(), x.tolist()) if small else norm(x_new - x)
                k += 1
                if not -inf < f_new <= f_limit:
                    x, f, gnorm = x_new, f_new, math.nan
                    status, detail = stop.at_bad_value(f_new, k, x_new)
                    break
                f_old, x, f = f, x_new, f_new
                if f < best_f:
                    best_x, best_f = x, f
                if snorm <= xtol or (use_ftol and stop.f_converged(f_old, f)):
                    status, detail = stop.at_small_step(snorm, f_old, f, k)
                if callbacks:
                    view = x.view()
                    view.flags.writeable = False
                    info = StepInfo(k, view, f, snorm)
                    try:
                        for cb in callbacks:
                            cb(info)
                    except StopIteration:
                        if status is None:
                            status, detail = Status.CALLBACK_STOP, f"at step {k}"
                if status is not None:
                    gnorm = math.nan
        except KeyboardInterrupt:
            history._repair()
            status, detail = Status.INTERRUPTED, f"at step {k}"
            gnorm = math.nan
            detail += save_at_interrupt(save, top)
        except Exception as exc:
            history._repair()
            if bar is not None:
                bar.close(k, f)
            status = Status.FAILED
            detail = f"at step {k}: {type(exc).__name__}: {exc}"
            result = self._result(history, x, f, best_x, best_f, status, detail, k, nfev, njev)
            if self.raise_errors:
                raise RunFailedError(result.message, result) from exc
            return result
        if bar is not None:
            bar.close(k, f)
        if last_recorded != k or len(history) == 0:
            record((k, f, gnorm, snorm, nfev, clock() - t0))
            if xs is not None:
                xs.append(x)
        assert status is not None  # the loop only ends with a status
        return self._result(history, x, f, best_x, best_f, status, detail, k, nfev, njev)

    @staticmethod
    def _result(history: History, x: np.ndarray, f: float, best_x: np.ndarray, best_f: float,
                status: Status, detail: str, k: int, nfev: int, njev: int) -> Result:
        if status in (Status.DIVERGED, Status.NAN):
            x, f = best_x, best_f
        message = f"{MESSAGES[status]}: {detail}." if detail else f"{MESSAGES[status]}."
        return Result(x=x, fun=float(f), status=status, message=message, nit=k,
                      nfev=nfev, njev=njev, history=history)
