"""Built-in test objectives, each with an analytic gradient and a row-vectorized value.

Every function is written over the last axis, so one formula serves a point of shape
(n,) and a stack of shape (m, n). The n-D formulas reuse their temporaries (``out=``):
on a stack of finite-difference points each fresh temporary is large enough to be paged
in anew by the allocator, which made the plain one-line formulas four times slower.
Each function knows its usual search box (``bounds``) and its global minima, which the
tests check.

===============  ======================================  ===================
name             global minimum                          usual box
===============  ======================================  ===================
sphere           f(0, ..., 0) = 0                        [-5.12, 5.12]^n
rosenbrock       f(1, ..., 1) = 0 (n >= 2)               [-2.048, 2.048]^n
himmelblau       f = 0 at four points (2-D only)         [-5, 5]^2
rastrigin        f(0, ..., 0) = 0                        [-5.12, 5.12]^n
ackley           f(0, ..., 0) = 0                        [-32.768, 32.768]^n
styblinski-tang  f(-2.9035..., ...) = -39.16616570... n  [-5, 5]^n
===============  ======================================  ===================
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .objective import Objective

_TWO_PI = 2.0 * math.pi


@attrs.frozen
class TestFunction(Objective):
    """Base of the built-in test objectives: ``_f`` and ``_g`` work on (n,) and (m, n)."""

    __test__ = False  # not a pytest test class
    trusted = True
    dim: int | None = None
    min_dim = 1
    box: tuple[float, float] = (-5.0, 5.0)

    def __attrs_post_init__(self) -> None:
        if self.dim is not None and (
            isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < self.min_dim
        ):
            raise InvalidArgumentError(
                f"'dim' of {type(self).__name__} must be an integer >= {self.min_dim}: {self.dim!r}"
            )

    def _f(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _g(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value(self, x: np.ndarray) -> float:
        return float(self._f(x))

    def values(self, X: np.ndarray) -> np.ndarray:
        return self._f(X)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self._g(x)

    def gradients(self, X: np.ndarray) -> np.ndarray:
        return self._g(X)

    def check_dim(self, n: int) -> None:
        super().check_dim(n)
        if n < self.min_dim:
            raise InvalidArgumentError(
                f"x0 has {n} coordinates but {type(self).__name__} needs at least {self.min_dim}"
            )

    def bounds(self, n: int | None = None) -> list[tuple[float, float]]:
        """The usual search box, one (low, high) pair per coordinate."""
        n = self._n(n)
        return [self.box] * n

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        """The global minimizers in ``n`` dimensions."""
        raise NotImplementedError

    def minimum_value(self, n: int | None = None) -> float:
        """The global minimum value in ``n`` dimensions."""
        return 0.0

    def _n(self, n: int | None) -> int:
        n = self.dim if n is None else n
        if n is None:
            raise InvalidArgumentError(f"{type(self).__name__} has no fixed dim: pass 'n'")
        self.check_dim(n)
        return n


@attrs.frozen
class Sphere(TestFunction):
    """f(x) = sum(x**2), the blog's ``func2``: one valley, minimum 0 at the origin."""

    box: tuple[float, float] = (-5.12, 5.12)

    def value(self, x: np.ndarray) -> float:
        return float(x @ x)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return 2.0 * x

    def _f(self, X: np.ndarray) -> np.ndarray:
        return np.einsum("...i,...i->...", X, X)

    def _g(self, X: np.ndarray) -> np.ndarray:
        return 2.0 * X

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        return [np.zeros(self._n(n))]


@attrs.frozen
class Rosenbrock(TestFunction):
    """sum(100 (x[i+1] - x[i]**2)**2 + (1 - x[i])**2): a curved valley, minimum 0 at ones."""

    min_dim = 2
    box: tuple[float, float] = (-2.048, 2.048)

    def _f(self, X: np.ndarray) -> np.ndarray:
        a, b = X[..., :-1], X[..., 1:]
        t = a * a
        np.subtract(b, t, out=t)
        np.square(t, out=t)
        t *= 100.0
        u = np.subtract(1.0, a)
        np.square(u, out=u)
        t += u
        return t.sum(axis=-1)

    def _g(self, X: np.ndarray) -> np.ndarray:
        a, b = X[..., :-1], X[..., 1:]
        inner = b - a * a
        g = np.zeros_like(X)
        g[..., :-1] = -400.0 * a * inner - 2.0 * (1.0 - a)
        g[..., 1:] += 200.0 * inner
        return g

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        return [np.ones(self._n(n))]


@attrs.frozen
class Himmelblau(TestFunction):
    """(x**2 + y - 11)**2 + (x + y**2 - 7)**2: four valleys, each with minimum 0."""

    dim: int | None = 2
    min_dim = 2

    MINIMA = (
        (3.0, 2.0),
        (-2.805118086952745, 3.131312518250573),
        (-3.779310253377747, -3.283185991286170),
        (3.584428340330492, -1.848126526964404),
    )

    def __attrs_post_init__(self) -> None:
        if self.dim != 2:
            raise InvalidArgumentError(f"'dim' of Himmelblau must be 2: {self.dim!r}")

    def _f(self, X: np.ndarray) -> np.ndarray:
        x, y = X[..., 0], X[..., 1]
        u = x * x + y - 11.0
        v = x + y * y - 7.0
        # u * u, not u ** 2: on one point numpy takes ** as scalar pow, on a stack as a
        # square, and the two differ in the last bit; a product is the same on both.
        return u * u + v * v

    def _g(self, X: np.ndarray) -> np.ndarray:
        x, y = X[..., 0], X[..., 1]
        u = x * x + y - 11.0
        v = x + y * y - 7.0
        return np.stack([4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v], axis=-1)

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        self._n(n)
        return [np.array(m) for m in self.MINIMA]


@attrs.frozen
class Rastrigin(TestFunction):
    """10 n + sum(x**2 - 10 cos(2 pi x)): a bowl of many valleys, minimum 0 at the origin."""

    box: tuple[float, float] = (-5.12, 5.12)

    def _f(self, X: np.ndarray) -> np.ndarray:
        c = np.multiply(_TWO_PI, X)
        np.cos(c, out=c)
        c *= 10.0
        t = X * X
        t -= c
        return 10.0 * X.shape[-1] + t.sum(axis=-1)

    def _g(self, X: np.ndarray) -> np.ndarray:
        s = np.multiply(_TWO_PI, X)
        np.sin(s, out=s)
        s *= 10.0 * _TWO_PI
        s += 2.0 * X
        return s

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        return [np.zeros(self._n(n))]


@attrs.frozen
class Ackley(TestFunction):
    """Ackley's function: a nearly flat plain with many dimples; minimum 0 at the origin."""

    box: tuple[float, float] = (-32.768, 32.768)

    def _f(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[-1]
        r = np.sqrt(np.sum(X * X, axis=-1) / n)
        c = np.sum(np.cos(_TWO_PI * X), axis=-1) / n
        return -20.0 * np.exp(-0.2 * r) - np.exp(c) + 20.0 + math.e

    def _g(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[-1]
        r = np.sqrt(np.sum(X * X, axis=-1) / n)[..., None]
        c = (np.sum(np.cos(_TWO_PI * X), axis=-1) / n)[..., None]
        safe_r = np.where(r > 0.0, r, 1.0)
        radial = np.where(r > 0.0, 4.0 * np.exp(-0.2 * r) * X / (n * safe_r), 0.0)
        return radial + np.exp(c) * (_TWO_PI / n) * np.sin(_TWO_PI * X)

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        return [np.zeros(self._n(n))]


@attrs.frozen
class StyblinskiTang(TestFunction):
    """0.5 sum(x**4 - 16 x**2 + 5 x): 2**n valleys; minimum -39.166... n at x_i = -2.9035..."""

    X_STAR = -2.903534027771178
    F_STAR_PER_DIM = -39.16616570377142

    def _f(self, X: np.ndarray) -> np.ndarray:
        X2 = X * X
        t = X2 * X2
        X2 *= 16.0
        t -= X2
        np.multiply(5.0, X, out=X2)
        t += X2
        return 0.5 * t.sum(axis=-1)

    def _g(self, X: np.ndarray) -> np.ndarray:
        return 2.0 * X * X * X - 16.0 * X + 2.5

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        return [np.full(self._n(n), self.X_STAR)]

    def minimum_value(self, n: int | None = None) -> float:
        return self.F_STAR_PER_DIM * self._n(n)


TEST_FUNCTIONS: dict[str, type[TestFunction]] = {
    "sphere": Sphere,
    "rosenbrock": Rosenbrock,
    "himmelblau": Himmelblau,
    "rastrigin": Rastrigin,
    "ackley": Ackley,
    "styblinski-tang": StyblinskiTang,
}


@hookimpl
def register_objectives(register: Register) -> None:
    for name, cls in TEST_FUNCTIONS.items():
        register(name, cls)
