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

import attrs
import numpy as np

from ._validation import positive_finite
from .errors import InvalidArgumentError
from .hookspecs import hookimpl
from .objective import Objective

#: A gradient function bound to one objective: ``g = grad(x)``.
BoundGradient = Callable[[np.ndarray], np.ndarray]


class GradientEstimator(abc.ABC):
    """How the gradient of an objective is obtained.

    Subclasses implement :meth:`gradient`; they may override :meth:`bind` (one point)
    and :meth:`bind_stack` (a stack of points, one per row) to prepare fast functions
    for one objective, and :meth:`evaluations` to report their cost.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> class Backward(of.GradientEstimator):
    ...     def gradient(self, objective, x):
    ...         fx = objective.value(x)
    ...         h = 1e-6
    ...         return np.array([(fx - objective.value(x - h * e)) / h for e in np.eye(x.size)])
    ...     def evaluations(self, objective, n):
    ...         return n + 1, 1
    >>> r = of.minimize(lambda x: np.sum(x**2), [1.0, 2.0], gradient=Backward(), max_steps=5000)
    >>> r.status, bool(abs(r.x).max() < 1e-4)
    ('converged', True)
    """

    def for_objective(self, objective: Objective) -> GradientEstimator:
        """The estimator to use for ``objective`` (``auto`` picks one here)."""
        return self

    @abc.abstractmethod
    def gradient(self, objective: Objective, x: np.ndarray) -> np.ndarray:
        """The gradient of ``objective`` at the point ``x`` (shape (n,))."""

    def bind(self, objective: Objective) -> BoundGradient:
        """Return ``grad(x)`` for points of ``objective``; raise here if it cannot work."""
        return functools.partial(self.gradient, objective)

    def bind_stack(self, objective: Objective) -> BoundGradient:
        """Return ``grad(X)`` for a stack of points (shape (K, n)), one gradient per row."""
        one = self.bind(objective)

        def rows(X: np.ndarray) -> np.ndarray:
            return np.stack([one(x) for x in X])

        return rows

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        """(function evaluations, gradient evaluations) spent on one gradient in ``n``-D."""
        return 0, 1


_F64 = np.dtype(np.float64)
_EPS: dict[np.dtype, float] = {}


def _eps(dtype: np.dtype) -> float:
    """Machine epsilon of a float dtype (cached: np.finfo costs a microsecond)."""
    eps = _EPS.get(dtype)
    if eps is None:
        eps = _EPS[dtype] = float(np.finfo(dtype).eps)
    return eps


def _default_relative_step(dtype: np.dtype, power: float) -> float:
    return _eps(dtype) ** power


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
            h = np.abs(x)
            np.maximum(h, 1.0, out=h)
            h *= base
        else:
            h = np.full(x.shape, base, dtype=x.dtype)
        substitute = self.relative if self.substitute_zero_step is None else (
            self.substitute_zero_step
        )
        # A relative step >= eps can never vanish; only smaller ones need the check.
        if substitute and (not self.relative or base < _eps(x.dtype)):
            vanished = (x + h) - x == 0
            if vanished.any():
                fallback = (default * np.maximum(1.0, np.abs(x))).astype(x.dtype, copy=False)
                h = np.where(vanished, fallback, h)
        return h

    def gradient(self, objective: Objective, x: np.ndarray) -> np.ndarray:
        return self.bind(objective)(x)

    def bind_stack(self, objective: Objective) -> BoundGradient:
        if objective.vectorized:
            return self.bind(objective)
        return super().bind_stack(objective)


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
            return self._bind_vectorized(objective.values)
        value = objective.value
        if not self.relative and not self.substitute_zero_step:
            h = self.step if self.step is not None else _default_relative_step(
                np.dtype(float), self._power)
            two_h = 2 * h

            def blog_central(x: np.ndarray) -> np.ndarray:
                # The blog's loop, operation for operation.
                if x.shape[0] == 1:
                    slope = (value(x + h) - value(x - h)) / two_h
                    return np.array([slope]) if x.dtype == _F64 else np.array([slope], x.dtype)
                g = np.empty_like(x)
                for i in range(x.shape[0]):
                    xp = x.copy()
                    xp[i] += h
                    xm = x.copy()
                    xm[i] -= h
                    g[i] = (value(xp) - value(xm)) / two_h
                return g

            return blog_central

        def central(x: np.ndarray) -> np.ndarray:
            h = self._steps(x)
            g = np.empty_like(x)
            for i in range(x.shape[0]):
                xp = x.copy()
                xp[i] += h[i]
                xm = x.copy()
                xm[i] -= h[i]
                den = 2 * h[i] if not self.relative else xp[i] - xm[i]
                g[i] = (value(xp) - value(xm)) / den
            return g

        return central

    def _bind_vectorized(self, values: Callable[[np.ndarray], np.ndarray]) -> BoundGradient:
        """All 2n perturbed points of each x go to ``values`` in one call.

        The (..., 2n, n) stack of points is a scratch buffer kept between calls: a fresh
        one per call is large enough that the allocator pages it in anew each time,
        which tripled the cost at n = 100. ``values`` must not keep a reference to it.
        """
        scratch: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}

        def vectorized_central(x: np.ndarray) -> np.ndarray:
            n = x.shape[-1]
            lead = x.shape[:-1]
            h = self._steps(x)
            key = (x.shape, x.dtype)
            points = scratch.get(key)
            if points is None:
                scratch.clear()
                points = scratch[key] = np.empty((*lead, 2 * n, n), dtype=x.dtype)
            points[...] = x[..., None, :]
            # The diagonals of the "+h" and "-h" blocks, as strided views.
            flat = points.reshape((*lead, 2 * n * n))
            plus = flat[..., : n * n : n + 1]
            minus = flat[..., n * n :: n + 1]
            plus += h
            minus -= h
            f = np.asarray(values(points.reshape(-1, n))).reshape((*lead, 2 * n))
            den = plus - minus if self.relative else 2 * h
            return ((f[..., :n] - f[..., n:]) / den).astype(x.dtype, copy=False)

        return vectorized_central

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        return 2 * n, 1


@attrs.frozen
class ForwardDifference(_FiniteDifference):
    """Forward differences: ``(f(x + h) - f(x)) / h`` per coordinate; n + 1 evaluations.

    Less accurate than central differences (error of order h instead of h**2) for half
    the cost; its default relative step is ``eps**(1/2)``.
    """

    _power = 1.0 / 2.0

    def bind(self, objective: Objective) -> BoundGradient:
        vectorized = objective.vectorized
        value, values = objective.value, objective.values

        def forward(x: np.ndarray) -> np.ndarray:
            n = x.shape[-1]
            h = self._steps(x)
            idx = np.arange(n)
            points = np.repeat(x[..., None, :], n + 1, axis=-2)  # x itself is the last row
            points[..., idx, idx] += h
            if vectorized:
                f = np.asarray(values(points.reshape(-1, n))).reshape((*x.shape[:-1], n + 1))
            else:
                f = np.array([value(p) for p in points])
            den = points[..., idx, idx] - x if self.relative else h
            return ((f[..., :n] - f[..., n:]) / den).astype(x.dtype, copy=False)

        return forward

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        return n + 1, 1


@attrs.frozen
class AnalyticGradient(GradientEstimator):
    """The objective's own ``gradient`` method: exact and cheapest when available."""

    def bind(self, objective: Objective) -> BoundGradient:
        self._check(objective)
        return objective.gradient

    def bind_stack(self, objective: Objective) -> BoundGradient:
        self._check(objective)
        return objective.gradients

    def gradient(self, objective: Objective, x: np.ndarray) -> np.ndarray:
        return self.bind(objective)(x)

    @staticmethod
    def _check(objective: Objective) -> None:
        if not objective.has_gradient:
            raise InvalidArgumentError(
                f"gradient='analytic' but {objective!r} has no analytic gradient: "
                "implement Objective.gradient, pass gradient=... to "
                "FunctionObjective.from_callable, or use gradient='central'"
            )


@attrs.frozen
class AutoGradient(GradientEstimator):
    """The analytic gradient when the objective has one, else central differences."""

    def for_objective(self, objective: Objective) -> GradientEstimator:
        return AnalyticGradient() if objective.has_gradient else CentralDifference()

    def gradient(self, objective: Objective, x: np.ndarray) -> np.ndarray:
        return self.for_objective(objective).gradient(objective, x)

    def bind(self, objective: Objective) -> BoundGradient:
        return self.for_objective(objective).bind(objective)

    def bind_stack(self, objective: Objective) -> BoundGradient:
        return self.for_objective(objective).bind_stack(objective)

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        return self.for_objective(objective).evaluations(objective, n)


@hookimpl
def register_gradient_estimators(register):  # type: ignore[no-untyped-def]
    register("central", CentralDifference)
    register("forward", ForwardDifference)
    register("analytic", AnalyticGradient)
    register("auto", AutoGradient)
