"""How the slope is measured: finite differences, the analytic gradient, or ``auto``.

Finite differences follow scipy's rules. The default step is relative to ``|x|``:
``eps**(1/3) * max(1, |x|)`` for central and ``eps**(1/2) * max(1, |x|)`` for forward
differences, with ``eps`` the machine epsilon of x's dtype, and the quotient divides by
the distance actually travelled between the two points. An absolute step
(``relative=False``) computes exactly the blog's ``(f(x + h) - f(x - h)) / (2 * h)``, bit
for bit. With ``substitute_zero_step`` (on by default for relative steps), a coordinate
whose step vanishes, ``(x + h) - x == 0``, gets the default relative step instead.

The perturbed points of each x are built as one stack (:func:`perturbed_values`); a
row-vectorized objective evaluates it in one call (in cache-sized blocks when it is very
large), any other objective point by point.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from ._validation import check_int, positive_finite
from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .objective import Objective

#: A gradient function bound to one objective: ``g = grad(x)`` (``grad(x, rngs)`` when the
#: estimator is stochastic).
BoundGradient = Callable[..., np.ndarray]


class GradientEstimator(abc.ABC):
    """How the gradient of an objective is obtained.

    Subclasses implement :meth:`gradient`; they may override :meth:`bind` (one point)
    and :meth:`bind_stack` (a stack of points, one per row) to prepare fast functions
    for one objective, and :meth:`evaluations` to report their cost.

    A stochastic estimator sets ``stochastic = True``: its bound functions then take the
    run's random streams too, ``grad(x, rngs)`` and ``grad(X, rngs)``, one
    :class:`numpy.random.Generator` per row (a list of one for a single point). Each
    start's stream comes from the run's seed, is the same on every executor, and is
    saved by checkpoints; draw only from it.

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

    #: True when the estimator draws random numbers (see the class docstring)
    stochastic = False

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


#: A stack of perturbed points up to this many numbers goes to ``values`` in one call.
SINGLE_CALL_NUMBERS = 2**16
#: Larger stacks go in blocks of about this many numbers (128 KiB of float64): blocks
#: this size stay in cache, and the objective's temporaries stay below glibc's mmap
#: threshold, which otherwise pages them in anew on every call.
BLOCK_NUMBERS = 2**14


def perturbed_values(values: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                     H: np.ndarray, signs: tuple[float, ...], with_x: bool,
                     block_size: int | None, scratch: dict[Any, np.ndarray]) -> np.ndarray:
    """f at every perturbed point of every row of ``X`` (shape (K, n)), as (K, m).

    Row x of X gives ``m = len(signs) * n (+ 1)`` points: for each sign s and
    coordinate c, x with ``x[c] + s * h[c]`` (so ``x[c] + h`` or ``x[c] - h`` exactly),
    then x itself when ``with_x``. The points go to the row-vectorized ``values`` in
    one call, or in blocks of rows (see :data:`SINGLE_CALL_NUMBERS`); ``scratch``
    keeps the point buffer between calls.
    """
    K, n = X.shape
    m = len(signs) * n + (1 if with_x else 0)
    total = K * m
    if block_size is not None:
        rows = block_size
    elif total * n <= SINGLE_CALL_NUMBERS:
        rows = total
    else:
        rows = max(1, BLOCK_NUMBERS // n)
    rows = min(rows, total)
    key = (rows, n, X.dtype)
    buf = scratch.get(key)
    if buf is None:
        scratch.clear()
        buf = scratch[key] = np.empty((rows, n), dtype=X.dtype)
    if rows == total:  # one call; the perturbed entries are strided diagonals
        points = buf.reshape(K, m, n)
        points[...] = X[:, None, :]
        flat = points.reshape(K, m * n)
        for i, sign in enumerate(signs):
            diagonal = flat[:, i * n * n : (i + 1) * n * n : n + 1]
            if sign > 0:
                diagonal += H
            else:
                diagonal -= H
        return np.asarray(values(buf), dtype=float).reshape(K, m)
    sign_of = np.array(signs, dtype=X.dtype)
    f = np.empty(total)
    for r0 in range(0, total, rows):
        r1 = min(total, r0 + rows)
        k, j = np.divmod(np.arange(r0, r1), m)
        block = buf[: r1 - r0]
        np.take(X, k, axis=0, out=block)
        moved = np.flatnonzero(j < len(signs) * n)
        c = j[moved] % n
        block[moved, c] += sign_of[j[moved] // n] * H[k[moved], c]
        f[r0:r1] = np.asarray(values(block), dtype=float).reshape(-1)
    return f.reshape(K, m)


def _row_values(objective: Objective) -> Callable[[np.ndarray], np.ndarray]:
    """f for each row of a stack: one call if the objective is row-vectorized."""
    if objective.vectorized:
        return objective.values
    value = objective.value
    return lambda P: np.array([value(p) for p in P])


def _positive_int(instance: Any, attribute: Any, value: Any) -> None:
    check_int(attribute.name, value, minimum=1)


@attrs.frozen
class _FiniteDifference(GradientEstimator):
    step: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(positive_finite)
    )
    relative: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    substitute_zero_step: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(bool))
    )
    block_size: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive_int)
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
        return self.bind(objective)  # the bound function takes (n,) and (K, n) alike


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
        evaluate = _row_values(objective)
        # the blog's 1-D loop, decided once: absolute step, no substitution, one point a call
        blog = not self.relative and not self.substitute_zero_step and not objective.vectorized
        h_abs = self.step if self.step is not None else _default_relative_step(_F64, self._power)
        value = objective.value
        scratch: dict[Any, np.ndarray] = {}
        one = (1,)

        def central(x: np.ndarray) -> np.ndarray:
            if blog and x.shape == one:
                # The blog's 1-D loop, operation for operation, without building a stack.
                slope = (value(x + h_abs) - value(x - h_abs)) / (2 * h_abs)
                return np.array([slope]) if x.dtype == _F64 else np.array([slope], x.dtype)
            n = x.shape[-1]
            h = self._steps(x)
            X, H = x.reshape(-1, n), h.reshape(-1, n)
            f = perturbed_values(evaluate, X, H, (1.0, -1.0), False, self.block_size, scratch)
            den = (X + H) - (X - H) if self.relative else 2 * H
            g = (f[:, :n] - f[:, n:]) / den
            return g.reshape(x.shape).astype(x.dtype, copy=False)

        return central

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
        evaluate = _row_values(objective)
        scratch: dict[Any, np.ndarray] = {}

        def forward(x: np.ndarray) -> np.ndarray:
            n = x.shape[-1]
            h = self._steps(x)
            X, H = x.reshape(-1, n), h.reshape(-1, n)
            f = perturbed_values(evaluate, X, H, (1.0,), True, self.block_size, scratch)
            den = (X + H) - X if self.relative else H
            g = (f[:, :n] - f[:, n:]) / den
            return g.reshape(x.shape).astype(x.dtype, copy=False)

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


@attrs.frozen
class SPSA(GradientEstimator):
    """Simultaneous perturbation (Spall, 1992): every coordinate moved at once.

    ``g = (f(x + h*d) - f(x - h*d)) / (2 h) * d`` per coordinate, with ``d`` a random
    vector of +-1 drawn from the start's own random stream and ``h = step * max(1, |x|)``
    (``relative=True``) or ``step``: two evaluations per gradient whatever n (times
    ``samples``, the number of directions averaged). An unbiased estimate (up to O(h^2))
    whose noise shrinks as the steps add up: pair it with a small learning rate or a
    decaying schedule, and a ``seed`` for a reproducible run.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> r = of.minimize(lambda x: float(np.sum((x - 1.0) ** 2)), np.zeros(20),
    ...                 gradient="spsa", optimizer=of.GradientDescent(lr=0.02),
    ...                 max_steps=3000, seed=1)
    >>> r.status, bool(np.abs(r.x - 1).max() < 1e-6)
    ('converged', True)
    >>> r.nfev == 1 + 3 * r.nit + 2   # f(x0); per step 2 for the slope and f(x); the last slope
    True
    """

    step: float = attrs.field(default=1e-4, validator=positive_finite)
    relative: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    samples: int = attrs.field(default=1, validator=_positive_int)

    stochastic = True

    def _directions(self, rngs: Any, n: int) -> np.ndarray:
        """(rows, samples, n) directions of +-1, each row from its own stream (exactly
        ``samples * n`` doubles drawn from it)."""
        return np.stack([np.where(rng.random((self.samples, n)) < 0.5, -1.0, 1.0)
                         for rng in rngs])

    def _estimate(self, evaluate: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                  rngs: Any) -> np.ndarray:
        K, n = X.shape
        D = self._directions(rngs, n)  # (K, m, n)
        H = (self.step * np.maximum(1.0, np.abs(X)) if self.relative
             else np.full(X.shape, self.step))[:, None, :]  # (K, 1, n)
        points = np.concatenate([X[:, None, :] + H * D, X[:, None, :] - H * D], axis=1)
        m = self.samples
        f = np.asarray(evaluate(points.reshape(-1, n)), dtype=float).reshape(K, 2, m)
        slopes = (f[:, 0] - f[:, 1])[:, :, None] / (2.0 * H) * D  # (K, m, n)
        return slopes.mean(axis=1)

    def bind(self, objective: Objective) -> BoundGradient:
        evaluate = _row_values(objective)

        def spsa(x: np.ndarray, rngs: Any) -> np.ndarray:
            return self._estimate(evaluate, x.reshape(1, -1), rngs).reshape(x.shape)

        return spsa

    def bind_stack(self, objective: Objective) -> BoundGradient:
        evaluate = _row_values(objective)

        def spsa(X: np.ndarray, rngs: Any) -> np.ndarray:
            return self._estimate(evaluate, X, rngs)

        return spsa

    def gradient(self, objective: Objective, x: np.ndarray, rng: Any = None) -> np.ndarray:
        """One estimate at ``x`` from ``rng`` (a Generator; a fresh unseeded one if None)."""
        rng = np.random.default_rng() if rng is None else rng
        return self.bind(objective)(x, [rng])

    def evaluations(self, objective: Objective, n: int) -> tuple[int, int]:
        return 2 * self.samples, 1



@hookimpl
def register_gradient_estimators(register: Register) -> None:
    register("central", CentralDifference)
    register("forward", ForwardDifference)
    register("analytic", AnalyticGradient)
    register("auto", AutoGradient)
    register("spsa", SPSA)
