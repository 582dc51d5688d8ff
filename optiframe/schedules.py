"""How a hyperparameter changes during a run: learning-rate (and any other) schedules.

A schedule is a frozen attrs class with ``init()`` (its state) and
``value(step, base, loss, state) -> (value, state)``: the hyperparameter's value for
step ``step`` (0-based), given its configured value ``base`` and the current loss. The
Runner hands every schedule the loss, so a plateau schedule composes like the others.
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

from ._validation import check_int, check_real, did_you_mean
from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .optimizers import EmptyState, Optimizer


class Schedule(abc.ABC):
    """Base class of schedules; subclass it as a frozen attrs class."""

    def init(self) -> Any:
        """The schedule's initial state."""
        return EmptyState()

    @abc.abstractmethod
    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        """The value at ``step`` for a hyperparameter configured as ``base``."""


def _positive_int(instance: Any, attribute: Any, value: Any) -> None:
    check_int(attribute.name, value, minimum=1)


def _nonneg_int(instance: Any, attribute: Any, value: Any) -> None:
    check_int(attribute.name, value, minimum=0)


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    check_real(attribute.name, value, positive=True)


def _nonneg(instance: Any, attribute: Any, value: Any) -> None:
    check_real(attribute.name, value)


def _factor(instance: Any, attribute: Any, value: Any) -> None:
    check_real(attribute.name, value, positive=True)
    if value > 1.0:
        raise InvalidArgumentError(f"{attribute.name!r} must be in (0, 1]: {value!r}")


@attrs.frozen
class Constant(Schedule):
    """The configured value throughout."""

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base, state


@attrs.frozen
class StepDecay(Schedule):
    """``base * gamma ** (step // step_size)`` (torch's StepLR)."""

    step_size: int = attrs.field(default=100, validator=_positive_int)
    gamma: float = attrs.field(default=0.1, validator=_factor)

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base * self.gamma ** (step // self.step_size), state


@attrs.frozen
class ExponentialDecay(Schedule):
    """``base * gamma ** step`` (torch's ExponentialLR)."""

    gamma: float = attrs.field(default=0.99, validator=_factor)

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base * self.gamma**step, state


@attrs.frozen
class InverseTimeDecay(Schedule):
    """``base / (1 + decay_rate * step / decay_steps)``."""

    decay_rate: float = attrs.field(default=1.0, validator=_nonneg)
    decay_steps: int = attrs.field(default=1, validator=_positive_int)

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return base / (1.0 + self.decay_rate * step / self.decay_steps), state


@attrs.frozen
class CosineWarmup(Schedule):
    """A linear warm-up over ``warmup_steps``, then a cosine from base to ``min_value``.

    The warm-up climbs ``base * (step + 1) / warmup_steps``; the cosine reaches
    ``min_value`` at ``total_steps`` and stays there. A learning rate must stay > 0, so
    for one give ``min_value > 0`` or ``total_steps`` of at least the run's max_steps.
    """

    total_steps: int = attrs.field(default=1000, validator=_positive_int)
    warmup_steps: int = attrs.field(default=0, validator=_nonneg_int)
    min_value: float = attrs.field(default=0.0, validator=_nonneg)

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
    """The best loss so far, steps without improvement, cooldown left, current scale."""

    best: float
    bad_steps: int
    cooldown_left: int
    scale: float


@attrs.frozen
class ReduceOnPlateau(Schedule):
    """Multiply by ``factor`` when the loss has not improved for ``patience`` steps.

    The loss improves when it falls below ``best * (1 - threshold)`` (relative mode) or
    ``best - threshold`` (absolute mode); after a reduction, ``cooldown`` steps pass
    before counting again; the value never falls below ``min_value``. torch's
    ReduceLROnPlateau, as a schedule like the others.
    """

    factor: float = attrs.field(default=0.1, validator=_factor)
    patience: int = attrs.field(default=10, validator=_nonneg_int)
    threshold: float = attrs.field(default=1e-4, validator=_nonneg)
    threshold_mode: str = attrs.field(default="rel", validator=attrs.validators.in_(
        ("rel", "abs")))
    cooldown: int = attrs.field(default=0, validator=_nonneg_int)
    min_value: float = attrs.field(default=0.0, validator=_nonneg)

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


@attrs.define
class ScheduledOptimizer:
    """Derives the optimizer for each step from the base one and its schedules.

    Only the Runner uses this; it costs an ``attrs.evolve`` per step, and nothing when
    no schedule is given.
    """

    base: Optimizer
    schedules: tuple[tuple[str, Schedule], ...]
    states: list[Any] = attrs.field(init=False)
    values: dict[str, Any] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        fields = set(self.base.hyperparameters())
        for name, _ in self.schedules:
            if name not in fields:
                raise InvalidArgumentError(
                    f"schedules: {type(self.base).__name__} has no hyperparameter "
                    f"{name!r}.{did_you_mean(name, fields)} Hyperparameters: "
                    f"{', '.join(sorted(fields))}"
                )
        self.states = [schedule.init() for _, schedule in self.schedules]

    def at(self, step: int, loss: float) -> Optimizer:
        """The optimizer to use for step ``step``, given the current loss."""
        values = {}
        for i, (name, schedule) in enumerate(self.schedules):
            values[name], self.states[i] = schedule.value(
                step, getattr(self.base, name), loss, self.states[i])
        self.values = values
        try:
            return cast(Optimizer, attrs.evolve(cast(Any, self.base), **values))
        except ValueError as exc:
            shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise InvalidArgumentError(
                f"at step {step} the schedules gave {shown}, which "
                f"{type(self.base).__name__} refuses ({exc}); give the schedule a "
                "min_value > 0 or a horizon (total_steps) of at least max_steps"
            ) from exc


def build_schedules(spec: Any, registry: Any) -> tuple[tuple[str, Schedule], ...]:
    """``{"lr": "cosine" | Schedule | {"name": ..., ...}}`` as (name, Schedule) pairs."""
    if not spec:
        return ()
    if not isinstance(spec, Mapping):
        raise InvalidArgumentError(
            f"'schedules' must map hyperparameter names to schedules: {spec!r}"
        )
    return tuple((name, registry.build("schedule", s, Schedule)) for name, s in spec.items())
