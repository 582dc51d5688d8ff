"""The pieces every kind of run is assembled from (:mod:`optiframe.runs`): each start's
random stream from the run's seed, the :class:`~optiframe.problem.Problem` bound once,
the first :class:`~optiframe.state.RunState`, and the observers of a
:class:`~optiframe.observers.Watch`."""

from __future__ import annotations

import math
import time
from typing import Any, cast

import attrs
import numpy as np

from .batching import Batches
from .checkpoint import Checkpointer, Snapshot
from .data import DataObjective
from .errors import (
    OptiframeError,
    describe_error,
)
from .gradient_choice import AdaptiveDifference, counted_refinement, refinement_of
from .gradients import (
    AnalyticGradient,
    CentralDifference,
    ForwardDifference,
    RichardsonDifference,
    bind_for,
    evaluations_for,
)
from .line_step import FixedStep, LineStep
from .numerics import F_FLOOR
from .objective import as_scalar
from .observers import Callbacks, Watch
from .plugin_calls import plugin_callbacks
from .problem import Problem, RowError, climbing_search, stack_values, traced
from .progress import Progress
from .replay import asks_point_by_point
from .run_spec import RunSpec
from .state import RunState
from .status import Status
from .stop_rules import Gates
from .widened import widener, widening_cost

# -- seeds ------------------------------------------------------------------------------------


def root_entropy(seed: int | None) -> int:
    """The entropy every random stream of a run derives from: the seed itself, or fresh
    entropy drawn once for the whole run when there is none."""
    return int(np.random.SeedSequence(seed).entropy)  # type: ignore[arg-type]


def start_streams(entropy: int, index: np.ndarray) -> list[np.random.Generator]:
    """One generator per start: the first child of the start's own child of the seed
    (``SeedSequence(seed).spawn(K)[k].spawn(1)[0]``), the same on every executor."""
    return [np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        entropy, spawn_key=(int(k), 0)))) for k in index.tolist()]


# -- binding ----------------------------------------------------------------------------------


def bind(runner: RunSpec, point: bool, n: int, n_starts: int, entropy: int) -> Problem:
    """The run's :class:`~optiframe.problem.Problem`: every component bound to the
    objective for points of ``n`` coordinates (raises here if one cannot work)."""
    objective, stop = runner.objective, runner.stop
    searched = runner.line_search is not None and runner.batching is None
    for_run = getattr(runner.gradient, "for_run", None)  # "auto": adaptive with a search
    estimator = (for_run(objective, searched, runner.bounds is not None)
                 if for_run is not None else runner.gradient.for_objective(objective))
    stochastic = bool(getattr(estimator, "stochastic", False))
    box = runner.box(n)
    # a full-data run knows f at its points: estimators that use it spare an evaluation
    valued = estimator.uses_value and not stochastic and runner.batching is None
    batches = None
    value: Any
    grad: Any
    if runner.batching is not None:  # the Runner checked: a data objective
        batches = Batches(cast(DataObjective, objective), runner.batching, estimator, point,
                          n, entropy, stop, box)
        value = grad = None
        fev, jev = batches.fev, 1
        max_steps = stop.max_steps if runner.stop_given.get("max_steps") else math.inf
        gtol = -1.0
    else:
        if point:
            value, grad = objective.value, bind_for(estimator, objective, box)
        else:
            value = stack_values(objective)
            grad = traced(bind_for(estimator, objective, box, stack=True), (n,), math.nan,
                          replayable=asks_point_by_point(
                              objective, isinstance(estimator, AnalyticGradient)))
        fev, jev = evaluations_for(estimator, objective, n, box, valued)
        # a stochastic estimate (spsa) is one random draw: its norm is no evidence of
        # convergence (a symmetric draw gives exactly 0 far from a minimum)
        max_steps, gtol = stop.max_steps, (-1.0 if stochastic else stop.gtol)
    level_costs: tuple[int, ...] = ()
    if isinstance(estimator, AdaptiveDifference) and runner.batching is None:
        level_costs = estimator.level_costs(objective, n, box)
    refine, refine_cost, refine_name = None, 0, ""
    # (a fixed step's own forward differences too: finer_check.checked_flat)
    better = (refinement_of(estimator, box) if (searched or (
        isinstance(estimator, ForwardDifference) and runner.batching is None))
        and not stochastic and not level_costs else None)
    if better is not None:
        refine = counted_refinement(better, objective, box)
        refine_cost = evaluations_for(better, objective, n, box)[0]
        refine_name = type(better).__name__
    widen, widen_cost = None, 0  # (finer_check: after the finer ones, or for want of any)
    if runner.batching is None and not stochastic and isinstance(estimator, (
            ForwardDifference, CentralDifference, RichardsonDifference, AdaptiveDifference)):
        widen, widen_cost = widener(objective, box), widening_cost(n)
    budget = stop.max_nfev
    if budget is not None and not point:
        budget = max(1, budget // n_starts)  # a multi-start run shares its budget equally
    from .schedules import Scheduled

    schedules = Scheduled(runner.optimizer, runner.schedules) if runner.schedules else None
    p = Problem(objective=objective, point=point, value=value, grad=grad, fev=fev, jev=jev,
                stochastic=stochastic, optimizer=runner.optimizer, schedules=schedules,
                stop=stop, max_steps=max_steps, gtol=gtol, budget=budget, batches=batches,
                box=box, line_search=runner.line_search, valued=valued,
                natural_step=bool(getattr(runner.optimizer, "natural_step", False)),
                restart=(None if runner.line_search is None
                         else runner.line_search.restart_policy(runner.optimizer)),
                refine=refine, refine_cost=refine_cost, refine_name=refine_name,
                forward_steps=(estimator.steps if isinstance(estimator, ForwardDifference)
                               and refine is not None else None),
                widen=widen, widen_cost=widen_cost, level_costs=level_costs,
                step_length=LineStep() if searched else FixedStep(),
                climbing_search=(climbing_search(runner.line_search) if level_costs
                                 and runner.line_search is not None else None))
    return attrs.evolve(p, gates=Gates(p, stop.stop_rules))  # the rules read the Problem


def new_state(runner: RunSpec, p: Problem, X0: np.ndarray, index: np.ndarray,
              entropy: int, hold: Any = None) -> RunState:
    """The state at step 0: f at the starting points (full data), each start's optimizer,
    schedule and random states, the first batch (training). Starts whose f(x0) is NaN,
    infinite, at ``F_FLOOR`` or raises end at once; Ctrl-C while f(x0) is evaluated ends
    every start ``interrupted`` at x0, with no evaluation counted. ``hold`` (the run's
    set-up hold, a :class:`~optiframe.signals.deferred`, ended by the caller) is taken as
    f(x0) returns (at once in training): a Ctrl-C from there waits for the loop."""
    point = p.point
    s = RunState(point, X0.shape[-1])
    stop = p.stop
    interrupted = False
    if p.batches is not None:
        if hold is not None:
            hold.__enter__()
        F: Any = math.nan if point else np.full(X0.shape[0], np.nan)
        f_limit: Any = F
    elif point:
        try:
            F = _first_value(p, X0)
            if hold is not None:  # (a Ctrl-C as it is taken: as one in f, caught below)
                hold.__enter__()
        except KeyboardInterrupt:
            F, interrupted = math.nan, True
        f_limit = stop.divergence_limit(F) if math.isfinite(F) else math.inf
    else:
        try:
            try:
                F, errors = p.value(X0), {}
            except RowError as err:
                F, errors = err.values, err.errors
            if hold is not None:
                hold.__enter__()
        except KeyboardInterrupt:
            F, errors, interrupted = np.full(X0.shape[0], np.nan), {}, True
        f_limit = stop.divergence_limits(F)
    s.start(X0, F, index, f_limit, runner.optimizer.init(X0))
    if interrupted:
        return _interrupted_at_start(s, p, runner.checkpoint is not None)
    if p.batches is not None:
        s.nfev = 0 if point else np.zeros(len(index), dtype=np.int64)
        p.batches.begin(s)
    if p.schedules is not None:
        s.sched = p.schedules.init(None if point else len(index))
    if p.stochastic:  # one generator per row (a list of one for a single point)
        s.rng = start_streams(entropy, index)
    from .settle import finish_rows

    if not point and p.batches is None and errors:
        failed = sorted(errors)
        finish_rows(s, p, failed, [(Status.FAILED, "the objective raised at step 0: "
                                    + describe_error(errors[r])) for r in failed])
    if p.batches is None:
        values = np.atleast_1d(s.F)
        ended = np.flatnonzero(~(np.isfinite(values) & (values > F_FLOOR)))  # NaN, inf, F_FLOOR
        if len(ended):
            finish_rows(s, p, ended, [stop.at_start(float(values[r]))  # type: ignore[misc]
                                      for r in ended])
    return s


def _interrupted_at_start(s: RunState, p: Problem, checkpointed: bool) -> RunState:
    """Ctrl-C while f at the starting points was evaluated: every start ends
    ``interrupted`` at its x0, no evaluation counted (none was whole) and no checkpoint
    written (there is no step to go on from)."""
    from .settle import finish_rows

    s.nfev = 0 if s.point else np.zeros(len(s.index), dtype=np.int64)
    detail = "at step 0, while f at the starting point was evaluated" + (
        " (no checkpoint was written: there is no step to resume from)"
        if checkpointed else "")
    finish_rows(s, p, range(len(s.index)), [(Status.INTERRUPTED, detail)] * len(s.index))
    return s


class FailedAtStartError(Exception):
    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _first_value(p: Problem, x: np.ndarray) -> float:
    try:
        return as_scalar(p.objective.value(x), p.objective)
    except (OverflowError, FloatingPointError):
        return math.inf  # overflow at x0: the run ends diverged, with x0 kept
    except OptiframeError:
        raise  # the objective's result is unusable: bad input, refused
    except Exception as exc:
        raise FailedAtStartError(exc) from exc


# -- observers -------------------------------------------------------------------------------


def callbacks_of(runner: RunSpec) -> Callbacks:
    """The run's callbacks and epoch callbacks, with the plugins' run-time hooks."""
    return Callbacks.of(runner.callbacks, runner.epoch_callbacks) + plugin_callbacks()


def deadline_of(runner: RunSpec, elapsed: float) -> float | None:
    """The :func:`time.perf_counter` reading at which ``max_time`` is reached."""
    limit = runner.stop.max_time
    return None if limit is None else time.perf_counter() + limit - elapsed


def watch(runner: RunSpec, s: RunState, p: Problem, history: Any, recorder: Any, xs: Any,
          calls: Callbacks, checkpointer: Checkpointer | None, desc: str,
          progress: bool | None = None, holds_end: bool = True) -> Watch:
    """The observers of one advance over ``s`` (``holds_end``: a run's own, whose end
    holds Ctrl-C until the run-end observers; a worker's job's is not)."""
    w: Watch

    def save(state: RunState) -> None:
        assert checkpointer is not None
        checkpointer.save(state.k, Snapshot.of_state(state, history, w.clock() - w.t0))

    if checkpointer is not None:
        save.folder = checkpointer.directory  # type: ignore[attr-defined]

    epochs = None
    if p.batches is not None:  # a training bar: steps, and the epoch they are in
        batching = p.batches.batching
        epochs = (batching.per_epoch(p.batches.objective.n_samples), batching.epochs)
    bar = Progress.create(runner.progress if progress is None else progress,
                          _total_steps(runner, p), desc, epochs=epochs)
    if bar is not None:
        bar.watch_evaluations(runner.objective)
    w = Watch(s, p, history, recorder, xs, runner.record_every, calls,
              checkpoint=None if checkpointer is None else save,
              checkpoint_every=runner.checkpoint_every, progress=bar,
              deadline=deadline_of(runner, s.elapsed))
    w.holds_end = holds_end
    return w


def _total_steps(runner: RunSpec, p: Problem) -> float:
    if p.batches is None:
        return float(runner.stop.max_steps)
    batching = p.batches.batching
    return float(batching.per_epoch(p.batches.objective.n_samples) * batching.epochs)
