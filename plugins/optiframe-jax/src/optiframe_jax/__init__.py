"""optiframe-jax: exact gradients of objectives written with ``jax.numpy``.

Installed, it registers the gradient estimator ``"jax"`` (:class:`JaxGradient`), so any
optimizer, a multi-start run, minibatch training, checkpoints and resume take
``gradient="jax"``; :class:`JaxData` is a training loss written with jax.numpy. jax is
imported when a run first uses it.

Example
-------
>>> import numpy as np, jax.numpy as jnp, optiframe as of
>>> rosen = lambda x: jnp.sum((1 - x[:-1])**2 + 100*(x[1:] - x[:-1]**2)**2)
>>> r = of.minimize(rosen, np.zeros(10), optimizer="lbfgs", gradient="jax")
>>> r.status, bool(np.allclose(r.x, 1.0, atol=1e-5))
('converged', True)
"""

from __future__ import annotations

from optiframe import hookimpl

from .data import JaxData
from .gradient import Conversions, JaxGradient

__all__ = ["Conversions", "JaxData", "JaxGradient"]


@hookimpl
def register_gradient_estimators(register: object) -> None:
    register("jax", JaxGradient)  # type: ignore[operator]
