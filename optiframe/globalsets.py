"""A global test set: classic box-bounded functions with known global minima.

Each function is an objective registered by name (``of.minimize("schwefel", ...)``),
written from its published definition (Jamil & Yang 2013; Surjanovic & Bingham's
Virtual Library of Simulation Experiments; the MGH-style formulas scipy's global
benchmarks use), row-vectorized over the last axis, without an analytic gradient (they
are black boxes to the optimizers, as in the benchmarks). Each knows its usual box
(``bounds(n)``), its global minimum value (``minimum_value(n)``) and, where published,
its minimizers (``minima(n)``). :data:`GLOBAL_SET` lists the cases the global benchmark
runs (``benchmarks/bench_global.py``): 39 functions (these 35 and rastrigin, ackley,
styblinski-tang and rosenbrock of :mod:`optiframe.testfunctions`), 2 to 10 dimensions.

>>> import optiframe as of
>>> f = of.get_registry().build("objective", {"name": "branin"}, of.Objective)
>>> round(f.value(f.minima()[0]), 9), f.bounds()
(0.397887358, [(-5.0, 10.0), (0.0, 15.0)])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np

from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .objective import Objective

PI = math.pi

Formula = Callable[[np.ndarray], np.ndarray]


@attrs.frozen
class GlobalFunction(Objective):
    """A function of the global set: ``formula`` maps (..., n) to (...); ``box`` is one
    (lo, hi) pair for every coordinate or one per coordinate; ``fixed_dim`` the only
    dimension it takes (None: any, ``dim`` chooses)."""

    name: str
    formula: Formula = attrs.field(repr=False, eq=False)
    box: Any
    f_star: Any  # a number, or a function of n
    x_star: Any = attrs.field(default=None, repr=False, eq=False)  # n -> [points] or None
    fixed_dim: int | None = None
    dim: int | None = None
    trusted: ClassVar[bool] = True

    def __attrs_post_init__(self) -> None:
        if self.fixed_dim is not None:
            if self.dim not in (None, self.fixed_dim):
                raise InvalidArgumentError(
                    f"{self.name} takes {self.fixed_dim} coordinates, not dim={self.dim!r}")
            object.__setattr__(self, "dim", self.fixed_dim)
        elif self.dim is not None and (isinstance(self.dim, bool)
                                       or not isinstance(self.dim, int) or self.dim < 1):
            raise InvalidArgumentError(f"'dim' of {self.name} must be an integer >= 1: "
                                       f"{self.dim!r}")

    def value(self, x: np.ndarray) -> float:
        return float(self.formula(np.asarray(x, dtype=float)))

    def values(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.formula(np.asarray(X, dtype=float)), dtype=float)

    def _n(self, n: int | None) -> int:
        n = self.dim if n is None else n
        if n is None:
            raise InvalidArgumentError(f"{self.name} has no fixed dim: pass 'n'")
        self.check_dim(n)
        return n

    def bounds(self, n: int | None = None) -> list[tuple[float, float]]:
        """The usual search box, one (lo, hi) pair per coordinate."""
        n = self._n(n)
        box = self.box(n) if callable(self.box) else self.box
        if isinstance(box[0], (int, float)):
            return [(float(box[0]), float(box[1]))] * n
        return [(float(lo), float(hi)) for lo, hi in box]

    def minimum_value(self, n: int | None = None) -> float:
        """The global minimum value (f*)."""
        n = self._n(n)
        return float(self.f_star(n) if callable(self.f_star) else self.f_star)

    def minima(self, n: int | None = None) -> list[np.ndarray]:
        """Published global minimizers (empty where none is published)."""
        n = self._n(n)
        return [] if self.x_star is None else [np.asarray(p, dtype=float)
                                               for p in self.x_star(n)]

    def __repr__(self) -> str:
        return f"{self.name}(dim={self.dim})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by name (for worker processes): its formula may be a closure."""
        return global_function, (self.name, None if self.fixed_dim else self.dim)


# -- n-dimensional -------------------------------------------------------------------------


def _schwefel(X: np.ndarray) -> np.ndarray:
    return 418.9828872724338 * X.shape[-1] - np.sum(X * np.sin(np.sqrt(np.abs(X))), axis=-1)


def _griewank(X: np.ndarray) -> np.ndarray:
    i = np.sqrt(np.arange(1, X.shape[-1] + 1))
    return 1.0 + np.sum(X * X, axis=-1) / 4000.0 - np.prod(np.cos(X / i), axis=-1)


def _levy(X: np.ndarray) -> np.ndarray:
    W = 1.0 + (X - 1.0) / 4.0
    head = np.sin(PI * W[..., 0]) ** 2
    mid = np.sum((W[..., :-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(PI * W[..., :-1] + 1.0) ** 2),
                 axis=-1)
    last = W[..., -1]
    return head + mid + (last - 1.0) ** 2 * (1.0 + np.sin(2.0 * PI * last) ** 2)


def _michalewicz(X: np.ndarray) -> np.ndarray:
    i = np.arange(1, X.shape[-1] + 1)
    return -np.sum(np.sin(X) * np.sin(i * X * X / PI) ** 20, axis=-1)


def _zakharov(X: np.ndarray) -> np.ndarray:
    s = np.sum(0.5 * np.arange(1, X.shape[-1] + 1) * X, axis=-1)
    return np.sum(X * X, axis=-1) + s * s + s**4


def _trid(X: np.ndarray) -> np.ndarray:
    return np.sum((X - 1.0) ** 2, axis=-1) - np.sum(X[..., 1:] * X[..., :-1], axis=-1)


def _powell(X: np.ndarray) -> np.ndarray:
    a, b, c, d = X[..., 0::4], X[..., 1::4], X[..., 2::4], X[..., 3::4]
    return np.sum((a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4
                  + 10 * (a - d) ** 4, axis=-1)


def _dixon_price(X: np.ndarray) -> np.ndarray:
    i = np.arange(2, X.shape[-1] + 1)
    return (X[..., 0] - 1.0) ** 2 + np.sum(i * (2.0 * X[..., 1:] ** 2 - X[..., :-1]) ** 2,
                                           axis=-1)


def _perm(X: np.ndarray, beta: float = 10.0) -> np.ndarray:
    n = X.shape[-1]
    j = np.arange(1, n + 1, dtype=float)
    total = np.zeros(X.shape[:-1])
    for i in range(1, n + 1):
        inner = np.sum((j + beta) * (X**i - 1.0 / j**i), axis=-1)
        total = total + inner * inner
    return total


def _sum_squares(X: np.ndarray) -> np.ndarray:
    return np.sum(np.arange(1, X.shape[-1] + 1) * X * X, axis=-1)


# -- fixed dimension -------------------------------------------------------------------------


def _xy(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X[..., 0], X[..., 1]


def _shubert(X: np.ndarray) -> np.ndarray:
    i = np.arange(1, 6)
    x, y = _xy(X)
    return (np.sum(i * np.cos((i + 1) * x[..., None] + i), axis=-1)
            * np.sum(i * np.cos((i + 1) * y[..., None] + i), axis=-1))


def _six_hump_camel(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return (4 - 2.1 * x * x + x**4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y


def _branin(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    b, c, t = 5.1 / (4 * PI**2), 5 / PI, 1 / (8 * PI)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * np.cos(x) + 10


def _goldstein_price(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y
                                     + 27 * y * y)
    return a * b


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547],
                         [381, 5743, 8828]])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004,
                                                                 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091,
                                                                381]])
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann(A: np.ndarray, P: np.ndarray) -> Formula:
    def f(X: np.ndarray) -> np.ndarray:
        inner = np.sum(A * (X[..., None, :] - P) ** 2, axis=-1)
        return -np.sum(_H_ALPHA * np.exp(-inner), axis=-1)
    return f


_SHEKEL_A = np.array([[4, 4, 4, 4], [1, 1, 1, 1], [8, 8, 8, 8], [6, 6, 6, 6],
                      [3, 7, 3, 7], [2, 9, 2, 9], [5, 5, 3, 3], [8, 1, 8, 1],
                      [6, 2, 6, 2], [7, 3.6, 7, 3.6]], dtype=float)
_SHEKEL_C = 0.1 * np.array([1, 2, 2, 4, 4, 6, 3, 7, 5, 5], dtype=float)


def _shekel(m: int) -> Formula:
    def f(X: np.ndarray) -> np.ndarray:
        d = np.sum((X[..., None, :] - _SHEKEL_A[:m]) ** 2, axis=-1)
        return -np.sum(1.0 / (d + _SHEKEL_C[:m]), axis=-1)
    return f


def _easom(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return -np.cos(x) * np.cos(y) * np.exp(-((x - PI) ** 2) - (y - PI) ** 2)


def _bukin6(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return 100 * np.sqrt(np.abs(y - 0.01 * x * x)) + 0.01 * np.abs(x + 10)


def _cross_in_tray(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    e = np.exp(np.abs(100 - np.sqrt(x * x + y * y) / PI))
    return -0.0001 * (np.abs(np.sin(x) * np.sin(y) * e) + 1) ** 0.1


def _eggholder(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return (-(y + 47) * np.sin(np.sqrt(np.abs(y + x / 2 + 47)))
            - x * np.sin(np.sqrt(np.abs(x - (y + 47)))))


def _holder_table(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return -np.abs(np.sin(x) * np.cos(y) * np.exp(np.abs(1 - np.sqrt(x * x + y * y) / PI)))


def _colville(X: np.ndarray) -> np.ndarray:
    a, b, c, d = X[..., 0], X[..., 1], X[..., 2], X[..., 3]
    return (100 * (a * a - b) ** 2 + (a - 1) ** 2 + (c - 1) ** 2 + 90 * (c * c - d) ** 2
            + 10.1 * ((b - 1) ** 2 + (d - 1) ** 2) + 19.8 * (b - 1) * (d - 1))


def _beale(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2
            + (2.625 - x + x * y**3) ** 2)


def _booth(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _matyas(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return 0.26 * (x * x + y * y) - 0.48 * x * y


def _three_hump_camel(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return 2 * x * x - 1.05 * x**4 + x**6 / 6 + x * y + y * y


def _drop_wave(X: np.ndarray) -> np.ndarray:
    r2 = np.sum(X * X, axis=-1)
    return -(1 + np.cos(12 * np.sqrt(r2))) / (0.5 * r2 + 2)


def _schaffer2(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return 0.5 + (np.sin(x * x - y * y) ** 2 - 0.5) / (1 + 0.001 * (x * x + y * y)) ** 2


def _levy13(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return (np.sin(3 * PI * x) ** 2 + (x - 1) ** 2 * (1 + np.sin(3 * PI * y) ** 2)
            + (y - 1) ** 2 * (1 + np.sin(2 * PI * y) ** 2))


def _mccormick(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return np.sin(x + y) + (x - y) ** 2 - 1.5 * x + 2.5 * y + 1


def _bohachevsky1(X: np.ndarray) -> np.ndarray:
    x, y = _xy(X)
    return x * x + 2 * y * y - 0.3 * np.cos(3 * PI * x) - 0.4 * np.cos(4 * PI * y) + 0.7


_LANGERMANN_A = np.array([[3.0, 5], [5, 2], [2, 1], [1, 4], [7, 9]])
_LANGERMANN_C = np.array([1.0, 2, 5, 2, 3])


def _langermann(X: np.ndarray) -> np.ndarray:
    d = np.sum((X[..., None, :] - _LANGERMANN_A) ** 2, axis=-1)
    return -np.sum(_LANGERMANN_C * np.exp(-d / PI) * np.cos(PI * d), axis=-1)


def _at(*points: Sequence[float]) -> Callable[[int], list[np.ndarray]]:
    return lambda n: [np.array(p, dtype=float) for p in points]


def _same(value: float) -> Callable[[int], list[np.ndarray]]:
    return lambda n: [np.full(n, value)]


def _michalewicz_star(n: int) -> float:
    published = {2: -1.8013034100985537, 5: -4.687658179, 10: -9.66015}
    if n not in published:
        raise InvalidArgumentError(f"michalewicz's minimum is published for n = 2, 5, 10, "
                                   f"not {n}")
    return published[n]


def _trid_star(n: int) -> float:
    return -n * (n + 4) * (n - 1) / 6.0


#: name -> (formula, box, f*, minimizers, fixed dim)
_FUNCTIONS: dict[str, tuple[Formula, Any, Any, Any, int | None]] = {
    "schwefel": (_schwefel, (-500.0, 500.0), 0.0, _same(420.968746359982), None),
    "griewank": (_griewank, (-600.0, 600.0), 0.0, _same(0.0), None),
    "levy": (_levy, (-10.0, 10.0), 0.0, _same(1.0), None),
    "michalewicz": (_michalewicz, (0.0, PI), _michalewicz_star,
                    lambda n: [np.array([2.202905513296628, PI / 2])] if n == 2 else [],
                    None),
    "zakharov": (_zakharov, (-5.0, 10.0), 0.0, _same(0.0), None),
    "trid": (_trid, lambda n: (-float(n * n), float(n * n)), _trid_star,
             lambda n: [np.array([i * (n + 1 - i) for i in range(1, n + 1)], dtype=float)],
             None),
    "powell": (_powell, (-4.0, 5.0), 0.0, _same(0.0), None),
    "dixon-price": (_dixon_price, (-10.0, 10.0), 0.0,
                    lambda n: [2.0 ** (-(2.0 ** np.arange(1, n + 1) - 2.0)
                                       / 2.0 ** np.arange(1, n + 1))], None),
    "perm": (_perm, lambda n: (-float(n), float(n)), 0.0,
             lambda n: [1.0 / np.arange(1, n + 1)], None),
    "sum-squares": (_sum_squares, (-10.0, 10.0), 0.0, _same(0.0), None),
    "shubert": (_shubert, (-10.0, 10.0), -186.7309088310239,
                _at((-7.083506407, 4.858056878), (-0.800321, -7.708314)), 2),
    "six-hump-camel": (_six_hump_camel, [(-3.0, 3.0), (-2.0, 2.0)], -1.031628453489877,
                       _at((0.08984201310031806, -0.7126564030207396),
                           (-0.08984201310031806, 0.7126564030207396)), 2),
    "branin": (_branin, [(-5.0, 10.0), (0.0, 15.0)], 0.39788735772973816,
               _at((-PI, 12.275), (PI, 2.275), (9.42478, 2.475)), 2),
    "goldstein-price": (_goldstein_price, (-2.0, 2.0), 3.0, _at((0.0, -1.0)), 2),
    "hartmann3": (_hartmann(_H3_A, _H3_P), (0.0, 1.0), -3.8627821478207558,
                  _at((0.114614, 0.555649, 0.852547)), 3),
    "hartmann6": (_hartmann(_H6_A, _H6_P), (0.0, 1.0), -3.322368011415515,
                  _at((0.20168952, 0.15001069, 0.47687398, 0.27533243, 0.31165162,
                       0.65730054)), 6),
    "shekel5": (_shekel(5), (0.0, 10.0), -10.153199679058231,
                _at((4.00003715092, 4.00013327435, 4.00003714871, 4.0001332742)), 4),
    "shekel7": (_shekel(7), (0.0, 10.0), -10.402940566818664,
                _at((4.00057291078, 4.0006893679, 3.99948971076, 3.99960615785)), 4),
    "shekel10": (_shekel(10), (0.0, 10.0), -10.536409816692046,
                 _at((4.00074671207, 4.00059293276, 3.99966339006, 3.99950979226)), 4),
    "easom": (_easom, (-100.0, 100.0), -1.0, _at((PI, PI)), 2),
    "bukin6": (_bukin6, [(-15.0, -5.0), (-3.0, 3.0)], 0.0, _at((-10.0, 1.0)), 2),
    "cross-in-tray": (_cross_in_tray, (-10.0, 10.0), -2.062611870822739,
                      _at((1.349406608602084, 1.349406608602084),
                          (-1.349406608602084, -1.349406608602084)), 2),
    "eggholder": (_eggholder, (-512.0, 512.0), -959.6406627208506,
                  _at((512.0, 404.2319)), 2),
    "holder-table": (_holder_table, (-10.0, 10.0), -19.208502567886743,
                     _at((8.05502347573655, 9.664590019241274),
                         (-8.05502347573655, -9.664590019241274)), 2),
    "langermann": (_langermann, (0.0, 10.0), -5.162126159963837, _at((2.00299219, 1.006096)),
                   2),
    "colville": (_colville, (-10.0, 10.0), 0.0, _at((1.0, 1.0, 1.0, 1.0)), 4),
    "beale": (_beale, (-4.5, 4.5), 0.0, _at((3.0, 0.5)), 2),
    "booth": (_booth, (-10.0, 10.0), 0.0, _at((1.0, 3.0)), 2),
    "matyas": (_matyas, (-10.0, 10.0), 0.0, _at((0.0, 0.0)), 2),
    "three-hump-camel": (_three_hump_camel, (-5.0, 5.0), 0.0, _at((0.0, 0.0)), 2),
    "drop-wave": (_drop_wave, (-5.12, 5.12), -1.0, _at((0.0, 0.0)), 2),
    "schaffer2": (_schaffer2, (-100.0, 100.0), 0.0, _at((0.0, 0.0)), 2),
    "levy13": (_levy13, (-10.0, 10.0), 0.0, _at((1.0, 1.0)), 2),
    "mccormick": (_mccormick, [(-1.5, 4.0), (-3.0, 4.0)], -1.913222954981037,
                  _at((-0.5471975602214493, -1.547197559268372)), 2),
    "bohachevsky1": (_bohachevsky1, (-100.0, 100.0), 0.0, _at((0.0, 0.0)), 2),
}


def global_function(name: str, dim: int | None = None) -> GlobalFunction:
    """The global-set function ``name`` (in ``dim`` dimensions for the n-D ones)."""
    formula, box, f_star, x_star, fixed = _FUNCTIONS[name]
    return GlobalFunction(name=name, formula=formula, box=box, f_star=f_star, x_star=x_star,
                          fixed_dim=fixed, dim=dim)


@attrs.frozen
class GlobalCase:
    """One case of the global benchmark: a function in a dimension."""

    name: str
    dim: int

    def objective(self) -> Any:
        """The registered objective (a global-set function, or a test function of
        :mod:`optiframe.testfunctions`: rastrigin, ackley, styblinski-tang, rosenbrock)."""
        from .plugins import get_registry

        return get_registry().build("objective", {"name": self.name, "dim": self.dim},
                                    Objective)


#: The cases of the global benchmark: each function once, the n-D ones in 2 to 10
#: dimensions (the classic multimodal ones in 5 and 10 too).
GLOBAL_SET: tuple[GlobalCase, ...] = tuple(GlobalCase(name, dim) for name, dim in [
    ("schwefel", 2), ("schwefel", 5), ("griewank", 5), ("griewank", 10), ("levy", 5),
    ("levy", 10), ("michalewicz", 2), ("michalewicz", 5), ("zakharov", 5), ("trid", 6),
    ("powell", 4), ("dixon-price", 5), ("perm", 4), ("sum-squares", 10),
    ("rastrigin", 2), ("rastrigin", 5), ("ackley", 5), ("ackley", 10),
    ("styblinski-tang", 5), ("rosenbrock", 5),
    ("shubert", 2), ("six-hump-camel", 2), ("branin", 2), ("goldstein-price", 2),
    ("hartmann3", 3), ("hartmann6", 6), ("shekel5", 4), ("shekel7", 4), ("shekel10", 4),
    ("easom", 2), ("bukin6", 2), ("cross-in-tray", 2), ("eggholder", 2),
    ("holder-table", 2), ("langermann", 2), ("colville", 4), ("beale", 2), ("booth", 2),
    ("matyas", 2), ("three-hump-camel", 2), ("drop-wave", 2), ("schaffer2", 2),
    ("levy13", 2), ("mccormick", 2), ("bohachevsky1", 2),
])


def _factory(name: str) -> Callable[..., GlobalFunction]:
    def build(dim: int | None = None) -> GlobalFunction:
        return global_function(name, dim)
    build.__name__ = build.__qualname__ = name.replace("-", "_")
    build.__doc__ = _describe(name)
    return build


def _describe(name: str) -> str:
    """What ``optiframe list`` says of a global-set function: its dimension, box and
    least value (where they do not depend on the dimension)."""
    _, box, f_star, _, fixed = _FUNCTIONS[name]
    dim = f"{fixed}-D" if fixed else "any dimension (dim=...)"
    if isinstance(box, tuple):
        where = f", box [{box[0]:g}, {box[1]:g}] per coordinate"
    elif isinstance(box, list):
        where = ", box " + " x ".join(f"[{lo:g}, {hi:g}]" for lo, hi in box)
    else:
        where = ""
    least = f", minimum {f_star:.6g}" if isinstance(f_star, float) else ""
    return f"{name.capitalize()} (global set, see optiframe.globalsets): {dim}{where}{least}."


@hookimpl
def register_objectives(register: Register) -> None:
    for name in _FUNCTIONS:
        register(name, _factory(name))
