"""How the loop stops: the :class:`StopRules` and the divergence rule.

A run stops at the first of:

* ``converged``: the gradient norm is at most ``gtol``; or, when set, the change in f
  is at most ``ftol * max(|f_k|, |f_k+1|, 1)``, or the step norm is at most ``xtol``;
* ``nan``: f is NaN, or the gradient has a NaN or infinite entry;
* ``diverged`` (when ``detect_divergence``): f is infinite (overflow), or f exceeds
  ``f0 + divergence_factor * (|f0| + 1)``: it has grown without bound;
* ``stalled``: a step left x exactly where it was while the gradient is not small;
* ``max_steps``: ``max_steps`` steps were taken.
"""

from __future__ import annotations

import math

import attrs

from ._validation import check_int, check_real


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

    def divergence_limit(self, f0: float) -> float:
        """The value above which f counts as diverged, given the starting value f0."""
        if not self.detect_divergence:
            return math.inf
        return f0 + self.divergence_factor * (abs(f0) + 1.0)

    def f_converged(self, f_old: float, f_new: float) -> bool:
        """True when the change in f meets ``ftol`` (never when ``ftol`` is 0)."""
        return abs(f_old - f_new) <= self.ftol * max(abs(f_old), abs(f_new), 1.0)


STOP_OPTIONS = tuple(a.name for a in attrs.fields(StopRules))
