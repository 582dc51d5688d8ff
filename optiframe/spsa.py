"""Simultaneous perturbation: a stochastic gradient estimate from two evaluations,
whatever n (Spall, 1992)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from ._validation import positive_finite
from .gradients import BoundGradient, GradientEstimator, _positive_int, row_values
from .hookspecs import Register, hookimpl
from .objective import Objective
from .replay import current


@attrs.frozen
class SPSA(GradientEstimator):
    """Simultaneous perturbation (Spall, 1992): every coordinate moved at once.

    ``g = (f(x + h*d) - f(x - h*d)) / (2 h) * d`` per coordinate, with ``d`` a random
    vector of +-1 drawn from the start's own random stream and ``h = step * max(1, |x|)``
    (``relative=True``) or ``step``: two evaluations per gradient whatever n (times
    ``samples``, the number of directions averaged). An unbiased estimate (up to O(h^2))
    whose noise shrinks as the steps add up: pair it with a small learning rate or a
    decaying schedule, and a ``seed`` for a reproducible run. One draw is no evidence of
    convergence (a symmetric draw gives exactly 0 far from a minimum): a run with this
    estimator ends at its budget (``max_steps``, ``max_nfev``, ``max_time``), never
    ``converged``, and neither gtol nor a small step ends it.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> r = of.minimize(lambda x: float(np.sum((x - 1.0) ** 2)), np.zeros(20),
    ...                 gradient="spsa", optimizer=of.GradientDescent(lr=0.02),
    ...                 max_steps=3000, seed=1)
    >>> r.status, bool(np.abs(r.x - 1).max() < 1e-6)
    ('max_steps', True)
    >>> r.nfev == 1 + 3 * r.nit + 2   # f(x0); per step 2 for the slope and f(x); the last slope
    True
    """

    step: float = attrs.field(default=1e-4, validator=positive_finite)
    relative: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    samples: int = attrs.field(default=1, validator=_positive_int)

    stochastic = True
    supports_bounds = True  # the perturbed points are clipped into the box

    def _directions(self, rngs: Any, n: int) -> np.ndarray:
        """(rows, samples, n) directions of +-1, each row from its own stream (exactly
        ``samples * n`` doubles drawn from it). In a stack's second pass, after a row
        raised (:mod:`optiframe.replay`), each row's directions are the first pass's."""
        record = current()
        if record is None:
            return np.stack([self._draw(rng, n) for rng in rngs])
        return np.stack([record.drawn(rng, lambda g: self._draw(g, n)) for rng in rngs])

    def _draw(self, rng: Any, n: int) -> np.ndarray:
        return np.where(rng.random((self.samples, n)) < 0.5, -1.0, 1.0)

    def _estimate(self, evaluate: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                  rngs: Any, box: Any) -> np.ndarray:
        K, n = X.shape
        D = self._directions(rngs, n)  # (K, m, n)
        H = (self.step * np.maximum(1.0, np.abs(X)) if self.relative
             else np.full(X.shape, self.step))[:, None, :]  # (K, 1, n)
        up, down = X[:, None, :] + H * D, X[:, None, :] - H * D
        m = self.samples
        if box is not None:  # clipped into the box: the displacement actually made
            up, down = box.project(up), box.project(down)
        points = np.concatenate([up, down], axis=1)
        f = np.asarray(evaluate(points.reshape(-1, n)), dtype=float).reshape(K, 2, m)
        if box is None:
            slopes = (f[:, 0] - f[:, 1])[:, :, None] / (2.0 * H) * D  # (K, m, n)
        else:
            moved = up - down
            with np.errstate(divide="ignore", invalid="ignore"):
                slopes = np.where(moved != 0, (f[:, 0] - f[:, 1])[:, :, None] / moved, 0.0)
        return slopes.mean(axis=1)

    def bind(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        evaluate = row_values(objective)

        def spsa(x: np.ndarray, rngs: Any) -> np.ndarray:
            return self._estimate(evaluate, x.reshape(1, -1), rngs, bounds).reshape(x.shape)

        return spsa

    def bind_stack(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        evaluate = row_values(objective)

        def spsa(X: np.ndarray, rngs: Any) -> np.ndarray:
            return self._estimate(evaluate, X, rngs, bounds)

        return spsa

    def gradient(self, objective: Objective, x: np.ndarray, rng: Any = None) -> np.ndarray:
        """One estimate at ``x`` from ``rng`` (a Generator; a fresh unseeded one if None)."""
        rng = np.random.default_rng() if rng is None else rng
        return self.bind(objective)(x, [rng])

    def evaluations(self, objective: Objective, n: int, bounds: Any = None) -> tuple[int, int]:
        return 2 * self.samples, 1


@hookimpl
def register_gradient_estimators(register: Register) -> None:
    register("spsa", SPSA)
