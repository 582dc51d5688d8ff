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
from .objective import Objective, as_gradient, real_array, stacked_output
from .replay import note_unasked, point_by_point

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
    #: True when ``bind(objective, bounds=box)`` keeps every point it evaluates inside
    #: the box (see :mod:`optiframe.bounds`); a bounded run refuses other estimators
    supports_bounds = False
    #: True when values of f are all it needs, so it works on any objective; False when
    #: the objective must be written in a particular way (``"jax"``: with jax.numpy)
    black_box = True
    #: True when the bound functions take f at the points too, ``grad(x, f0)`` (a float;
    #: (K,) for a stack), and spare that evaluation: ``evaluations(objective, n,
    #: given_value=True)`` is then the cost (a run passes f wherever it knows it)
    uses_value = False

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

    def evaluations(self, objective: Objective, n: int, bounds: Any = None) -> tuple[int, int]:
        """(function evaluations, gradient evaluations) spent on one gradient in ``n``-D
        (within ``bounds``, when the estimator supports them)."""
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
    one call, or in blocks of rows (see :data:`SINGLE_CALL_NUMBERS`), each call with
    arrays of its own (``scratch`` is unused, kept for callers' signatures).
    """
    K, n = X.shape
    m = len(signs) * n + (1 if with_x else 0)
    total = K * m
    where = getattr(values, "__self__", "the objective")  # named in a type error
    if block_size is not None:
        rows = block_size
    elif total * n <= SINGLE_CALL_NUMBERS:
        rows = total
    else:
        rows = max(1, BLOCK_NUMBERS // n)
    rows = min(rows, total)
    # a fresh buffer each call: an objective may keep (or write into) the points it gets
    buf = np.empty((rows, n), dtype=X.dtype)
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
        return real_array(values(buf), where).reshape(K, m)
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
        try:
            f[r0:r1] = real_array(values(block), where).reshape(-1)
        except Exception as exc:  # the blocks after this one: not asked
            note_unasked(exc, total - r1)
            raise
    return f.reshape(K, m)


def row_values(objective: Objective) -> Callable[[np.ndarray], np.ndarray]:
    """f for each row of a stack: one call if the objective is row-vectorized (its
    answer checked: one real number per row, or a :class:`WrongOutputError`)."""
    if objective.vectorized:
        values = objective.values

        def checked(P: np.ndarray) -> np.ndarray:
            out = values(P)
            if type(out) is np.ndarray and out.dtype == _F64 and out.shape == (len(P),):
                return out  # (the usual answer, without a call)
            return stacked_output(out, values, (len(P),))

        return checked
    value = objective.value
    return lambda P: point_by_point(value, P, objective)  # (a stack's rows again: replayed)


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

    def steps(self, x: np.ndarray) -> np.ndarray:
        """The step each coordinate of ``x`` (a point or rows) takes, without bounds."""
        return self._steps(np.asarray(x, dtype=float))

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

    supports_bounds = True

    def gradient(self, objective: Objective, x: np.ndarray) -> np.ndarray:
        return self.bind(objective)(x)

    def bind_stack(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        # the bound function takes (n,) and (K, n) alike
        if bounds is None:
            return self.bind(objective)
        return self.bind(objective, bounds)  # type: ignore[call-arg]

    def _bounded(self, objective: Objective, box: Any, central: bool) -> BoundGradient:
        """Differences that never leave ``box``: central where x +- h fits, else one-sided
        of second order (``(-3 f(x) + 4 f(x+h) - f(x+2h)) / 2h``, or backward), with h
        shrunk where even that does not fit. One more evaluation (f(x)) per gradient."""
        evaluate = row_values(objective)

        def gradient(x: np.ndarray, f0: Any = None) -> np.ndarray:
            n = x.shape[-1]
            X = x.reshape(-1, n)
            H = self._steps(X)
            lo, hi = box.lo, box.hi
            room_up, room_down = hi - X, X - lo
            fits = central & (room_down >= H) & (room_up >= H)
            ahead = ~fits & (room_up >= 2 * H)
            behind = ~fits & ~ahead & (room_down >= 2 * H)
            narrow = ~(fits | ahead | behind)  # shrink h to the room there is
            up = narrow & (room_up >= room_down)
            H = np.where(narrow, np.maximum(room_up, room_down) / 2.0, H)
            sign = np.where(fits | ahead | up, 1.0, -1.0)
            H = (X + sign * H) - X  # the distance actually travelled
            one = np.where(fits, -1.0, 2.0)  # the second point: x - h (central) or x + 2h
            E = np.eye(n)
            P1 = X[:, None, :] + H[:, :, None] * E
            P2 = X[:, None, :] + (one * H)[:, :, None] * E
            parts = [P1, P2] if f0 is not None else [P1, P2, X[:, None, :]]
            P = np.clip(np.concatenate(parts, axis=1), lo, hi)
            f = np.asarray(evaluate(P.reshape(-1, n)), dtype=float).reshape(len(X), -1)
            f1, f2 = f[:, :n], f[:, n:2 * n]
            fx = f[:, 2 * n:] if f0 is None else np.asarray(f0, dtype=float).reshape(-1, 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(fits, (f1 - f2) / (2.0 * H), (-3.0 * fx + 4.0 * f1 - f2) / (2.0 * H))
            g = np.where(H == 0.0, 0.0, g)  # a fixed coordinate (lo == hi): no slope to follow
            return g.reshape(x.shape).astype(x.dtype, copy=False)

        return gradient


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

    uses_value = True  # with bounds, its one-sided differences need f(x)

    def bind(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        if bounds is not None:
            return self._bounded(objective, bounds, central=True)
        evaluate = row_values(objective)
        # the blog's 1-D loop, decided once: absolute step, no substitution, one point a call
        blog = not self.relative and not self.substitute_zero_step and not objective.vectorized
        h_abs = self.step if self.step is not None else _default_relative_step(_F64, self._power)
        value = objective.value
        scratch: dict[Any, np.ndarray] = {}
        one = (1,)

        def central(x: np.ndarray, f0: Any = None) -> np.ndarray:
            if blog and x.shape == one:
                # The blog's 1-D loop, operation for operation, without building a stack.
                try:
                    up = value(x + h_abs)
                except Exception as exc:  # f(x - h): not asked
                    note_unasked(exc, 1, first=True)
                    raise
                try:
                    down = value(x - h_abs)
                except Exception as exc:
                    note_unasked(exc, 0, first=True)
                    raise
                slope = (up - down) / (2 * h_abs)
                return np.array([slope]) if x.dtype == _F64 else np.array([slope], x.dtype)
            n = x.shape[-1]
            h = self._steps(x)
            X, H = x.reshape(-1, n), h.reshape(-1, n)
            f = perturbed_values(evaluate, X, H, (1.0, -1.0), False, self.block_size, scratch)
            den = (X + H) - (X - H) if self.relative else 2 * H
            g = (f[:, :n] - f[:, n:]) / den
            return g.reshape(x.shape).astype(x.dtype, copy=False)

        return central

    def evaluations(self, objective: Objective, n: int, bounds: Any = None,
                    given_value: bool = False) -> tuple[int, int]:
        return 2 * n + (1 if bounds is not None and not given_value else 0), 1


@attrs.frozen
class ForwardDifference(_FiniteDifference):
    """Forward differences: ``(f(x + h) - f(x)) / h`` per coordinate; n + 1 evaluations.

    Less accurate than central differences (error of order h instead of h**2) for half
    the cost; its default relative step is ``eps**(1/2)``.
    """

    _power = 1.0 / 2.0
    uses_value = True

    def bind(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        if bounds is not None:
            return self._bounded_forward(objective, bounds)
        evaluate = row_values(objective)
        scratch: dict[Any, np.ndarray] = {}

        def forward(x: np.ndarray, f0: Any = None) -> np.ndarray:
            n = x.shape[-1]
            h = self._steps(x)
            X, H = x.reshape(-1, n), h.reshape(-1, n)
            f = perturbed_values(evaluate, X, H, (1.0,), f0 is None, self.block_size, scratch)
            fx = f[:, n:] if f0 is None else np.asarray(f0, dtype=float).reshape(-1, 1)
            den = (X + H) - X if self.relative else H
            g = (f[:, :n] - fx) / den
            return g.reshape(x.shape).astype(x.dtype, copy=False)

        return forward

    def evaluations(self, objective: Objective, n: int, bounds: Any = None,
                    given_value: bool = False) -> tuple[int, int]:
        return (n if given_value else n + 1), 1

    def _bounded_forward(self, objective: Objective, box: Any) -> BoundGradient:
        """Forward differences, backward where x + h would leave ``box``."""
        evaluate = row_values(objective)

        def gradient(x: np.ndarray, f0: Any = None) -> np.ndarray:
            n = x.shape[-1]
            X = x.reshape(-1, n)
            H = self._steps(X)
            back = (box.hi - X) < H
            H = np.where(back & ((X - box.lo) < H), np.maximum(box.hi - X, X - box.lo), H)
            H = (X + np.where(back, -H, H)) - X
            P = X[:, None, :] + H[:, :, None] * np.eye(n)
            if f0 is None:
                P = np.concatenate([P, X[:, None, :]], axis=1)
            P = np.clip(P, box.lo, box.hi)
            f = np.asarray(evaluate(P.reshape(-1, n)), dtype=float).reshape(len(X), -1)
            fx = f[:, n:] if f0 is None else np.asarray(f0, dtype=float).reshape(-1, 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(H == 0.0, 0.0, (f[:, :n] - fx) / H)  # lo == hi: fixed, slope 0
            return g.reshape(x.shape).astype(x.dtype, copy=False)

        return gradient


@attrs.frozen
class RichardsonDifference(_FiniteDifference):
    """Richardson-extrapolated central differences: fourth order, with an error estimate.

    With ``D(h)`` the central difference of step h, ``(4 D(h/2) - D(h)) / 3`` cancels the
    h**2 term of the error, leaving O(h**4); 4n evaluations a gradient. The default
    relative step is ``eps**(1/5) * max(1, |x|)``, the balance of that truncation error
    against rounding. ``|D(h/2) - D(h)| / 3`` estimates the error of the result
    (:meth:`gradient_with_error`). Use it where plain central differences lose digits;
    it does not take bounds (a bounded run refuses it).

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> obj = of.FunctionObjective.from_callable(lambda p: float(np.exp(p[0]) * np.sin(p[1])))
    >>> x = np.array([0.5, 1.0])
    >>> exact = np.exp(0.5) * np.array([np.sin(1.0), np.cos(1.0)])
    >>> g, err = of.RichardsonDifference().gradient_with_error(obj, x)
    >>> bool(np.abs(g - exact).max() < 1e-11), bool(err.max() < 1e-6)
    (True, True)
    """

    _power = 1.0 / 5.0
    supports_bounds = False

    def bind(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        if bounds is not None:
            raise InvalidArgumentError(
                "gradient 'richardson' does not take bounds: use 'central' or 'forward'")
        with_error = self._bind_with_error(objective)

        def richardson(x: np.ndarray) -> np.ndarray:
            return with_error(x)[0]

        return richardson

    def _bind_with_error(self, objective: Objective) -> Callable[..., Any]:
        evaluate = row_values(objective)
        scratch: dict[Any, np.ndarray] = {}

        def central(X: np.ndarray, H: np.ndarray) -> np.ndarray:
            n = X.shape[-1]
            f = perturbed_values(evaluate, X, H, (1.0, -1.0), False, self.block_size, scratch)
            den = (X + H) - (X - H) if self.relative else 2 * H
            return (f[:, :n] - f[:, n:]) / den

        def with_error(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            n = x.shape[-1]
            X = x.reshape(-1, n)
            H = self._steps(X)
            try:
                coarse = central(X, H)
            except Exception as exc:  # the finer differences: not asked
                note_unasked(exc, 2 * X.size)
                raise
            fine = central(X, H / 2)
            g = (4.0 * fine - coarse) / 3.0
            err = np.abs(fine - coarse) / 3.0
            return (g.reshape(x.shape).astype(x.dtype, copy=False),
                    err.reshape(x.shape).astype(x.dtype, copy=False))

        return with_error

    def gradient_with_error(self, objective: Objective,
                            x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gradient at ``x`` and, per coordinate, an estimate of its error."""
        return self._bind_with_error(objective)(np.asarray(x, dtype=float))

    def evaluations(self, objective: Objective, n: int, bounds: Any = None) -> tuple[int, int]:
        return 4 * n, 1


@attrs.frozen
class AnalyticGradient(GradientEstimator):
    """The objective's own ``gradient`` method: exact and cheapest when available."""

    supports_bounds = True  # it evaluates nothing: bounds cannot be left

    def bind(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        self._check(objective)
        grad = objective.gradient
        if type(objective).trusted or type(objective).gradient_checked:
            return grad  # its gradient is of x's shape already (or a named error)

        def checked(x: np.ndarray) -> np.ndarray:
            g = grad(x)
            if type(g) is np.ndarray and g.shape == x.shape:
                return g
            return as_gradient(g, x, objective)

        return checked

    def bind_stack(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        self._check(objective)
        if type(objective).gradients is not Objective.gradients:
            return objective.gradients
        gradient = objective.gradient  # Objective.gradients' loop, its rows replayable
        return lambda X: point_by_point(gradient, X)

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


def bind_for(estimator: GradientEstimator, objective: Objective, bounds: Any,
             stack: bool = False) -> BoundGradient:
    """``estimator``'s bound gradient for ``objective`` (a stack's when ``stack``), kept
    inside ``bounds`` (or refused, naming the estimator, if it cannot keep them)."""
    bind = estimator.bind_stack if stack else estimator.bind
    if bounds is None:
        return bind(objective)
    if not estimator.supports_bounds:
        raise InvalidArgumentError(
            f"gradient {estimator!r} cannot keep the points it evaluates inside 'bounds': use "
            "'central', 'forward' or 'analytic', or set supports_bounds and take a bounds "
            "argument in its bind")
    return bind(objective, bounds=bounds)  # type: ignore[call-arg]


def evaluations_for(estimator: GradientEstimator, objective: Objective, n: int,
                    bounds: Any, given_value: bool = False) -> tuple[int, int]:
    """What a gradient of ``estimator`` costs, within ``bounds`` when given (and given f
    at the point, for an estimator that ``uses_value``)."""
    extra: dict[str, Any] = {}
    if bounds is not None:
        extra["bounds"] = bounds
    if given_value and estimator.uses_value:
        extra["given_value"] = True
    return estimator.evaluations(objective, n, **extra)


@hookimpl
def register_gradient_estimators(register: Register) -> None:
    register("central", CentralDifference)
    register("forward", ForwardDifference)
    register("analytic", AnalyticGradient)
    register("richardson", RichardsonDifference)
