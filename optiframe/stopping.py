"""How the loop stops: the :class:`StopRules`, written once for every kind of run.

A start stops at the first of:

* ``converged``: the gradient norm is at most ``gtol``; or, when set, the change in f
  is at most ``ftol * max(|f_k|, |f_k+1|, 1)``, or the step norm is at most ``xtol``
  (never with a stochastic gradient estimator, whose one draw is no evidence: such a
  run ends at its budgets); a line search's verdicts are in :mod:`optiframe.settle`;
* ``nan``: f is NaN, or the gradient had a NaN or infinite entry more than
  ``max_bad_gradients`` times (each earlier time the step is skipped: x and the
  optimizer's state stay as they were, the step still counts);
* ``diverged`` (when ``detect_divergence``): f is infinite (overflow, including an
  OverflowError or FloatingPointError raised by the objective), or f exceeds
  ``f0 + divergence_factor * (|f0| + 1)``: it has grown without bound;
* ``stalled``: a step left x exactly where it was while the gradient is not small;
* ``max_steps``: ``max_steps`` steps were taken;
* ``max_nfev``: the next step would take the evaluations past ``max_nfev`` (finite
  differences count; a multi-start run shares the budget equally among its starts),
  tested before the first step too; a line search spends at most what is left;
* ``max_time``: ``max_time`` seconds have passed since the run began (a resumed run
  counts the time before its checkpoint too), tested before the first step and between
  line-search trials.

Training runs (``batch_size=...``) stop after their epochs (status ``completed``, a
success), or at ``max_steps`` when it is given and comes first; a batch's gradient norm
never counts as convergence there.

The loop tests one cheap combined condition per step; the methods here say why a start
stops only when it does, so the reasons cost nothing on the way down.
"""

from __future__ import annotations

import math
import sys

import attrs
import numpy as np

from ._validation import check_int, check_real
from .errors import InvalidArgumentError
from .options import names
from .status import Status

Verdict = tuple[Status, str]
Outcome = tuple[Status | None, str]


def _nonneg(instance: object, attribute: attrs.Attribute, value: float) -> None:
    check_real(attribute.name, value)


def _steps(instance: object, attribute: attrs.Attribute, value: int) -> None:
    check_int(attribute.name, value, minimum=0)


def _budget(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None:
        check_int(attribute.name, value, minimum=1)


def _seconds(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None:
        check_real(attribute.name, value, positive=True)


def _flag(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{attribute.name!r} must be True or False: {value!r}")


def _int_or_none(value: object) -> object:
    return int(value) if isinstance(value, np.integer) else value


@attrs.frozen
class StopRules:
    """When a run stops. ``ftol`` and ``xtol`` are off (0), and the budgets unset, by
    default."""

    max_steps: int = attrs.field(default=1000, validator=_steps, converter=_int_or_none)
    gtol: float = attrs.field(default=1e-8, validator=_nonneg)
    ftol: float = attrs.field(default=0.0, validator=_nonneg)
    xtol: float = attrs.field(default=0.0, validator=_nonneg)
    detect_divergence: bool = attrs.field(default=True, validator=_flag)
    divergence_factor: float = attrs.field(default=1e8, validator=_nonneg)
    max_bad_gradients: int = attrs.field(default=5, validator=_steps,
                                         converter=_int_or_none)
    max_nfev: int | None = attrs.field(default=None, validator=_budget,
                                       converter=_int_or_none)
    max_time: float | None = attrs.field(default=None, validator=_seconds)

    def divergence_limit(self, f0: float) -> float:
        """The value above which f counts as diverged, given the starting value f0: never
        above the largest finite float, so an infinite f always counts."""
        if not self.detect_divergence:
            return math.inf
        return min(f0 + self.divergence_factor * (abs(f0) + 1.0), sys.float_info.max)

    def divergence_limits(self, F0: np.ndarray) -> np.ndarray:
        """:meth:`divergence_limit` of each start (infinite where f0 is not finite)."""
        if not self.detect_divergence:
            return np.full(F0.shape, math.inf)
        with np.errstate(over="ignore", invalid="ignore"):
            limits = np.minimum(F0 + self.divergence_factor * (np.abs(F0) + 1.0),
                                sys.float_info.max)
        return np.where(np.isfinite(F0), limits, math.inf)

    def f_converged(self, f_old: float, f_new: float) -> bool:
        """True when the change in f meets ``ftol`` (never when ``ftol`` is 0)."""
        return abs(f_old - f_new) <= self.ftol * max(abs(f_old), abs(f_new), 1.0)

    # -- why a start stops ------------------------------------------------------------

    def at_start(self, f0: float) -> Outcome:
        """Whether f(x0) already ends the run: NaN, or infinite."""
        if math.isnan(f0):
            return Status.NAN, "f(x0) is NaN"
        if math.isinf(f0):
            return Status.DIVERGED, f"f(x0) is {f0}"
        return None, ""

    def at_gradient(self, gnorm: float, k: int, skipped: int = 0,
                    gtol: float | None = None) -> Verdict:
        """Why the run stops at step ``k`` given the gradient norm there, after
        ``skipped`` steps skipped for a non-finite gradient (``gtol``: the tolerance in
        force, -1 in training runs)."""
        if math.isnan(gnorm) or math.isinf(gnorm):
            return Status.NAN, (f"the gradient at step {k} is not finite, after {skipped} "
                                f"non-finite gradients skipped (max_bad_gradients = "
                                f"{self.max_bad_gradients})")
        if gnorm <= (self.gtol if gtol is None else gtol):
            return Status.CONVERGED, f"gradient norm {gnorm:.3g} <= gtol {self.gtol:g}"
        return Status.MAX_STEPS, f"max_steps = {self.max_steps}"

    def at_bad_value(self, f: float, k: int, x: np.ndarray | None = None) -> Verdict:
        """Why a value outside (-inf, divergence limit] stops the run; a non-finite one is
        reported with the point ``x`` that produced it."""
        where = ""
        if x is not None and not math.isfinite(f):
            where = f" at x = {np.array2string(np.asarray(x), threshold=8, precision=6)}"
        if math.isnan(f):
            return Status.NAN, f"f is NaN at step {k}{where}"
        if math.isinf(f):
            return Status.DIVERGED, f"f overflowed to {f} at step {k}{where}"
        return Status.DIVERGED, f"f = {f:.6g} at step {k}"

    def at_small_step(self, snorm: float, f_old: float, f_new: float, k: int) -> Verdict:
        """Why a step that moved x by at most ``xtol`` (or changed f by ``ftol``) stops."""
        if snorm == 0.0:
            return Status.STALLED, f"step {k} left x unchanged"
        if snorm <= self.xtol:
            return Status.CONVERGED, f"step norm {snorm:.3g} <= xtol {self.xtol:g}"
        change = abs(f_old - f_new)
        return Status.CONVERGED, f"change in f {change:.3g} <= ftol {self.ftol:g} (relative)"

    def at_budget(self, nfev: int, cost: int, budget: int) -> Verdict:
        """Why a start that has spent ``nfev`` evaluations does not take a step of
        ``cost`` more."""
        return Status.MAX_NFEV, (f"{nfev} evaluations spent, and the next step needs {cost} "
                                 f"more than the budget of {budget} allows")

    def at_time(self, elapsed: float) -> Verdict:
        return Status.MAX_TIME, f"{elapsed:.4f} s elapsed, max_time = {self.max_time:g} s"

    # -- the verdicts of many rows at once (off the hot path) -----------------------------

    def gradient_verdicts(self, GN: np.ndarray, k: int, bad: np.ndarray, max_steps: float,
                          gtol: float) -> tuple[np.ndarray, np.ndarray, list[Verdict]]:
        """Rows that stop at step ``k`` given their gradient norms ``GN`` (converged,
        NaN after ``max_bad_gradients`` skips, max_steps), and rows whose step is skipped
        (a non-finite gradient, fewer than ``max_bad_gradients`` times so far).

        Returns (stopping rows, skipped rows, the stopping rows' verdicts)."""
        finite = np.isfinite(GN)
        skip = ~finite & (bad < self.max_bad_gradients) & (k < max_steps)
        done = ~skip & (~finite | (gtol >= GN) | (k >= max_steps))
        verdicts = [self.at_gradient(float(GN[r]), k, int(bad[r]), gtol)
                    for r in np.flatnonzero(done)]
        return done, skip, verdicts

    def batch_verdicts(self, L: np.ndarray, GN: np.ndarray, f_limit: np.ndarray, k: int,
                       bad: np.ndarray, max_steps: float,
                       ) -> tuple[np.ndarray, np.ndarray, list[Verdict]]:
        """The same for a training step: a NaN batch loss or a non-finite gradient skips
        the batch (up to ``max_bad_gradients`` times), a batch loss above the divergence
        limit ends the start ``diverged``."""
        sick = np.isnan(L) | ~np.isfinite(GN)
        skip = sick & (bad < self.max_bad_gradients) & (k < max_steps)
        diverged = ~sick & ~(f_limit >= L) & ~np.isnan(f_limit)
        done = ~skip & (sick | diverged | (k >= max_steps))
        verdicts: list[Verdict] = []
        for r in np.flatnonzero(done):
            if sick[r]:
                verdicts.append((Status.NAN, (
                    f"the batch loss ({L[r]:.6g}) or gradient is not finite at step {k}, "
                    f"after {bad[r]} such batches skipped (max_bad_gradients = "
                    f"{self.max_bad_gradients})")))
            elif diverged[r]:
                verdicts.append((Status.DIVERGED, f"batch loss {L[r]:.6g} at step {k}"))
            else:
                verdicts.append((Status.MAX_STEPS, f"max_steps = {k}"))
        return done, skip, verdicts

    def value_verdicts(self, F: np.ndarray, f_limit: np.ndarray, k: int,
                       X: np.ndarray) -> tuple[np.ndarray, list[Verdict]]:
        """Rows whose new value ends them: NaN, infinite, or above their divergence
        limit."""
        bad = ~((-np.inf < F) & (f_limit >= F))
        rows = np.flatnonzero(bad)
        return bad, [self.at_bad_value(float(F[r]), k, X[r]) for r in rows]

    def small_step_verdicts(self, SN: np.ndarray, F_old: np.ndarray, F: np.ndarray,
                            k: int) -> tuple[np.ndarray, list[Verdict]]:
        """Rows whose step was small enough (xtol, ftol) or left x unchanged."""
        small = self.xtol >= SN
        if self.ftol > 0.0:
            small |= np.abs(F_old - F) <= self.ftol * np.maximum(
                np.maximum(np.abs(F_old), np.abs(F)), 1.0)
        rows = np.flatnonzero(small)
        return small, [self.at_small_step(float(SN[r]), float(F_old[r]), float(F[r]), k)
                       for r in rows]


STOP_OPTIONS = names("stop")  # the fields of StopRules, declared in optiframe.options
