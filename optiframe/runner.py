"""The :class:`Runner`: a run's configuration, checked before any work, and its entry
points :meth:`Runner.run` and :meth:`Runner.resume`.

The Runner holds what a run is made of (objective, optimizer, gradient estimator,
schedules, stopping rules, batching, recording, checkpoints, callbacks) and hands it to
:mod:`optiframe.runs`, which assembles the run for the one step loop
(:mod:`optiframe.loop`). ``benchmarks/bench_core.py`` measures the loop against
hand-written loops.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from ._validation import check_int, check_real, closest, did_you_mean
from .batching import Batching, BatchSampler
from .bounds import Box, as_box
from .checkpoint import Checkpoint, Checkpointer, check_checkpoint_options, run_config
from .errors import InvalidArgumentError, InvalidTypeError, PluginError, RunFailedError
from .evaluation import RUN_EVALUATIONS, EvaluationStats, RunEvaluations, open_evaluation
from .gradients import AnalyticGradient, GradientEstimator, bind_for
from .linesearch import line_search_of
from .objective import FunctionObjective, Objective
from .observers import Callbacks, EpochInfo, StepInfo, callback_tuple
from .optimizers import Optimizer
from .options import OTHER_SPELLINGS, names
from .plugin_calls import plugin_callbacks, run_end_hooks
from .plugins import get_registry
from .progress import Progress
from .result import CtrlCAtTheEnd, Result, carrying, was_interrupted
from .runs import resume as resume_run
from .runs import run_multistart, run_point
from .schedules import Scheduled, build_schedules
from .signals import deferred, hold_to_the_end, let_the_end_go, watched
from .starts import check_seed
from .status import Status, message
from .stop_rules import check_training
from .stopping import STOP_OPTIONS, StopRules
from .stream import check_stream_option, check_stream_writable

__all__ = ["EpochInfo", "RunStart", "Runner", "StepInfo", "as_objective"]

#: the optimizer of a run that names none: L-BFGS with a strong Wolfe line search
DEFAULT_OPTIMIZER = "lbfgs"
#: ... and of a minibatch run or one with a stochastic gradient estimator (``spsa``), where
#: a line search would chase the noise: the blog's SGD (lr 0.01)
DEFAULT_TRAINING_OPTIMIZER = "gd"

#: the Runner's own options (the stopping rules are :data:`STOP_OPTIONS`), declared in
#: :mod:`optiframe.options`
RUNNER_OPTIONS = names("runner")


@attrs.frozen
class RunStart:
    """What ``on_run_start`` observers see before a run's first evaluation."""

    runner: Runner
    n_starts: int
    seed: int | None
    resumed: bool = False


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


#: scipy's spellings that minimize() takes besides the options (named in the message)
SCIPY_SPELLINGS = ("args", "callback", "jac", "method", "options", "tol")
#: scipy's option names given as keywords, and where they go in optiframe
SCIPY_OPTION_HINTS = {
    "maxiter": "max_steps=... (or options={'maxiter': ...}, as scipy takes it)",
    "maxfun": "max_nfev=... (or options={'maxfun': ...})",
    "maxfev": "max_nfev=... (or options={'maxfev': ...})",
    "disp": "progress=True (or options={'disp': ...}, which optiframe ignores)",
    "hess": "not taken: lbfgs and bfgs learn the curvature from gradients; drop it",
    "hessp": "not taken: lbfgs and bfgs learn the curvature from gradients; drop it",
    "constraints": ("not taken: optiframe keeps to bounds (bounds=[(lo, hi), ...]); for "
                    "other constraints use scipy's SLSQP or trust-constr"),
}


def _hyperparameter(name: str, optimizer: Any, known: Sequence[str]) -> str | None:
    """Where ``name`` goes when it is a hyperparameter of ``optimizer`` (``learning_rate``:
    optiframe's ``lr``), or closer to one than to any option of ``known``; else None."""
    spec = DEFAULT_OPTIMIZER if optimizer is None else optimizer
    try:
        cls = type(get_registry().build("optimizer", spec, Optimizer))
    except Exception:  # (a bad optimizer is refused with its own error, later)
        return None
    fields = ([f.name for f in attrs.fields(cls)] if attrs.has(cls) else  # (an optimizer
              [n for n in inspect.signature(cls).parameters if n != "self"])  # of one's own)
    field = OTHER_SPELLINGS.get(name, name)
    if field not in fields:
        close = closest(name, [*known, *fields])
        if close is None or close not in fields:
            return None
        field = close
    prefix = "of." if cls.__module__.split(".")[0] == "optiframe" else ""
    form = f"optimizer={prefix}{cls.__name__}({field}=...)" + (
        f" or optimizer={{'name': {spec!r}, {field!r}: ...}}" if isinstance(spec, str) else "")
    what = ("is" if field == name else f"is optiframe's {field!r}," if name in OTHER_SPELLINGS
            else f"is close to {field!r},")
    return (f" {name!r} {what} a hyperparameter of the optimizer ({cls.__name__}'s), not an "
            f"option of the run: {form}.")


#: ``max_steps`` when none is given: scipy's ``maxiter`` for L-BFGS-B (15000) where the
#: optimizer's step is a quasi-Newton one (it converges within it, as scipy's does on
#: 1000-D Rosenbrock); 1000 for a step of a learning rate's length (gd, Adam...)
QUASI_NEWTON_MAX_STEPS, FIXED_STEP_MAX_STEPS = 15000, 1000


def default_max_steps(optimizer: Any) -> int:
    """The step limit of a run that gives none, for ``optimizer``.

    >>> import optiframe as of
    >>> default_max_steps(of.LBFGS()), default_max_steps(of.GradientDescent())
    (15000, 1000)
    """
    natural = getattr(optimizer, "natural_step", False)
    return QUASI_NEWTON_MAX_STEPS if natural else FIXED_STEP_MAX_STEPS


#: what a run takes, not the Runner (minimize takes both)
RUN_ARGUMENTS = names("run")


def check_options(options: Iterable[str], optimizer: Any = None) -> None:
    """Refuse option names the Runner does not know, suggesting the closest one (or, for
    scipy's and other libraries' option names, and ``optimizer``'s hyperparameters,
    where they go)."""
    known = (*STOP_OPTIONS, *RUNNER_OPTIONS)
    for name in options:
        if name not in known:
            if name in RUN_ARGUMENTS:
                raise InvalidArgumentError(
                    f"{name!r} is an argument of the run, not of the Runner: "
                    f"runner.run(x0, {name}=...) (or of.minimize(..., {name}=...), which "
                    "takes both)")
            if name in SCIPY_OPTION_HINTS:
                hint = f" scipy's {name!r} is {SCIPY_OPTION_HINTS[name]}."
            elif OTHER_SPELLINGS.get(name) in known:  # (before the optimizer's fields)
                hint = did_you_mean(name, known)
            else:
                hint = _hyperparameter(name, optimizer, known) or did_you_mean(name, known)
            raise InvalidArgumentError(
                f"unknown option {name!r}.{hint} Options: {', '.join(sorted(known))}; "
                f"and scipy's spellings in minimize: {', '.join(SCIPY_SPELLINGS)}"
            )


class Runner:
    """Runs an optimizer on an objective and records what happens.

    Components may be instances or registered names (``"lbfgs"``, ``"central"``, ...);
    ``optimizer=None`` is L-BFGS (``gd`` for minibatch runs and stochastic estimators).
    Options: the :class:`~optiframe.stopping.StopRules` fields (``max_steps``, default
    15000 for lbfgs and bfgs, as scipy's, 1000 for the others or, in a minibatch run,
    no limit; ``gtol``, ``ftol``, ``xtol``,
    ``detect_divergence``, ``divergence_factor``, ``max_bad_gradients``, ``max_nfev``,
    ``max_time``; ``stop_rules``: rules of your own, see :mod:`optiframe.stop_rules`),
    ``bounds`` (see :mod:`optiframe.bounds`), ``check_gradient`` (check an
    analytic gradient at x0 first), and ``callbacks`` (functions
    called with a :class:`StepInfo` after each step, raising StopIteration to stop, or
    objects with methods for the run's events: see :mod:`optiframe.observers`),
    ``record_every`` (keep every k-th step; the last is always kept), ``record_x`` (keep
    the points too), ``raise_errors`` (None, the default: an exception from user code in a
    single-start run propagates, with its type and traceback, the partial result as its
    ``.result``, while a multi-start run records the failed start and goes on; True:
    a multi-start run then raises :class:`~optiframe.errors.RunFailedError` after the
    other starts; False: status ``failed`` everywhere), ``on_interrupt`` (``"raise"``, the
    default: Ctrl-C saves the checkpoint, then raises KeyboardInterrupt carrying the
    partial result as ``.result``; ``"return"``: an ``interrupted`` Result),
    ``schedules`` (a mapping from a hyperparameter name to a schedule, e.g.
    ``{"lr": "cosine"}``; see :mod:`optiframe.schedules`), and for
    multi-start runs ``minima_tol`` (final points closer than this are one minimum),
    ``retries`` (reruns of a start lost with its worker) and ``start_timeout`` (seconds
    after which a start on workers is stopped and fails), ``progress`` (a progress bar:
    None shows one when stderr is a terminal and tqdm is installed), ``checkpoint`` (a
    folder to save the run's full state in, at interruption and, with
    ``checkpoint_every=N``, every N steps; see :meth:`resume` and
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
        optimizer: Any = None,
        gradient: Any = "auto",
        *,
        callbacks: Sequence[Any] | Callable[[StepInfo], Any] | Any | None = (),
        record_every: int = 1,
        record_x: bool = False,
        raise_errors: bool | None = None,
        on_interrupt: str = "raise",
        schedules: Mapping[str, Any] | None = None,
        minima_tol: float = 1e-3,
        retries: int = 2,
        start_timeout: float | None = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        batch_sampler: Any = None,
        epoch_callbacks: Sequence[Callable[..., Any]] | Callable[..., Any] | None = (),
        progress: bool | None = None,
        checkpoint: Any = None,
        checkpoint_every: int | None = None,
        stream_history: Any = None,
        bounds: Any = None,
        check_gradient: bool = False,
        evaluate: Any = None,
        eval_timeout: float | None = None,
        cache: int | None = None,
        max_steps: int | None = None,
        gtol: float = 1e-8,
        ftol: float = 0.0,
        xtol: float = 0.0,
        detect_divergence: bool = True,
        divergence_factor: float = 1e8,
        max_bad_gradients: int = 5,
        max_nfev: int | None = None,
        max_time: float | None = None,
        stop_rules: Sequence[Any] = (),
        **unknown: Any,
    ) -> None:
        check_options(unknown, optimizer)  # a misspelt option: refused, with the closest
        stop_options: dict[str, Any] = dict(
                            max_steps=max_steps, gtol=gtol,
                            ftol=ftol, xtol=xtol, detect_divergence=detect_divergence,
                            divergence_factor=divergence_factor,
                            max_bad_gradients=max_bad_gradients, max_nfev=max_nfev,
                            max_time=max_time, stop_rules=stop_rules)
        registry = get_registry()
        self.objective: Objective = as_objective(objective)
        self.gradient: GradientEstimator = registry.build(
            "gradient", gradient, GradientEstimator
        )
        if optimizer is None:  # L-BFGS, unless a line search could not work
            noisy = batch_size is not None or self.gradient.for_objective(
                self.objective).stochastic
            # the built-in, even where a plugin claims the same name
            optimizer = f"optiframe:{DEFAULT_TRAINING_OPTIMIZER if noisy else DEFAULT_OPTIMIZER}"
        self.optimizer: Optimizer = registry.build("optimizer", optimizer, Optimizer)
        if max_steps is None:
            stop_options["max_steps"] = default_max_steps(self.optimizer)
        self.stop = StopRules(**stop_options)
        self.callbacks = callback_tuple("callbacks", callbacks)
        self.epoch_callbacks = callback_tuple("epoch_callbacks", epoch_callbacks)
        Callbacks.of(self.callbacks, self.epoch_callbacks)  # checks them now
        self.record_every = check_int("record_every", record_every, minimum=1)
        if not isinstance(record_x, bool):
            raise InvalidArgumentError(f"'record_x' must be True or False: {record_x!r}")
        self.record_x = record_x
        if raise_errors not in (None, True, False):
            raise InvalidArgumentError(
                f"'raise_errors' must be None, True or False: {raise_errors!r}")
        self.raise_errors = raise_errors
        if on_interrupt not in ("raise", "return"):
            raise InvalidArgumentError(
                f"'on_interrupt' must be 'raise' (Ctrl-C stops the script, after saving the "
                f"checkpoint) or 'return' (an interrupted Result): {on_interrupt!r}")
        self.on_interrupt = on_interrupt
        self.minima_tol = check_real("minima_tol", minima_tol, positive=True)
        self.retries = check_int("retries", retries, minimum=0)
        self.start_timeout = (None if start_timeout is None
                              else check_real("start_timeout", start_timeout, positive=True))
        self.schedules = build_schedules(schedules, registry)
        # max_steps=None: default_max_steps, or no limit in a minibatch run (its epochs)
        self.stop_given = {"max_steps": max_steps is not None}
        Progress.check(progress)  # checks the value (and draws nothing)
        self.progress = progress
        self.batching = self._batching(registry, batch_size, epochs, shuffle, drop_last,
                                       batch_sampler)
        if self.batching is not None:
            check_training(self.stop.stop_rules)
        if self.schedules:  # the names, and the values within the run's length, now
            Scheduled(self.optimizer, self.schedules).check_horizon(self.horizon())
        self.checkpoint, self.checkpoint_every = check_checkpoint_options(checkpoint,
                                                                          checkpoint_every)
        self.stream_history = check_stream_option(stream_history)
        self.bounds = bounds
        if bounds is not None:  # checked now, against the objective's size if it has one
            as_box(bounds, getattr(self.objective, "dim", None))
        self.line_search = line_search_of(self.optimizer, registry)
        if not isinstance(check_gradient, bool):
            raise InvalidArgumentError(
                f"'check_gradient' must be True or False: {check_gradient!r}")
        if check_gradient and not isinstance(self.gradient.for_objective(self.objective),
                                             AnalyticGradient):
            raise InvalidArgumentError(
                f"check_gradient=True checks an analytic gradient, but the run's gradient "
                f"is {self.gradient!r}: use gradient='analytic' with an objective that "
                "has one")
        self.check_gradient = check_gradient
        if self.line_search is not None and self.batching is not None:
            raise InvalidArgumentError(
                f"the optimizer's line search ({self.optimizer.line_search!r}) needs the "
                "whole objective at each trial: minibatch runs (batch_size) take fixed "
                "steps; use line_search=None, or drop batch_size")
        self.evaluate = evaluate
        self.objective = self._evaluated(evaluate, eval_timeout, cache)

    def _evaluated(self, evaluate: Any, eval_timeout: Any, cache: Any) -> Objective:
        """The objective, or, with ``evaluate`` or ``cache``, the objective evaluated in
        batches on workers through a cache (:mod:`optiframe.evaluation`)."""
        if evaluate is None and cache is None and eval_timeout is None:
            return self.objective
        if self.batching is not None:
            raise InvalidArgumentError(
                "'evaluate' and 'cache' apply to full-batch runs; a training run "
                "(batch_size) evaluates its own minibatches: drop them, or batch_size")
        if not self.gradient.for_objective(self.objective).black_box:
            raise InvalidArgumentError(
                f"'evaluate' sends points to workers, but the gradient {self.gradient!r} "
                "differentiates the objective's code here: use finite differences "
                "(gradient='central') or drop evaluate")
        return open_evaluation(self.objective, evaluate, cache, eval_timeout, self.retries)

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Keep the run's pool of evaluation workers (``evaluate=``) for everything inside
        (several runs share it); stop it at the end."""
        session = getattr(self.objective, "session", None)
        if session is None:
            yield
            return
        with session():
            yield

    def horizon(self) -> int:
        """The most steps a run may take: ``max_steps``, or a training run's epochs of
        batches when that is fewer (or max_steps was not given)."""
        steps = self.stop.max_steps
        if self.batching is None:
            return steps if steps is not None else 0
        b = self.batching
        epochs = b.epochs * b.per_epoch(self.objective.n_samples)  # type: ignore[attr-defined]
        return min(steps, epochs) if self.stop_given["max_steps"] and steps else epochs

    def box(self, n: int) -> Box | None:
        """The run's bounds for points of ``n`` coordinates (None: no bounds)."""
        return as_box(self.bounds, n)

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
        every start and return a :class:`~optiframe.result.MultiStartResult`; ``workers``
        spreads them out (see :mod:`optiframe.executors`); without ``workers`` the starts
        advance together as one array. ``seed`` seeds every random part of the run: the
        sampled starts, the batch order of a training run, and each start's own random
        stream (which stochastic gradient estimators such as ``spsa`` draw from).
        """
        check_stream_writable(self.stream_history)
        seed = check_seed(seed)
        self.check_workers_with_evaluate(workers)
        return self._measured(self._run, x0, starts, seed, workers)

    def check_workers_with_evaluate(self, workers: Any) -> None:
        """Refuse ``workers`` together with the Runner's ``evaluate`` (before any work)."""
        if workers is not None and self.evaluate is not None:
            raise InvalidArgumentError(
                "give 'workers' (starts spread over processes) or 'evaluate' (every "
                "start's points evaluated on one pool), not both: with evaluate, the "
                "starts advance together and share its workers")

    def _run(self, x0: Any, starts: Any, seed: Any, workers: Any) -> Result:
        if starts is None:
            if workers is not None:
                raise InvalidArgumentError(
                    "'workers' apply to multi-start runs (starts=MultiStart(...))")
            if x0 is None:
                raise InvalidArgumentError("'x0' is required: the point to start from")
            return run_point(self, x0, seed)
        return run_multistart(self, x0, starts, seed, workers)

    def _measured(self, run: Callable[..., Result], *args: Any) -> Result:
        """``run(*args)`` with the run's evaluation pool open (``evaluate``), its result
        counted (:meth:`_counted`) and handed to the run-end observers."""
        counted = RunEvaluations(self.evaluation_stats())
        ctrl_c = False
        late: list[int] = []  # Ctrl-C after the run, held until its result is counted
        watch = watched()  # (cheap holds of Ctrl-C; the end held to the watch's end)
        with watch, contextlib.ExitStack() as pool:
            # (the stats so far, for its checkpoints; a resumed run's part before)
            pool.callback(RUN_EVALUATIONS.reset, RUN_EVALUATIONS.set(counted))
            pool.enter_context(self.evaluating())
            try:
                result = self._told(run, *args)
            except CtrlCAtTheEnd as stop:  # every start ended: the hooks see the result
                result, ctrl_c = stop.result, True
            with deferred(late):
                pool.close()  # (the pool's workers stopped)
                result = self._counted(result, counted)
                result = attrs.evolve(result, gradient_at=self._gradient_at(result.x.size))
            result, in_observer = self._ended(result)
        ctrl_c = ctrl_c or bool(late) or in_observer or bool(watch.late)
        if self.on_interrupt == "raise" and (ctrl_c or was_interrupted(result)):
            raise carrying(result)  # (Ctrl-C as the run ended: it stops the script)
        return result

    def evaluation_stats(self) -> EvaluationStats | None:
        """What the objective's evaluations cost so far (None without ``evaluate`` or
        ``cache``)."""
        stats = getattr(self.objective, "stats", None)
        return None if stats is None else stats()

    def _counted(self, result: Result, counted: RunEvaluations) -> Result:
        """With ``evaluate`` or a cache: ``nfev`` counts only the real evaluations, and
        ``evaluation`` says what the pool and the cache did during the run (a resumed
        run's: both parts, the one before its checkpoint included)."""
        now = self.evaluation_stats()
        stats = counted.so_far(now)
        if stats is None:
            return result
        return attrs.evolve(result, nfev=max(0, result.nfev - stats.cache_hits),
                            evaluation=None if now is None else stats)

    def _told(self, run: Callable[..., Result], *args: Any) -> Result:
        """``run(*args)``; when it raises with the run's result attached (a failed or
        interrupted run that raises), the ``on_run_end`` callbacks see that result first,
        so a tracker can close its record of the run."""
        try:
            return run(*args)
        except CtrlCAtTheEnd:
            raise  # a whole result: the run-end observers see it in _ended
        except BaseException as exc:
            partial = getattr(exc, "result", None)
            if isinstance(partial, Result):
                let_the_end_go()  # (held since the loop ended: Ctrl-C may stop them)
                self._tell_callbacks(partial)
            raise

    def _tell_callbacks(self, result: Result) -> Result:
        """Hand ``result`` to the callbacks' ``on_run_end``; a callback may return a note
        (a str, such as "tracking failed: ..."), which is added to the result's message."""
        for cb in Callbacks.of(self.callbacks).run_end:
            note = cb(result)
            if isinstance(note, str) and note:
                result = attrs.evolve(result, message=f"{result.message}; {note}")
        return result

    def started(self, n_starts: int, seed: int | None, resumed: bool = False) -> None:
        """Tell the ``on_run_start`` observers: every check is done, the first evaluation
        comes next (called by :mod:`optiframe.runs`)."""
        calls = Callbacks.of(self.callbacks) + plugin_callbacks()
        if calls.run_start:
            info = RunStart(self, n_starts, seed, resumed)
            for cb in calls.run_start:
                cb(info)

    def _ended(self, result: Result) -> tuple[Result, bool]:
        """Hand the result to ``on_run_end``: the callbacks', then the plugins' (a plugin
        failing there turns the result into status ``failed``, naming the plugin, with
        everything kept). Ctrl-C, held since the loop ended, is let go for them (what came
        is the watch's ``late``) and then waits until the run's watch ends. Returns the
        result and whether a Ctrl-C came meanwhile (in an observer: the later ones are
        not told), for the caller to act on with the result."""
        ctrl_c = False
        try:
            let_the_end_go()  # (an observer's code is the user's: Ctrl-C may stop it)
            result = self._tell_callbacks(result)
            try:
                run_end_hooks(result)
            except PluginError as exc:
                result = attrs.evolve(result, status=Status.FAILED,
                                      message=message(Status.FAILED, str(exc)))
                if self.raise_errors:
                    raise RunFailedError(result.message, result) from exc
        except KeyboardInterrupt:  # in an observer: the run is whole
            ctrl_c = True
        try:
            hold_to_the_end()
        except KeyboardInterrupt:  # (one that landed as the hold was taken)
            ctrl_c = True
            hold_to_the_end()
        return result, ctrl_c

    def _gradient_at(self, n: int) -> Callable[[Any], Any] | None:
        """``gradient(x)`` for the result's ``jac`` (bound on first use; None for a
        stochastic estimator, whose gradient is a random estimate)."""
        estimator = self.gradient.for_objective(self.objective)
        if estimator.stochastic:
            return None
        objective, box = self.objective, self.box(n)

        def at(x: Any) -> Any:
            return bind_for(estimator, objective, box)(x)

        return at

    def checkpointer(self, kind: str, shape: tuple[int, ...], seed: int | None = None,
                     resumed: Checkpoint | None = None) -> Checkpointer | None:
        """The run's checkpoint writer, or None when no ``checkpoint`` folder is set."""
        if self.checkpoint is None:
            return None
        counted = RUN_EVALUATIONS.get()
        stats_at = (None if counted is None  # (with a cache: the run's stats, kept)
                    else lambda nfev: counted.at_commit(self.objective, nfev))
        return Checkpointer(self.checkpoint, kind, run_config(self, kind, shape, seed), resumed,
                            stats_at)

    def resume(self, checkpoint: Any = None, *, workers: Any = None) -> Result:
        """Resume the run saved in the folder ``checkpoint`` (default: this Runner's own
        ``checkpoint`` option) and run it to the end.

        The Runner must be configured as the one that wrote the checkpoint (objective,
        optimizer, gradient, schedules, stopping rules, batching, recording), except the
        budgets ``max_steps``, ``max_nfev``, ``max_time`` and a training run's ``epochs``,
        which may be raised to run longer; otherwise
        :class:`~optiframe.errors.CheckpointError` says what differs. Resumed to the end,
        the run gives the bits an uninterrupted run gives (the ``elapsed`` column aside).
        With its own ``checkpoint`` option the resumed run goes on saving checkpoints.
        A multi-start run checkpointed on ``workers`` reruns its unfinished starts on
        ``workers`` (default: together as one array, which gives the same bits).
        """
        check_stream_writable(self.stream_history)
        where = self.checkpoint if checkpoint is None else checkpoint
        if where is None:
            raise InvalidArgumentError(
                "'checkpoint' is required: the folder of the checkpoint to resume")
        return self._measured(resume_run, self, where, workers)
