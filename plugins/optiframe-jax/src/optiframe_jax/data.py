"""A training loss written with jax.numpy, for minibatch runs.

Example
-------
>>> import numpy as np, jax.numpy as jnp, optiframe as of
>>> from optiframe_jax import JaxData
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(256, 3)); y = X @ np.array([1.0, -2.0, 0.5])
>>> data = JaxData(lambda w, x, t: (x @ w - t) ** 2, X, y, dim=3, per_sample=True)
>>> r = of.minimize(data, np.zeros(3), optimizer=of.GradientDescent(lr=0.1),
...                 gradient="jax", batch_size=32, epochs=20, seed=0)
>>> r.x.round(4).tolist()
[1.0, -2.0, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import optiframe as of
from optiframe.data import DataObjective

from .jaxlib import enable_x64, jax_modules


class JaxData(DataObjective):
    """The mean loss over ``(X, y)`` of ``loss``, a function written with jax.numpy.

    ``loss(params, Xb, yb)`` is the mean loss over a batch of rows; with
    ``per_sample=True`` it is one sample's loss, ``loss(params, x, y)``, and the batch's
    is the mean of ``jax.vmap(loss)`` over its rows. ``dim`` is the number of parameters.
    Its analytic gradient is ``jax.grad``, so ``gradient="jax"``, ``"analytic"`` and
    ``"auto"`` all use it. Creating one switches jax to float64.
    """

    trusted = True  # jax arrays cannot be written to; jax.grad's shape is params'

    def __init__(self, loss: Callable[..., Any], X: Any, y: Any, *, dim: int,
                 per_sample: bool = False) -> None:
        if not callable(loss):
            raise of.InvalidTypeError(f"JaxData's 'loss' must be callable: {loss!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise of.InvalidArgumentError(f"JaxData's 'dim' must be an integer >= 1: {dim!r}")
        super().__init__(X, y)
        jax, jnp = jax_modules()
        enable_x64()
        self.dim = dim
        self.jax_loss = loss
        self.per_sample = bool(per_sample)
        if self.per_sample:
            each = jax.vmap(loss, in_axes=(None, 0, 0))

            def batch(params: Any, Xb: Any, yb: Any) -> Any:
                return jnp.mean(each(params, Xb, yb))
        else:
            batch = loss
        self._batch = batch
        self._value = jax.jit(batch)
        self._value_and_grad = jax.jit(jax.value_and_grad(batch))
        self._grads: dict[bool, Any] = {}

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The samples ``idx``: X's rows as float64, and their targets."""
        return self._rows(idx)

    def compiled_gradient(self, stack: bool) -> Any:
        """``grad(params, Xb, yb)``, compiled; with ``stack``, params is (K, dim) and each
        row gets its gradient on the same batch."""
        if stack not in self._grads:
            jax, _ = jax_modules()
            one = jax.grad(self._batch)
            self._grads[stack] = jax.jit(jax.vmap(one, in_axes=(0, None, None)) if stack
                                         else one)
        return self._grads[stack]

    def batch_loss(self, params: np.ndarray, idx: np.ndarray) -> float:
        Xb, yb = self._rows(idx)
        return float(self._value(params, Xb, yb))

    def batch_loss_and_gradient(self, params: np.ndarray,
                                idx: np.ndarray) -> tuple[float, np.ndarray]:
        Xb, yb = self._rows(idx)
        loss, g = self._value_and_grad(params, Xb, yb)
        return float(loss), np.array(g, dtype=params.dtype)

    def __repr__(self) -> str:
        name = getattr(self.jax_loss, "__name__", repr(self.jax_loss))
        return f"JaxData({name!r}, {self.n_samples} samples, dim={self.dim})"
