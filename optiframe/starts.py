"""Where the balls are dropped: start samplers and the :class:`MultiStart` strategy.

A sampler is a component (hook ``register_start_samplers``) that draws K starting points
in n dimensions. Each start draws from its own child of ``SeedSequence(seed).spawn(K)``,
so start k is the same point whatever K is and whichever path runs it; Latin hypercube
sampling, whose strata are shared by all starts, draws its permutations from one more
child.

==========  ==========================================================================
name        points
==========  ==========================================================================
uniform     uniform in the box ``bounds`` (needs bounds)
normal      ``x0 + scale * N(0, 1)`` per coordinate (needs x0)
lhs         Latin hypercube in the box: each coordinate's K strata used once each
==========  ==========================================================================
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from ._pcg import first_doubles
from ._validation import check_int, check_real
from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl


def as_bounds(bounds: Any, n: int | None = None, name: str = "bounds") -> np.ndarray:
    """Bounds as an (n, 2) float array of (low, high) rows; checked, never mutated."""
    try:
        arr = np.array(bounds, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name!r} must be a sequence of (low, high) pairs: "
                                   f"{bounds!r}") from exc
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise InvalidArgumentError(
            f"{name!r} must be a sequence of (low, high) pairs, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise InvalidArgumentError(
            f"{name!r} has {arr.shape[0]} (low, high) pairs but the problem has {n} "
            "coordinates")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{name!r} must be finite: {bounds!r}")
    with np.errstate(over="ignore"):
        wide = np.flatnonzero(~np.isfinite(arr[:, 1] - arr[:, 0]))
    if wide.size:
        i = int(wide[0])
        raise InvalidArgumentError(
            f"{name!r}[{i}] is too wide to sample from (its width overflows): "
            f"({float(arr[i, 0])!r}, {float(arr[i, 1])!r})")
    low_above = np.flatnonzero(arr[:, 0] > arr[:, 1])
    if low_above.size:
        i = int(low_above[0])
        raise InvalidArgumentError(
            f"{name!r}[{i}] has low > high: ({float(arr[i, 0])!r}, {float(arr[i, 1])!r})")
    return arr


class StartStreams(Sequence[np.random.Generator]):
    """The random streams of K starts: start k draws from
    ``Generator(PCG64(SeedSequence(entropy, spawn_key=(k,))))`` (the k-th child of the
    run's seed). Each generator is made when it is first used; :meth:`random` gives
    the first draws of every stream at once, as the built-in samplers use them."""

    def __init__(self, entropy: int, n_starts: int) -> None:
        self.entropy = entropy
        self._made: dict[int, np.random.Generator] = {}
        self._n = n_starts
        self._fresh = True

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._n))]
        if not -self._n <= k < self._n:
            raise IndexError(k)
        k %= self._n
        if k not in self._made:
            self._made[k] = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
                self.entropy, spawn_key=(k,))))
        return self._made[k]

    def __iter__(self) -> Iterator[np.random.Generator]:
        return (self[k] for k in range(self._n))

    def random(self, n: int) -> np.ndarray:
        """Each stream's next ``n`` doubles, as a (K, n) array: ``stack([g.random(n) for g
        in streams])``, bit for bit."""
        if self._fresh and not self._made and self._n < 2**32 - 1:
            self._fresh = False
            return first_doubles(self.entropy, np.arange(self._n), n)
        self._fresh = False
        return np.stack([g.random(n) for g in self])


def _draws(rngs: Sequence[np.random.Generator], n: int) -> np.ndarray:
    """The next ``n`` doubles of every generator in ``rngs``, one row each."""
    if isinstance(rngs, StartStreams):
        return rngs.random(n)
    return np.stack([rng.random(n) for rng in rngs])


class StartSampler(abc.ABC):
    """Draws starting points; subclass it as a frozen attrs class."""

    needs_bounds = False
    needs_x0 = False

    @abc.abstractmethod
    def sample(self, rngs: Sequence[np.random.Generator], n: int, bounds: np.ndarray | None,
               x0: np.ndarray | None, shared: np.random.Generator) -> np.ndarray:
        """K points (K = len(rngs)) as a (K, n) array; start k draws from ``rngs[k]``."""


@attrs.frozen
class UniformBox(StartSampler):
    """Uniform in the box."""

    needs_bounds = True

    def sample(self, rngs: Sequence[np.random.Generator], n: int, bounds: np.ndarray | None,
               x0: np.ndarray | None, shared: np.random.Generator) -> np.ndarray:
        assert bounds is not None
        low, high = bounds[:, 0], bounds[:, 1]
        return low + (high - low) * _draws(rngs, n)


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    check_real(attribute.name, value, positive=True)


@attrs.frozen
class NormalAround(StartSampler):
    """``x0 + scale * N(0, 1)``, clipped to the box when there is one."""

    scale: float = attrs.field(default=1.0, validator=_positive)
    needs_x0 = True

    def sample(self, rngs: Sequence[np.random.Generator], n: int, bounds: np.ndarray | None,
               x0: np.ndarray | None, shared: np.random.Generator) -> np.ndarray:
        assert x0 is not None
        X = np.stack([x0 + self.scale * rng.standard_normal(n) for rng in rngs])
        if bounds is not None:
            X = np.clip(X, bounds[:, 0], bounds[:, 1])
        return X


@attrs.frozen
class LatinHypercube(StartSampler):
    """A Latin hypercube in the box: each coordinate's K equal strata hold one start each."""

    needs_bounds = True

    def sample(self, rngs: Sequence[np.random.Generator], n: int, bounds: np.ndarray | None,
               x0: np.ndarray | None, shared: np.random.Generator) -> np.ndarray:
        assert bounds is not None
        K = len(rngs)
        strata = np.stack([shared.permutation(K) for _ in range(n)], axis=1)  # (K, n)
        jitter = _draws(rngs, n)
        unit = (strata + jitter) / K
        return bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * unit


BUILTIN_SAMPLERS: dict[str, type[StartSampler]] = {
    "uniform": UniformBox,
    "normal": NormalAround,
    "lhs": LatinHypercube,
}


@hookimpl
def register_start_samplers(register: Register) -> None:
    for name, cls in BUILTIN_SAMPLERS.items():
        register(name, cls)


def _n_starts(instance: Any, attribute: Any, value: Any) -> None:
    check_int("n_starts", value, minimum=1)


@attrs.frozen
class MultiStart:
    """Drop ``n_starts`` balls: points from ``sampler`` in ``bounds`` (or around x0).

    ``sampler`` is a registered name (``"uniform"``, ``"normal"``, ``"lhs"``), a mapping
    with ``name``, or a :class:`StartSampler`. Without ``bounds``, samplers that need a
    box use the objective's usual box when it has one.

    Example
    -------
    >>> import optiframe as of
    >>> r = of.minimize("himmelblau", optimizer=of.GradientDescent(lr=0.01),
    ...                 starts=of.MultiStart(40, sampler="uniform", bounds=[(-5, 5)] * 2),
    ...                 max_steps=2000, seed=0)
    >>> len(r.minima), r.status
    (4, 'converged')
    """

    n_starts: int = attrs.field(validator=_n_starts)
    sampler: Any = "uniform"
    bounds: Any = None

    def points(self, n: int | None, x0: np.ndarray | None, objective: Any,
               entropy: int, box: Any = None) -> np.ndarray:
        """The (n_starts, n) starting points; start k draws from the k-th child of the
        run's seed (``entropy``), shared draws (a Latin hypercube's strata) from child K.
        Without its own ``bounds``, the sampler's box is the run's bounds (``box``, a
        :class:`~optiframe.bounds.Box`) where they are finite, else the objective's usual
        box (within the run's bounds)."""
        from .plugins import get_registry

        sampler = get_registry().build("sampler", self.sampler, StartSampler)
        bounds = None
        if self.bounds is not None:
            bounds = as_bounds(self.bounds, n)
        elif box is not None and box.finite:
            bounds = as_bounds(np.column_stack([box.lo, box.hi]), n)
        elif hasattr(objective, "bounds") and callable(objective.bounds):
            dim = n if n is not None else getattr(objective, "dim", None)
            if dim is not None:
                bounds = as_bounds(objective.bounds(dim), dim)
                if box is not None:  # the usual box, within the run's bounds
                    lo = np.clip(bounds[:, 0], box.lo, box.hi)
                    hi = np.clip(bounds[:, 1], box.lo, box.hi)
                    bounds = np.column_stack([lo, hi])
        if bounds is None and box is not None and sampler.needs_bounds:
            open_side = int(np.flatnonzero(~(np.isfinite(box.lo) & np.isfinite(box.hi)))[0])
            raise InvalidArgumentError(
                f"sampler {self.sampler!r} needs a finite box, but 'bounds'[{open_side}] is "
                f"open ({float(box.lo[open_side])!r}, {float(box.hi[open_side])!r}): give "
                "MultiStart(..., bounds=[(low, high), ...]) for the starts, or finite bounds")
        if n is None:
            if bounds is not None:
                n = bounds.shape[0]
            elif x0 is not None:
                n = x0.size
            else:
                n = getattr(objective, "dim", None)
        if n is None:
            raise InvalidArgumentError(
                "the number of coordinates is unknown: give x0, bounds, or an objective "
                "with a fixed dim")
        if sampler.needs_bounds and bounds is None:
            raise InvalidArgumentError(
                f"sampler {self.sampler!r} needs bounds: pass MultiStart(..., bounds=[(low, "
                "high), ...]) or use an objective with a usual box")
        if sampler.needs_x0 and x0 is None:
            raise InvalidArgumentError(
                f"sampler {self.sampler!r} draws around x0: pass x0 to minimize")
        K = self.n_starts
        shared = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            entropy, spawn_key=(K,))))
        X = sampler.sample(StartStreams(entropy, K), n, bounds, x0, shared)
        return np.ascontiguousarray(X, dtype=float)


def as_starts(starts: Any, n: int | None) -> np.ndarray:
    """A user's (K, n) array of starting points, checked and copied."""
    try:
        arr = np.array(starts, dtype=float, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"'starts' must be a MultiStart or a (K, n) array of real "
                                   f"numbers: {exc}") from None
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InvalidArgumentError(
            f"'starts' must be a MultiStart or a (K, n) array of points, got shape {arr.shape}")
    if n is not None and arr.shape[1] != n:
        raise InvalidArgumentError(
            f"'starts' has points of {arr.shape[1]} coordinates but the problem has {n}")
    bad = ~np.isfinite(arr)
    if bad.any():
        k, j = (int(i) for i in np.argwhere(bad)[0])
        raise InvalidArgumentError(f"'starts[{k}]' must be finite: starts[{k}][{j}] is "
                                   f"{float(arr[k, j])!r}")
    return arr


def check_seed(seed: Any) -> int | None:
    """A seed is None or an integer >= 0."""
    if seed is None:
        return None
    return check_int("seed", seed, minimum=0)
