"""Arithmetic that stays honest at the edges of floating point: norms that do not overflow
(a gradient of 1e200 is a direction, not infinity), and steps long enough to move x (a
unit step from x = 1e16 rounds back to x).

Example
-------
>>> import numpy as np
>>> from optiframe.numerics import scaled_row_norms, moving_lengths
>>> norms = scaled_row_norms(np.array([[3e200, 4e200], [3.0, 4.0]]))  # no overflow
>>> bool(np.isclose(norms[0], 5e200)), float(norms[1])
(True, 5.0)
>>> moving_lengths(np.array([[1e16, 1e16]]), np.array([[-0.6, -0.8]]), np.ones(1)).tolist()
[5.0]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, cast

import numpy as np

#: A change of f below this many units of its rounding (``eps |f|``) is no evidence: a
#: step whose decrease is that small did not lower f, and a first trial that promised no
#: more shows that f cannot be lowered within its precision.
ROUNDING_UNITS = 1e3
#: A decrease of f by at most this many units of its rounding is the noise of computing
#: f, not a lower f: a line search that found only such a step found none.
NOISE_UNITS = 8.0
_EPS = float(np.finfo(float).eps)
#: f at or below this (the most negative float / 1024) fell without bound: a few more
#: doublings of the step overflow it to -inf, so a start there ends ``diverged``, as at -inf.
F_FLOOR = -float(np.finfo(float).max) / 1024.0


def _c_function(name: str, public: Callable[..., Any]) -> Callable[..., Any]:
    """numpy's C function ``name`` itself (the same function, so the same result):
    ``public``'s Python wrapper costs as much again on a small array (0.3-0.65 us a
    call); ``public`` where a numpy hides it elsewhere."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return cast(Callable[..., Any], getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return public  # pragma: no cover


#: ``np.einsum`` without its Python wrapper (no ``optimize``: the operands are few)
einsum = _c_function("c_einsum", np.einsum)
#: ``np.count_nonzero(a)`` of a whole array, without its Python wrapper and dispatcher
count_nonzero = _c_function("count_nonzero", np.count_nonzero)


def lowered(F_old: np.ndarray, F_new: np.ndarray) -> np.ndarray:
    """Which rows' f decreased by more than the noise of computing it
    (:data:`NOISE_UNITS` units of ``eps |f|``)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (F_old - F_new) > NOISE_UNITS * _EPS * np.abs(F_old)


def scaled_row_norms(A: np.ndarray) -> np.ndarray:
    """The Euclidean norm of each row of ``A`` (K, n), computed without overflow: rows
    whose plain norm overflows (or underflows to 0 while nonzero) are scaled by their
    largest entry first (each row on its own: a row's bits never depend on the others).
    Non-finite rows give inf or NaN, as their entries do."""
    plain = np.sqrt(einsum("ij,ij->i", A, A))  # einsum neither warns nor raises
    if plain.min() > 0.0 and plain.max() < np.inf:
        return plain
    redo = (plain == np.inf) | (plain == 0.0)
    if not redo.any():
        return plain
    rows = np.flatnonzero(redo)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        big = np.abs(A[rows]).max(axis=1)
        finite = np.isfinite(big) & (big > 0)
        scaled = np.where(finite[:, None], A[rows] / np.where(finite, big, 1.0)[:, None], 0.0)
        plain[rows] = np.where(finite, big * np.sqrt(einsum("ij,ij->i", scaled, scaled)),
                               np.where(big == 0, 0.0, np.inf))
    return plain


def scaled_dots(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a.b`` of each pair of rows, and the norms ``|a|`` and ``|b|``, none of which
    overflows where it need not: a row whose plain ``a.b`` overflows (or underflows) is
    computed as ``|a| |b| (a/|a|).(b/|b|)``, so a test such as ``a.b > eps |a| |b|`` is
    the same at any scale of f. Each row on its own."""
    na, nb = scaled_row_norms(A), scaled_row_norms(B)
    dot = einsum("ij,ij->i", A, B)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        bad = ~np.isfinite(dot) | ((dot == 0.0) & (na > 0) & (nb > 0))
    if not bad.any():
        return dot, na, nb
    rows = np.flatnonzero(bad)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        ua = A[rows] / np.where(na[rows] > 0, na[rows], 1.0)[:, None]
        ub = B[rows] / np.where(nb[rows] > 0, nb[rows], 1.0)[:, None]
        dot[rows] = na[rows] * nb[rows] * einsum("ij,ij->i", ua, ub)
    return dot, na, nb


def unit_steps(R: np.ndarray, X: np.ndarray, lengths: np.ndarray | None = None,
               ) -> np.ndarray:
    """The directions ``R`` (rows) as steps of ``lengths`` (default 1) from ``X``: unit
    directions (their norms computed without overflow), each lengthened where it would
    round back to x (:func:`moving_lengths`)."""
    norms = scaled_row_norms(R)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = R / np.where(norms > 0, norms, 1.0)[:, None]
    base = np.ones(len(R)) if lengths is None else lengths
    return moving_lengths(X, unit, base)[:, None] * unit


def moving_lengths(X: np.ndarray, D: np.ndarray, lengths: np.ndarray,
                   limit: np.ndarray | None = None) -> np.ndarray:
    """``lengths``, lengthened for the rows where ``x + a d`` rounds back to x (every
    coordinate's move below its spacing): to twice the shortest length that changes a
    coordinate, at most ``limit``. Rows with ``d = 0`` keep theirs."""
    with np.errstate(invalid="ignore", over="ignore"):
        stuck = ~((X + lengths[:, None] * D) != X).any(axis=1)
    if not stuck.any():
        return lengths
    rows = np.flatnonzero(stuck)
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.spacing(np.abs(X[rows])) / np.abs(D[rows])
    shortest = np.where(np.isfinite(need), need, np.inf).min(axis=1)
    out = np.array(lengths, dtype=float)
    out[rows] = np.where(np.isfinite(shortest), np.maximum(2.0 * shortest, out[rows]),
                         out[rows])
    if limit is not None:
        out[rows] = np.minimum(out[rows], limit[rows])
    return out
