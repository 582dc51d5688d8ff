"""The named optimizers, each a short chain of pieces with torch.optim's defaults.

======== ============================================= ==================================
name     pieces                                        torch.optim equivalent
======== ============================================= ==================================
momentum decayed weights, trace, learning rate         SGD(momentum=0.9)
nesterov decayed weights, trace (nesterov), l. rate    SGD(momentum=0.9, nesterov=True)
adagrad  decayed weights, adagrad scaling, l. rate     Adagrad
rmsprop  decayed weights, rms scaling, [trace], l. r.  RMSprop
adam     decayed weights, adam scaling, l. rate        Adam
adamw    adam scaling, decayed weights, l. rate        AdamW (decoupled weight decay)
======== ============================================= ==================================
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np

from ..errors import InvalidArgumentError
from ._fields import flag, learning_rate, nonnegative, unit_interval
from .base import Optimizer
from .transforms import (
    AddDecayedWeights,
    Chain,
    ChainState,
    ScaleByAdagrad,
    ScaleByAdam,
    ScaleByLearningRate,
    ScaleByRms,
    Trace,
    Transform,
)


class ChainedOptimizer(Optimizer):
    """An optimizer defined by :meth:`pieces`; the chain is built once per instance."""

    def pieces(self) -> dict[str, Transform]:
        """The named pieces, in order."""
        raise NotImplementedError

    @functools.cached_property
    def chain(self) -> Chain:
        """The :class:`~optiframe.optimizers.transforms.Chain` this optimizer runs."""
        return Chain(self.pieces())

    def init(self, x: np.ndarray) -> ChainState:
        return self.chain.init(x)

    def step(self, x: np.ndarray, grad: np.ndarray, state: ChainState) -> tuple[np.ndarray, Any]:
        return self.chain.step(x, grad, state)


def _decay(weight_decay: float) -> dict[str, Transform]:
    return {"weight_decay": AddDecayedWeights(weight_decay)} if weight_decay else {}


@attrs.frozen(slots=False)
class Momentum(ChainedOptimizer):
    """Heavy-ball momentum (Polyak): ``b <- momentum b + (1 - dampening) g; x <- x - lr b``.

    Example
    -------
    >>> import optiframe as of
    >>> r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.Momentum(lr=1e-3),
    ...                 max_steps=20_000)
    >>> r.status, r.x.round(4).tolist()
    ('converged', [1.0, 1.0])
    """

    lr: Any = learning_rate(1e-3)
    momentum: float = unit_interval(0.9)
    dampening: float = unit_interval(0.0, closed_high=True)
    weight_decay: float = nonnegative(0.0)

    def pieces(self) -> dict[str, Transform]:
        return {**_decay(self.weight_decay),
                "trace": Trace(self.momentum, self.dampening),
                "lr": ScaleByLearningRate(self.lr)}


@attrs.frozen(slots=False)
class Nesterov(ChainedOptimizer):
    """Nesterov momentum, as torch.optim.SGD(nesterov=True) computes it."""

    lr: Any = learning_rate(1e-3)
    momentum: float = unit_interval(0.9)
    weight_decay: float = nonnegative(0.0)

    def __attrs_post_init__(self) -> None:
        if self.momentum <= 0.0:
            raise InvalidArgumentError(
                f"Nesterov momentum requires a momentum > 0: 'momentum' is {self.momentum!r}"
            )

    def pieces(self) -> dict[str, Transform]:
        return {**_decay(self.weight_decay),
                "trace": Trace(self.momentum, 0.0, nesterov=True),
                "lr": ScaleByLearningRate(self.lr)}


@attrs.frozen(slots=False)
class Adagrad(ChainedOptimizer):
    """AdaGrad: each coordinate's step shrinks with its accumulated squared gradients."""

    lr: Any = learning_rate(1e-2)
    lr_decay: float = nonnegative(0.0)
    weight_decay: float = nonnegative(0.0)
    initial_accumulator_value: float = nonnegative(0.0)
    eps: float = nonnegative(1e-10)

    def pieces(self) -> dict[str, Transform]:
        return {**_decay(self.weight_decay),
                "adagrad": ScaleByAdagrad(self.eps, self.initial_accumulator_value,
                                          self.lr_decay),
                "lr": ScaleByLearningRate(self.lr)}


@attrs.frozen(slots=False)
class RMSprop(ChainedOptimizer):
    """RMSProp: divide by a running RMS of the gradient; optional momentum and centering."""

    lr: Any = learning_rate(1e-2)
    alpha: float = unit_interval(0.99, closed_high=True)
    eps: float = nonnegative(1e-8)
    weight_decay: float = nonnegative(0.0)
    momentum: float = unit_interval(0.0)
    centered: bool = flag(False)

    def pieces(self) -> dict[str, Transform]:
        pieces = {**_decay(self.weight_decay),
                  "rms": ScaleByRms(self.alpha, self.eps, self.centered)}
        if self.momentum > 0.0:
            # torch starts the buffer at zero: momentum * 0 + u = u, as Trace's first step.
            pieces["trace"] = Trace(self.momentum)
        pieces["lr"] = ScaleByLearningRate(self.lr)
        return pieces


@attrs.frozen(slots=False)
class Adam(ChainedOptimizer):
    """Adam (Kingma and Ba, 2015), with optional AMSGrad; L2 ``weight_decay`` as in torch.

    Example
    -------
    >>> import optiframe as of
    >>> r = of.minimize("sphere", [3.0, -2.0], optimizer=of.Adam(lr=0.1), max_steps=2000,
    ...                 gtol=1e-6)
    >>> r.status
    'converged'
    """

    lr: Any = learning_rate(1e-3)
    beta1: float = unit_interval(0.9)
    beta2: float = unit_interval(0.999)
    eps: float = nonnegative(1e-8)
    weight_decay: float = nonnegative(0.0)
    amsgrad: bool = flag(False)

    def pieces(self) -> dict[str, Transform]:
        return {**_decay(self.weight_decay),
                "adam": ScaleByAdam(self.beta1, self.beta2, self.eps, self.amsgrad),
                "lr": ScaleByLearningRate(self.lr)}


@attrs.frozen(slots=False)
class AdamW(ChainedOptimizer):
    """AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay."""

    lr: Any = learning_rate(1e-3)
    beta1: float = unit_interval(0.9)
    beta2: float = unit_interval(0.999)
    eps: float = nonnegative(1e-8)
    weight_decay: float = nonnegative(1e-2)
    amsgrad: bool = flag(False)

    def pieces(self) -> dict[str, Transform]:
        return {"adam": ScaleByAdam(self.beta1, self.beta2, self.eps, self.amsgrad),
                **_decay(self.weight_decay),
                "lr": ScaleByLearningRate(self.lr)}
