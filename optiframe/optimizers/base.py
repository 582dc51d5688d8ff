"""The :class:`Optimizer` interface and ``gd``, plain gradient descent.

An optimizer is a frozen attrs class of hyperparameters with two methods, in optax's
style: ``init(x)`` makes the state (a frozen attrs class with named fields) and
``step(x, grad, state)`` returns the new x and the new state. Nothing is mutated, so
one optimizer object can serve many runs at once. Steps are written elementwise, so
they work on a single point of shape (n,) and on K points of shape (K, n) alike.
"""

from __future__ import annotations

import abc
from typing import Any, cast

import attrs
import numpy as np

from ._fields import learning_rate, line_search_field


@attrs.frozen
class EmptyState:
    """The state of an optimizer that keeps none (plain gradient descent)."""


class Optimizer(abc.ABC):
    """Base class of optimizers: subclass it as a frozen attrs class.

    Example
    -------
    >>> import attrs, numpy as np, optiframe as of
    >>> @attrs.frozen
    ... class SignDescent(of.Optimizer):
    ...     lr: float = 0.01
    ...     def init(self, x):
    ...         return of.EmptyState()
    ...     def step(self, x, grad, state):
    ...         return x - self.lr * np.sign(grad), state
    >>> r = of.minimize(lambda x: np.sum(x**2), [1.0, -1.0], optimizer=SignDescent(lr=0.25))
    >>> r.x.tolist()
    [0.0, 0.0]
    """

    @abc.abstractmethod
    def init(self, x: np.ndarray) -> Any:
        """Return the initial state for iterate ``x`` (shape (n,) or (K, n))."""

    @abc.abstractmethod
    def step(self, x: np.ndarray, grad: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """Return ``(new_x, new_state)``; never modify ``x``, ``grad`` or ``state``."""

    def inverse_hessian(self, state: Any) -> np.ndarray | None:
        """The inverse Hessian approximation the state holds for its first row (scipy's
        ``hess_inv``), or None for an optimizer that keeps none."""
        return None

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters by name (the attrs fields of the class)."""
        if not attrs.has(type(self)):
            return {}
        fields = attrs.fields(cast(Any, type(self)))
        return {f.name: getattr(self, f.name) for f in fields}


@attrs.frozen
class GradientDescent(Optimizer):
    """Plain gradient descent: ``x <- x - lr * grad``.

    ``lr`` is a finite number > 0, or an array of them (one learning rate per
    coordinate, broadcast against x). With a ``line_search`` (``"armijo"``, ``"wolfe"``)
    ``-lr * grad`` is the first trial of each step, whose length the search adapts.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> r = of.minimize(lambda x: np.sum(x**2), [3.0, 3.0],
    ...                 optimizer=of.GradientDescent(lr=0.01), max_steps=100)
    >>> np.round(r.x, 8).tolist()
    [0.39785867, 0.39785867]
    """

    lr: Any = learning_rate(0.01)
    line_search: Any = line_search_field(None)

    def init(self, x: np.ndarray) -> EmptyState:
        return EmptyState()

    def step(self, x: np.ndarray, grad: np.ndarray, state: EmptyState) -> tuple[np.ndarray, Any]:
        return x - self.lr * grad, state
