"""The scipy-like shortcut :func:`minimize`."""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgumentError
from .result import Result
from .runner import Runner


def minimize(
    fun: Any,
    x0: Any = None,
    *,
    optimizer: Any = None,
    gradient: Any = "auto",
    **options: Any,
) -> Result:
    """Minimize ``fun`` from ``x0``; the one-call form of ``Runner(...).run(x0)``.

    Parameters
    ----------
    fun
        A callable ``f(x) -> float`` (x of shape (n,)), an :class:`~optiframe.Objective`,
        or the name of a registered objective (``"rosenbrock"``).
    x0
        The starting point: a number or a 1-D array. It is copied, never modified.
    optimizer
        An :class:`~optiframe.Optimizer` instance, a registered name (``"gd"``) or a
        mapping ``{"name": "gd", "lr": 0.1}``.
    gradient
        A :class:`~optiframe.GradientEstimator`, or ``"auto"`` (analytic when the
        objective has it, else central differences), ``"central"``, ``"forward"``,
        ``"analytic"``.
    **options
        Stopping rules (``max_steps``, ``gtol``, ``ftol``, ``xtol``,
        ``detect_divergence``, ``divergence_factor``) and run options (``callbacks``,
        ``record_every``, ``record_x``, ``raise_errors``); see :class:`~optiframe.Runner`.
        ``seed`` seeds every random part of a run (sampled starts, batch order, each
        start's random stream for stochastic estimators such as ``"spsa"``).
        Multi-start: ``starts`` (a :class:`~optiframe.MultiStart` or a (K, n) array of
        points), ``workers``, ``minima_tol``, ``retries``, ``start_timeout``; then the
        result is a :class:`~optiframe.result.MultiStartResult`. Minibatch descent on a
        :class:`~optiframe.DataObjective`: ``batch_size``, ``epochs``, ``shuffle``,
        ``drop_last``, ``batch_sampler``, ``epoch_callbacks``.

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
    """
    starts = options.pop("starts", None)
    seed = options.pop("seed", None)
    workers = options.pop("workers", None)
    if x0 is None and starts is None:
        raise InvalidArgumentError(
            "'x0' is required: the point to start from (or starts=MultiStart(...))")
    return Runner(fun, optimizer, gradient, **options).run(x0, starts=starts, seed=seed,
                                                           workers=workers)
