"""Which gradient a run measures when it does not say: ``"auto"`` (the analytic gradient
when there is one, else finite differences chosen for the run) and ``"adaptive"``
(forward differences, finer ones for a start they mislead), and the finer estimate that
checks where an explicit finite-difference run gives up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from .gradients import (
    AnalyticGradient,
    BoundGradient,
    CentralDifference,
    ForwardDifference,
    GradientEstimator,
    RichardsonDifference,
    bind_for,
    evaluations_for,
)
from .hookspecs import Register, hookimpl
from .objective import Objective
from .replay import unasked


@attrs.frozen
class AutoGradient(GradientEstimator):
    """The analytic gradient when the objective has one; else adaptive differences in a
    run with a line search and no bounds (forward, central where forward ones fail:
    :class:`AdaptiveDifference`), central differences otherwise."""

    supports_bounds = True

    def for_objective(self, objective: Objective) -> GradientEstimator:
        return AnalyticGradient() if objective.has_gradient else CentralDifference()

    def for_run(self, objective: Objective, searched: bool,
                bounded: bool = False) -> GradientEstimator:
        """The estimator of a run with (``searched``) or without a line search, with or
        without bounds (near a bound, one-sided differences: central ones there)."""
        if objective.has_gradient or not searched or bounded:
            return self.for_objective(objective)
        return AdaptiveDifference()

    def gradient(self, objective: Objective, x: np.ndarray) -> np.ndarray:
        return self.for_objective(objective).gradient(objective, x)

    def bind(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        return bind_for(self.for_objective(objective), objective, bounds)

    def bind_stack(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        return bind_for(self.for_objective(objective), objective, bounds, stack=True)

    def evaluations(self, objective: Objective, n: int, bounds: Any = None,
                    given_value: bool = False) -> tuple[int, int]:
        return evaluations_for(self.for_objective(objective), objective, n, bounds,
                               given_value)


@attrs.frozen
class AdaptiveDifference(GradientEstimator):
    """Finite differences that spend n evaluations where they suffice and more only where
    they must: forward differences (n evaluations, f(x) being known), and for a start
    whose line search finds no lower f with them, central differences (2n) from then on,
    then Richardson's (4n, without bounds) if central ones fail too. Gill, Murray and
    Wright's rule (switch from forward to central differences when the forward ones no
    longer give a descent, or near a minimum), applied per start and never undone; the
    start's level is part of the run's state (checkpointed). A forward-difference
    gradient whose norm is at most gtol earns no convergence: forward differences err by
    about ``sqrt(eps) |f''|`` and can vanish 1e-5 from a minimum, so the start's central
    gradient is measured at once and decides (:func:`optiframe.problem.confirmed_gradient`);
    with a fixed step (no line search to be misled) that check is how a start climbs.

    What ``gradient="auto"`` gives a run with a line search (the default L-BFGS) when
    the objective has no analytic gradient.

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> r = of.minimize(lambda x: float(np.sum((x - 1.0) ** 2) + np.sum(x ** 4)),
    ...                 np.zeros(5), gradient="adaptive")
    >>> r.status, bool(np.abs(r.x - 0.5898).max() < 1e-3)
    ('converged', True)
    """

    uses_value = True
    supports_bounds = True

    def levels(self, bounds: Any) -> tuple[GradientEstimator, ...]:
        """The ladder a run climbs: forward, central, and Richardson where no bounds."""
        ladder: tuple[GradientEstimator, ...] = (ForwardDifference(), CentralDifference())
        return ladder if bounds is not None else (*ladder, RichardsonDifference())

    def level_costs(self, objective: Objective, n: int, bounds: Any) -> tuple[int, ...]:
        """The evaluations of one gradient at each level, f(x) being known."""
        return tuple(evaluations_for(e, objective, n, bounds, given_value=True)[0]
                     for e in self.levels(bounds))

    def bind(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        return self._bound(objective, bounds, stack=False)

    def bind_stack(self, objective: Objective, bounds: Any = None) -> BoundGradient:
        return self._bound(objective, bounds, stack=True)

    def _bound(self, objective: Objective, bounds: Any, stack: bool) -> BoundGradient:
        bound = [bind_for(e, objective, bounds, stack=stack) for e in self.levels(bounds)]
        takes_value = [getattr(e, "uses_value", False) for e in self.levels(bounds)]

        def at_level(k: int, X: np.ndarray, F: Any) -> np.ndarray:
            return bound[k](X, F) if takes_value[k] and F is not None else bound[k](X)

        def gradient(X: np.ndarray, F: Any = None, levels: Any = 0) -> np.ndarray:
            if X.ndim == 1 or np.ndim(levels) == 0:
                return at_level(int(np.max(levels)), X, F)
            levels = np.asarray(levels)
            if (levels == levels[0]).all():
                return at_level(int(levels[0]), X, F)
            G = np.empty(X.shape)
            for k in np.unique(levels).tolist():
                rows = np.flatnonzero(levels == k)
                G[rows] = at_level(k, X[rows], None if F is None else np.asarray(F)[rows])
            return G

        return gradient

    def gradient(self, objective: Objective, x: np.ndarray) -> np.ndarray:
        return self.bind(objective)(x)

    def evaluations(self, objective: Objective, n: int, bounds: Any = None,
                    given_value: bool = False) -> tuple[int, int]:
        """What the first level (forward differences) costs."""
        return evaluations_for(ForwardDifference(), objective, n, bounds, given_value)


def refinement_of(estimator: GradientEstimator, bounds: Any) -> GradientEstimator | None:
    """The more accurate finite differences that check a run's last point when its line
    search gives up: central after forward, Richardson after central (without bounds,
    which Richardson cannot keep); None for the others."""
    if isinstance(estimator, ForwardDifference):
        return CentralDifference()
    if isinstance(estimator, CentralDifference) and bounds is None:
        return RichardsonDifference()
    return None


class CountedObjective(Objective):
    """An objective that counts the points it is asked for, before it answers (a point
    whose evaluation raises counts: it was evaluated)."""

    def __init__(self, objective: Objective) -> None:
        self.objective, self.count = objective, 0

    def value(self, x: np.ndarray) -> float:
        self.count += 1
        return self.objective.value(x)

    def values(self, X: np.ndarray) -> np.ndarray:
        self.count += len(X)
        return self.objective.values(X)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.objective.gradient(x)

    @property
    def has_gradient(self) -> bool:
        return self.objective.has_gradient

    @property
    def vectorized(self) -> bool:
        return self.objective.vectorized

    def __repr__(self) -> str:
        return repr(self.objective)

    def measured(self, measure: Callable[[], np.ndarray], shape: tuple[int, ...],
                 ) -> tuple[np.ndarray | None, int, Exception | None]:
        """``measure()``, a gradient of ``shape`` from this objective's values, with the
        evaluations it made, exactly, and the objective's error: where the objective
        raises part way, the points evaluated until then, None for the gradient and the
        exception (an overflow gives NaN)."""
        start = self.count
        try:
            G = np.asarray(measure(), dtype=float).reshape(shape)
        except (OverflowError, FloatingPointError):
            G = np.full(shape, np.nan)
        except Exception as exc:  # the objective raised at a measured point
            unasked(exc)  # (the count is exact: the note of what it did not ask goes)
            return None, self.count - start, exc
        return G, self.count - start, None


def counted_refinement(estimator: GradientEstimator, objective: Objective, bounds: Any,
                       ) -> Callable[[np.ndarray], tuple[np.ndarray | None, int,
                                                         Exception | None]]:
    """``estimator``'s gradient at one point (a (1, n) row) with the evaluations it made,
    exactly, and the objective's error: where the objective raises part way, the points
    evaluated until then, None for the gradient and the exception (an overflow gives
    NaN). A refinement runs once, where a line search gives up or a verdict is checked
    (:mod:`optiframe.finer_check`), row by row, so that a start in a stack is refined,
    and counted, as the start alone."""
    counted = CountedObjective(objective)
    gradient = bind_for(estimator, counted, bounds, stack=True)

    def refine(X: np.ndarray) -> tuple[np.ndarray | None, int, Exception | None]:
        return counted.measured(lambda: gradient(X), X.shape)

    return refine


@hookimpl
def register_gradient_estimators(register: Register) -> None:
    register("auto", AutoGradient)
    register("adaptive", AdaptiveDifference)
