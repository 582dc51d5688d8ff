"""Bounds on the variables: a box ``lo <= x <= hi`` that no evaluation ever leaves.

``bounds=`` in :func:`~optiframe.minimize` and :class:`~optiframe.Runner` takes a
sequence of ``(lo, hi)`` pairs, one per coordinate (None or an infinity for an open
side), or an object of scipy's ``Bounds`` shape (``lb`` and ``ub``, numbers or arrays).
Every optimizer honours them:

* the gradient it is given is the *projected* gradient: a component that would push x out
  of the box at a bound it sits on counts as 0, the others are the gradient's; the
  convergence test and the history's ``grad_norm`` use its norm, 0 exactly at the box's
  stationary (KKT) points;
* its step is projected into the box (``P`` clips each coordinate);
* a line search follows the projected path (``armijo``) or stays within the largest
  feasible step (``wolfe``), so no trial leaves the box;
* finite differences near a bound switch to one-sided differences (second order, as
  scipy's ``approx_derivative`` does with bounds).

L-BFGS with bounds is therefore a *projected* L-BFGS (the two-metric projection of
Bertsekas): its curvature pairs come from projected gradients and the steps actually
taken. It is not L-BFGS-B (no Cauchy point, no subspace minimization): on problems where
many bounds become active it takes more steps than L-BFGS-B, never an infeasible one.

A starting point outside the box is clipped into it; the result's message says which
coordinates were clipped.
"""

from __future__ import annotations

import numbers
from typing import Any

import attrs
import numpy as np

from .errors import InvalidArgumentError


@attrs.frozen(eq=False)
class Box:
    """Bounds ``lo <= x <= hi`` per coordinate (``-inf``/``inf`` for an open side)."""

    lo: np.ndarray
    hi: np.ndarray

    @property
    def n(self) -> int:
        return len(self.lo)

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.lo).all() and np.isfinite(self.hi).all())

    def project(self, X: np.ndarray) -> np.ndarray:
        """X with each coordinate clipped into the box (works on (n,) and (K, n))."""
        return np.clip(X, self.lo, self.hi)

    def projected_gradient(self, X: np.ndarray, G: np.ndarray) -> np.ndarray:
        """The gradient projected on the directions the box allows at X: each component
        that points out of the box at a bound x sits on is 0 (``-g`` would push x out),
        the others are g's. It is 0 exactly at the box's stationary (KKT) points."""
        at_lo, at_hi = self.lo >= X, self.hi <= X
        if not (at_lo.any() or at_hi.any()):
            return G  # x strictly inside: nothing to project (the same values)
        with np.errstate(invalid="ignore"):
            out = (at_lo & (G > 0)) | (at_hi & (G < 0))
        return np.where(out, 0.0, G)

    def free_direction(self, X: np.ndarray, D: np.ndarray, G: np.ndarray) -> np.ndarray:
        """D without its components at the bounds x sits on that push out of the box, or
        whose gradient ``G`` does (those coordinates stay at their bound: the two-metric
        projection of Bertsekas)."""
        at_lo, at_hi = self.lo >= X, self.hi <= X
        if not (at_lo.any() or at_hi.any()):
            return D  # x strictly inside: every direction is free (the same values)
        with np.errstate(invalid="ignore"):
            out = (at_lo & ((D < 0) | (G > 0))) | (at_hi & ((D > 0) | (G < 0)))
        return np.where(out, 0.0, D)

    def max_step(self, X: np.ndarray, D: np.ndarray) -> np.ndarray:
        """The largest ``a >= 0`` with ``x + a d`` in the box, for each row of X (K, n)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(D > 0, (self.hi - X) / D, np.inf)
            down = np.where(D < 0, (self.lo - X) / D, np.inf)
        return np.maximum(np.minimum(up, down).min(axis=-1), 0.0)

    def outside(self, x: np.ndarray) -> np.ndarray:
        """The coordinates of x (n,) outside the box."""
        return np.flatnonzero((x < self.lo) | (x > self.hi))

    def describe(self) -> list[list[float]]:
        """The box as (lo, hi) pairs (for configurations and checkpoints)."""
        return [[float(a), float(b)] for a, b in zip(self.lo, self.hi, strict=True)]


def _side(value: Any, default: float) -> float:
    return default if value is None else float(value)


@attrs.frozen(eq=False)
class LowerUpper:
    """Bounds as scipy's ``Bounds`` writes them: ``lb`` and ``ub``, each a number (every
    coordinate) or one number per coordinate. What a config's ``[bounds]`` section makes.

    >>> as_box(LowerUpper(-1.0, 2.0), 3).hi
    array([2., 2., 2.])
    """

    lb: Any
    ub: Any


def as_box(bounds: Any, n: int | None, name: str = "bounds") -> Box | None:
    """``bounds`` (see the module docstring) as a :class:`Box` for ``n`` coordinates
    (None: no bounds). Refused, naming the bound's index: the wrong number of pairs, a
    NaN, lo > hi, or a pair that holds no finite number (``(inf, inf)``)."""
    if bounds is None:
        return None
    if isinstance(bounds, Box):
        box = bounds
    elif hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        size = n if n is not None else int(max(np.size(bounds.lb), np.size(bounds.ub)))
        try:
            lo = np.broadcast_to(np.asarray(bounds.lb, dtype=float), (size,)).copy()
            hi = np.broadcast_to(np.asarray(bounds.ub, dtype=float), (size,)).copy()
        except ValueError as exc:
            raise InvalidArgumentError(f"{name!r}: lb and ub must hold one number or one per "
                                       f"coordinate ({size}): {exc}") from None
        box = Box(lo, hi)
    else:
        try:
            pairs = list(bounds)
        except TypeError:
            raise InvalidArgumentError(
                f"{name!r} must be a sequence of (lo, hi) pairs (None for an open side) or "
                f"an object with lb and ub: {bounds!r}") from None
        lo, hi = np.empty(len(pairs)), np.empty(len(pairs))
        for i, pair in enumerate(pairs):
            try:
                a, b = pair
                lo[i], hi[i] = _side(a, -np.inf), _side(b, np.inf)
            except (TypeError, ValueError):
                hint = ""
                if len(pairs) == 2 and all(v is None or isinstance(v, numbers.Real)
                                           for v in pairs):  # (lo, hi) for every coordinate
                    hint = (f"; for {tuple(pairs)!r} on every coordinate give one pair a "
                            f"coordinate: [{tuple(pairs)!r}] * n")
                raise InvalidArgumentError(f"{name!r}[{i}] must be a (lo, hi) pair of numbers "
                                           f"or None: {pair!r}{hint}") from None
        box = Box(lo, hi)
    if n is not None and box.n != n:
        raise InvalidArgumentError(f"{name!r} has {box.n} (lo, hi) pairs but the problem has "
                                   f"{n} coordinates")
    for i in range(box.n):
        a, b = float(box.lo[i]), float(box.hi[i])
        if a != a or b != b:
            raise InvalidArgumentError(f"{name!r}[{i}] is NaN: ({a!r}, {b!r})")
        if a > b:
            raise InvalidArgumentError(f"{name!r}[{i}] has lo > hi: ({a!r}, {b!r})")
        if a == np.inf or b == -np.inf:  # (inf, inf), (-inf, -inf): no finite point fits
            raise InvalidArgumentError(
                f"{name!r}[{i}] leaves no finite value: ({a!r}, {b!r}); a lower bound may "
                "be -inf and an upper bound inf, not the other way round")
    return box
