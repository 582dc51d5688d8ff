"""How a hyperparameter changes during a run: learning-rate (and any other) schedules.

A schedule is a frozen attrs class with ``init()`` (its state) and
``value(step, base, loss, state) -> (value, state)``: the hyperparameter's value for
step ``step`` (0-based), given its configured value ``base`` and the current loss. The
Runner hands every schedule the loss, so a plateau schedule composes like the others.

In a multi-start run a schedule whose value depends on the loss (``per_start = True``,
the default for schedules you write, and ``plateau``) keeps its own state for each start
and reacts to that start's loss: ``values(step, base, losses, states)`` gives one value
per start (by default by calling ``value`` for each start); the optimizer then sees the
hyperparameter as an array with one row per start. A schedule that only reads the step
(``per_start = False``: the other built-ins) gives every start the same value.
Schedules are given per hyperparameter:

>>> import optiframe as of
>>> r = of.minimize("sphere", [3.0, -2.0], optimizer=of.GradientDescent(lr=0.4),
...                 schedules={"lr": of.ExponentialDecay(gamma=0.9)}, max_steps=10)
>>> r.nit, f"{r.fun:.3g}"     # each step multiplies x by 1 - 2 * 0.4 * 0.9**k
(10, '1.42e-06')
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from typing import Any, cast

import attrs
import numpy as np

from ._tree import tree_map
from ._validation import (
    check_real,
    did_you_mean,
    nonneg_int,
    nonneg_real,
    positive_int,
)
from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .optimizers import EmptyState, Optimizer


class Schedule(abc.ABC):
    """Base class of schedules; subclass it as a frozen attrs class."""

    #: True when the value depends on the loss, so that each start of a multi-start run
    #: needs its own state; False when it depends only on the step.
    per_start: bool = True

    def init(self) -> Any:
        """The schedule's initial state."""
        return EmptyState()

    @abc.abstractmethod
    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        """The value at ``step`` for a hyperparameter configured as ``base``."""

    def init_rows(self, rows: int) -> Any:
        """The initial state of ``rows`` starts, stacked: each leaf gets one entry per row."""
        state = self.init()
        return tree_map(lambda leaf: np.array([leaf] * rows), state)

    def values(self, step: int, base: Any, losses: np.ndarray, states: Any,
               ) -> tuple[np.ndarray, Any]:
        """One value per start, given each start's loss and its row of the stacked
        ``states``: by default :meth:`value` start by start."""
        rows = len(losses)
        out = [self.value(step, base, float(losses[i]),
                          tree_map(lambda a, i=i: a[i].item() if a.ndim == 1 else a[i],
                                   states))
               for i in range(rows)]
        new = tree_map(lambda *leaves: np.array(leaves), *[st for _, st in out]) if out else (
            states)
        return np.array([v for v, _ in out]), new


def _factor(instance: Any, attribute: Any, value: Any) -> None:
    check_real(attribute.name, value, positive=True)
    if value > 1.0:
        raise InvalidArgumentError(f"{attribute.name!r} must be in (0, 1]: {value!r}")


@attrs.frozen
class Constant(Schedule):
    """The configured value throughout."""

    per_start = False

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base, state


@attrs.frozen
class StepDecay(Schedule):
    """``base * gamma ** (step // step_size)`` (torch's StepLR)."""

    per_start = False

    step_size: int = attrs.field(default=100, validator=positive_int)
    gamma: float = attrs.field(default=0.1, validator=_factor)

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base * self.gamma ** (step // self.step_size), state


@attrs.frozen
class ExponentialDecay(Schedule):
    """``base * gamma ** step`` (torch's ExponentialLR)."""

    per_start = False

    gamma: float = attrs.field(default=0.99, validator=_factor)

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base * self.gamma**step, state


@attrs.frozen
class InverseTimeDecay(Schedule):
    """``base / (1 + decay_rate * step / decay_steps)``."""

    per_start = False

    decay_rate: float = attrs.field(default=1.0, validator=nonneg_real)
    decay_steps: int = attrs.field(default=1, validator=positive_int)

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base / (1.0 + self.decay_rate * step / self.decay_steps), state


@attrs.frozen
class CosineWarmup(Schedule):
    """A linear warm-up over ``warmup_steps``, then a cosine from base to ``min_value``.

    The warm-up climbs ``base * (step + 1) / warmup_steps``; the cosine reaches
    ``min_value`` at ``total_steps`` and stays there. A learning rate must stay > 0, so
    for one give ``min_value > 0`` or ``total_steps`` of at least the run's max_steps.
    """

    per_start = False

    total_steps: int = attrs.field(default=1000, validator=positive_int)
    warmup_steps: int = attrs.field(default=0, validator=nonneg_int)
    min_value: float = attrs.field(default=0.0, validator=nonneg_real)

    def __attrs_post_init__(self) -> None:
        if self.warmup_steps >= self.total_steps:
            raise InvalidArgumentError(
                f"'warmup_steps' must be < 'total_steps' ({self.total_steps}): "
                f"{self.warmup_steps}"
            )

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        if step < self.warmup_steps:
            return base * (step + 1) / self.warmup_steps, state
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_value + (base - self.min_value) * 0.5 * (1.0 + math.cos(
            math.pi * progress)), state


@attrs.frozen
class PlateauState:
    """The best loss so far, steps without improvement, cooldown left, current scale
    (numbers; arrays with one entry per start in a multi-start run)."""

    best: Any
    bad_steps: Any
    cooldown_left: Any
    scale: Any


@attrs.frozen
class ReduceOnPlateau(Schedule):
    """Multiply by ``factor`` when the loss has not improved for ``patience`` steps.

    The loss improves when it falls below ``best * (1 - threshold)`` (relative mode) or
    ``best - threshold`` (absolute mode); after a reduction, ``cooldown`` steps pass
    before counting again; the value never falls below ``min_value``. torch's
    ReduceLROnPlateau, as a schedule like the others.
    """

    factor: float = attrs.field(default=0.1, validator=_factor)
    patience: int = attrs.field(default=10, validator=nonneg_int)
    threshold: float = attrs.field(default=1e-4, validator=nonneg_real)
    threshold_mode: str = attrs.field(default="rel", validator=attrs.validators.in_(
        ("rel", "abs")))
    cooldown: int = attrs.field(default=0, validator=nonneg_int)
    min_value: float = attrs.field(default=0.0, validator=nonneg_real)

    def init(self) -> PlateauState:
        return PlateauState(best=math.inf, bad_steps=0, cooldown_left=0, scale=1.0)

    def _improves(self, loss: float, best: float) -> bool:
        if self.threshold_mode == "rel":
            return loss < best * (1.0 - self.threshold) if best != math.inf else loss < best
        return loss < best - self.threshold

    def value(self, step: int, base: Any, loss: float, state: PlateauState) -> tuple[Any, Any]:
        best, bad, cooldown, scale = state.best, state.bad_steps, state.cooldown_left, state.scale
        if self._improves(loss, best):
            best, bad = loss, 0
        else:
            bad += 1
        if cooldown > 0:
            cooldown -= 1
            bad = 0
        if bad > self.patience:
            scale *= self.factor
            cooldown, bad = self.cooldown, 0
        value = base * scale
        if self.min_value:
            value = max(value, self.min_value)
        return value, PlateauState(best=best, bad_steps=bad, cooldown_left=cooldown, scale=scale)

    def values(self, step: int, base: Any, losses: np.ndarray, states: PlateauState,
               ) -> tuple[np.ndarray, PlateauState]:
        """:meth:`value` for every start at once, with the same arithmetic."""
        best, bad = states.best, states.bad_steps
        if self.threshold_mode == "rel":
            improves = np.where(best != math.inf, losses < best * (1.0 - self.threshold),
                                losses < best)
        else:
            improves = losses < best - self.threshold
        best, bad = np.where(improves, losses, best), np.where(improves, 0, bad + 1)
        cooling = states.cooldown_left > 0
        cooldown = np.where(cooling, states.cooldown_left - 1, states.cooldown_left)
        bad = np.where(cooling, 0, bad)
        reduce = bad > self.patience
        scale = np.where(reduce, states.scale * self.factor, states.scale)
        cooldown, bad = np.where(reduce, self.cooldown, cooldown), np.where(reduce, 0, bad)
        value = np.multiply.outer(scale, np.asarray(base)) if np.ndim(base) else base * scale
        if self.min_value:
            value = np.maximum(value, self.min_value)
        return value, PlateauState(best=best, bad_steps=bad, cooldown_left=cooldown,
                                   scale=scale)


BUILTIN_SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": ExponentialDecay,
    "inverse-time": InverseTimeDecay,
    "cosine": CosineWarmup,
    "plateau": ReduceOnPlateau,
}


@hookimpl
def register_schedules(register: Register) -> None:
    for name, cls in BUILTIN_SCHEDULES.items():
        register(name, cls)


@attrs.frozen
class Scheduled:
    """Derives each step's optimizer from the base one and its schedules.

    The schedules' states are part of the run's state (one per schedule; stacked, one row
    per start, for the schedules that are ``per_start`` in a multi-start run), so a
    checkpoint saves them and every start reacts to its own loss. It costs an
    ``attrs.evolve`` per step, and nothing when no schedule is given.
    """

    base: Optimizer
    schedules: tuple[tuple[str, Schedule], ...]
    #: [optimizer, states] when every schedule is ``fixed_per_row`` (its values are its
    #: state, which never changes): while the states are the same arrays (no row has
    #: left the stack), so is the optimizer
    _last: list[Any] = attrs.field(factory=list, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        fields = set(self.base.hyperparameters())
        for name, _ in self.schedules:
            if name not in fields:
                raise InvalidArgumentError(
                    f"schedules: {type(self.base).__name__} has no hyperparameter "
                    f"{name!r}.{did_you_mean(name, fields)} Hyperparameters: "
                    f"{', '.join(sorted(fields))}"
                )

    def check_horizon(self, steps: int) -> None:
        """Refuse, before any work, a schedule that reads only the step (``per_start`` False)
        and gives a value the optimizer refuses within the run's ``steps`` steps (a cosine
        whose ``total_steps`` is shorter than the run reaches lr = 0). Checked at the first
        and last step and 62 steps between (enough for the built-ins, which are monotone
        after their warm-up); a schedule that reads the loss is checked as it goes."""
        if steps <= 0:
            return
        probes = sorted({*np.linspace(0, steps - 1, 64).astype(int).tolist()})
        for name, schedule in self.schedules:
            if schedule.per_start:
                continue
            ok, first = -1, None
            for step in probes:
                if self._refusal(name, schedule, step) is not None:
                    first = step
                    break
                ok = step
            if first is None:
                continue
            while first - ok > 1:  # the first refused step, between the probes
                mid = (ok + first) // 2
                if self._refusal(name, schedule, mid) is None:
                    ok = mid
                else:
                    first = mid
            value, why = cast(tuple[Any, str], self._refusal(name, schedule, first))
            raise InvalidArgumentError(
                f"schedules: {name} = {schedule!r} gives {name} = {value!r} at step {first}, "
                f"which {type(self.base).__name__} refuses ({why}), and the run may take "
                f"{steps} steps: give the schedule a horizon of at least {steps} steps "
                f"(total_steps={steps}), a min_value > 0, or the run at most {first} steps "
                "(max_steps)")

    def _refusal(self, name: str, schedule: Schedule, step: int) -> tuple[Any, str] | None:
        """(value, why) when the optimizer refuses the schedule's value at ``step``."""
        value, _ = schedule.value(step, getattr(self.base, name), math.nan, schedule.init())
        try:
            attrs.evolve(cast(Any, self.base), **{name: value})
        except ValueError as exc:
            return value, str(exc)
        return None

    def init(self, rows: int | None) -> tuple[Any, ...]:
        """The schedules' initial states for one point (``rows`` None) or ``rows`` starts."""
        return tuple(schedule.init() if rows is None or not schedule.per_start
                     else schedule.init_rows(rows) for _, schedule in self.schedules)

    def at(self, step: int, loss: Any, states: tuple[Any, ...], point: bool,
           ) -> tuple[Optimizer, tuple[Any, ...]]:
        """The optimizer for step ``step`` given the current loss (one per start in a
        multi-start run), and the schedules' new states."""
        last = self._last
        if last and all(a is b for a, b in zip(states, last[1], strict=True)):
            return last[0], states  # fixed per-row values, and no row has left
        values: dict[str, Any] = {}
        new = []
        for (name, schedule), state in zip(self.schedules, states, strict=True):
            base = getattr(self.base, name)
            if point:
                values[name], state = schedule.value(step, base, loss, state)
            elif not schedule.per_start:
                values[name], state = schedule.value(step, base, math.nan, state)
            else:
                value, state = schedule.values(step, base, loss, state)
                value = np.asarray(value, dtype=float)
                values[name] = value[:, None] if value.ndim == 1 else value
            new.append(state)
        try:
            optimizer = cast(Optimizer, attrs.evolve(cast(Any, self.base), **values))
        except ValueError as exc:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise InvalidArgumentError(
                f"at step {step} the schedules gave {shown}, which "
                f"{type(self.base).__name__} refuses ({exc}); give the schedule a "
                "min_value > 0 or a horizon (total_steps) of at least max_steps"
            ) from exc
        new_states = tuple(new)
        if not point and all(getattr(schedule, "fixed_per_row", False)
                             for _, schedule in self.schedules):
            self._last[:] = [optimizer, new_states]
        return optimizer, new_states


def build_schedules(spec: Any, registry: Any) -> tuple[tuple[str, Schedule], ...]:
    """``{"lr": "cosine" | Schedule | {"name": ..., ...}}`` as (name, Schedule) pairs."""
    if not spec:
        return ()
    if not isinstance(spec, Mapping):
        raise InvalidArgumentError(
            f"'schedules' must map hyperparameter names to schedules: {spec!r}"
        )
    return tuple((name, registry.build("schedule", s, Schedule)) for name, s in spec.items())
