"""The ``"jax"`` gradient estimator: ``jax.grad`` of an objective written with jax.numpy.

The gradient is compiled once per run (``jax.jit``; one compilation per shape), with
``jax.vmap`` over the rows of a stack of starts. It is not reused by later runs: jax bakes
what a function reads from its globals or closure into the compiled code, so a later run
of the same function after its data changed must trace it again (one compilation, tens of
milliseconds, per run). The loop stays numpy: each
gradient is one array handed to jax and one array handed back, and both are counted in
:attr:`JaxGradient.conversions`.

Example
-------
>>> import numpy as np, jax.numpy as jnp, optiframe as of
>>> r = of.minimize(lambda x: jnp.sum((x - 3.0) ** 2), np.zeros(4), gradient="jax")
>>> r.status, r.x.round(6).tolist()
('converged', [3.0, 3.0, 3.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

import optiframe as of
from optiframe.data import BatchObjective, DataObjective

from .jaxlib import enable_x64, jax_modules


@attrs.define
class Conversions:
    """Arrays that crossed the border between numpy and jax: ``to_jax`` (points and
    batches handed to jax) and ``to_numpy`` (gradients handed back)."""

    to_jax: int = 0
    to_numpy: int = 0


def _name(objective: Any) -> str:
    func = getattr(objective, "func", None)
    if func is not None:
        return f"the objective {getattr(func, '__name__', repr(func))}"
    return f"the objective {objective!r}"


def _untraceable(objective: Any, exc: BaseException) -> of.InvalidArgumentError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return of.InvalidArgumentError(
        f"gradient='jax' cannot differentiate {_name(objective)}: jax could not trace it "
        f"({type(exc).__name__}: {first}). Write it with jax.numpy (jnp.sum, jnp.sin, ...; "
        "no float(), numpy calls or Python branches on values), or use gradient='central'")


def _real_values(fn: Callable[..., Any], objective: Any, jnp: Any, rows: bool,
                 ) -> Callable[..., Any]:
    """``fn`` with what it returns made a real scalar (rows: one real value per row), as
    the other estimators accept it: a one-element array is its number; an integer or
    complex value, or more than one number, is an error naming the objective."""
    def value(x: Any) -> Any:
        out = jnp.asarray(fn(x))
        want = (x.shape[0],) if rows else ()
        if out.shape != want:
            if out.size != (x.shape[0] if rows else 1):
                raise of.InvalidTypeError(
                    f"{_name(objective)} must return one number"
                    f"{' per row' if rows else ''}, got an array of shape {out.shape}")
            out = out.reshape(want)
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise of.InvalidTypeError(
                f"{_name(objective)} returned a value of dtype {out.dtype}; gradient='jax' "
                "differentiates real floating values only: compute it in floats (for "
                "example 1.0 * ...), or use gradient='central'")
        return out

    return value


def _numpy_data(data: Any) -> of.InvalidArgumentError:
    return of.InvalidArgumentError(
        f"gradient='jax' needs a loss written with jax.numpy: {data!r} is a numpy data "
        "objective. Use optiframe_jax.JaxData(loss, X, y), or gradient='analytic' or "
        "'central'")


def _jax_errors() -> tuple[type[BaseException], ...]:
    jax, _ = jax_modules()
    errors = jax.errors
    return tuple(e for e in (
        getattr(errors, "JAXTypeError", None), getattr(errors, "JAXIndexError", None),
        errors.ConcretizationTypeError, errors.TracerArrayConversionError,
        errors.TracerBoolConversionError, errors.TracerIntegerConversionError,
        errors.UnexpectedTracerError) if e is not None)


@attrs.frozen
class JaxGradient(of.GradientEstimator):
    """Exact gradients by ``jax.grad``, compiled with ``jax.jit`` (``vmap`` for stacks).

    The objective is a function written with ``jax.numpy`` (a plain callable, vectorized
    or not), a :class:`~optiframe_jax.JaxData` loss for training, or any Objective whose
    ``value`` jax can trace. optiframe computes in float64, so jax's float64 mode is
    switched on when a run binds this estimator (``x64=True``, the default); with
    ``x64=False`` a run refuses to start unless it is on already.
    """

    x64: bool = True
    #: arrays handed between numpy and jax by this estimator's runs, in this process
    conversions: Conversions = attrs.field(factory=Conversions, eq=False, repr=False)

    supports_bounds = True  # it evaluates nothing: bounds cannot be left
    black_box = False  # the objective must be written with jax.numpy

    # -- what the run binds ---------------------------------------------------------------
    def bind(self, objective: of.Objective, bounds: Any = None) -> Callable[..., np.ndarray]:
        return self._bound(objective, stack=False)

    def bind_stack(self, objective: of.Objective,
                   bounds: Any = None) -> Callable[..., np.ndarray]:
        return self._bound(objective, stack=True)

    def gradient(self, objective: of.Objective, x: np.ndarray) -> np.ndarray:
        return self.bind(objective)(x)

    def evaluations(self, objective: of.Objective, n: int,
                    bounds: Any = None) -> tuple[int, int]:
        return 0, 1

    # -- how ----------------------------------------------------------------------------
    def _bound(self, objective: Any, stack: bool) -> Callable[..., np.ndarray]:
        self._check_x64()
        jax, jnp = jax_modules()
        errors = _jax_errors()
        counts = self.conversions
        if isinstance(objective, BatchObjective):
            return self._batch_gradient(objective, stack, errors)
        fn, vectorized = self._traced_function(objective)
        real = _real_values(fn, objective, jnp, rows=vectorized)
        # compiled for this run only: a cache across runs would keep the data the function
        # read when it was first traced (issue 22, item 7)
        if vectorized:  # fn takes (m, n) and returns (m,): each row's gradient at once
            rows = jax.grad(lambda X: jnp.sum(real(X)))
            grad = jax.jit(rows if stack else lambda x: rows(x[None, :])[0])
        else:
            one = jax.grad(real)
            grad = jax.jit(jax.vmap(one) if stack else one)

        def gradient(x: np.ndarray) -> np.ndarray:
            try:
                g = grad(x)
            except errors as exc:
                raise _untraceable(objective, exc) from exc
            counts.to_jax += 1
            counts.to_numpy += 1
            return np.array(g, dtype=x.dtype)

        return gradient

    def _batch_gradient(self, view: BatchObjective, stack: bool,
                        errors: tuple[type[BaseException], ...]) -> Callable[..., np.ndarray]:
        data: Any = view.data  # a JaxData, checked below
        if not hasattr(data, "jax_loss"):
            raise _numpy_data(data)
        grad = data.compiled_gradient(stack)
        counts = self.conversions

        def gradient(params: np.ndarray) -> np.ndarray:
            Xb, yb = data.rows(view.idx)
            try:
                g = grad(params, Xb, yb)
            except errors as exc:
                raise _untraceable(data, exc) from exc
            counts.to_jax += 3
            counts.to_numpy += 1
            return np.array(g, dtype=params.dtype)

        return gradient

    @staticmethod
    def _traced_function(objective: Any) -> tuple[Callable[..., Any], bool]:
        """The function jax differentiates, and whether it takes rows (m, n)."""
        if isinstance(objective, of.FunctionObjective):
            return objective.func, objective.vectorized
        if isinstance(objective, DataObjective):
            raise _numpy_data(objective)
        fn = getattr(objective, "jax_value", None)
        if callable(fn):
            return fn, False
        if type(objective).__module__.startswith("optiframe."):  # a built-in: numpy code
            exact = ("gradient='analytic' (its exact gradient)" if objective.has_gradient
                     else "gradient='auto'")
            raise of.InvalidArgumentError(
                f"gradient='jax' differentiates functions written with jax.numpy, and the "
                f"built-in objective {type(objective).__name__} is numpy code: use {exact}, or "
                "pass "
                "your own jax.numpy function")
        return objective.value, False

    def _check_x64(self) -> None:
        jax, _ = jax_modules()
        if jax.config.jax_enable_x64:
            return
        if not self.x64:
            raise of.InvalidArgumentError(
                "gradient JaxGradient(x64=False): jax computes in float32 here, and "
                "optiframe's points are float64. Switch jax to float64 first "
                "(jax.config.update('jax_enable_x64', True)) or use JaxGradient()")
        enable_x64()
