"""The test set of Moré, Garbow and Hillstrom: the 18 unconstrained minimization problems.

J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing Unconstrained Optimization
Software", ACM TOMS 7(1), 1981, pp. 17-41 (problems 3, 4, 5, 7, 9, 11, 12, 14, 16, 18,
20, 21, 22, 23, 24, 25, 26 and 35 of the paper, the set its Algorithm 566 ships). Each is a
sum of squares ``f(x) = sum_i r_i(x)**2`` with an analytic Jacobian, so the gradient
``2 J^T r`` is exact; every problem takes a point (n,) or a stack (K, n). Each is registered
as an objective named ``mgh-<name>`` at its standard size, with its standard starting
point (``x0``), its known minimum value (``f_star``, from the paper) and, where the
minimizer is known in closed form, the minimizer (``x_star``).

A problem with a known minimizer also has a *bounded variant* (:meth:`MGHProblem.box`):
one bound on the coordinate farthest from the minimizer, three quarters of the way from
the starting point to it, so that the box holds the starting point and excludes the
unconstrained minimizer.

>>> import optiframe as of
>>> from optiframe.mgh import PROBLEMS
>>> p = PROBLEMS["beale"]()
>>> r = of.minimize(p, p.x0, optimizer="lbfgs")
>>> r.status, bool(r.fun - p.f_star <= 1e-8)
('converged', True)
>>> p.box()
[(None, 2.5), (None, None)]
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .mgh_base import MGHProblem, MinimaBySize, columns, jacobian_of

_SQRT5, _SQRT10 = math.sqrt(5.0), math.sqrt(10.0)


class HelicalValley(MGHProblem):
    """Problem 7: a helical valley around the x3 axis."""

    name, default_n, f_star = "helical-valley", 3, 0.0
    x0 = property(lambda self: np.array([-1.0, 0.0, 0.0]))
    x_star = property(lambda self: np.array([1.0, 0.0, 0.0]))

    def _theta(self, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.arctan(x2 / x1) / (2 * math.pi) + 0.5 * (x1 < 0)

    def _r(self, X: np.ndarray) -> np.ndarray:
        x1, x2, x3 = columns(X, 3)
        return np.stack([10.0 * (x3 - 10.0 * self._theta(x1, x2)),
                         10.0 * (np.hypot(x1, x2) - 1.0), x3], axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        x1, x2, _ = columns(X, 3)
        rho2 = x1 * x1 + x2 * x2
        rho = np.sqrt(rho2)
        return jacobian_of([[50.0 * x2 / (math.pi * rho2), -50.0 * x1 / (math.pi * rho2), 10.0],
                     [10.0 * x1 / rho, 10.0 * x2 / rho, 0.0], [0.0, 0.0, 1.0]], x1)


class BiggsEXP6(MGHProblem):
    """Problem 18: Biggs' sum of exponentials (n = 6, m = 13)."""

    name, default_n, f_star = "biggs-exp6", 6, 0.0
    x0 = property(lambda self: np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0]))
    x_star = property(lambda self: np.array([1.0, 10.0, 1.0, 5.0, 4.0, 3.0]))
    _t = 0.1 * np.arange(1, 14)
    _y = np.exp(-_t) - 5.0 * np.exp(-10.0 * _t) + 3.0 * np.exp(-4.0 * _t)

    def _r(self, X: np.ndarray) -> np.ndarray:
        t = self._t
        x = [c[..., None] for c in columns(X, 6)]
        return (x[2] * np.exp(-t * x[0]) - x[3] * np.exp(-t * x[1])
                + x[5] * np.exp(-t * x[4]) - self._y)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        t = self._t
        x = [c[..., None] for c in columns(X, 6)]
        e0, e1, e4 = np.exp(-t * x[0]), np.exp(-t * x[1]), np.exp(-t * x[4])
        return np.stack([-t * x[2] * e0, t * x[3] * e1, e0, -e1, -t * x[5] * e4, e4], axis=-1)


class Gaussian(MGHProblem):
    """Problem 9: a Gaussian fitted to 15 points (n = 3)."""

    name, default_n, f_star = "gaussian", 3, 1.12793e-8
    x0 = property(lambda self: np.array([0.4, 1.0, 0.0]))
    _t = (8.0 - np.arange(1, 16)) / 2.0
    _y = np.array([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989, 0.3521,
                   0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])

    def _r(self, X: np.ndarray) -> np.ndarray:
        x1, x2, x3 = (c[..., None] for c in columns(X, 3))
        return x1 * np.exp(-x2 * (self._t - x3) ** 2 / 2.0) - self._y

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        x1, x2, x3 = (c[..., None] for c in columns(X, 3))
        d = self._t - x3
        e = np.exp(-x2 * d * d / 2.0)
        return np.stack([e, -x1 * e * d * d / 2.0, x1 * x2 * e * d], axis=-1)


class PowellBadlyScaled(MGHProblem):
    """Problem 3: Powell's badly scaled function (n = 2)."""

    name, default_n, f_star = "powell-badly-scaled", 2, 0.0
    x0 = property(lambda self: np.array([0.0, 1.0]))
    x_star = property(lambda self: np.array([1.098159329699759e-05, 9.106146739866835]))

    def _r(self, X: np.ndarray) -> np.ndarray:
        x1, x2 = columns(X, 2)
        return np.stack([1e4 * x1 * x2 - 1.0, np.exp(-x1) + np.exp(-x2) - 1.0001], axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        x1, x2 = columns(X, 2)
        return jacobian_of([[1e4 * x2, 1e4 * x1], [-np.exp(-x1), -np.exp(-x2)]], x1)


class Box3D(MGHProblem):
    """Problem 12: Box's three-dimensional function (m = 10)."""

    name, default_n, f_star = "box-3d", 3, 0.0
    x0 = property(lambda self: np.array([0.0, 10.0, 20.0]))
    x_star = property(lambda self: np.array([1.0, 10.0, 1.0]))
    _t = 0.1 * np.arange(1, 11)

    def _r(self, X: np.ndarray) -> np.ndarray:
        t = self._t
        x1, x2, x3 = (c[..., None] for c in columns(X, 3))
        return np.exp(-t * x1) - np.exp(-t * x2) - x3 * (np.exp(-t) - np.exp(-10.0 * t))

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        t = self._t
        x1, x2, _ = (c[..., None] for c in columns(X, 3))
        c = -(np.exp(-t) - np.exp(-10.0 * t))
        return np.stack([-t * np.exp(-t * x1), t * np.exp(-t * x2),
                         np.broadcast_to(c, np.broadcast_shapes(x1.shape, t.shape))], axis=-1)


class VariablyDimensioned(MGHProblem):
    """Problem 25: the variably dimensioned function (m = n + 2; standard n = 10)."""

    name, default_n, f_star = "variably-dimensioned", 10, 0.0

    def _check_n(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"{self.name} needs n >= 1: {n!r}")

    x0 = property(lambda self: 1.0 - np.arange(1, self.n + 1) / self.n)
    x_star = property(lambda self: np.ones(self.n))

    def _r(self, X: np.ndarray) -> np.ndarray:
        j = np.arange(1, self.n + 1)
        s = (j * (X - 1.0)).sum(axis=-1, keepdims=True)
        return np.concatenate([X - 1.0, s, s * s], axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        n = self.n
        j = np.arange(1, n + 1, dtype=float)
        s = (j * (X - 1.0)).sum(axis=-1, keepdims=True)
        eye = np.broadcast_to(np.eye(n), (*X.shape[:-1], n, n))
        return np.concatenate([eye, np.broadcast_to(j, X.shape)[..., None, :],
                               (2.0 * s * j)[..., None, :]], axis=-2)


class Watson(MinimaBySize):
    """Problem 20: Watson's function (m = 31; standard n = 9, where f* = 1.39976e-6)."""

    name, default_n = "watson", 9
    _F_STAR: ClassVar[dict[int, float]] = {6: 2.28767e-3, 9: 1.39976e-6, 12: 4.72238e-10}

    x0 = property(lambda self: np.zeros(self.n))
    _t = np.arange(1, 30) / 29.0

    def _r(self, X: np.ndarray) -> np.ndarray:
        n, t = self.n, self._t
        powers = t[:, None] ** np.arange(n)  # (29, n): t^(j-1)
        deriv = np.zeros((29, n))
        deriv[:, 1:] = np.arange(1, n) * powers[:, :-1]  # (j-1) t^(j-2)
        s1 = X @ deriv.T
        s2 = X @ powers.T
        x1, x2 = X[..., :1], X[..., 1:2]
        return np.concatenate([s1 - s2 * s2 - 1.0, x1, x2 - x1 * x1 - 1.0], axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        n, t = self.n, self._t
        powers = t[:, None] ** np.arange(n)
        deriv = np.zeros((29, n))
        deriv[:, 1:] = np.arange(1, n) * powers[:, :-1]
        s2 = X @ powers.T  # (..., 29)
        top = deriv - 2.0 * s2[..., None] * powers  # (..., 29, n)
        e1 = np.zeros(X.shape)
        e1[..., 0] = 1.0
        last = np.zeros(X.shape)
        last[..., 0], last[..., 1] = -2.0 * X[..., 0], 1.0
        return np.concatenate([top, e1[..., None, :], last[..., None, :]], axis=-2)


class PenaltyI(MinimaBySize):
    """Problem 23: penalty function I (m = n + 1; standard n = 10)."""

    name, default_n = "penalty-1", 10
    _F_STAR: ClassVar[dict[int, float]] = {4: 2.24998e-5, 10: 7.08765e-5}

    x0 = property(lambda self: np.arange(1.0, self.n + 1))

    def _r(self, X: np.ndarray) -> np.ndarray:
        a = math.sqrt(1e-5)
        return np.concatenate([a * (X - 1.0), (X * X).sum(axis=-1, keepdims=True) - 0.25],
                              axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        n = self.n
        eye = np.broadcast_to(math.sqrt(1e-5) * np.eye(n), (*X.shape[:-1], n, n))
        return np.concatenate([eye, (2.0 * X)[..., None, :]], axis=-2)


class PenaltyII(MinimaBySize):
    """Problem 24: penalty function II (m = 2n; standard n = 10)."""

    name, default_n = "penalty-2", 10
    _F_STAR: ClassVar[dict[int, float]] = {4: 9.37629e-6, 10: 2.93660e-4}

    x0 = property(lambda self: np.full(self.n, 0.5))

    def _r(self, X: np.ndarray) -> np.ndarray:
        n, a = self.n, math.sqrt(1e-5)
        i = np.arange(2, n + 1)
        y = np.exp(i / 10.0) + np.exp((i - 1) / 10.0)
        e = np.exp(X / 10.0)
        weights = np.arange(n, 0, -1)
        return np.concatenate([
            X[..., :1] - 0.2, a * (e[..., 1:] + e[..., :-1] - y),
            a * (e[..., 1:] - math.exp(-0.1)),
            (weights * X * X).sum(axis=-1, keepdims=True) - 1.0], axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        n, a = self.n, math.sqrt(1e-5)
        lead = X.shape[:-1]
        J = np.zeros((*lead, 2 * n, n))
        de = a * np.exp(X / 10.0) / 10.0
        J[..., 0, 0] = 1.0
        rows = np.arange(1, n)
        J[..., rows, rows] = de[..., 1:]
        J[..., rows, rows - 1] = de[..., :-1]
        J[..., rows + n - 1, rows] = de[..., 1:]
        J[..., 2 * n - 1, :] = 2.0 * np.arange(n, 0, -1) * X
        return J


class BrownBadlyScaled(MGHProblem):
    """Problem 4: Brown's badly scaled function (n = 2, m = 3)."""

    name, default_n, f_star = "brown-badly-scaled", 2, 0.0
    x0 = property(lambda self: np.array([1.0, 1.0]))
    x_star = property(lambda self: np.array([1e6, 2e-6]))

    def _r(self, X: np.ndarray) -> np.ndarray:
        x1, x2 = columns(X, 2)
        return np.stack([x1 - 1e6, x2 - 2e-6, x1 * x2 - 2.0], axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        x1, x2 = columns(X, 2)
        return jacobian_of([[1.0, 0.0], [0.0, 1.0], [x2, x1]], x1)


class BrownDennis(MGHProblem):
    """Problem 16: Brown and Dennis' function (n = 4, m = 20).

    The paper gives f* = 85822.2, rounded to six digits; the value here is the minimum to
    full precision, so that a target of 1e-8 relative can be reached."""

    name, default_n, f_star = "brown-dennis", 4, 85822.20162635628
    x0 = property(lambda self: np.array([25.0, 5.0, -5.0, -1.0]))
    _t = np.arange(1, 21) / 5.0

    def _parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = self._t
        x1, x2, x3, x4 = (c[..., None] for c in columns(X, 4))
        return x1 + t * x2 - np.exp(t), x3 + x4 * np.sin(t) - np.cos(t)

    def _r(self, X: np.ndarray) -> np.ndarray:
        a, b = self._parts(X)
        return a * a + b * b

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        a, b = self._parts(X)
        t = self._t
        return np.stack([2.0 * a, 2.0 * a * t, 2.0 * b, 2.0 * b * np.sin(t)], axis=-1)


class Gulf(MGHProblem):
    """Problem 11: the Gulf research and development function (n = 3, m = 99)."""

    name, default_n, f_star = "gulf", 3, 0.0
    x0 = property(lambda self: np.array([5.0, 2.5, 0.15]))
    x_star = property(lambda self: np.array([50.0, 25.0, 1.5]))
    _t = np.arange(1, 100) / 100.0
    _y = 25.0 + (-50.0 * np.log(_t)) ** (2.0 / 3.0)

    def _parts(self, X: np.ndarray) -> tuple[np.ndarray, ...]:
        x1, x2, x3 = (c[..., None] for c in columns(X, 3))
        d = self._y - x2
        u = np.abs(d)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = u ** x3
            e = np.exp(-p / x1)
        return x1, x3, d, u, p, e

    def _r(self, X: np.ndarray) -> np.ndarray:
        *_, e = self._parts(X)
        return e - self._t

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        x1, x3, d, u, p, e = self._parts(X)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.stack([e * p / (x1 * x1), e * x3 * u ** (x3 - 1.0) * np.sign(d) / x1,
                             -e * p * np.log(u) / x1], axis=-1)


class Trigonometric(MGHProblem):
    """Problem 26: the trigonometric function (m = n; standard n = 10)."""

    name, default_n, f_star = "trigonometric", 10, 0.0

    def _check_n(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"{self.name} needs n >= 1: {n!r}")

    x0 = property(lambda self: np.full(self.n, 1.0 / self.n))

    def _r(self, X: np.ndarray) -> np.ndarray:
        n = self.n
        i = np.arange(1, n + 1)
        c = np.cos(X)
        return n - c.sum(axis=-1, keepdims=True) + i * (1.0 - c) - np.sin(X)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        n = self.n
        i = np.arange(1, n + 1)
        s, c = np.sin(X), np.cos(X)
        J = np.broadcast_to(s[..., None, :], (*X.shape[:-1], n, n)).copy()
        diag = np.arange(n)
        J[..., diag, diag] += i * s - c
        return J


class ExtendedRosenbrock(MGHProblem):
    """Problem 21: the extended Rosenbrock function (n even; standard n = 10)."""

    name, default_n, f_star = "rosenbrock", 10, 0.0

    def _check_n(self, n: int) -> None:
        if not isinstance(n, int) or n < 2 or n % 2:
            raise InvalidArgumentError(f"{self.name} needs an even n >= 2: {n!r}")

    @property
    def x0(self) -> np.ndarray:
        x = np.ones(self.n)
        x[::2] = -1.2
        return x

    x_star = property(lambda self: np.ones(self.n))

    def _r(self, X: np.ndarray) -> np.ndarray:
        odd, even = X[..., ::2], X[..., 1::2]
        r = np.empty(X.shape)
        r[..., ::2] = 10.0 * (even - odd * odd)
        r[..., 1::2] = 1.0 - odd
        return r

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        n = self.n
        J = np.zeros((*X.shape[:-1], n, n))
        k = np.arange(0, n, 2)
        J[..., k, k] = -20.0 * X[..., ::2]
        J[..., k, k + 1] = 10.0
        J[..., k + 1, k] = -1.0
        return J


class ExtendedPowellSingular(MGHProblem):
    """Problem 22: the extended Powell singular function (n a multiple of 4; standard
    n = 12). Its Hessian at the minimizer is singular."""

    name, default_n, f_star = "powell-singular", 12, 0.0

    def _check_n(self, n: int) -> None:
        if not isinstance(n, int) or n < 4 or n % 4:
            raise InvalidArgumentError(f"{self.name} needs n a multiple of 4: {n!r}")

    x0 = property(lambda self: np.tile([3.0, -1.0, 0.0, 1.0], self.n // 4))
    x_star = property(lambda self: np.zeros(self.n))

    def _r(self, X: np.ndarray) -> np.ndarray:
        a, b, c, d = X[..., 0::4], X[..., 1::4], X[..., 2::4], X[..., 3::4]
        r = np.empty(X.shape)
        r[..., 0::4] = a + 10.0 * b
        r[..., 1::4] = _SQRT5 * (c - d)
        r[..., 2::4] = (b - 2.0 * c) ** 2
        r[..., 3::4] = _SQRT10 * (a - d) ** 2
        return r

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        n = self.n
        a, b, c, d = X[..., 0::4], X[..., 1::4], X[..., 2::4], X[..., 3::4]
        J = np.zeros((*X.shape[:-1], n, n))
        k = np.arange(0, n, 4)
        J[..., k, k], J[..., k, k + 1] = 1.0, 10.0
        J[..., k + 1, k + 2], J[..., k + 1, k + 3] = _SQRT5, -_SQRT5
        J[..., k + 2, k + 1], J[..., k + 2, k + 2] = 2.0 * (b - 2.0 * c), -4.0 * (b - 2.0 * c)
        J[..., k + 3, k] = 2.0 * _SQRT10 * (a - d)
        J[..., k + 3, k + 3] = -2.0 * _SQRT10 * (a - d)
        return J


class Beale(MGHProblem):
    """Problem 5: Beale's function (n = 2, m = 3)."""

    name, default_n, f_star = "beale", 2, 0.0
    x0 = property(lambda self: np.array([1.0, 1.0]))
    x_star = property(lambda self: np.array([3.0, 0.5]))
    _y = np.array([1.5, 2.25, 2.625])
    _i = np.array([1.0, 2.0, 3.0])

    def _r(self, X: np.ndarray) -> np.ndarray:
        x1, x2 = (c[..., None] for c in columns(X, 2))
        return self._y - x1 * (1.0 - x2 ** self._i)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        x1, x2 = (c[..., None] for c in columns(X, 2))
        i = self._i
        return np.stack([-(1.0 - x2 ** i) + 0.0 * x1, x1 * i * x2 ** (i - 1.0)], axis=-1)


class Wood(MGHProblem):
    """Problem 14: Wood's function (n = 4, m = 6)."""

    name, default_n, f_star = "wood", 4, 0.0
    x0 = property(lambda self: np.array([-3.0, -1.0, -3.0, -1.0]))
    x_star = property(lambda self: np.ones(4))

    def _r(self, X: np.ndarray) -> np.ndarray:
        x1, x2, x3, x4 = columns(X, 4)
        return np.stack([10.0 * (x2 - x1 * x1), 1.0 - x1, math.sqrt(90.0) * (x4 - x3 * x3),
                         1.0 - x3, _SQRT10 * (x2 + x4 - 2.0), (x2 - x4) / _SQRT10], axis=-1)

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        x1, _, x3, _ = columns(X, 4)
        s90 = math.sqrt(90.0)
        return jacobian_of([[-20.0 * x1, 10.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 0.0],
                     [0.0, 0.0, -2.0 * s90 * x3, s90], [0.0, 0.0, -1.0, 0.0],
                     [0.0, _SQRT10, 0.0, _SQRT10], [0.0, 1 / _SQRT10, 0.0, -1 / _SQRT10]], x1)


class Chebyquad(MinimaBySize):
    """Problem 35: the Chebyquad function (m = n; standard n = 8)."""

    name, default_n = "chebyquad", 8
    _F_STAR: ClassVar[dict[int, float]] = {8: 3.51687e-3, 10: 6.50395e-3}

    x0 = property(lambda self: np.arange(1, self.n + 1) / (self.n + 1.0))

    def _polys(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T_i(2x - 1) and its derivative in u, for i = 1..n: (..., n_i, n_j)."""
        u = 2.0 * X - 1.0
        T_prev, T = np.ones_like(u), u
        dT_prev, dT = np.zeros_like(u), np.ones_like(u)
        Ts, dTs = [T], [dT]
        for _ in range(self.n - 1):
            T_prev, T = T, 2.0 * u * T - T_prev
            dT_prev, dT = dT, 2.0 * Ts[-1] + 2.0 * u * dT - dT_prev
            Ts.append(T)
            dTs.append(dT)
        return np.stack(Ts, axis=-2), np.stack(dTs, axis=-2)

    def _r(self, X: np.ndarray) -> np.ndarray:
        i = np.arange(1, self.n + 1)
        even = i % 2 == 0
        integral = np.where(even, -1.0 / np.where(even, i * i - 1.0, 1.0), 0.0)
        T, _ = self._polys(X)
        return T.mean(axis=-1) - integral

    def _jacobian(self, X: np.ndarray) -> np.ndarray:
        _, dT = self._polys(X)
        return 2.0 * dT / self.n


#: Name (without ``mgh-``) -> problem class, in the order of the paper's table.
PROBLEMS: dict[str, type[MGHProblem]] = {cls.name: cls for cls in (
    HelicalValley, BiggsEXP6, Gaussian, PowellBadlyScaled, Box3D, VariablyDimensioned,
    Watson, PenaltyI, PenaltyII, BrownBadlyScaled, BrownDennis, Gulf, Trigonometric,
    ExtendedRosenbrock, ExtendedPowellSingular, Beale, Wood, Chebyquad)}


@hookimpl
def register_objectives(register: Register) -> None:
    for name, cls in PROBLEMS.items():
        register(f"mgh-{name}", cls)


__all__ = [
    "PROBLEMS",
    "Beale",
    "BiggsEXP6",
    "Box3D",
    "BrownBadlyScaled",
    "BrownDennis",
    "Chebyquad",
    "ExtendedPowellSingular",
    "ExtendedRosenbrock",
    "Gaussian",
    "Gulf",
    "HelicalValley",
    "MGHProblem",
    "PenaltyI",
    "PenaltyII",
    "PowellBadlyScaled",
    "Trigonometric",
    "VariablyDimensioned",
    "Watson",
    "Wood",
]
