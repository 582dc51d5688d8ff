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

from .numerics import einsum, scaled_row_norms
from .objective import Objective, WrongOutputError, as_scalar, real_array, stacked_output
from .optimizers import Optimizer
from .replay import Recording
from .state import take_rows
from .stopping import StopRules

_EPS = float(np.finfo(float).eps)
_F8 = np.dtype(np.float64)

#: Below this size, norms are faster on Python floats than through BLAS.
SMALL = 64

#: a 1-D array's largest entry, NaN where one is (``a.max()`` without its Python frame)
_max = np.maximum.reduce


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
    """The Euclidean norm of each row. Narrow rows (n <= 8) are squared at once and summed
    column by column, left to right (a reduction along short rows costs numpy three times
    more): the bits :func:`row_dist` gives a single start on Python floats; for n >= 3 the
    last bit may differ from einsum's sum, which wider rows use."""
    if A.shape[1] == 1:  # |x|: what sqrt(x * x) gives wherever x * x neither overflows
        return np.abs(A[:, 0])  # nor underflows
    return row_norms_top(A)[0]


def row_norms_top(A: np.ndarray) -> tuple[np.ndarray, Any]:
    """:func:`row_norms` and the largest of them (NaN where a row's is), from the one
    reduction that also finds a row whose square overflowed: a stack's gradient gate
    reads it instead of reducing the norms again."""
    n = A.shape[1]
    if n == 1:
        norms = np.abs(A[:, 0])
        return norms, _max(norms)
    if n <= 8:
        sq = A * A
        s = sq[:, 0] + sq[:, 1]
        for j in range(2, n):
            s += sq[:, j]
        norms = np.sqrt(s, out=s)
    else:
        norms = np.sqrt(einsum("ij,ij->i", A, A))
    top = _max(norms)
    # a row of 1e200 overflows its square: scaled, that row only (a NaN row makes the
    # maximum NaN, and then the rows are looked at)
    if not top < math.inf and np.isinf(norms).any():
        big = np.flatnonzero(np.isinf(norms))
        norms[big] = scaled_row_norms(A[big])
        top = _max(norms)
    return norms, top


def row_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The Euclidean distance between corresponding rows."""
    return row_norms(A - B)


def row_dist(a: np.ndarray, b: np.ndarray) -> float:
    """The distance of two points with the bits :func:`row_dists` gives them as a row
    of a stack (:func:`vector_dist` rounds better, differently): a single start whose
    step's length feeds its arithmetic (a line search's retry) steps as in a stack."""
    d = a - b
    if d.size <= 8:  # row_norms' column sums, on Python floats: the same operations
        v = d.tolist()
        if len(v) == 1:
            return abs(v[0])
        s = v[0] * v[0] + v[1] * v[1]
        for t in v[2:]:
            s += t * t
    else:
        s = float(einsum("ij,ij->i", d[None], d[None])[0])
    norm = math.sqrt(s)  # (NaN stays NaN; a square that overflows: row_norms' scaling)
    return norm if norm != math.inf else float(row_norms(d[None])[0])


#: Adaptive differences climb to finer ones after a line search that needed more trial
#: values than this (an accurate gradient's quasi-Newton step needs one to three).
CLIMB_TRIALS = 8

#: ... and a search at a level that can still climb tries at most this many values: one
#: that needs more climbs anyway, and one that finds no step climbs (settle) with the
#: gradient measured anew, the likelier culprit near a minimum than the direction.
CLIMBING_TRIALS = 10


def climbing_search(search: Any) -> Any:
    """``search`` with at most :data:`CLIMBING_TRIALS` trial values, for the rows of an
    adaptive-differences run below the finest level (None: ``search`` tries no more, or
    has no ``max_trials`` to lower, as a plugin's may not)."""
    trials = getattr(search, "max_trials", None)
    if type(trials) is int and trials > CLIMBING_TRIALS and attrs.has(type(search)):
        return attrs.evolve(search, max_trials=CLIMBING_TRIALS)
    return None


def users_error(errors: dict[int, BaseException]) -> BaseException | None:
    """A single start's error from user code among its line search's ``errors``
    (None: none, or only the budget or the clock stopped the search)."""
    exc = errors.get(0)
    return None if isinstance(exc, OutOfBudgetError) else exc


class OutOfBudgetError(Exception):
    """A row's line search stopped, without a step, because ``max_nfev`` (``why`` 1) or
    ``max_time`` (2) ran out: the row ends with that status, where it was."""

    def __init__(self, why: int, need: int = 0) -> None:
        super().__init__("max_nfev" if why == 1 else "max_time")
        self.why, self.need = why, need  # need: the evaluations a check would have taken


def rows_of(levels: np.ndarray | None, rows: Any) -> Any:
    """The adaptive levels of ``rows`` (None outside adaptive runs)."""
    return None if levels is None else levels[rows]


class RowError(Exception):
    """Some rows of a stacked evaluation raised. ``values`` holds every row's result
    (NaN where a row failed), ``errors`` the exceptions by row, ``kept`` the mask of the
    rows that did not fail, ``losses`` (training) the batch losses."""

    def __init__(self, values: np.ndarray, errors: dict[int, BaseException],
                 losses: Any = None) -> None:
        super().__init__(f"{len(errors)} rows raised")
        self.values, self.errors, self.losses = values, errors, losses
        self.costs: Any = None  # (nfev, njev) per row, where the evaluations vary by row
        self.levels: Any = None  # adaptive differences: the rows' levels after the measure
        self.kept = np.ones(len(values), dtype=bool)
        self.kept[sorted(errors)] = False


def traced(fn: Callable[..., Any], row_shape: tuple[int, ...], overflow: float,
           replayable: bool = False) -> Callable[..., np.ndarray]:
    """``fn`` over a stack of rows, with failing rows traced: if the call raises, every row
    is evaluated alone; rows raising OverflowError or FloatingPointError give
    ``overflow``, rows raising anything else fail (:class:`RowError`). ``replayable``:
    ``fn`` asks the objective point by point (:func:`~optiframe.replay.point_by_point`),
    so what the first pass asked is answered from its record and no point is asked
    twice."""
    def one_row(exc: Exception) -> np.ndarray:  # its error, without evaluating it again
        if isinstance(exc, (OverflowError, FloatingPointError)):
            return np.full((1, *row_shape), overflow)
        raise RowError(np.full((1, *row_shape), np.nan), {0: exc}) from None

    def call(X: np.ndarray, *extra: Any, record: Recording | None = None) -> np.ndarray:
        try:  # the first pass: the whole stack at once
            out = fn(X, *extra)
            if type(out) is np.ndarray and out.dtype == _F8 and out.shape == (
                    X.shape[0], *row_shape):  # (the usual answer, without a call)
                return out
            return stacked_output(out, fn, (X.shape[0], *row_shape))
        except WrongOutputError:
            raise  # the function's contract, not a row's failure: no row alone would do
        except Exception as exc:
            if X.shape[0] == 1:
                return one_row(exc)
        if record is not None:
            record.replay()
        return _row_by_row(fn, X, extra, row_shape, overflow)

    def recorded(X: np.ndarray, *extra: Any) -> np.ndarray:
        with Recording() as record:  # what f was asked point by point, to ask it once
            return call(X, *extra, record=record)

    return recorded if replayable else call


def _row_by_row(fn: Callable[..., Any], X: np.ndarray, extra: tuple[Any, ...],
                row_shape: tuple[int, ...], overflow: float) -> np.ndarray:
    """:func:`traced`'s second pass: each row alone (answered from the record where the
    first pass asked f already)."""
    out = np.full((X.shape[0], *row_shape), np.nan)
    errors: dict[int, BaseException] = {}
    for i in range(X.shape[0]):
        row_extra = tuple(e[i : i + 1] for e in extra)
        try:
            out[i] = real_array(fn(X[i : i + 1], *row_extra), fn).reshape(row_shape)
        except (OverflowError, FloatingPointError):
            out[i] = overflow
        except Exception as exc:
            errors[i] = exc
    if errors:
        raise RowError(out, errors)
    return out


def stack_values(objective: Objective) -> Callable[[np.ndarray], np.ndarray]:
    """f at each row of a stack, failing rows traced as :func:`traced` does: a vectorized
    objective is asked for the stack (and each row alone only if that raises); any other
    is asked row by row, as its ``values`` would, so a row that raises costs no row a
    second evaluation."""
    if objective.vectorized:
        return traced(objective.values, (), math.inf)
    value = objective.value

    def call(X: np.ndarray) -> np.ndarray:
        out: list[float] = []
        errors: dict[int, BaseException] = {}
        while len(out) < len(X):  # (a row that raises: note it, go on from the next)
            try:
                for row in X[len(out):]:
                    out.append(as_scalar(value(row), objective))
            except (OverflowError, FloatingPointError):
                out.append(math.inf)
            except Exception as exc:
                errors[len(out)] = exc
                out.append(math.nan)
        if errors:
            raise RowError(np.array(out), errors)
        return np.array(out)

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
    box: Any = None  # a Box, or None
    line_search: Any = None  # a LineSearch, or None
    natural_step: bool = False  # the optimizer's step is a first trial of length 1
    #: the line search's restart policy (a linesearch.Restart), or None: a row whose
    #: search fails ends
    restart: Any = None
    #: how far a step goes along the proposal: a line_step.FixedStep or LineStep
    step_length: Any = None
    valued: bool = False  # grad(X, F): the gradient takes f at the points
    #: a more accurate finite-difference gradient at one row, with the evaluations it
    #: made (gradient_choice.counted_refinement), what it costs at most, and its name:
    #: measured where a line search gives up, and before a verdict of f's precision
    #: stands (see optiframe.finer_check), or None
    refine: Any = None
    refine_cost: int = 0
    refine_name: str = ""
    #: the run's own forward differences' steps at x (``ForwardDifference.steps``: see
    #: finer_check.checked_flat), or None
    forward_steps: Any = None
    #: central differences widened until f's change stands above its rounding
    #: (widened.widener), and what they cost at most: they check the verdicts of a run
    #: whose differences have nothing finer (Richardson's, adaptive ones, central ones
    #: within bounds), and a convergence on differences that are all 0 (finer_check),
    #: or None (no finite differences)
    widen: Any = None
    widen_cost: int = 0
    #: adaptive differences (``grad(X, F, levels)``): one gradient's evaluations at each
    #: level of a row's ``fd_level`` (empty for the other estimators)
    level_costs: tuple[int, ...] = ()
    #: adaptive differences: the line search of rows below the finest level (fewer
    #: trials: :func:`climbing_search`), or None: ``line_search`` for every row
    climbing_search: Any = None
    #: the run's stop rules by stage, and the gradient stage's combined test (bind sets it)
    gates: Any = None

    @property
    def adaptive(self) -> bool:
        return bool(self.level_costs)

    @property
    def finest_level(self) -> int:
        """Adaptive differences: the last level a row can climb to."""
        return len(self.level_costs) - 1

    @property
    def by_differences(self) -> bool:
        """Whether the gradient is measured from f's values (finite differences: it costs
        evaluations of f), not the objective's own or a stochastic estimate."""
        return self.fev > 0 and not self.stochastic

    def gradient_costs(self, levels: Any) -> Any:
        """The evaluations of one gradient of rows at ``levels`` (``fev`` unless
        adaptive; ``levels`` None outside adaptive runs)."""
        if not self.level_costs or levels is None:
            return self.fev
        if np.ndim(levels) == 0:
            return self.level_costs[int(levels)]
        return np.asarray(self.level_costs, dtype=np.int64)[np.asarray(levels)]

    def climbed(self, levels: Any, resets: Any, snf: Any, snj: Any, ok: Any) -> Any:
        """Adaptive differences: the rows whose step showed that their gradient misleads
        measure at the next level from the next gradient on: the direction had to be
        reset to the steepest descent, or the line search needed more than
        :data:`CLIMB_TRIALS` trial values (the slope the gradient predicts is not f's).
        Rows whose search found no step (not ``ok``) are settle's to climb."""
        trials = np.asarray(snf) - (np.asarray(snj) // max(self.jev, 1)) * np.asarray(
            self.gradient_costs(levels))
        misled = ((np.asarray(resets) > 0) | (trials > CLIMB_TRIALS)) & np.asarray(ok)
        if not misled.any():
            return levels
        top = self.finest_level
        if self.point:
            return min(levels + 1, top)
        return np.where(misled, np.minimum(levels + 1, top), levels)

    def handed_over(self, Gn: Any, levels: Any, before: Any) -> Any:
        """The gradient a line search handed over at the new points (``Gn``), without the
        rows whose adaptive differences climbed from ``before`` to the finest level at
        this step (``levels``): the search measured it at their old level, and the next
        step measures it with the finest, so that no row ends ``line_search`` (the finest
        cannot climb) on a coarser gradient (a point's: None)."""
        if levels is before:  # no row climbed (climbed returns the levels themselves)
            return Gn
        top = self.finest_level
        if np.ndim(levels) == 0:
            return None if levels == top and before != top else Gn
        up = (np.asarray(levels) == top) & (np.asarray(before) != top)
        if Gn is None or not up.any():
            return Gn
        Gn = Gn.copy()
        Gn[up] = np.nan
        return Gn

    def step_costs(self, levels: Any, handed: Any = None) -> Any:
        """What a whole step of rows at ``levels`` costs at least: a gradient and, with
        full data, f at the new point. ``handed``: the gradients a line search handed
        over to the step (None, or a row of NaN where it handed none); those rows need f
        at one new point only (a search with too few evaluations left for a trial and
        its gradient tries f alone)."""
        costs = (self.step_cost if not self.level_costs
                 else self.gradient_costs(levels) + (1 if self.batches is None else 0))
        if handed is None or not getattr(self.line_search, "budgeted", False):
            return costs
        if self.point:
            return 1
        return np.where(np.isnan(handed[:, 0]), costs, 1)

    @property
    def norm(self) -> Callable[[np.ndarray], Any]:
        return vector_norm if self.point else row_norms

    @property
    def dist(self) -> Callable[[np.ndarray, np.ndarray], Any]:
        """How far a step went. A single start with a line search measures it as a
        stack's row does: a retry along the steepest descent starts from that length,
        so its bits make the start's next steps (the same alone as in a stack)."""
        if not self.point:
            return row_dists
        return row_dist if self.step_length.searched else vector_dist

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

    # -- bounds and line searches ---------------------------------------------------------
    def project(self, X: np.ndarray) -> np.ndarray:
        """X clipped into the bounds."""
        return self.box.project(X)

    def projected(self, X: np.ndarray, G: np.ndarray) -> np.ndarray:
        """The projected gradient at X (see :mod:`optiframe.bounds`)."""
        return self.box.projected_gradient(X, G)

    def searched_gradient(self, X: np.ndarray, Gn: Any, rng: Any, F: Any,
                          levels: Any = 0) -> tuple[Any, Any, Any]:
        """The gradient at the rows' points for a step with a line search: the one the
        last search computed there (``Gn``; a row of NaN where it computed none) and the
        missing ones evaluated now (adaptive differences: at the rows' ``levels``).
        Returns it and what the evaluations cost, per row."""
        fev, jev = self.gradient_costs(levels), self.jev
        if self.point:
            if Gn is not None:
                return Gn, 0, 0
            return self.gradient_at(X, rng, F, levels), fev, jev
        K = X.shape[0]
        missing = (np.ones(K, dtype=bool) if Gn is None else np.isnan(Gn[:, 0]))
        costs = np.where(missing, fev, 0), np.where(missing, jev, 0)
        if not missing.any():
            return Gn, costs[0], costs[1]
        try:
            if missing.all():
                G = self.gradient_at(X, rng, F, levels)
            else:
                rows = np.flatnonzero(missing)
                G = Gn.copy()
                try:
                    G[rows] = self.gradient_at(X[rows], None if rng is None else [
                        rng[i] for i in rows.tolist()], F[rows],
                        levels[rows] if np.ndim(levels) else levels)
                except RowError as err:
                    G[rows] = err.values
                    raise RowError(G, {int(rows[i]): e for i, e in err.errors.items()}
                                   ) from None
        except RowError as err:
            err.costs = costs  # what the rows' gradients cost, for their counts
            raise
        return G, costs[0], costs[1]

    def gradient_at(self, X: Any, rng: Any, F: Any, levels: Any = 0) -> Any:
        """The gradient at X, given the generators (stochastic), f at X (valued), and the
        rows' levels (adaptive differences)."""
        if self.stochastic:
            return self.grad(X, rng)
        if self.level_costs:
            return self.grad(X, F, levels)
        return self.grad(X, F) if self.valued else self.grad(X)


def confirmed_gradient(p: Problem, X: Any, F: Any, G: Any, mf: Any, mj: Any, levels: Any,
                       rng: Any, spent: Any = 0) -> tuple[Any, Any, Any, Any]:
    """Adaptive differences near a minimum: rows whose forward-difference gradient has a
    (projected) norm at most gtol are measured again with central differences, and go
    on at that level (Gill, Murray and Wright's switch near a minimum). Forward
    differences err by about ``sqrt(eps) |f''|``: near a minimum they can vanish where
    the gradient is 1000 times gtol, so their small norm earns no convergence; the
    central one decides. Returns the gradient, its costs and the rows' levels.

    ``spent``: the rows' evaluations before this step's gradient. Rows whose check
    ``max_nfev`` cannot pay for raise :class:`OutOfBudgetError` (in a :class:`RowError`,
    after the other rows' checks): they end ``max_nfev``, unconfirmed."""
    project = p.box.projected_gradient if p.box is not None else None
    cost = p.level_costs[1] if p.level_costs else 0
    if p.point:
        if levels != 0 or not vector_norm(G if project is None else project(X, G)) <= p.gtol:
            return G, mf, mj, levels
        if p.budget is not None and spent + mf + cost > p.budget:
            error = RowError(G[None], {0: OutOfBudgetError(1, cost)})
            error.costs = (mf, mj)
            raise error
        G = p.gradient_at(X, rng, F, 1)
        return G, mf + cost, mj + p.jev, 1
    forward = np.asarray(levels) == 0
    if not forward.any():  # every row is past forward differences already
        return G, mf, mj, levels
    low = forward & (row_norms(G if project is None else project(X, G)) <= p.gtol)
    short = np.zeros(len(low), dtype=bool)
    if p.budget is not None:  # rows that cannot pay for their check
        short = low & (np.asarray(spent) + mf + cost > p.budget)
        low &= ~short
    if not low.any() and not short.any():
        return G, mf, mj, levels
    rows = np.flatnonzero(low)
    LV = np.where(low, 1, levels)
    G = G.copy()
    mf = mf + np.where(low, cost, 0)
    mj = mj + np.where(low, p.jev, 0)
    errors: dict[int, BaseException] = {}
    if len(rows):
        try:
            G[rows] = p.gradient_at(X[rows], None if rng is None else [
                rng[i] for i in rows.tolist()], np.asarray(F)[rows], LV[rows])
        except RowError as err:
            G[rows] = err.values
            errors = {int(rows[i]): e for i, e in err.errors.items()}
    errors.update({int(r): OutOfBudgetError(1, cost) for r in np.flatnonzero(short)})
    if errors:
        error = RowError(G, errors)
        error.costs, error.levels = (mf, mj), LV
        raise error from None
    return G, mf, mj, LV
