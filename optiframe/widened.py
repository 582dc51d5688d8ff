"""Central differences whose steps widen until f's change across them stands above f's
rounding: the look that checks a verdict where a run's own differences have nothing
finer (Richardson's, and adaptive differences at their finest), and a convergence on
differences that were all 0 (central ones too).

A difference gradient is only as good as f's change across its steps. Where f is large
beside that change (Rosenbrock at x = (4e5, 21, -5e15), f = 3e33, whose second
coordinate moves f by 1e19 across Richardson's step there, below f's rounding of 6e17
times a few), every difference, however fine, is f's rounding, and a line search along
it finds nothing lower. Here each coordinate's central step starts at
``CentralDifference``'s own and grows tenfold, for the coordinates whose change of f is
still within :data:`RESOLVED_UNITS` ``eps |f|``, up to a tenth of the coordinate's scale
(``0.1 max(1, |x_j|)``): the change of f it then measures is rounding to a percent or
less (or the step reached its cap). Gill, Murray and Wright size a step by f's noise the
same way; a wide step's truncation error does not matter here, where the gradient only
has to point downhill for a search to show that f can be lowered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .gradient_choice import CountedObjective
from .gradients import CentralDifference, row_values
from .objective import Objective

_EPS = float(np.finfo(float).eps)

#: a coordinate's difference of f is measured once it exceeds this many units of f's
#: rounding (``eps |f|``)
RESOLVED_UNITS = 100.0
#: each round multiplies the steps of the coordinates not yet measured by this
GROWTH = 10.0
#: the widest step, as a fraction of a coordinate's scale ``max(1, |x_j|)``
WIDEST = 0.1
#: evaluation rounds at most: central's own step (eps**(1/3) of the scale) and five
#: tenfold widenings reach :data:`WIDEST`
ROUNDS = 6


class Widened(NamedTuple):
    """A widened gradient (a (1, n) row; None where f raised: ``error``, or where the
    budget could not pay for a round: ``unpaid``) and the evaluations it made."""

    gradient: np.ndarray | None
    spent: int
    error: BaseException | None = None
    unpaid: bool = False


def widening_cost(n: int) -> int:
    """The evaluations a widened gradient of n coordinates makes at most."""
    return 2 * n * ROUNDS


def widener(objective: Objective, box: Any = None,
            ) -> Callable[[np.ndarray, float, int | None], Widened]:
    """``widen(X, f, left)``: the widened gradient at one point (a (1, n) row, f there
    being ``f``), every evaluation counted, a round started only where ``left`` (None:
    no budget) pays for it. Within ``box`` (a :class:`~optiframe.bounds.Box`) the
    points are clipped to it: a difference across what is left of the step, one-sided
    at a bound, 0 for a coordinate the box fixes.

    Example
    -------
    At f = 1e12 + |x - 0.5|^2 central differences are all 0 (f's rounding); the widened
    ones measure the slope, 2 (x - 0.5):

    >>> import numpy as np, optiframe as of
    >>> f = of.FunctionObjective.from_callable(lambda x: 1e12 + np.sum((x - 0.5) ** 2))
    >>> x = np.array([2.0, -2.0])
    >>> of.CentralDifference().gradient(f, x).tolist()
    [0.0, 0.0]
    >>> G, spent, error, unpaid = widener(f)(x[None], f.value(x), None)
    >>> np.round(G[0], 2).tolist(), spent <= widening_cost(2)
    ([3.0, -5.0], True)
    """
    counted = CountedObjective(objective)
    values = row_values(counted)

    def widen(X: np.ndarray, f: float, left: int | None) -> Widened:
        unpaid = False

        def measure() -> np.ndarray:
            nonlocal unpaid
            g, unpaid = _widened(values, X[0], f, left, box)
            return g

        G, spent, error = counted.measured(measure, X.shape)
        return Widened(None if unpaid else G, spent, error, unpaid)

    return widen


def _widened(values: Any, x: np.ndarray, f: float, left: int | None, box: Any,
             ) -> tuple[np.ndarray, bool]:
    """The widened gradient at ``x`` (within ``box``, if any) and whether the budget
    stopped it."""
    n = len(x)
    h = CentralDifference().steps(x)
    cap = WIDEST * np.maximum(1.0, np.abs(x))
    g = np.zeros(n)
    todo = np.arange(n)
    if box is not None:  # a coordinate the box fixes has no slope to follow
        todo = todo[box.lo < box.hi]
    resolved = RESOLVED_UNITS * _EPS * abs(f)
    spent = 0
    for _ in range(ROUNDS):
        k = len(todo)
        if not k:
            break
        if left is not None and spent + 2 * k > left:
            return g, True
        P = np.repeat(x[None], 2 * k, axis=0)
        up, down = x[todo] + h[todo], x[todo] - h[todo]
        if box is not None:
            up, down = np.minimum(up, box.hi[todo]), np.maximum(down, box.lo[todo])
        P[np.arange(k), todo], P[k + np.arange(k), todo] = up, down
        F = np.asarray(values(P), dtype=float)
        spent += 2 * k
        change = F[:k] - F[k:]
        g[todo] = change / (up - down)
        wide = (h[todo] >= cap[todo]) | (up - down <= 0.0)
        todo = todo[~((np.abs(change) > resolved) | wide)]
        if not len(todo):
            break
        h[todo] = np.minimum(h[todo] * GROWTH, cap[todo])
    return g, False
