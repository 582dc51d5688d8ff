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

from .linesearch import SearchResult, SearchTask
from .numerics import lowered, moving_lengths, scaled_row_norms, unit_steps
from .objective import Objective, as_scalar, real_array
from .optimizers import Optimizer
from .state import keep_rows, take_rows
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
        norms = np.sqrt(s, out=s)
    else:
        norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    if np.isinf(norms).any():  # a row of 1e200 overflows its square: scaled, that row only
        big = np.flatnonzero(np.isinf(norms))
        norms[big] = scaled_row_norms(A[big])
    return norms


def row_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The Euclidean distance between corresponding rows."""
    return row_norms(A - B)


#: Adaptive differences climb to finer ones after a line search that needed more trial
#: values than this (an accurate gradient's quasi-Newton step needs one to three).
CLIMB_TRIALS = 8


class OutOfBudgetError(Exception):
    """A row's line search stopped, without a step, because ``max_nfev`` (``why`` 1) or
    ``max_time`` (2) ran out: the row ends with that status, where it was."""

    def __init__(self, why: int) -> None:
        super().__init__("max_nfev" if why == 1 else "max_time")
        self.why = why


def _only_lowered(res: SearchResult, F: np.ndarray) -> SearchResult:
    """``res`` with the rows whose accepted step lowered f only within the noise of
    computing it counted as finding no step (they may then retry, or end)."""
    ok = res.ok & lowered(F, res.F)
    return res if (ok == res.ok).all() else attrs.evolve(res, ok=ok)


def _steepest(R: np.ndarray, X: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    """The steepest-descent directions ``R`` (rows) as steps of the last step's length
    (``last``, where it is known and positive) or of unit length (a raw ``-g`` of 1e30
    is no length to start from), each long enough to move x."""
    length = None
    if last is not None:
        length = np.where(np.isfinite(last) & (last > 0), last, 1.0)
    return unit_steps(R, X, length)


def _rows_of(levels: np.ndarray | None, rows: Any) -> Any:
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
            return real_array(out, fn).reshape((X.shape[0], *row_shape))
        except Exception:
            pass
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
    valued: bool = False  # grad(X, F): the gradient takes f at the points
    #: a more accurate finite-difference gradient (rows), what it costs, and its name:
    #: measured where a line search gives up (see settle._refined_verdicts), or None
    refine: Any = None
    refine_cost: int = 0
    refine_name: str = ""
    #: adaptive differences (``grad(X, F, levels)``): one gradient's evaluations at each
    #: level of a row's ``fd_level`` (empty for the other estimators)
    level_costs: tuple[int, ...] = ()

    @property
    def adaptive(self) -> bool:
        return bool(self.level_costs)

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
        top = len(self.level_costs) - 1
        if self.point:
            return min(levels + 1, top)
        return np.where(misled, np.minimum(levels + 1, top), levels)

    def step_costs(self, levels: Any) -> Any:
        """What a whole step of rows at ``levels`` costs: a gradient and, with full data,
        f at the new point."""
        if not self.level_costs:
            return self.step_cost
        return self.gradient_costs(levels) + (1 if self.batches is None else 0)

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
            return self._grad(X, rng, F, levels), fev, jev
        K = X.shape[0]
        missing = (np.ones(K, dtype=bool) if Gn is None else np.isnan(Gn[:, 0]))
        costs = np.where(missing, fev, 0), np.where(missing, jev, 0)
        if not missing.any():
            return Gn, costs[0], costs[1]
        try:
            if missing.all():
                G = self._grad(X, rng, F, levels)
            else:
                rows = np.flatnonzero(missing)
                G = Gn.copy()
                try:
                    G[rows] = self._grad(X[rows], None if rng is None else [
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

    def _grad(self, X: Any, rng: Any, F: Any, levels: Any = 0) -> Any:
        """The gradient at X, given the generators (stochastic), f at X (valued), and the
        rows' levels (adaptive differences)."""
        if self.stochastic:
            return self.grad(X, rng)
        if self.level_costs:
            return self.grad(X, F, levels)
        return self.grad(X, F) if self.valued else self.grad(X)

    def line_step(self, X: Any, F: Any, G: Any, PG: Any, X_prop: Any, A: Any, rng: Any,
                  skip: Any, spent: Any = 0, deadline: float | None = None,
                  last: Any = None, levels: Any = 0) -> tuple[Any, ...]:
        """A step whose direction is the optimizer's proposal ``X_prop - X`` and whose
        length the line search finds, for each row (see :mod:`optiframe.linesearch`).

        Returns the new points, values, step lengths, the gradients there (NaN rows where
        the search computed none; None for a point without one), the values and gradients
        the search evaluated, whether each row found a step, the directions reset to the
        steepest descent (1 per row that was), and the rows whose evaluations raised
        (``{row: exception}``), and the decrease of f each first trial promised (``-a0
        g.d``, for the verdict of a row that found no step). Rows of ``skip`` (a non-finite
        gradient) stay where they are. ``spent``: the evaluations each row has spent,
        this step's gradient included (the search spends at most what ``max_nfev``
        leaves); ``deadline``: when ``max_time`` runs out; ``last``: the last step's
        length (a retry along the steepest descent starts with a step that long). A row
        whose search stopped for either without a step is among the errors as
        :class:`OutOfBudgetError`."""
        left = None if self.budget is None else self.budget - np.atleast_1d(spent)
        if not self.level_costs:
            levels = None  # one cost for every row: nothing to carry through the search
        if self.point:
            one, reset, raised, gain = self._search(
                X[None], np.array([F], dtype=float), G[None], PG[None], X_prop[None],
                np.array([A]), rng, np.array([0]), left, deadline,
                None if last is None else np.array([last], dtype=float),
                None if levels is None else np.array([levels]))
            if raised and not isinstance(raised[0], OutOfBudgetError):
                raise raised[0]
            G_at = None if one.G is None or np.isnan(one.G[0, 0]) else one.G[0]
            found = bool(one.ok[0])
            return (one.X[0] if found else X, float(one.F[0]) if found else F,
                    float(one.alpha[0]) if found else math.nan, G_at if found else G,
                    int(one.nfev[0]) + int(one.njev[0]) * self.gradient_costs(levels),
                    int(one.njev[0]) * self.jev, found, int(reset[0]), raised,
                    float(gain[0]))
        K = X.shape[0]
        rows = np.arange(K) if skip is None else np.flatnonzero(~skip)
        X_new, F_new, A_new = X.copy(), np.array(F, dtype=float), np.full(K, math.nan)
        G_new = np.full(X.shape, math.nan)
        nfev = np.zeros(K, dtype=np.int64)
        njev = np.zeros(K, dtype=np.int64)
        ok = np.ones(K, dtype=bool)
        resets = np.zeros(K, dtype=np.int64)
        gains = np.zeros(K)
        errors: dict[int, BaseException] = {}
        if len(rows):
            rng_rows = None if rng is None else [rng[i] for i in rows.tolist()]
            res, reset, errors, gains[rows] = self._search(
                X[rows], F_new[rows], G[rows], PG[rows], X_prop[rows], A[rows], rng_rows, rows,
                None if left is None else left[rows], deadline,
                None if last is None else np.asarray(last, dtype=float)[rows],
                _rows_of(levels, rows))
            good = res.ok.copy()
            if errors:
                good[np.isin(rows, list(errors))] = False
            take = rows[good]
            X_new[take], F_new[take], A_new[take] = (res.X[good], res.F[good],
                                                     res.alpha[good])
            if res.G is not None:
                G_new[take] = res.G[good]
            failed = rows[~good]
            G_new[failed] = G[failed]
            nfev[rows] = res.nfev + res.njev * self.gradient_costs(_rows_of(levels, rows))
            njev[rows] = res.njev * self.jev
            ok[rows] = good
            resets[rows] = reset
        if skip is not None:
            G_new[skip] = math.nan
        return X_new, F_new, A_new, G_new, nfev, njev, ok, resets, errors, gains

    def restarted(self, opt: Any, X: Any, resets: Any) -> Any:
        """The optimizer state ``opt`` with the rows whose direction was reset (``resets``
        > 0) started afresh: a quasi-Newton memory that misled the search is dropped
        (its ``forget``: the curvature pairs go, the point and gradient the step began
        at stay, so the steepest-descent step just taken makes the next pair, as in
        L-BFGS-B's restart; an optimizer without one starts from ``init``)."""
        forget = getattr(self.optimizer, "forget", None)
        fresh = forget(opt) if forget is not None else self.optimizer.init(X)
        if self.point:
            return fresh if resets else opt
        rows = np.asarray(resets) > 0
        if not rows.any():
            return opt
        return keep_rows(opt, fresh, rows, X.shape[0])

    def _search(self, X: np.ndarray, F: np.ndarray, G: np.ndarray, PG: np.ndarray,
                P: np.ndarray, A: np.ndarray, rng: Any, index: np.ndarray,
                left: np.ndarray | None = None, deadline: float | None = None,
                last: Any = None, levels: Any = None,
                ) -> tuple[SearchResult, np.ndarray, dict[int, BaseException], Any]:
        """The line search over rows ``index`` of the run (see :meth:`line_step`). A
        quasi-Newton row (``natural_step``) whose search fails along its own direction
        searches once more along the steepest descent, as L-BFGS-B restarts: the retry
        counts as a reset, and the caller restarts the row's optimizer state."""
        res, reset, errors, gain = self._search_once(X, F, G, PG, P, A, rng, index, left,
                                                     deadline, levels)
        res = _only_lowered(res, F)
        if res.ok.all():  # every row found its step
            return res, reset, errors, gain
        self._note_stopped(res, index, errors)
        if not self.natural_step:
            return res, reset, errors, gain
        retry = ~res.ok & ~reset.astype(bool) & (res.stopped == 0)
        if errors:
            retry &= ~np.isin(index, list(errors))
        if not retry.any():
            return res, reset, errors, gain
        rows = np.flatnonzero(retry)
        R = _steepest(-(PG if self.box is not None else G)[rows], X[rows],
                      None if last is None else np.atleast_1d(last)[rows])
        sub_rng = None if rng is None else [rng[i] for i in rows.tolist()]
        spent = res.nfev[rows] + res.njev[rows] * self.gradient_costs(_rows_of(levels, rows))
        again, _, more, gain_again = self._search_once(
            X[rows], F[rows], G[rows], PG[rows], X[rows] + R, np.full(len(rows), np.nan),
            sub_rng, index[rows], None if left is None else left[rows] - spent, deadline,
            _rows_of(levels, rows))
        again = _only_lowered(again, F[rows])
        self._note_stopped(again, index[rows], more)
        errors.update(more)
        alpha, Xs, Fs, ok = res.alpha.copy(), res.X.copy(), res.F.copy(), res.ok.copy()
        nfev, njev = res.nfev.copy(), res.njev.copy()
        alpha[rows], Xs[rows], Fs[rows], ok[rows] = again.alpha, again.X, again.F, again.ok
        nfev[rows] += again.nfev
        njev[rows] += again.njev
        Gs = res.G
        if res.G is not None or again.G is not None:
            Gs = np.full(X.shape, np.nan) if res.G is None else res.G.copy()
            Gs[rows] = np.nan if again.G is None else again.G
        reset = reset.copy()
        reset[rows] = 1
        gain = np.array(gain, dtype=float)
        # both attempts failed (a QN "step" that lowered f only within its noise was
        # retried: _only_lowered), so either one's promise lost in rounding shows it
        gain[rows] = np.minimum(gain[rows], gain_again)
        stopped = np.array(res.stopped)  # (_search_once fills in a plugin search's None)
        stopped[rows] = again.stopped
        return (SearchResult(alpha, Xs, Fs, Gs, nfev, njev, ok, stopped), reset, errors,
                gain)

    def _note_stopped(self, res: SearchResult, index: np.ndarray,
                      errors: dict[int, BaseException]) -> None:
        """Rows whose search the budget or the clock stopped before it found a step end
        with that status (:class:`OutOfBudgetError` among the errors)."""
        stopped = np.asarray(res.stopped)  # (_search_once fills in a plugin search's None)
        for i in np.flatnonzero(~res.ok & (stopped > 0)).tolist():
            errors.setdefault(int(index[i]), OutOfBudgetError(int(stopped[i])))

    def _search_once(self, X: np.ndarray, F: np.ndarray, G: np.ndarray, PG: np.ndarray,
                     P: np.ndarray, A: np.ndarray, rng: Any, index: np.ndarray,
                     left: np.ndarray | None = None, deadline: float | None = None,
                     levels: Any = None,
                     ) -> tuple[SearchResult, np.ndarray, dict[int, BaseException], Any]:
        """One line search along the rows' proposed directions ``P - X``."""
        box = self.box
        with np.errstate(invalid="ignore", over="ignore"):
            D = P - X
            if box is not None:
                D = box.free_direction(X, D, G)
            slope = np.einsum("ij,ij->i", G, D)
            # no descent direction (a finite slope is a finite direction's)
            reset = ~((slope < 0) & (slope > -math.inf))
        if reset.any():  # once: the steepest descent, a unit step
            D[reset] = _steepest(-(PG if box is not None else G)[reset], X[reset], None)
        if self.natural_step:
            alpha0 = np.ones(len(F))
        else:  # twice the last accepted length, at most the optimizer's own step
            alpha0 = np.where(np.isnan(A), 1.0, np.minimum(1.0, 2.0 * A))
        alpha0[reset] = 1.0
        alpha_max = (box.max_step(X, D) if box is not None else np.full(len(F), math.inf))
        # a first trial that would round back to x is lengthened until it moves x
        lengths = moving_lengths(X, D, alpha0, alpha_max)
        if lengths is alpha0:  # every first trial moves x
            moves = np.ones(len(F), dtype=bool)
        else:
            alpha0 = lengths
            with np.errstate(invalid="ignore", over="ignore"):
                moves = ((X + alpha0[:, None] * D) != X).any(axis=1)
        errors: dict[int, BaseException] = {}
        values, gradients = self._trial_functions(rng, index, errors, levels)
        costs = self.gradient_costs(levels)
        cost = costs if type(costs) is int else int(np.max(costs))  # the dearest row's
        task = SearchTask(X=X, F=F, G=G, D=D, alpha0=alpha0, alpha_max=alpha_max,
                          values=values, gradients=gradients,
                          project=None if box is None else box.project,
                          cheap_gradients=cost == 0, budget=left,
                          gradient_cost=cost, deadline=deadline)
        # what the first trial promised; a trial that cannot move x shows nothing about f
        with np.errstate(invalid="ignore", over="ignore"):
            if reset.any():  # the slope along the directions searched
                slope[reset] = np.einsum("ij,ij->i", G[reset], D[reset])
            gain = np.where(moves, -alpha0 * slope, math.inf)
        res = self.line_search.search(task)
        if res.stopped is None:  # a line search that knows no budget (a plugin's)
            res = attrs.evolve(res, stopped=np.zeros(len(F), dtype=np.int8))
        return res, reset.astype(np.int64), errors, gain

    def _trial_functions(self, rng: Any, index: np.ndarray,
                         errors: dict[int, BaseException],
                         levels: Any = None) -> tuple[Any, Any]:
        """f and the gradient at a line search's trial points (rows of its task, which
        are rows ``index`` of the run); rows that raise are noted in ``errors`` (a
        point's error is raised once the search is over) and give NaN."""
        point, value = self.point, self.value

        def values(P: np.ndarray, rows: np.ndarray) -> np.ndarray:
            if point and len(P) > 1:  # several trial lengths at once (Armijo's parallel)
                try:
                    return real_array(self.objective.values(P), self.objective).reshape(-1)
                except (OverflowError, FloatingPointError):
                    return np.full(len(P), math.inf)
                except Exception as exc:
                    errors.setdefault(0, exc)
                    return np.full(len(P), math.nan)
            if point:
                try:
                    return np.array([self.scalar(value(P[0]))])
                except (OverflowError, FloatingPointError):
                    return np.array([math.inf])
                except Exception as exc:
                    errors.setdefault(0, exc)
                    return np.array([math.nan])
            try:
                return value(P)
            except RowError as err:
                for i, error in err.errors.items():
                    errors.setdefault(int(index[rows[i]]), error)
                return err.values

        def gradients(P: np.ndarray, rows: np.ndarray, F: np.ndarray) -> np.ndarray:
            if point:
                try:
                    g = self._grad(P[0], rng, float(F[0]), _rows_of(levels, 0))
                except (OverflowError, FloatingPointError):
                    return np.full(P.shape, math.nan)
                except Exception as exc:
                    errors.setdefault(0, exc)
                    return np.full(P.shape, math.nan)
                return np.asarray(g, dtype=float).reshape(P.shape)
            try:
                return self._grad(P, None if rng is None else [rng[i] for i in rows.tolist()],
                                  F, _rows_of(levels, rows))
            except RowError as err:
                for i, error in err.errors.items():
                    errors.setdefault(int(index[rows[i]]), error)
                return err.values

        return values, gradients
