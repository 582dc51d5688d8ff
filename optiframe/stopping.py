"""How the loop stops: the :class:`StopRules` and the divergence rule.

A run stops at the first of:

* ``converged``: the gradient norm is at most ``gtol``; or, when set, the change in f
  is at most ``ftol * max(|f_k|, |f_k+1|, 1)``, or the step norm is at most ``xtol``;
* ``nan``: f is NaN, or the gradient had a NaN or infinite entry more than
  ``max_bad_gradients`` times (each earlier time the step is skipped: x and the
  optimizer's state stay as they were, the step still counts);
* ``diverged`` (when ``detect_divergence``): f is infinite (overflow, including an
  OverflowError or FloatingPointError raised by the objective), or f exceeds
  ``f0 + divergence_factor * (|f0| + 1)``: it has grown without bound;
* ``stalled``: a step left x exactly where it was while the gradient is not small;
* ``max_steps``: ``max_steps`` steps were taken.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from ._validation import check_int, check_real
from .result import Status

Outcome = tuple[Status | None, str]


def _nonneg(instance: object, attribute: attrs.Attribute, value: float) -> None:
    check_real(attribute.name, value)


def _steps(instance: object, attribute: attrs.Attribute, value: int) -> None:
    check_int(attribute.name, value, minimum=0)


@attrs.frozen
class StopRules:
    """When a run stops. ``ftol`` and ``xtol`` are off (0) by default."""

    max_steps: int = attrs.field(default=1000, validator=_steps)
    gtol: float = attrs.field(default=1e-8, validator=_nonneg)
    ftol: float = attrs.field(default=0.0, validator=_nonneg)
    xtol: float = attrs.field(default=0.0, validator=_nonneg)
    detect_divergence: bool = attrs.field(
        default=True, validator=attrs.validators.instance_of(bool)
    )
    divergence_factor: float = attrs.field(default=1e8, validator=_nonneg)
    max_bad_gradients: int = attrs.field(default=5, validator=_steps)

    def divergence_limit(self, f0: float) -> float:
        """The value above which f counts as diverged, given the starting value f0."""
        if not self.detect_divergence:
            return math.inf
        return f0 + self.divergence_factor * (abs(f0) + 1.0)

    def f_converged(self, f_old: float, f_new: float) -> bool:
        """True when the change in f meets ``ftol`` (never when ``ftol`` is 0)."""
        return abs(f_old - f_new) <= self.ftol * max(abs(f_old), abs(f_new), 1.0)

    # The Runner tests one combined condition per step and asks these methods why it
    # failed only when it did, so the reasons cost nothing on the way down.

    def at_start(self, f0: float) -> Outcome:
        """Whether f(x0) already ends the run: NaN, or infinite."""
        if math.isnan(f0):
            return Status.NAN, "f(x0) is NaN"
        if math.isinf(f0):
            return Status.DIVERGED, f"f(x0) is {f0}"
        return None, ""

    def at_gradient(self, gnorm: float, k: int, skipped: int = 0) -> tuple[Status, str]:
        """Why the run stops at step ``k`` given the gradient norm there, after
        ``skipped`` steps skipped for a non-finite gradient."""
        if math.isnan(gnorm) or math.isinf(gnorm):
            return Status.NAN, (f"the gradient at step {k} is not finite, after {skipped} "
                                f"non-finite gradients skipped (max_bad_gradients = "
                                f"{self.max_bad_gradients})")
        if gnorm <= self.gtol:
            return Status.CONVERGED, f"gradient norm {gnorm:.3g} <= gtol {self.gtol:g}"
        return Status.MAX_STEPS, f"max_steps = {self.max_steps}"

    def at_bad_value(self, f: float, k: int, x: np.ndarray | None = None) -> tuple[Status, str]:
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

    def at_small_step(self, snorm: float, f_old: float, f_new: float, k: int) -> tuple[Status, str]:
        """Why a step that moved x by at most ``xtol`` (or changed f by ``ftol``) stops."""
        if snorm == 0.0:
            return Status.STALLED, f"step {k} left x unchanged"
        if snorm <= self.xtol:
            return Status.CONVERGED, f"step norm {snorm:.3g} <= xtol {self.xtol:g}"
        change = abs(f_old - f_new)
        return Status.CONVERGED, f"change in f {change:.3g} <= ftol {self.ftol:g} (relative)"


STOP_OPTIONS = tuple(a.name for a in attrs.fields(StopRules))
