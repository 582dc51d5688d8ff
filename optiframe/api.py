"""The scipy-like shortcut :func:`minimize`, which also speaks scipy.optimize's vocabulary.

``jac=``, ``tol=``, ``method=``, ``options={"maxiter": ...}``, ``callback=`` and
``bounds=`` mean what they mean in ``scipy.optimize.minimize``, beside optiframe's own
names (``gradient=``, ``gtol=``, ``optimizer=``, ``max_steps=``, ``callbacks=``). An x0 of
any shape (a weight matrix) keeps its shape in the objective, the gradient and the
result.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from .errors import InvalidArgumentError, InvalidTypeError, refused_call
from .gradients import GradientEstimator
from .objective import FunctionObjective, Objective, check_takes_point
from .observers import StepInfo, callback_tuple
from .result import Result
from .runner import Runner

#: scipy's method names for optiframe's optimizers
METHODS = {"l-bfgs-b": "lbfgs", "lbfgs": "lbfgs", "bfgs": "bfgs"}
#: scipy's other ``method`` names: refused with what to use instead
SCIPY_ONLY = ("nelder-mead", "powell", "cg", "newton-cg", "tnc", "cobyla", "cobyqa", "slsqp",
              "trust-constr", "dogleg", "trust-ncg", "trust-exact", "trust-krylov")
#: scipy's ``jac`` strings for finite differences
JAC_STRINGS = {"2-point": "forward", "3-point": "central"}
#: scipy's ``options`` keys, as optiframe's options
OPTIONS = {"maxiter": "max_steps", "gtol": "gtol", "ftol": "ftol", "xtol": "xtol",
           "maxfun": "max_nfev", "maxfev": "max_nfev"}


def minimize(
    fun: Any,
    x0: Any = None,
    *,
    optimizer: Any = None,
    gradient: Any = "auto",
    method: Any = None,
    jac: Any = None,
    bounds: Any = None,
    tol: float | None = None,
    callback: Callable[..., Any] | None = None,
    options: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    gtol: float = 1e-8,
    ftol: float = 0.0,
    xtol: float = 0.0,
    detect_divergence: bool = True,
    divergence_factor: float = 1e8,
    max_bad_gradients: int = 5,
    max_nfev: int | None = None,
    max_time: float | None = None,
    stop_rules: Sequence[Any] = (),
    callbacks: Sequence[Any] | Callable[[StepInfo], Any] | Any | None = (),
    record_every: int = 1,
    record_x: bool = False,
    raise_errors: bool | None = None,
    on_interrupt: str = "raise",
    schedules: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    starts: Any = None,
    seed: int | None = None,
    workers: Any = None,
    minima_tol: float = 1e-3,
    retries: int = 2,
    start_timeout: float | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
    batch_sampler: Any = None,
    epoch_callbacks: Sequence[Callable[..., Any]] | Callable[..., Any] | None = (),
    checkpoint: Any = None,
    checkpoint_every: int | None = None,
    stream_history: Any = None,
    check_gradient: bool = False,
    evaluate: Any = None,
    eval_timeout: float | None = None,
    cache: int | None = None,
    strategy: Any = None,
    resume: bool = False,
    args: Any = (),
    **unknown: Any,
) -> Result:
    """Minimize ``fun`` from ``x0``; the one-call form of ``Runner(...).run(x0)``.

    Parameters
    ----------
    fun
        A callable ``f(x) -> float``, an :class:`~optiframe.Objective`, or the name of a
        registered objective (``"rosenbrock"``).
    x0
        The starting point: a number or an array of any shape (copied, never modified; a
        shaped x0 keeps its shape in ``fun``, ``jac`` and ``r.x``).
    optimizer, method
        An :class:`~optiframe.Optimizer`, a registered name or a mapping
        ``{"name": "gd", "lr": 0.1}``; ``method`` is scipy's spelling (``"L-BFGS-B"``,
        ``"BFGS"`` or any optiframe name). None: L-BFGS with a strong Wolfe line search
        (``gd`` for minibatch runs and stochastic estimators).
    gradient, jac
        ``gradient``: a :class:`~optiframe.GradientEstimator` or a name (``"auto"``,
        ``"central"``, ``"forward"``, ``"analytic"``, ``"richardson"``, ``"spsa"``), or a
        gradient function. ``jac``, as in scipy: a gradient function, True when ``fun``
        returns ``(f, g)``, or ``"2-point"``/``"3-point"`` (forward/central differences).
    bounds
        ``[(lo, hi), ...]`` (None for an open side) or a ``scipy.optimize.Bounds``.
    tol, options
        scipy's: ``tol`` sets ``gtol``; ``options`` takes ``maxiter``, ``gtol``, ``ftol``,
        ``xtol``, ``maxfun``/``maxfev`` (and ignores ``disp``).
    args
        scipy's: extra arguments handed to ``fun`` and to the gradient function
        (``fun(x, *args)``, ``jac(x, *args)``); a value that is not a tuple is one
        argument.
    callback
        scipy's: ``callback(intermediate_result)`` (an object with ``x``, ``fun`` and
        ``nit``) or ``callback(xk)``, after each step; StopIteration stops the run. A
        callback whose parameter is named ``info`` (or annotated ``StepInfo``) gets
        optiframe's :class:`~optiframe.StepInfo`, as those in ``callbacks`` do.
    max_steps, gtol, ..., check_gradient
        As :class:`~optiframe.Runner` (see docs/reference.md). Multi-start: ``starts`` (a
        :class:`~optiframe.MultiStart` or a (K, n) array), ``workers``, ``seed``, ...;
        the result is then a :class:`~optiframe.result.MultiStartResult`.
    evaluate, eval_timeout, cache
        For expensive objectives (see :mod:`optiframe.evaluation`): ``evaluate=8`` (or
        ``"processes"``, ``"dask"``, ``executor.map``) evaluates each batch of points
        (a gradient's finite-difference points, a stack's starts, a global search's
        samples) at once on that pool, kept for the run; the iterates are the serial
        run's. ``eval_timeout`` stops an evaluation past that many seconds (the run ends
        ``failed``). ``cache`` keeps f at that many points (default 1024 with
        ``evaluate``), so a point evaluated twice costs one evaluation.
    strategy
        A global search of the box ``bounds`` (see :mod:`optiframe.strategies`):
        ``"tiktak"`` (the default when no x0 is given), ``"mlsl"``, ``"restarts"``,
        ``"basinhopping"``, a mapping or a :class:`~optiframe.strategies.Strategy`.
        ``max_nfev`` is the whole search's budget (default 2000 evaluations per
        coordinate); the result is a :class:`~optiframe.result.GlobalResult`. With
        ``checkpoint=folder`` the search keeps its journal there; after Ctrl-C, the same
        call with ``resume=True`` goes on to the same bits as a search never stopped.

    Example
    -------
    The blog's first experiment: roll down f(x) = x**2 + 1 from x = -3.

    >>> import optiframe as of
    >>> def func1(x):
    ...     return x**2 + 1
    >>> r = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=0.01),
    ...                 gradient=of.CentralDifference(step=1e-7, relative=False),
    ...                 max_steps=500, detect_divergence=False)
    >>> float(r.x[0]), r.status, r.nit
    (-0.00012307192187321903, 'max_steps', 500)

    And scipy's way of asking:

    >>> from scipy.optimize import rosen, rosen_der
    >>> r = of.minimize(rosen, [1.3, 0.7, 0.8], jac=rosen_der, method="L-BFGS-B", tol=1e-10)
    >>> r["x"].round(6).tolist(), r.success
    ([1.0, 1.0, 1.0], True)
    """
    global_search = strategy is not None or (x0 is None and starts is None
                                             and bounds is not None)
    if global_search and starts is not None:
        raise InvalidArgumentError(
            "give 'strategy' (a global search over the bounds) or 'starts' (the points to "
            "start from), not both")
    if x0 is None and starts is None and not global_search:
        raise InvalidArgumentError(
            "'x0' is required: the point to start from (or starts=MultiStart(...), or "
            "bounds=[(lo, hi), ...] for a global search of the box)")
    optimizer = _method(optimizer, method)
    stop = _scipy_options(options, dict(max_steps=max_steps, gtol=gtol, ftol=ftol, xtol=xtol,
                                        max_nfev=max_nfev))
    if tol is not None:
        stop["gtol"] = tol
    _check_functions(fun, gradient, jac, args)
    if args != ():
        fun, gradient, jac = _with_args(fun, gradient, jac, args)
    fun, gradient = _with_jac(fun, gradient, jac)
    shape = None
    if x0 is not None and starts is None and _ndim(x0) > 1:
        fun, shape = _flat(fun, np.shape(x0)), np.shape(x0)
        x0 = np.asarray(x0, dtype=float).reshape(-1)
    if callback is not None:
        callbacks = (*callback_tuple("callbacks", callbacks), _scipy_callback(callback))
    runner = Runner(
        fun, optimizer, gradient, callbacks=callbacks, record_every=record_every,
        record_x=record_x, raise_errors=raise_errors, on_interrupt=on_interrupt,
        schedules=schedules,
        minima_tol=minima_tol, retries=retries, start_timeout=start_timeout,
        batch_size=batch_size, epochs=epochs, shuffle=shuffle, drop_last=drop_last,
        batch_sampler=batch_sampler, epoch_callbacks=epoch_callbacks, progress=progress,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        stream_history=stream_history, bounds=bounds, check_gradient=check_gradient,
        evaluate=evaluate, eval_timeout=eval_timeout, cache=cache,
        detect_divergence=detect_divergence, divergence_factor=divergence_factor,
        max_bad_gradients=max_bad_gradients, max_time=max_time, stop_rules=stop_rules,
        **stop, **unknown)
    if global_search:
        from .strategies import run_strategy

        return run_strategy(runner, strategy, x0, seed, workers, resume)
    if resume:
        raise InvalidArgumentError(
            "resume=True goes on with a global search (strategy=...); a run resumes with "
            "Runner(...).resume(folder)")
    result = runner.run(x0, starts=starts, seed=seed, workers=workers)
    if shape is not None:
        flat_at = result.gradient_at
        result = attrs.evolve(
            result, x=result.x.reshape(shape),
            gradient_at=None if flat_at is None else
            (lambda x: np.asarray(flat_at(np.reshape(x, -1))).reshape(shape)))
    return result


def _ndim(x0: Any) -> int:
    """x0's number of dimensions (1 for anything numpy cannot shape: the Runner names
    what is wrong with it)."""
    try:
        return int(np.ndim(x0))
    except (TypeError, ValueError):
        return 1


def _method(optimizer: Any, method: Any) -> Any:
    """``optimizer``, or scipy's ``method`` naming it."""
    if method is None:
        return optimizer
    if optimizer is not None:
        raise InvalidArgumentError(
            f"give 'optimizer' or 'method' (scipy's name for it), not both: {optimizer!r} "
            f"and {method!r}")
    if isinstance(method, str):
        if method.lower() in SCIPY_ONLY:
            raise InvalidArgumentError(
                f"method={method!r} is one of scipy's methods that optiframe does not have: "
                "its optimizers follow the gradient (method='L-BFGS-B' or 'BFGS', or "
                "optimizer='gd', 'adam', ...: `optiframe list` shows them all); for "
                f"{method!r} itself call scipy.optimize.minimize")
        return METHODS.get(method.lower(), method)
    return method


def _scipy_options(options: Mapping[str, Any] | None, stop: dict[str, Any]) -> dict[str, Any]:
    """The stop options, with scipy's ``options`` mapped onto them."""
    if options is None:
        return stop
    if not isinstance(options, Mapping):
        raise InvalidArgumentError(f"'options' must be a mapping, e.g. {{'maxiter': 100}}: "
                                   f"{options!r}")
    for key, value in options.items():
        if key == "disp":
            continue
        if key not in OPTIONS:
            raise InvalidArgumentError(
                f"options[{key!r}] is not an option optiframe knows; it takes "
                f"{', '.join(sorted(OPTIONS))} (and disp), or pass optiframe's own options "
                "as keywords")
        stop[OPTIONS[key]] = value
    return stop


class _WithArgs:
    """``f(x, *args)`` as ``f(x)``, picklable (workers), named after ``f`` (checkpoints
    compare objectives by name)."""

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.f, self.args = f, args
        self.__name__ = getattr(f, "__name__", repr(f))
        self.__qualname__ = getattr(f, "__qualname__", self.__name__)
        self.__module__ = getattr(f, "__module__", __name__)

    def __call__(self, x: Any) -> Any:
        return self.f(x, *self.args)


def _check_functions(fun: Any, gradient: Any, jac: Any, args: Any) -> None:
    """The user's own functions, as given (before ``args`` or a shaped x0 wrap them),
    refused unless they can be called with the point and ``args``."""
    extra = () if args == () else args if isinstance(args, tuple) else (args,)
    plain = [("fun", fun), ("jac", jac), ("gradient", gradient)]
    for name, fn in plain:
        if callable(fn) and fn is not True and not isinstance(
                fn, (Objective, GradientEstimator, type)):
            check_takes_point(fn, name, extra)


def _with_args(fun: Any, gradient: Any, jac: Any, args: Any) -> tuple[Any, Any, Any]:
    """``fun`` and the gradient function bound to scipy's ``args``."""
    args = args if isinstance(args, tuple) else (args,)
    if isinstance(fun, (Objective, str, Mapping)) or not callable(fun):
        raise InvalidArgumentError(
            f"args= goes with a plain callable fun (scipy's fun(x, *args)); {fun!r} is an "
            "objective: give it its data when you make it")
    if callable(jac) and jac is not True:
        jac = _WithArgs(jac, args)
    if callable(gradient) and not isinstance(gradient, (GradientEstimator, type)):
        gradient = _WithArgs(gradient, args)
    return _WithArgs(fun, args), gradient, jac


def _with_jac(fun: Any, gradient: Any, jac: Any) -> tuple[Any, Any]:
    """The objective and estimator for scipy's ``jac`` (or a gradient function given as
    ``gradient``)."""
    if callable(gradient) and not isinstance(gradient, (GradientEstimator, type)):
        if jac is not None:
            raise InvalidArgumentError("give the gradient function as 'jac' or 'gradient', "
                                       "not both")
        jac, gradient = gradient, "auto"
    if jac is None or jac is False:
        return fun, gradient
    if gradient != "auto":
        raise InvalidArgumentError(
            f"give 'jac' (scipy's spelling) or 'gradient', not both: jac={jac!r}, "
            f"gradient={gradient!r}")
    if isinstance(jac, str):
        if jac not in JAC_STRINGS:
            raise InvalidArgumentError(
                f"jac={jac!r}: optiframe takes a gradient function, True (fun returns (f, g)), "
                f"'2-point' or '3-point'")
        return fun, JAC_STRINGS[jac]
    if isinstance(fun, (Objective, str, Mapping)) or not callable(fun):
        raise InvalidArgumentError(
            f"jac= goes with a plain callable fun; {fun!r} is an objective: give its "
            "gradient in the Objective (gradient method)")
    if jac is True:
        both = _ValueAndGradient(fun)
        return FunctionObjective.from_callable(both.value, gradient=both.gradient), "analytic"
    if not callable(jac):
        raise InvalidArgumentError(f"jac must be a callable, True, '2-point' or '3-point': "
                                   f"{jac!r}")
    return FunctionObjective.from_callable(fun, gradient=jac), "analytic"


class _ValueAndGradient:
    """``fun`` returning ``(f, g)`` (scipy's ``jac=True``): one call serves both, for the
    last point asked."""

    def __init__(self, fun: Callable[[np.ndarray], Any]) -> None:
        self.fun = fun
        self._x: bytes | None = None
        self._g: Any = None

    def _call(self, x: np.ndarray) -> Any:
        out = self.fun(x)
        try:
            f, g = out
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"jac=True: fun must return (f, gradient); it returned {out!r}"[:200]
            ) from None
        self._x, self._g = x.tobytes(), g
        return f

    def value(self, x: np.ndarray) -> Any:
        return self._call(x)

    def gradient(self, x: np.ndarray) -> Any:
        if self._x != x.tobytes():
            self._call(x)
        return self._g


def _flat(fun: Any, shape: tuple[int, ...]) -> Any:
    """``fun`` (and its gradient) of a shaped x, as a function of the flat one."""
    if isinstance(fun, FunctionObjective):
        func, grad = fun.func, fun.grad_func
    elif callable(fun) and not isinstance(fun, (Objective, str)):
        func, grad = fun, None
    else:
        raise InvalidArgumentError(
            f"x0 of shape {shape} needs a plain callable fun (optiframe reshapes x for it); "
            f"{fun!r} takes flat points: pass x0.ravel()")

    def flat_value(x: np.ndarray) -> Any:
        return func(x.reshape(shape))

    def flat_gradient(x: np.ndarray) -> Any:
        assert grad is not None
        return np.asarray(grad(x.reshape(shape)), dtype=float).reshape(-1)

    return FunctionObjective.from_callable(flat_value,
                                           gradient=None if grad is None else flat_gradient)


def _scipy_callback(callback: Callable[..., Any]) -> Callable[[StepInfo], Any]:
    """scipy's ``callback``: ``callback(intermediate_result)`` or ``callback(xk)``."""
    if not callable(callback):
        raise InvalidArgumentError(f"'callback' must be callable: {callback!r}")
    try:
        params: Mapping[str, inspect.Parameter] = inspect.signature(callback).parameters
    except (TypeError, ValueError):
        params = {}
    if "intermediate_result" in params:
        def modern(info: StepInfo) -> Any:
            step = types.SimpleNamespace(x=info.x, fun=info.fun, nit=info.step)
            return callback(intermediate_result=step)
        return modern
    refused = refused_call(callback, None)
    if refused is not None:  # refused now, not with Python's TypeError at the first step
        raise InvalidTypeError(
            f"'callback': {refused} must take one argument, as scipy's does: "
            "callback(xk) (the new point), callback(intermediate_result) or "
            "callback(info) (optiframe's StepInfo)")
    first = next(iter(params.values()), None)
    if first is not None and (first.name == "info" or first.annotation in (StepInfo,
                                                                            "StepInfo")):
        return callback  # optiframe's own form: callback(info), a StepInfo

    def legacy(info: StepInfo) -> Any:
        return callback(info.x)

    return legacy
