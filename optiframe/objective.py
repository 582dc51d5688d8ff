"""What is minimized: the :class:`Objective` interface and the wrapper for plain callables."""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from .errors import InvalidArgumentError, InvalidTypeError, refused_call

Bounds = Sequence[tuple[float, float]]


class Objective(abc.ABC):
    """A function to minimize.

    Subclasses implement :meth:`value`. They may also implement :meth:`gradient`
    (the analytic gradient), and :meth:`values` / :meth:`gradients` for a stack of
    points, one per row; overriding :meth:`values` marks the objective as
    row-vectorized, so finite differences evaluate all perturbed points in one call.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> class Parabola(of.Objective):
    ...     def value(self, x):
    ...         return float(np.sum((x - 1.0) ** 2))
    ...     def gradient(self, x):
    ...         return 2.0 * (x - 1.0)
    >>> r = of.minimize(Parabola(), [0.0, 0.0], optimizer=of.GradientDescent(lr=0.25))
    >>> r.status, np.round(r.x, 6).tolist()
    ('converged', [1.0, 1.0])
    """

    #: Number of variables, or None when any dimension is accepted.
    dim: int | None = None

    #: True for optiframe's own objectives, which never write into the points they get
    #: and return gradients of x's shape: a run skips its guards for them (user code gets
    #: read-only points and a checked gradient)
    trusted: ClassVar[bool] = False
    #: True when :meth:`gradient` itself returns a float array of x's shape or raises an
    #: error naming what it got (:func:`as_gradient`): runs then check nothing more
    gradient_checked: ClassVar[bool] = False

    @abc.abstractmethod
    def value(self, x: np.ndarray) -> float:
        """Return f(x) as a float for one point ``x`` of shape (n,)."""

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Return the analytic gradient at ``x``, shape (n,). Optional."""
        raise NotImplementedError(f"{type(self).__name__} has no analytic gradient")

    def values(self, X: np.ndarray) -> np.ndarray:
        """Return f at each row of ``X`` (shape (m, n)) as an array of shape (m,)."""
        return np.fromiter((as_scalar(self.value(row), self) for row in X), float, len(X))

    def gradients(self, X: np.ndarray) -> np.ndarray:
        """Return the gradient at each row of ``X`` (shape (m, n)), shape (m, n)."""
        return np.stack([self.gradient(row) for row in X])

    @property
    def has_gradient(self) -> bool:
        """True when the objective implements an analytic gradient."""
        return type(self).gradient is not Objective.gradient

    @property
    def vectorized(self) -> bool:
        """True when :meth:`values` evaluates a whole stack of points in one call."""
        return type(self).values is not Objective.values

    def check_dim(self, n: int) -> None:
        """Raise if the objective cannot take points with ``n`` coordinates."""
        if self.dim is not None and n != self.dim:
            raise InvalidArgumentError(
                f"x0 has {n} coordinates but the objective {self!r} takes {self.dim}"
            )


def as_gradient(g: Any, x: np.ndarray, objective: Any) -> np.ndarray:
    """What an analytic gradient returned at ``x``, as a float array of x's shape, or an
    :class:`~optiframe.errors.InvalidTypeError` naming the gradient and both shapes."""
    what = (f"an array of shape {g.shape}" if isinstance(g, np.ndarray)
            else f"{type(g).__name__} {g!r}"[:80])
    if isinstance(g, (np.ndarray, list, tuple)) or hasattr(g, "__array__"):
        if np.iscomplexobj(g):  # its imaginary part would be dropped without a word
            raise InvalidTypeError(
                f"the gradient of {objective!r} must return real numbers; it returned complex "
                f"ones (dtype {np.asarray(g).dtype}): return the real gradient")
        try:
            arr = np.asarray(g, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.shape == x.shape:
            return arr.astype(x.dtype, copy=False) if x.dtype.kind == "f" else arr
        if arr is not None:
            what = f"an array of shape {arr.shape}"
    raise InvalidTypeError(
        f"the gradient of {objective!r} must return an array of x's shape {x.shape}, one "
        f"number per coordinate; it returned {what}")


def real_array(out: Any, where: Any = "the objective") -> np.ndarray:
    """What a stacked evaluation returned, as a float array, or an
    :class:`~optiframe.errors.InvalidTypeError` for values that are not real numbers
    (strings, complex numbers, objects): ``np.asarray(["3"], dtype=float)`` would turn a
    string into 3.0 without a word."""
    if type(out) is np.ndarray and out.dtype.kind == "f":
        return out.astype(float, copy=False)
    arr = np.asarray(out)
    if arr.dtype.kind in "fiu":
        return arr.astype(float)
    if arr.dtype.kind == "O":  # numbers of mixed types: each must be one
        return np.array([as_scalar(v, where) for v in arr.reshape(-1)]).reshape(arr.shape)
    if not isinstance(where, str):
        where = getattr(where, "_name", None) or f"the objective {where!r}"
    raise InvalidTypeError(f"{where} must return real numbers, got an array of dtype "
                           f"{arr.dtype} ({arr.reshape(-1)[:3].tolist()!r}...)")


class WrongOutputError(InvalidTypeError):
    """A stacked evaluation returned what its contract does not allow: not real
    numbers, or not one value (one gradient) per point."""


def stacked_output(out: Any, fn: Any, shape: tuple[int, ...]) -> np.ndarray:
    """What ``fn`` returned for a stack, as a float array of ``shape`` (K values, or K
    gradients of n), or :class:`WrongOutputError` saying what it returned instead."""
    if type(out) is np.ndarray and out.shape == shape and out.dtype.kind == "f":
        return out if out.dtype == np.float64 else out.astype(float)
    name = getattr(fn, "__qualname__", None) or repr(fn)
    try:
        arr = real_array(out, name)
    except InvalidTypeError as exc:
        raise WrongOutputError(str(exc)) from None
    if arr.size != math.prod(shape):
        what = "one value" if len(shape) == 1 else f"one gradient of {shape[1]} numbers"
        raise WrongOutputError(
            f"{name} must return {what} per point: given {shape[0]} points, an array of "
            f"shape {shape}; it returned shape {arr.shape}")
    return arr.reshape(shape)


def as_scalar(value: Any, where: Any = "the objective") -> float:
    """Convert what an objective returned to a Python float.

    A result of size 1 (such as ``x**2 + 1`` for a one-element array) counts as a
    scalar; None, strings and results with more than one value are errors. ``where``
    names the objective in messages (any object; formatted only on error).
    """
    if type(value) is float:
        return value
    if (type(value) is np.ndarray and value.size == 1) or isinstance(value, np.generic):
        item = value.item()
        if type(item) is float:
            return item
    return _checked_scalar(value, where)


def _checked_scalar(value: Any, where: Any) -> float:
    """The slow path of :func:`as_scalar`: accept ints, refuse the rest with a message."""
    if not isinstance(where, str):
        where = getattr(where, "_name", None) or f"the objective {where!r}"
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind in "iuf" and value.size == 1:  # longdouble, np.matrix, masked
            if np.ma.is_masked(value):
                return math.nan
            return float(np.asarray(value).reshape(-1)[0])
        if value.dtype.kind not in "iuf":
            raise InvalidTypeError(
                f"{where} must return a real number, got an array of dtype {value.dtype}"
            )
        raise InvalidTypeError(
            f"{where} must return one number, got an array of shape {value.shape}; "
            "reduce it (e.g. with np.sum) or pass vectorized=True if it takes a stack of points"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        return as_scalar(np.asarray(value), where)  # a jax or torch array
    raise InvalidTypeError(
        f"{where} must return a real number, got {type(value).__name__}: {value!r}"
    )


def check_takes_point(fn: Callable[..., Any], name: str, args: tuple[Any, ...] = ()) -> None:
    """Refuse, before any evaluation, a function that cannot be called as
    ``fn(x, *args)`` (a wrong signature would otherwise fail at the first evaluation,
    with Python's TypeError naming neither the option nor what it must take). A callable
    whose signature Python cannot read (a ufunc, some builtins) is taken as it is.

    >>> try:
    ...     check_takes_point(lambda x, y: 0.0, "fun")
    ... except TypeError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    'fun': <lambda>(x, y) cannot be called as fun(x): it must take the point x ...
    """
    refused = refused_call(fn, None, *args)
    if refused is not None:
        call = f"{name}(x, *args)" if args else f"{name}(x)"
        extra = (f" and then the {len(args)} value{'s' if len(args) != 1 else ''} of args="
                 if args else " (and nothing else it requires)")
        raise InvalidTypeError(f"{name!r}: {refused} cannot be called as {call}: "
                               f"it must take the point x{extra}")


@attrs.define(eq=False, repr=False)
class FunctionObjective(Objective):
    """An :class:`Objective` made from plain callables.

    ``func(x)`` takes an array of shape (n,) and returns a number (a size-1 array is
    fine, so functions written for Python floats, like ``x**2 + 1``, work). With
    ``vectorized=True`` it instead takes (m, n) and returns (m,).

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> obj = of.FunctionObjective.from_callable(lambda p: np.sum(p**2), gradient=lambda p: 2*p)
    >>> obj.value(np.array([3.0, 4.0])), obj.has_gradient
    (25.0, True)
    """

    func: Callable[[np.ndarray], Any]
    grad_func: Callable[[np.ndarray], Any] | None = None
    is_vectorized: bool = False
    dim: int | None = None

    gradient_checked = True  # gradient() checks what the user's function returns

    @classmethod
    def from_callable(
        cls,
        func: Callable[[np.ndarray], Any],
        *,
        gradient: Callable[[np.ndarray], Any] | None = None,
        vectorized: bool = False,
        dim: int | None = None,
    ) -> FunctionObjective:
        """Wrap ``func`` (and optionally its analytic ``gradient``).

        ``vectorized=True`` says ``func`` takes a (K, n) stack of points and returns K
        values: a multi-start run and finite differences then evaluate every point in one
        call instead of one call per point (24x faster for 200 starts of a cheap numpy
        function, ``benchmarks/bench_evaluation_paths.py``); a plain callable is called
        once per point, as it must be when it only takes one.
        """
        if not callable(func):
            raise InvalidTypeError(f"'fun' must be callable or an Objective: {func!r}")
        if gradient is not None and not callable(gradient):
            raise InvalidTypeError(f"'gradient' must be callable: {gradient!r}")
        check_takes_point(func, "fun")
        if gradient is not None:
            check_takes_point(gradient, "gradient")
        return cls(func, gradient, bool(vectorized), dim)

    def value(self, x: np.ndarray) -> float:
        if self.is_vectorized:
            return as_scalar(np.asarray(self.func(x[None, :])).reshape(-1)[0], self)
        result = self.func(x)
        # as_scalar's fast paths, inlined: this runs several times per step.
        if type(result) is float:
            return result
        if type(result) is np.ndarray and result.size == 1:
            item = result.item()
            if type(item) is float:
                return item
        return as_scalar(result, self)

    def values(self, X: np.ndarray) -> np.ndarray:
        if not self.is_vectorized:
            return Objective.values(self, X)
        out = real_array(self.func(X), self).reshape(-1)
        if out.shape != (X.shape[0],):
            raise InvalidTypeError(
                f"{self._name} is vectorized, so it must return one value per row: "
                f"got shape {out.shape} for {X.shape[0]} rows"
            )
        return out

    def gradient(self, x: np.ndarray) -> np.ndarray:
        if self.grad_func is None:
            raise NotImplementedError(f"{self._name} has no analytic gradient")
        g = self.grad_func(x)
        if type(g) is np.ndarray and g.dtype == x.dtype and g.shape == x.shape:
            return g
        return as_gradient(g, x, self)

    @property
    def has_gradient(self) -> bool:
        return self.grad_func is not None

    @property
    def vectorized(self) -> bool:
        return self.is_vectorized

    @property
    def _name(self) -> str:
        return f"the objective {getattr(self.func, '__name__', repr(self.func))}"

    def __repr__(self) -> str:
        return f"FunctionObjective({getattr(self.func, '__name__', self.func)!r})"
