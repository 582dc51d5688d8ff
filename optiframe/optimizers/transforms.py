"""The pieces update rules are built from, and :class:`Chain`, which composes them.

A piece turns a proposed update ``u`` (at first the gradient) into another, given x and
its own state: ``update(u, state, x) -> (u, state)``. ``Chain`` applies pieces in order
and adds the final update to x, so the last piece is usually
:class:`ScaleByLearningRate`, which turns u into ``-lr * u``. Every piece is written
elementwise: it works on one point (n,) and on K points (K, n) alike.

Example
-------
Heavy-ball momentum, built by hand from the same pieces as ``"momentum"``:

>>> import numpy as np, optiframe as of
>>> from optiframe.optimizers.transforms import Chain, ScaleByLearningRate, Trace
>>> heavy_ball = Chain.of(trace=Trace(momentum=0.9), lr=ScaleByLearningRate(0.01))
>>> r = of.minimize("sphere", [3.0, -1.0], optimizer=heavy_ball, max_steps=500)
>>> r.status, bool(r.fun < 1e-12)
('converged', True)
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from .._validation import positive_finite
from ..errors import InvalidArgumentError
from ._fields import flag, learning_rate, nonnegative, unit_interval
from .base import EmptyState, Optimizer


class Transform(abc.ABC):
    """One piece of an update rule; subclass it as a frozen attrs class."""

    def init(self, x: np.ndarray) -> Any:
        """The piece's initial state for iterate ``x``."""
        return EmptyState()

    @abc.abstractmethod
    def update(self, u: np.ndarray, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """Return the transformed update and the new state; modify nothing."""


@attrs.frozen
class ChainState:
    """The state of a :class:`Chain`: each piece's state, by the piece's name."""

    states: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.states[name]


def _as_pieces(pieces: Any) -> tuple[tuple[str, Transform], ...]:
    items = tuple(pieces.items()) if isinstance(pieces, Mapping) else tuple(pieces)
    for name, piece in items:
        if not isinstance(piece, Transform):
            raise InvalidArgumentError(f"piece {name!r} of a Chain is not a Transform: {piece!r}")
    if len({name for name, _ in items}) != len(items):
        raise InvalidArgumentError(f"the pieces of a Chain need distinct names: {items!r}")
    return items


@attrs.frozen
class Chain(Optimizer):
    """An optimizer made of named pieces applied in order: ``x <- x + u``."""

    pieces: tuple[tuple[str, Transform], ...] = attrs.field(converter=_as_pieces)

    @classmethod
    def of(cls, **pieces: Transform) -> Chain:
        """``Chain.of(trace=Trace(0.9), lr=ScaleByLearningRate(0.01))``."""
        return cls(pieces)

    def init(self, x: np.ndarray) -> ChainState:
        return ChainState({name: piece.init(x) for name, piece in self.pieces})

    def step(self, x: np.ndarray, grad: np.ndarray, state: ChainState) -> tuple[np.ndarray, Any]:
        u = grad
        new_states = {}
        for name, piece in self.pieces:
            u, new_states[name] = piece.update(u, state.states[name], x)
        return x + u, ChainState(new_states)


# -- the pieces ------------------------------------------------------------------------


@attrs.frozen
class ScaleByLearningRate(Transform):
    """``u -> -lr * u``: the step downhill. ``lr`` may be an array, one per coordinate."""

    lr: Any = learning_rate(0.01)

    def update(self, u: np.ndarray, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return -self.lr * u, state


@attrs.frozen
class AddDecayedWeights(Transform):
    """``u -> u + weight_decay * x``: L2 regularization (torch's ``weight_decay``)."""

    weight_decay: float = nonnegative(0.0)

    def update(self, u: np.ndarray, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if self.weight_decay == 0.0:
            return u, state
        return u + self.weight_decay * x, state


@attrs.frozen
class CountState:
    """A step counter."""

    count: int


@attrs.frozen
class TraceState:
    """The momentum buffer and the step count."""

    count: int
    buffer: np.ndarray


@attrs.frozen
class Trace(Transform):
    """Momentum: ``b <- momentum * b + (1 - dampening) * u`` (b = u on the first step).

    With ``nesterov`` the update is ``u + momentum * b``, else ``b`` (torch.optim.SGD).
    """

    momentum: float = unit_interval(0.9)
    dampening: float = unit_interval(0.0, closed_high=True)
    nesterov: bool = flag(False)

    def init(self, x: np.ndarray) -> TraceState:
        return TraceState(count=0, buffer=np.zeros_like(x))

    def update(self, u: np.ndarray, state: TraceState, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if state.count == 0:
            b = u.copy()
        else:
            b = self.momentum * state.buffer + (1.0 - self.dampening) * u
        out = u + self.momentum * b if self.nesterov else b
        return out, TraceState(count=state.count + 1, buffer=b)


@attrs.frozen
class AccumulatorState:
    """The running sum of squared gradients and the step count."""

    count: int
    sum_of_squares: np.ndarray


@attrs.frozen
class ScaleByAdagrad(Transform):
    """``u -> u / (sqrt(sum of u**2) + eps) / (1 + (t - 1) * lr_decay)`` (torch's Adagrad)."""

    eps: float = nonnegative(1e-10)
    initial_accumulator_value: float = nonnegative(0.0)
    lr_decay: float = nonnegative(0.0)

    def init(self, x: np.ndarray) -> AccumulatorState:
        return AccumulatorState(count=0, sum_of_squares=np.full_like(
            x, self.initial_accumulator_value))

    def update(self, u: np.ndarray, state: AccumulatorState,
               x: np.ndarray) -> tuple[np.ndarray, Any]:
        count = state.count + 1
        acc = state.sum_of_squares + u * u
        out = u / (np.sqrt(acc) + self.eps)
        if self.lr_decay:
            out = out / (1.0 + (count - 1) * self.lr_decay)
        return out, AccumulatorState(count=count, sum_of_squares=acc)


@attrs.frozen
class RmsState:
    """Running averages of the squared gradient (and of the gradient, when centered)."""

    square_avg: np.ndarray
    grad_avg: np.ndarray


@attrs.frozen
class ScaleByRms(Transform):
    """``u -> u / (sqrt(avg of u**2 [- avg(u)**2]) + eps)`` (torch's RMSprop)."""

    alpha: float = unit_interval(0.99, closed_high=True)
    eps: float = nonnegative(1e-8)
    centered: bool = flag(False)

    def init(self, x: np.ndarray) -> RmsState:
        return RmsState(square_avg=np.zeros_like(x), grad_avg=np.zeros_like(x))

    def update(self, u: np.ndarray, state: RmsState, x: np.ndarray) -> tuple[np.ndarray, Any]:
        sq = self.alpha * state.square_avg + (1.0 - self.alpha) * (u * u)
        ga = state.grad_avg
        if self.centered:
            ga = self.alpha * ga + (1.0 - self.alpha) * u
            avg = np.sqrt(sq - ga * ga) + self.eps
        else:
            avg = np.sqrt(sq) + self.eps
        return u / avg, RmsState(square_avg=sq, grad_avg=ga)


@attrs.frozen
class AdamState:
    """Adam's moments, the running maximum of the second (amsgrad), and the step count."""

    count: int
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray


@attrs.frozen
class ScaleByAdam(Transform):
    """``u -> m_hat / (sqrt(v_hat) + eps)`` with bias-corrected moments (torch's Adam)."""

    beta1: float = unit_interval(0.9)
    beta2: float = unit_interval(0.999)
    eps: float = nonnegative(1e-8)
    amsgrad: bool = flag(False)

    def init(self, x: np.ndarray) -> AdamState:
        zeros = np.zeros_like(x)
        return AdamState(count=0, exp_avg=zeros, exp_avg_sq=zeros, max_exp_avg_sq=zeros)

    def update(self, u: np.ndarray, state: AdamState, x: np.ndarray) -> tuple[np.ndarray, Any]:
        count = state.count + 1
        m = self.beta1 * state.exp_avg + (1.0 - self.beta1) * u
        v = self.beta2 * state.exp_avg_sq + (1.0 - self.beta2) * (u * u)
        v_max = np.maximum(state.max_exp_avg_sq, v) if self.amsgrad else state.max_exp_avg_sq
        correction1 = 1.0 - self.beta1**count
        correction2_sqrt = np.sqrt(1.0 - self.beta2**count)
        denom = np.sqrt(v_max if self.amsgrad else v) / correction2_sqrt + self.eps
        out = (m / correction1) / denom
        return out, AdamState(count=count, exp_avg=m, exp_avg_sq=v, max_exp_avg_sq=v_max)


@attrs.frozen
class ScaleBySign(Transform):
    """``u -> sign(u)``."""

    def update(self, u: np.ndarray, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return np.sign(u), state


@attrs.frozen
class ClipByGlobalNorm(Transform):
    """``u -> u * min(1, max_norm / |u|)``: torch's ``clip_grad_norm_``, per point.

    The 2-norm is taken over the whole of each point (each row of a (K, n) stack), so the
    direction is kept and only the length is capped. Put it first in a chain to clip the
    gradient itself:

    >>> import numpy as np, optiframe as of
    >>> from optiframe.optimizers.transforms import Chain, ClipByGlobalNorm, ScaleByLearningRate
    >>> clipped = Chain.of(clip=ClipByGlobalNorm(1.0), lr=ScaleByLearningRate(0.1))
    >>> x, _ = clipped.step(np.zeros(2), np.array([30.0, 40.0]), clipped.init(np.zeros(2)))
    >>> x.round(12).tolist()
    [-0.06, -0.08]
    """

    max_norm: float = attrs.field(validator=positive_finite)

    def update(self, u: np.ndarray, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        norm = np.sqrt(np.sum(u * u, axis=-1, keepdims=True))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(norm > self.max_norm, self.max_norm / norm, 1.0)
        return u * scale, state


@attrs.frozen
class ClipByValue(Transform):
    """``u -> clip(u, -limit, limit)``: torch's ``clip_grad_value_``, per coordinate.

    >>> import numpy as np
    >>> from optiframe.optimizers.transforms import ClipByValue
    >>> ClipByValue(1.0).update(np.array([3.0, -0.5, -2.0]), None, None)[0].tolist()
    [1.0, -0.5, -1.0]
    """

    limit: float = attrs.field(validator=positive_finite)

    def update(self, u: np.ndarray, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return np.clip(u, -self.limit, self.limit), state
