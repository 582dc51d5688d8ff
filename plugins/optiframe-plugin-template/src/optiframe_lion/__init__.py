"""Lion (Chen et al., 2023), an optiframe plugin: the template to copy.

The update, for gradient g, momentum m and decoupled weight decay wd::

    c = beta1 * m + (1 - beta1) * g
    x = x - lr * (sign(c) + wd * x)
    m = beta2 * m + (1 - beta2) * g

Example
-------
>>> import optiframe as of
>>> from optiframe_lion import Lion
>>> r = of.minimize("sphere", [1.0, -2.0], optimizer=Lion(lr=0.01), max_steps=1000)
>>> bool(r.fun < 1e-3)
True
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

import optiframe
from optiframe.optimizers import ChainedOptimizer, Transform
from optiframe.optimizers._fields import learning_rate, nonnegative, unit_interval
from optiframe.optimizers.transforms import AddDecayedWeights, ScaleByLearningRate

__all__ = ["Lion", "LionState", "ScaleByLion"]


@attrs.frozen
class LionState:
    """Lion's momentum: an exponential average of the gradients."""

    momentum: np.ndarray


@attrs.frozen
class ScaleByLion(Transform):
    """``u -> sign(beta1 * m + (1 - beta1) * u)``; then ``m <- beta2 m + (1 - beta2) u``."""

    beta1: float = unit_interval(0.9)
    beta2: float = unit_interval(0.99)

    def init(self, x: np.ndarray) -> LionState:
        return LionState(momentum=np.zeros_like(x))

    def update(self, u: np.ndarray, state: LionState, x: np.ndarray) -> tuple[np.ndarray, Any]:
        direction = np.sign(self.beta1 * state.momentum + (1.0 - self.beta1) * u)
        momentum = self.beta2 * state.momentum + (1.0 - self.beta2) * u
        return direction, LionState(momentum=momentum)


@attrs.frozen(slots=False)
class Lion(ChainedOptimizer):
    """Lion: steps of size lr in the sign of an interpolated momentum (Chen et al., 2023)."""

    lr: Any = learning_rate(1e-4)  # noqa: RUF009
    beta1: float = unit_interval(0.9)
    beta2: float = unit_interval(0.99)
    weight_decay: float = nonnegative(0.0)

    def pieces(self) -> dict[str, Transform]:
        pieces: dict[str, Transform] = {"lion": ScaleByLion(self.beta1, self.beta2)}
        if self.weight_decay:
            pieces["weight_decay"] = AddDecayedWeights(self.weight_decay)
        pieces["lr"] = ScaleByLearningRate(self.lr)
        return pieces


@optiframe.hookimpl
def register_optimizers(register: Any) -> None:
    register("lion", Lion)
