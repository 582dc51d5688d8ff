"""Finer differences check a verdict that a finite-difference estimate earned alone.

A run's forward or central differences can vouch for a convergence they cannot see past:

* :func:`checked_precision`: "f cannot be lowered within its precision" says only that
  no search along the estimate lowered f, and the estimate may point the wrong way
  (central differences with a step of 38 at a coordinate of 6e6, in Rosenbrock's
  valley: their truncation error points uphill, cosine -0.99 with the true gradient);
* :func:`checked_line_search`: a line search that gave up says nothing of the gradient,
  which the run's estimate could not tell to be at most gtol;
* :func:`checked_flat`: a forward-difference gradient norm of 0 says only that f did not
  change at the differences' points, which a flat f does, and so does a large f whose
  rounding hides the change (f = 1e10 + |x - 0.5|^2 at [0.9, 0.1], far from its minimum);
* :func:`checked_widened` and ``checked_flat`` of Richardson's and adaptive differences,
  which have nothing finer: where f is large beside its changes, every difference,
  however fine, is f's rounding (Rosenbrock at a coordinate of -5e15, f = 3e33).

Before such a verdict stands, the finer differences the run holds (``Problem.refine``:
central after forward, Richardson after central; else ``Problem.widen``, central ones
widened until f's change stands above its rounding: :mod:`optiframe.widened`) measure
the gradient at the row's point, and an Armijo search along it, going on while f
decreases (:func:`~optiframe.line_step.searched_along`), looks for a lower f
(:func:`finer_look`). A decrease beyond f's rounding
(:data:`~optiframe.numerics.ROUNDING_UNITS` ``eps |f|``, the verdict's own unit) overturns
the verdict (a forward gradient of 0 only where f's rounding explains it: forward
differences that cancelled across a minimum, f(x + h) = f(x), erred by their own error,
which a convergence on them accepts); a finer norm at most gtol earns convergence on
that norm; a budget or a clock that cannot pay for the look ends the row ``max_nfev``
or ``max_time``. Row by row, as each start alone, every evaluation counted.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np

from .errors import describe_error
from .line_step import searched_along
from .linesearch import BUDGET
from .numerics import NOISE_UNITS, ROUNDING_UNITS, scaled_row_norms
from .problem import OutOfBudgetError, Problem
from .status import Status
from .stop_rules import Verdict

_EPS = float(np.finfo(float).eps)


class Look(NamedTuple):
    """What the finer differences showed at a row. ``kind`` is ``"unpaid"`` (the budget
    cannot pay for them), ``"late"`` (``max_time`` ran out first), ``"raised"`` (f raised
    at their points: ``error``), ``"raised along"`` (f raised along their gradient),
    ``"not finite"``, ``"flat"`` (their norm is at most gtol), ``"lower"`` (f lower by
    ``decrease``, beyond its rounding, along their ``gradient``), ``"budget"`` or
    ``"clock"`` (the search stopped without a step) or ``"none"`` (no lower f beyond the
    rounding); ``spent``: the evaluations it made."""

    kind: str
    spent: int = 0
    norm: float = 0.0
    decrease: float = 0.0
    error: BaseException | None = None
    gradient: np.ndarray | None = None


def finer_look(p: Problem, X: np.ndarray, f: float, nfev: int, row: int,
               deadline: float | None, search: bool = True, wide: bool = False) -> Look:
    """The finer differences' gradient at ``X`` (one row, row ``row`` of the run, with
    ``nfev`` evaluations spent and f = ``f`` there), and, with ``search``, a search
    along it; ``wide``: the widened central differences' (``Problem.widen``), paid
    round by round."""
    if not wide and p.budget is not None and nfev + p.refine_cost > p.budget:
        return Look("unpaid")
    if deadline is not None and time.perf_counter() >= deadline:
        return Look("late")
    if wide:
        G, spent, error, unpaid = p.widen(X, f, None if p.budget is None else p.budget - nfev)
        if unpaid:
            return Look("unpaid", spent)
    else:
        G, spent, error = p.refine(X)
    if G is None:
        return Look("raised", spent, error=error)
    if not np.isfinite(G).all():
        return Look("not finite", spent)
    norm = float(scaled_row_norms(G if p.box is None else p.box.projected_gradient(X, G))[0])
    if norm <= p.gtol:
        return Look("flat", spent, norm)
    if not search:
        return Look("none", spent, norm)
    left = None if p.budget is None else np.array([p.budget - nfev - spent])
    res, errors = searched_along(p, X, np.array([f]), G, np.array([row]), left, deadline)
    spent += int(res.nfev[0])
    stopped = errors.get(row)
    if isinstance(stopped, OutOfBudgetError):
        return Look("budget" if stopped.why == BUDGET else "clock", spent, norm)
    if stopped is not None:
        return Look("raised along", spent, norm, error=stopped)
    decrease = f - float(res.F[0])
    if res.ok[0] and decrease > ROUNDING_UNITS * _EPS * abs(f):
        return Look("lower", spent, norm, decrease, gradient=G[0])
    return Look("none", spent, norm)


def finer_name(p: Problem) -> str:
    """The ``gradient=`` name of the run's finer differences."""
    return "central" if p.refine_name == "CentralDifference" else "richardson"


def _rows_looked(s: Any, p: Problem, rows: np.ndarray, verdicts: list[Verdict],
                 which: list[int], nfev: np.ndarray, deadline: float | None,
                 verdict_of: Any, search: bool = True, wide: bool = False) -> list[Look]:
    """``verdicts[j]`` for each ``j`` of ``which`` (rows ``rows[j]``), as ``verdict_of``
    reads the finer look there (with f and x); ``nfev`` (one count per row) takes what
    each spent. Returns the looks, in the order of ``which``."""
    looks = []
    for j in which:
        r = int(rows[j])
        X = s.X[None] if s.point else s.X[r : r + 1]
        f = float(s.F if s.point else s.F[r])
        look = finer_look(p, X, f, int(nfev[r]), r, deadline, search, wide)
        nfev[r] += look.spent
        verdicts[j] = verdict_of(verdicts[j], look, int(nfev[r]), f, X[0])
        looks.append(look)
    return looks


def _state_rows_looked(s: Any, p: Problem, rows: np.ndarray, verdicts: list[Verdict],
                       which: list[int], deadline: float | None, verdict_of: Any,
                       search: bool = True, wide: bool = False) -> None:
    """:func:`_rows_looked`, the evaluations added to the run's counts ``s.nfev``."""
    nfev = np.array(np.atleast_1d(s.nfev), dtype=np.int64)
    _rows_looked(s, p, rows, verdicts, which, nfev, deadline, verdict_of, search, wide)
    s.nfev = int(nfev[0]) if s.point else nfev


def checked_line_search(s: Any, p: Problem, rows: np.ndarray,
                        verdicts: list[Verdict]) -> None:
    """Before a run on forward or central differences gives up (``line_search``), the
    finer ones measure the gradient where it stopped (no search): at most gtol there,
    the start has converged after all (a gradient norm earns it); otherwise, or where
    the budget cannot pay for them or f raises at their points, the verdict stands.
    Adds what they spent to ``s.nfev``."""
    which = [j for j, v in enumerate(verdicts) if v[0] is Status.LINE_SEARCH]
    if p.refine is None or not which:
        return

    def verdict_of(verdict: Verdict, look: Look, nfev: int, f: float, x: Any) -> Verdict:
        if look.kind == "flat":
            return _on_finer_norm(p, look, "the line search could find no lower f (the "
                                  "run's own estimate could not tell)")
        return verdict

    _state_rows_looked(s, p, rows, verdicts, which, None, verdict_of, search=False)


def checked_precision(s: Any, p: Problem, rows: np.ndarray, verdicts: list[Verdict],
                      precise: list[int], deadline: float | None) -> None:
    """The verdicts of f's precision (``precise``: their places in ``verdicts``) of a
    run on forward or central differences, as the finer ones read them: where they find
    a lower f the row ends ``line_search`` and says what to try; where they cannot be
    measured, too (the verdict was not checked). Adds what they spent to ``s.nfev``."""
    if p.refine is None or not precise:
        return
    name, k = p.refine_name, s.k - 1
    unchecked = (f"f cannot be lowered along the run's difference gradient at step {k}, "
                 f"within f's rounding, and {name}")

    def verdict_of(verdict: Verdict, look: Look, nfev: int, f: float, x: Any) -> Verdict:
        if look.kind == "none":
            return verdict[0], (f"{verdict[1]}; {name}'s gradient finds no lower f beyond "
                                "that rounding either")
        if look.kind == "flat":
            return _on_finer_norm(p, look, "the line search could find no lower f within its "
                                  "rounding")
        if look.kind == "lower":
            return Status.LINE_SEARCH, (
                f"the run's difference gradient found no lower f within f's rounding, but "
                f"{name}'s gradient (norm {look.norm:.3g}) finds f lower by "
                f"{look.decrease:.3g} (from {f:.9g}): the run's differences are too coarse "
                f"here; try gradient='{finer_name(p)}' or 'auto', or the objective's own "
                "gradient")
        return _unchecked(p, look, nfev, unchecked, Status.LINE_SEARCH)

    _state_rows_looked(s, p, rows, verdicts, precise, deadline, verdict_of)


def checked_flat(s: Any, p: Problem, rows: np.ndarray, verdicts: list[Verdict], G: Any,
                 nfev: Any, deadline: float | None) -> Any:
    """The verdicts of convergence (``verdicts[j]`` for row ``rows[j]``) of a run on its
    own differences whose every difference was 0 (a row of ``G`` that is all 0 where f
    is not 0), as finer differences read them (central after forward; widened central
    ones after those with nothing finer: :mod:`optiframe.widened`): where they find a
    lower f the row ends ``stalled`` and says what to try. Returns the rows' counts
    ``nfev`` (one number for a point), with what the looks spent."""
    wide = p.forward_steps is None
    if G is None or (wide and p.widen is None):  # (not the run's own differences)
        return nfev
    flat = np.count_nonzero(np.atleast_2d(G), axis=1) == 0
    F = np.atleast_1d(s.F)
    which = [j for j, v in enumerate(verdicts) if v[0] is Status.CONVERGED
             and flat[rows[j]] and F[rows[j]] != 0.0 and np.isfinite(F[rows[j]])]
    if not which:
        return nfev
    counts = np.array(np.broadcast_to(np.atleast_1d(nfev), flat.shape), dtype=np.int64)
    if not wide:  # central differences first; where they are all 0 too, widened ones
        looks = _rows_looked(s, p, rows, verdicts, which, counts, deadline,
                             _forward_flat(p, s.k))
        which = [j for j, look in zip(which, looks, strict=True)
                 if look.kind == "flat" and look.norm == 0.0]
    if which and p.widen is not None:
        _rows_looked(s, p, rows, verdicts, which, counts, deadline, _widened_flat(p, s.k),
                     wide=True)
    return int(counts[0]) if s.point else counts


def _forward_flat(p: Problem, k: int) -> Any:
    """How central differences read forward differences that were all 0 at step k."""

    def verdict_of(verdict: Verdict, look: Look, spent: int, f: float, x: Any) -> Verdict:
        unchecked = (f"every forward difference at step {k} was 0 (f = {f:.6g} did not "
                     "change at their points), and CentralDifference")
        if look.kind == "none":
            return verdict[0], (f"{verdict[1]}; central differences (norm {look.norm:.3g}) "
                                "find no lower f beyond its rounding either")
        if look.kind == "flat" and look.norm == 0.0:
            return Status.CONVERGED, (f"{verdict[1]}; central differences, measured there, "
                                      "were all 0 too")
        if look.kind == "flat":
            return _on_finer_norm(p, look, f"every forward difference at step {k} was 0")
        if look.kind == "lower" and not _rounding_hid(p, look, x, f):
            return verdict[0], (
                f"{verdict[1]}; central differences (norm {look.norm:.3g}) find a lower f, "
                "along a slope forward differences would see: theirs cancelled here (a "
                "step across the minimum), within their own error")
        if look.kind == "lower":
            return Status.STALLED, (
                f"every forward difference at step {k} was 0 (f = {f:.6g} did not change at "
                f"their points: its rounding, {_EPS * abs(f):.2g}, hides the change), but "
                f"central differences measure a gradient norm of {look.norm:.3g} and find f "
                f"lower by {look.decrease:.3g} along it: forward differences cannot see f's "
                "slope here; try gradient='auto' or 'central', or the objective's own "
                "gradient, or check f's scale and offset")
        return _unchecked(p, look, spent, unchecked, Status.STALLED)

    return verdict_of


def _widened_flat(p: Problem, k: int) -> Any:
    """How widened central differences read differences with nothing finer (central
    ones, at adaptive differences' level, or Richardson's) that were all 0 at step k:
    exactly 0 at a point where f is not 0, they are f's rounding (or f is flat there)."""

    def verdict_of(verdict: Verdict, look: Look, spent: int, f: float, x: Any) -> Verdict:
        said = f"every difference at step {k} was 0 (f = {f:.6g} did not change at their points)"
        return _read_widened(p, verdict, look, spent, f, said, Status.STALLED)

    return verdict_of


def checked_widened(s: Any, p: Problem, rows: np.ndarray, verdicts: list[Verdict],
                    deadline: float | None) -> None:
    """The verdicts of f's precision (``converged`` among ``verdicts``, for rows
    ``rows``) of a run whose differences have nothing finer (Richardson's, adaptive ones
    at their finest), as widened central differences read them: where they find a lower
    f the row ends ``line_search`` and says why; where they cannot be measured, too (the
    verdict was not checked). Adds what they spent to ``s.nfev``."""
    if p.widen is None or p.refine is not None:  # (checked_precision's, then)
        return
    which = [j for j, v in enumerate(verdicts) if v[0] is Status.CONVERGED]
    if not which:
        return
    said = "f cannot be lowered along the run's difference gradient within f's rounding"

    def verdict_of(verdict: Verdict, look: Look, nfev: int, f: float, x: Any) -> Verdict:
        return _read_widened(p, verdict, look, nfev, f, said, Status.LINE_SEARCH)

    _state_rows_looked(s, p, rows, verdicts, which, deadline, verdict_of, wide=True)


def _read_widened(p: Problem, verdict: Verdict, look: Look, nfev: int, f: float, said: str,
                  failed: Status) -> Verdict:
    """A convergence (``verdict``; ``said``: what the run's differences showed) as the
    widened look read it: it stands where they find no lower f or their norm is at most
    gtol (the message says so); where they find a lower f, or cannot be measured, the
    row ends ``failed`` (or the budget's, the clock's status)."""
    if look.kind == "none":
        return verdict[0], (f"{verdict[1]}; {WIDENED} (norm {look.norm:.3g}) find no lower f "
                            "beyond its rounding either")
    if look.kind == "flat":
        return verdict[0], (f"{verdict[1]}; {WIDENED} measure a gradient norm of "
                            f"{look.norm:.3g} there")
    if look.kind == "lower":
        return failed, (f"{said}, but {WIDENED} (norm {look.norm:.3g}) find f lower by "
                        f"{look.decrease:.3g} (from {f:.9g}) along their gradient: {_SWAMPED}")
    return _unchecked(p, look, nfev, f"{said}, and {WIDENED}", failed, wide=True)


#: what the widened look is called in messages
WIDENED = "central differences widened until f's change stood above its rounding"
_SWAMPED = ("f's rounding swamps the run's differences here, however fine; give the "
            "objective's own gradient (jac=...), or shift or rescale f (the larger |f| is "
            "beside its changes, the less of f's precision they keep)")


def _on_finer_norm(p: Problem, look: Look, where: str) -> Verdict:
    """Converged: the finer differences' norm is at most gtol (``where`` says where)."""
    return Status.CONVERGED, (f"gradient norm {look.norm:.3g} <= gtol {p.gtol:g}, measured "
                              f"by {p.refine_name} where {where}")


def _rounding_hid(p: Problem, look: Look, x: np.ndarray, f: float) -> bool:
    """Whether f's rounding explains forward differences that were all 0: the central
    gradient's change of f over each forward step is within the noise of computing f
    (:data:`~optiframe.numerics.NOISE_UNITS` ``eps |f|``). Otherwise they cancelled: a
    step across a minimum (f(x + h) = f(x) where x - x* = -h/2), forward differences'
    own error, which a convergence on them accepts, as scipy's does."""
    change = np.abs(np.asarray(look.gradient)) * p.forward_steps(x)
    return bool((change <= NOISE_UNITS * _EPS * abs(f)).all())


def _unchecked(p: Problem, look: Look, nfev: int, unchecked: str, failed: Status,
               wide: bool = False) -> Verdict:
    """A verdict the finer differences (``wide``: the widened ones) could not check: the
    budget's, the clock's, or ``failed`` where they raised or are not finite."""
    if look.kind in ("unpaid", "budget"):
        cost = p.widen_cost if wide else p.refine_cost
        if look.kind == "budget":
            how = (f" was checking it when the search along its gradient stopped at the "
                   f"budget of {p.budget}")
        elif look.spent:  # (the widened ones, paid round by round)
            how = (f", which would check it, could not pay for its next round within the "
                   f"budget of {p.budget} after {look.spent} of its evaluations (it takes "
                   f"up to {cost})")
        else:
            how = (f", which would check it, needs up to {cost} more than the budget of "
                   f"{p.budget} allows")
        return Status.MAX_NFEV, f"{nfev} evaluations spent: {unchecked}{how}"
    if look.kind in ("late", "clock"):
        return Status.MAX_TIME, (f"max_time = {p.stop.max_time:g} s ran out: {unchecked} "
                                 "was checking it")
    what = "is not finite there" if look.kind == "not finite" else (
        f"{look.kind} there" if look.kind == "raised" else "raised along its gradient")
    if look.error is not None:
        what += f" ({describe_error(look.error)})"
    try_ = "give the objective's own gradient (jac=...)" if wide else (
        "try gradient='auto' or the objective's own gradient")
    return failed, f"{unchecked}, which would check it, {what}: {try_}"
