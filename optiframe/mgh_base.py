"""What every Moré-Garbow-Hillstrom problem shares (:mod:`optiframe.mgh`): the
:class:`MGHProblem` base (residuals and Jacobian to value, gradient and stacks), its
bounded variant, and the helpers the problems write their Jacobians with."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .errors import InvalidArgumentError
from .objective import Objective


class MGHProblem(Objective):
    """A sum of squares from the Moré-Garbow-Hillstrom set (see the module docstring).

    Subclasses give the residuals ``_r(X)`` (..., m) and the Jacobian ``_jacobian(X)`` (..., m,
    n) over the last axis of X, the standard size, the starting point and the minimum.
    """

    __test__ = False
    trusted = True
    name: ClassVar[str]
    default_n: ClassVar[int]
    f_star: float

    def __init__(self, n: int | None = None) -> None:
        n = self.default_n if n is None else n
        self._check_n(n)
        self.dim = n

    def _check_n(self, n: int) -> None:
        if n != self.default_n:
            raise InvalidArgumentError(f"{self.name} has n = {self.default_n}: {n!r}")

    def __repr__(self) -> str:
        return f"mgh-{self.name}(n={self.dim})"

    # -- the problem ------------------------------------------------------------------------
    @property
    def n(self) -> int:
        assert self.dim is not None
        return self.dim

    @property
    def x0(self) -> np.ndarray:
        """The standard starting point."""
        raise NotImplementedError

    @property
    def x_star(self) -> np.ndarray | None:
        """A minimizer, where it is known in closed form (else None)."""
        return None

    def box(self) -> list[tuple[float | None, float | None]] | None:
        """The bounded variant: one bound, 3/4 of the way from x0 to the minimizer on
        the coordinate where they differ most (None without a known minimizer)."""
        x_star = self.x_star
        if x_star is None:
            return None
        x0 = self.x0
        j = int(np.argmax(np.abs(x_star - x0)))
        cut = float(x0[j] + 0.75 * (x_star[j] - x0[j]))
        pairs: list[tuple[float | None, float | None]] = [(None, None)] * self.n
        pairs[j] = (None, cut) if x_star[j] > x0[j] else (cut, None)
        return pairs

    def _r(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- the objective ------------------------------------------------------------------
    def values(self, X: np.ndarray) -> np.ndarray:
        r = self._r(np.asarray(X, dtype=float))
        return np.einsum("...i,...i->...", r, r)

    def value(self, x: np.ndarray) -> float:
        return float(self.values(x))

    def gradients(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return 2.0 * np.einsum("...ij,...i->...j", self._jacobian(X), self._r(X))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.gradients(x)


def columns(X: np.ndarray, n: int) -> list[np.ndarray]:
    return [X[..., j] for j in range(n)]


def jacobian_of(rows: list[list[Any]], like: np.ndarray) -> np.ndarray:
    """A Jacobian (..., m, n) from m rows of n entries (arrays or numbers)."""
    shape = like.shape
    return np.stack([np.stack([np.broadcast_to(np.asarray(e, dtype=float), shape) for e in row],
                              axis=-1) for row in rows], axis=-2)


class MinimaBySize(MGHProblem):
    """A problem whose minimum the paper gives for a few sizes only (``_F_STAR``)."""

    _F_STAR: ClassVar[dict[int, float]]

    def _check_n(self, n: int) -> None:
        if n not in self._F_STAR:
            sizes = ", ".join(str(k) for k in self._F_STAR)
            raise InvalidArgumentError(f"{self.name} has known minima for n = {sizes}: {n!r}")

    @property
    def f_star(self) -> float:  # type: ignore[override]
        return self._F_STAR[self.n]
