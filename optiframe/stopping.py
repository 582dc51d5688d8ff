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

Each of these is a rule object of :mod:`optiframe.stop_rules` (its stage, its test, its
verdicts); ``stop_rules`` adds rules of your own. The loop tests one cheap combined
condition per step; the rules say why a start stops only when it does, so the reasons
cost nothing on the way down.
"""

from __future__ import annotations

import math
import sys

import attrs
import numpy as np

from ._validation import check_int, check_real
from .errors import InvalidArgumentError
from .numerics import F_FLOOR
from .options import names
from .status import Status
from .stop_rules import StopRule, as_stop_rules, f_within_ftol

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
    stop_rules: tuple[StopRule, ...] = attrs.field(default=(), converter=as_stop_rules)

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

    def any_f_converged(self, F_old: np.ndarray, F_new: np.ndarray) -> bool:
        """:meth:`f_converged` of any row of a stack (the step stage's ``ftol`` test, as
        :class:`~optiframe.stop_rules.SmallStep` makes it)."""
        return bool(f_within_ftol(F_old, F_new, self.ftol).any())

    # -- why a start stops ------------------------------------------------------------

    def at_start(self, f0: float) -> Outcome:
        """Whether f(x0) already ends the run: NaN, infinite, or at ``F_FLOOR``."""
        if math.isnan(f0):
            return Status.NAN, "f(x0) is NaN"
        if math.isinf(f0):
            return Status.DIVERGED, f"f(x0) is {f0} (start where f is finite)"
        if f0 <= F_FLOOR:  # as BadValue says of a step's f
            return Status.DIVERGED, (f"f(x0) = {f0:.6g} is near the most negative float: f "
                                     "has no minimum there, or none a float holds")
        return None, ""


STOP_OPTIONS = names("stop")  # the fields of StopRules, declared in optiframe.options
