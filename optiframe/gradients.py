"""How the slope is measured: finite differences, the analytic gradient, or ``auto``.

Finite differences follow scipy's rules. The default step is relative to |x|:
``eps**(1/3) * max(1, |x|)`` for central and ``eps**(1/2) * max(1, |x|)`` for forward
differences, with ``eps`` the machine epsilon of x's dtype, and the quotient divides by
the distance actually travelled between the two points. An absolute step
(``relative=False``) computes exactly the blog's ``(f(x + h) - f(x - h)) / (2 * h)``, bit
for bit. With ``substitute_zero_step`` (on by default for relative steps), a coordinate
whose step vanishes, ``(x + h) - x == 0``, gets the default relative step instead.

When the objective is row-vectorized, all perturbed points go to ``values`` in one call.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from ._validation import positive_finite
from .errors import InvalidArgumentError
from .hookspecs import hookimpl
from .objective import Objective

#: A gradient function bound to one objective: ``g = grad(x, fx)``; ``fx`` is f(x).
BoundGradient = Callable[[np.ndarray, Any], np.ndarray]


class GradientEstimator(abc.ABC):
    """How the gradient of an objective is obtained.

    Subclasses implement :meth:`gradient`; they may override :meth:`bind` to prepare
    a fast function for one objective, and :meth:`evaluations` to report their cost.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> class Backward(of.GradientEstimator):
    ...     def gradient(self, objective, x, fx=None):
    ...         fx = objective.value(x) if fx is None else fx
    ...         h = 1e-6
    ...         return np.array([(fx - objective.value(x - h * e)) / h for e in np.eye(x.size)])
    ...     def evaluations(self, objective, n):
    ...         return n, 1
    >>> r = of.minimize(lambda x: np.sum(x**2), [1.0, 2.0], gradient=Backward(), max_steps=5000)
    >>> r.status, bool(abs(r.x).max() < 1e-4)
    ('converged', True)
    """

    def for_objective(self, objective: Objective) -> GradientEstimator:
        """The estimator to use for ``objective`` (``auto`` picks one here)."""
        return self

    @abc.abstractmethod
    def gradient(self, objective: Objective, x: np.ndarray, fx: Any = None) -> np.ndarray:
        """The gradient of ``objective`` at ``x`` (shape (n,)); ``fx`` is f(x) if known."""

    def bind(self, objective: Objective) -> BoundGradient:
        """Return ``grad(x, fx)`` for ``objective``; raise here if it cannot work."""
        return functools.partial(self.gradient, objective)

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        """(function evaluations, gradient evaluations) spent on one gradient in ``n``-D."""
        return 0, 1


def _default_relative_step(dtype: np.dtype, power: float) -> float:
    return float(np.finfo(dtype).eps ** power)


@attrs.frozen
class _FiniteDifference(GradientEstimator):
    step: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive_finite)
    )
    relative: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    substitute_zero_step: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(bool))
    )

    _power = 1.0 / 3.0

    def _steps(self, x: np.ndarray) -> np.ndarray:
        """The per-coordinate step at ``x``, in x's dtype."""
        default = _default_relative_step(x.dtype, self._power)
        base = default if self.step is None else self.step
        if self.relative:
            h = (base * np.maximum(1.0, np.abs(x))).astype(x.dtype, copy=False)
        else:
            h = np.full(x.shape, base, dtype=x.dtype)
        substitute = self.relative if self.substitute_zero_step is None else (
            self.substitute_zero_step
        )
        # A relative step >= eps can never vanish; only smaller ones need the check.
        if substitute and (not self.relative or base < np.finfo(x.dtype).eps):
            vanished = (x + h) - x == 0
            if vanished.any():
                fallback = (default * np.maximum(1.0, np.abs(x))).astype(x.dtype, copy=False)
                h = np.where(vanished, fallback, h)
        return h

    def gradient(self, objective: Objective, x: np.ndarray, fx: Any = None) -> np.ndarray:
        return self.bind(objective)(x, fx)


@attrs.frozen
class CentralDifference(_FiniteDifference):
    """Central differences: ``(f(x + h) - f(x - h)) / 2h`` per coordinate; 2n evaluations.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> est = of.CentralDifference()
    >>> g = est.gradient(of.FunctionObjective.from_callable(lambda p: np.sum(p**2)),
    ...                  np.array([1.0, -2.0]))
    >>> np.allclose(g, [2.0, -4.0], rtol=1e-9)
    True
    """

    def bind(self, objective: Objective) -> BoundGradient:
        if objective.vectorized:
            return functools.partial(self._vectorized, objective.values)
        value = objective.value
        absolute = not self.relative and not self.substitute_zero_step
        h_abs = self.step if self.step is not None else None

        def central(x: np.ndarray, fx: Any = None) -> np.ndarray:
            if x.ndim != 1:
                return np.stack([central(row) for row in x])
            n = x.shape[0]
            if absolute and h_abs is not None:
                # The blog's loop, operation for operation.
                if n == 1:
                    return np.array([(value(x + h_abs) - value(x - h_abs)) / (2 * h_abs)],
                                    dtype=x.dtype)
                g = np.empty_like(x)
                for i in range(n):
                    xp = x.copy()
                    xp[i] += h_abs
                    xm = x.copy()
                    xm[i] -= h_abs
                    g[i] = (value(xp) - value(xm)) / (2 * h_abs)
                return g
            h = self._steps(x)
            g = np.empty_like(x)
            for i in range(n):
                xp = x.copy()
                xp[i] += h[i]
                xm = x.copy()
                xm[i] -= h[i]
                den = 2 * h[i] if not self.relative else xp[i] - xm[i]
                g[i] = (value(xp) - value(xm)) / den
            return g

        return central

    def _vectorized(self, values: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                    fx: Any = None) -> np.ndarray:
        n = x.shape[-1]
        h = self._steps(x)
        idx = np.arange(n)
        points = np.repeat(x[..., None, :], 2 * n, axis=-2)  # (..., 2n, n)
        points[..., idx, idx] += h
        points[..., n + idx, idx] -= h
        f = np.asarray(values(points.reshape(-1, n))).reshape((*x.shape[:-1], 2 * n))
        den = points[..., idx, idx] - points[..., n + idx, idx] if self.relative else 2 * h
        return ((f[..., :n] - f[..., n:]) / den).astype(x.dtype, copy=False)

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        return 2 * n, 1


@attrs.frozen
class ForwardDifference(_FiniteDifference):
    """Forward differences: ``(f(x + h) - f(x)) / h`` per coordinate; n evaluations.

    Less accurate than central differences (error of order h instead of h**2) for half
    the cost; its default relative step is ``eps**(1/2)``.
    """

    _power = 1.0 / 2.0

    def bind(self, objective: Objective) -> BoundGradient:
        vectorized = objective.vectorized
        value, values = objective.value, objective.values

        def forward(x: np.ndarray, fx: Any = None) -> np.ndarray:
            if x.ndim != 1 and not vectorized:
                return np.stack([forward(row) for row in x])
            n = x.shape[-1]
            h = self._steps(x)
            idx = np.arange(n)
            points = np.repeat(x[..., None, :], n, axis=-2)
            points[..., idx, idx] += h
            f0 = fx if fx is not None else (values(x) if x.ndim > 1 else value(x))
            f0 = np.asarray(f0, dtype=float)[..., None]
            if vectorized:
                f = np.asarray(values(points.reshape(-1, n))).reshape((*x.shape[:-1], n))
            else:
                f = np.array([value(p) for p in points])
            den = points[..., idx, idx] - x if self.relative else h
            return ((f - f0) / den).astype(x.dtype, copy=False)

        return forward

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        return n, 1


@attrs.frozen
class AnalyticGradient(GradientEstimator):
    """The objective's own ``gradient`` method: exact and cheapest when available."""

    def bind(self, objective: Objective) -> BoundGradient:
        if not objective.has_gradient:
            raise InvalidArgumentError(
                f"gradient='analytic' but {objective!r} has no analytic gradient: "
                "implement Objective.gradient, pass gradient=... to "
                "FunctionObjective.from_callable, or use gradient='central'"
            )
        grad = objective.gradient
        grads = objective.gradients

        def analytic(x: np.ndarray, fx: Any = None) -> np.ndarray:
            return grad(x) if x.ndim == 1 else grads(x)

        return analytic

    def gradient(self, objective: Objective, x: np.ndarray, fx: Any = None) -> np.ndarray:
        return self.bind(objective)(x, fx)


@attrs.frozen
class AutoGradient(GradientEstimator):
    """The analytic gradient when the objective has one, else central differences."""

    def for_objective(self, objective: Objective) -> GradientEstimator:
        return AnalyticGradient() if objective.has_gradient else CentralDifference()

    def gradient(self, objective: Objective, x: np.ndarray, fx: Any = None) -> np.ndarray:
        return self.for_objective(objective).gradient(objective, x, fx)

    def bind(self, objective: Objective) -> BoundGradient:
        return self.for_objective(objective).bind(objective)

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        return self.for_objective(objective).evaluations(objective, n)


@hookimpl
def register_gradient_estimators(register):  # type: ignore[no-untyped-def]
    register("central", CentralDifference)
    register("forward", ForwardDifference)
    register("analytic", AnalyticGradient)
    register("auto", AutoGradient)
