"""What a step needs, bound once per run: the :class:`Problem`.

The objective's value and gradient at the run's points (one point, or a stack of rows
evaluated together), what a gradient costs in evaluations, the norms the history
records, the optimizer (and its schedules), the stopping rules, and for a training run
the batch source. Binding happens once, before the first evaluation, so that every
refusal (no analytic gradient, a schedule naming no hyperparameter) comes before any work
and the loop calls plain functions.

For a stack, an exception from the vectorized evaluation is traced to its rows by
evaluating them one by one: :class:`RowError` carries the other rows' results, and those
starts fail on their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from .objective import Objective, as_scalar
from .optimizers import Optimizer
from .state import take_rows
from .stopping import StopRules

#: Below this size, norms are faster on Python floats than through BLAS.
SMALL = 64
_F8 = np.dtype(np.float64)


def vector_norm(v: np.ndarray) -> float:
    """Euclidean norm of a 1-D array; exact for huge finite entries (v @ v overflows)."""
    if v.size <= SMALL:
        return math.hypot(*v.tolist())
    s = math.sqrt(np.dot(v, v))
    if s == math.inf and np.isfinite(v).all():
        m = float(np.abs(v).max())
        return m * math.sqrt((v / m) @ (v / m))
    return s


def vector_dist(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two points."""
    if a.size <= SMALL:
        return math.dist(a.tolist(), b.tolist())
    return vector_norm(a - b)


def row_norms(A: np.ndarray) -> np.ndarray:
    """The Euclidean norm of each row. Narrow rows are squared at once and summed column
    by column (a reduction along short rows costs numpy three times more), in the order
    einsum sums them: the same bits."""
    n = A.shape[1]
    if n <= 8:
        sq = A * A
        if n == 1:
            return np.sqrt(sq[:, 0])
        s = sq[:, 0] + sq[:, 1]
        for j in range(2, n):
            s += sq[:, j]
        return np.sqrt(s, out=s)
    return np.sqrt(np.einsum("ij,ij->i", A, A))


def row_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The Euclidean distance between corresponding rows."""
    return row_norms(A - B)


class RowError(Exception):
    """Some rows of a stacked evaluation raised. ``values`` holds every row's result
    (NaN where a row failed), ``errors`` the exceptions by row, ``kept`` the mask of the
    rows that did not fail, ``losses`` (training) the batch losses."""

    def __init__(self, values: np.ndarray, errors: dict[int, BaseException],
                 losses: Any = None) -> None:
        super().__init__(f"{len(errors)} rows raised")
        self.values, self.errors, self.losses = values, errors, losses
        self.kept = np.ones(len(values), dtype=bool)
        self.kept[sorted(errors)] = False


def traced(fn: Callable[..., Any], row_shape: tuple[int, ...], overflow: float,
           ) -> Callable[..., np.ndarray]:
    """``fn`` over a stack of rows, with failing rows traced: if the call raises, every row
    is evaluated alone; rows raising OverflowError or FloatingPointError give
    ``overflow``, rows raising anything else fail (:class:`RowError`)."""
    def call(X: np.ndarray, *extra: Any) -> np.ndarray:
        try:
            out = fn(X, *extra)
            if type(out) is np.ndarray and out.dtype == _F8 and out.shape == (
                    X.shape[0], *row_shape):
                return out
            return np.asarray(out, dtype=float).reshape((X.shape[0], *row_shape))
        except Exception:
            pass
        out = np.full((X.shape[0], *row_shape), np.nan)
        errors: dict[int, BaseException] = {}
        for i in range(X.shape[0]):
            row_extra = tuple(e[i : i + 1] for e in extra)
            try:
                out[i] = np.asarray(fn(X[i : i + 1], *row_extra), dtype=float).reshape(
                    row_shape)
            except (OverflowError, FloatingPointError):
                out[i] = overflow
            except Exception as exc:
                errors[i] = exc
        if errors:
            raise RowError(out, errors)
        return out

    return call


@attrs.frozen(eq=False)
class Problem:
    """The bound pieces of one run (see the module docstring).

    ``value(X)`` and ``grad(X)`` (``grad(X, rngs)`` for a stochastic estimator) work on
    one point or on a stack; ``fev``/``jev`` are the evaluations a gradient (in a training
    run, a batch loss and gradient) costs; ``step_cost`` what a whole step costs;
    ``budget`` the evaluations each start may spend; ``max_steps`` is infinite in training
    runs without an explicit ``max_steps``, and ``gtol`` is -1 there (a batch's gradient
    norm is no test of convergence).
    """

    objective: Objective
    point: bool
    value: Any  # None in training runs, where the batch source measures
    grad: Any
    fev: int
    jev: int
    stochastic: bool
    optimizer: Optimizer
    schedules: Any
    stop: StopRules
    max_steps: float
    gtol: float
    budget: int | None
    batches: Any = None

    @property
    def norm(self) -> Callable[[np.ndarray], Any]:
        return vector_norm if self.point else row_norms

    @property
    def dist(self) -> Callable[[np.ndarray, np.ndarray], Any]:
        return vector_dist if self.point else row_dists

    @property
    def step(self) -> Callable[..., Any]:
        return self.optimizer.step

    @property
    def step_cost(self) -> int:
        """The evaluations one step spends: a gradient and, with full data, f at the new
        point."""
        return self.fev + (1 if self.batches is None else 0)

    def scheduled(self, states: Any, k: int, F: Any) -> tuple[Callable[..., Any], Any]:
        """The optimizer's step for step ``k`` under the schedules in ``states``, and the
        schedules' new states (committed with the step)."""
        optimizer, states = self.schedules.at(k, F, states, self.point)
        return optimizer.step, states

    def take(self, tree: Any, keep: np.ndarray) -> Any:
        return take_rows(tree, keep, len(keep))

    def scalar(self, value: Any) -> float:
        """What a point's objective returned, as a float (or a clear error)."""
        return as_scalar(value, self.objective)
