"""Checking an analytic gradient against central differences (:func:`check_gradient`).

The relative error is ``|g - g_fd| / max(|g|, |g_fd|)`` (2-norms), with ``g_fd`` central
differences at the default relative step (:class:`~optiframe.CentralDifference`), whose
own error is about ``eps**(2/3)``, 1e-11 relative, for a smooth function of moderate
scale. A correct gradient therefore shows errors around 1e-10 and a wrong one errors
near 1: the default tolerance, 1e-5, sits far from both. Per coordinate, the error is
``|g_i - g_fd_i| / max(|g|_inf, |g_fd|_inf)``: the mismatch measured against the
gradient's size, so that a coordinate where both are (nearly) zero, and the differences
show only their rounding, is not taken for a mismatch.

``direction="random"`` compares only the slope along one random unit direction: two
evaluations whatever n, for objectives too costly for 2n; it cannot name coordinates.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from ._validation import as_point, check_real
from .errors import InvalidArgumentError, InvalidTypeError, OptiframeError
from .gradients import CentralDifference
from .objective import FunctionObjective, Objective, as_scalar

#: how many coordinates a report names
WORST = 5


class GradientCheckError(OptiframeError, ValueError):
    """An analytic gradient disagrees with finite differences; ``.check`` has the figures."""

    def __init__(self, message: str, check: GradientCheck) -> None:
        super().__init__(message)
        self.check = check


@attrs.frozen(eq=False)
class GradientCheck:
    """The outcome of :func:`check_gradient`.

    ``relative_error`` is the figure to read; ``ok`` says whether it is within ``rtol``.
    In coordinate mode, ``errors`` holds each coordinate's relative error and ``worst``
    the indices of the largest (at most five, largest first, only those above ``rtol``
    when the check fails); in direction mode those are empty and ``analytic`` and
    ``numeric`` are the two slopes along ``direction``.
    """

    x: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    relative_error: float
    rtol: float
    errors: np.ndarray
    worst: tuple[int, ...]
    direction: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return bool(self.relative_error <= self.rtol)

    def __bool__(self) -> bool:
        return self.ok

    def explain(self) -> str:
        """One paragraph: the relative error and, when it is too large, where."""
        head = (f"relative error of the gradient {self.relative_error:.3g} "
                f"({'within' if self.ok else 'above'} rtol={self.rtol:g})")
        if self.direction is not None:
            return (f"{head}, along a random direction: slope {float(self.analytic[0]):.10g} "
                    f"analytic vs {float(self.numeric[0]):.10g} by central differences")
        if self.ok or not self.worst:
            return head
        parts = [f"x[{i}]: analytic {self.analytic[i]:.6g}, central differences "
                 f"{self.numeric[i]:.6g} (relative error {self.errors[i]:.2g})"
                 for i in self.worst]
        return f"{head}; the worst coordinates: " + "; ".join(parts)

    def __str__(self) -> str:
        return self.explain()


def _as_objective(fun: Any) -> Objective:
    if isinstance(fun, Objective):
        return fun
    if not callable(fun):
        raise InvalidArgumentError(f"'fun' must be a callable or an Objective: {fun!r}")
    return FunctionObjective.from_callable(fun)


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    diff = float(np.linalg.norm(a - b))
    if diff == 0.0:
        return 0.0
    return diff / scale if scale > 0 else float("inf")


def check_gradient(fun: Any, grad: Any = None, x: Any = None, *, rtol: float = 1e-5,
                   direction: str | None = None, seed: Any = None) -> GradientCheck:
    """Compare the gradient ``grad(x)`` of ``fun`` with central differences at ``x``.

    ``fun`` is a callable ``f(x) -> float`` or an :class:`~optiframe.Objective` (then
    ``grad`` may be None: the objective's own gradient is checked). ``direction="random"``
    compares the slopes along one random unit direction (drawn from ``seed``) instead of
    every coordinate. Returns a :class:`GradientCheck`; read ``relative_error``,
    ``worst`` and ``explain()``.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> f = lambda x: float(np.sum(x**2) + x[0] * x[2])
    >>> good = lambda x: 2 * x + np.array([x[2], 0.0, x[0]])
    >>> bad = lambda x: 2 * x            # forgets the cross term
    >>> x0 = np.array([1.0, 2.0, 3.0])
    >>> bool(of.check_gradient(f, good, x0).relative_error < 1e-8)
    True
    >>> check = of.check_gradient(f, bad, x0)
    >>> check.ok, check.worst
    (False, (0, 2))
    >>> print(check.explain())  # doctest: +ELLIPSIS
    relative error of the gradient 0.333 (above rtol=1e-05); the worst coordinates: x[0]: ...
    """
    if x is None:
        raise InvalidArgumentError("'x' is required: the point to check the gradient at")
    point = as_point(x, "x")
    rtol = check_real("rtol", rtol, positive=True)
    if direction not in (None, "random"):
        raise InvalidArgumentError(f"'direction' must be None or 'random': {direction!r}")
    objective = _as_objective(fun)
    objective.check_dim(point.size)
    if grad is None:
        if not objective.has_gradient:
            raise InvalidArgumentError(
                f"no gradient to check: pass grad=..., or an Objective with a gradient "
                f"({objective!r} has none)")
        grad = objective.gradient
    elif not callable(grad):
        raise InvalidArgumentError(f"'grad' must be a callable g(x) -> array: {grad!r}")
    raw = grad(point.copy())
    if np.iscomplexobj(raw):  # scipy's check_grad counts the imaginary part as an error
        raise InvalidTypeError(
            f"the gradient returned complex numbers (dtype {np.asarray(raw).dtype}) at x; a "
            "gradient of a real function is real: return its real part only if the "
            "imaginary part is a rounding artefact")
    g = np.asarray(raw, dtype=float)
    if g.shape != point.shape:
        raise InvalidArgumentError(
            f"the gradient has shape {g.shape} but x has shape {point.shape}: 'grad' must "
            "return one number per coordinate of x")
    if direction == "random":
        u = np.random.default_rng(seed).standard_normal(point.size)
        u /= np.linalg.norm(u)
        h = float(np.finfo(float).eps ** (1 / 3) * max(1.0, float(np.linalg.norm(point))))
        up = as_scalar(objective.value(point + h * u), objective)
        down = as_scalar(objective.value(point - h * u), objective)
        slope_fd = np.array([(up - down) / (2 * h)])
        slope = np.array([float(g @ u)])
        return GradientCheck(x=point, analytic=slope, numeric=slope_fd,
                             relative_error=_relative(slope, slope_fd), rtol=rtol,
                             errors=np.empty(0), worst=(), direction=u)
    numeric = CentralDifference().gradient(objective, point.copy())
    scale = max(float(np.max(np.abs(g), initial=0.0)), float(np.max(np.abs(numeric),
                                                                    initial=0.0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        errors = np.abs(g - numeric) / scale if scale > 0 else np.abs(g - numeric)
    errors = np.where(np.isnan(errors), np.inf, errors)
    relative = _relative(g, numeric)
    if not np.isfinite(g).all() or not np.isfinite(numeric).all():
        relative = float("inf")
    order = [int(i) for i in np.argsort(-errors, kind="stable")[:WORST]]
    worst = tuple(i for i in order if errors[i] > rtol) if relative > rtol else tuple(order)
    return GradientCheck(x=point, analytic=g, numeric=numeric, relative_error=relative,
                         rtol=rtol, errors=errors, worst=worst)


def require_matching_gradient(objective: Objective, x: np.ndarray) -> GradientCheck:
    """:func:`check_gradient` of ``objective``'s own gradient at ``x``; raise
    :class:`GradientCheckError` (naming the worst coordinates) when it fails."""
    check = check_gradient(objective, None, x)
    if not check.ok:
        raise GradientCheckError(
            f"check_gradient=True: the analytic gradient of {objective!r} disagrees with "
            f"central differences at x0: {check.explain()}. Fix the gradient, or run with "
            "gradient='central'", check)
    return check
