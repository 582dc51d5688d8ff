"""Stop rules as objects: each owns its stage, its test, its verdicts and its options.

A rule is a :class:`StopRule`: at its ``stage`` of every step it says which rows stop
(:meth:`StopRule.stops`, vectorized over the rows) and, for each row that does, why
(:meth:`StopRule.verdict`: a status and its reason). The stages, in the order a step
meets them:

* ``"top"``: before the step is measured (the evaluation budget, the clock);
* ``"gradient"``: the slope is measured (a non-finite gradient, ``gtol``,
  ``max_steps``; in training, a batch loss that is NaN or diverging);
* ``"value"``: the new values are in (NaN, infinite, above the divergence limit);
* ``"step"``: the step is whole and its observers have seen it (``xtol``, ``ftol``,
  a step that left x where it was);
* ``"epoch"``: a training run's epoch is over and its callbacks have run (the epochs
  ran out: ``completed``); the view's ``F`` is each start's mean loss over the epoch.

A row stops at the first rule of the stage that stops it, built-ins first. The loop does
not ask every rule every step: a stage's :class:`Gates` combine the built-in rules into
one comparison (a step count and a window for the gradient norm, from each rule's
:meth:`StopRule.window`), and the rules' own tests run only when that comparison fails.
A rule of your own (at ``"top"``, ``"gradient"``, ``"step"`` or ``"epoch"``; the
``"value"`` stage is the divergence test's) is asked every step at its stage; this one
is the built-in :class:`FTarget`, written out::

    import optiframe as of

    class Target(of.StopRule):
        \"\"\"Stop once f is at most ``f_target``.\"\"\"
        stage = "step"
        training = False  # it reads f: refused in a training run, which has batch losses
        def __init__(self, f_target):
            self.f_target = f_target
        def stops(self, view):
            return view.F <= self.f_target
        def verdict(self, view, row):
            return of.Status.CONVERGED, f"f = {view.F[row]:.6g} <= f_target {self.f_target:g}"

    r = of.minimize("sphere", [1.0, 2.0], stop_rules=[Target(1e-3)])

It works for one start, stacks, workers, training runs and resumed runs (a rule holds
no state of the run: what it needs is in the :class:`RuleView`; a resumed run may add
or drop rules). Registered through ``register_stop_rules``, it is named like any
component: ``stop_rules=["target"]``, or ``[stop] stop_rules = ["target"]`` in a config.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from .errors import InvalidArgumentError
from .hookspecs import Register, hookimpl
from .numerics import F_FLOOR
from .status import FIXED_STEP_ADVICE, Status

_EPS = float(np.finfo(float).eps)

Stage = Literal["top", "gradient", "value", "step", "epoch"]
STAGES: tuple[str, ...] = ("top", "gradient", "value", "step", "epoch")
Verdict = tuple[Status, str]


class RuleView:
    """What a rule sees of the running rows at its stage: every field is per row (a
    single start is one row), read-only.

    ``k`` the step, ``X`` the points (K, n), ``F`` their values (a training step: the
    batch losses), ``index`` the starts' indices, ``nfev`` the evaluations spent, ``bad``
    the steps skipped for a non-finite gradient, ``f_limit`` the divergence limits;
    ``GN`` the gradient norms (gradient stage), ``SN`` the last step's norms, ``F_old``
    the values before the step (step stage; None elsewhere), ``skipped`` the rows whose
    step was skipped (step stage; None when none was), ``elapsed`` the seconds since the
    run began; ``problem`` and ``state`` the run's bound pieces, for the built-ins.
    """

    __slots__ = ("F", "F_old", "GN", "SN", "X", "bad", "elapsed", "f_limit", "index", "k",
                 "nfev", "problem", "skipped", "state")
    GN: Any  # None outside the gradient stage
    F_old: Any  # None outside the step stage
    skipped: Any

    def __init__(self, s: Any, p: Any, *, F: Any = None, GN: Any = None, F_old: Any = None,
                 nfev: Any = None, skipped: Any = None, elapsed: float = math.nan) -> None:
        def rows(value: Any, dtype: Any = float) -> np.ndarray:
            if type(value) is np.ndarray and value.ndim == 1:  # a stack's: a read-only
                value = value.view()  # view, so that a rule cannot write into the run
            else:
                value = np.array(value, dtype=dtype, ndmin=1)  # a copy of a point's
            value.flags.writeable = False
            return value

        self.state, self.problem, self.k = s, p, int(s.k)
        self.X = (s.X[None] if s.point else s.X).view()
        self.X.flags.writeable = False
        self.F = rows(s.F if F is None else F)
        self.GN = None if GN is None else rows(GN)
        self.SN = rows(s.SN)
        self.F_old = None if F_old is None else rows(F_old)
        self.index = rows(s.index, np.int64)
        self.nfev = rows(s.nfev if nfev is None else nfev, np.int64)
        self.bad = rows(s.bad, np.int64)
        self.f_limit = rows(s.f_limit)
        self.skipped = None if skipped is None else rows(skipped, bool)
        self.elapsed = elapsed

    def __len__(self) -> int:
        return len(self.F)


class StopRule:
    """A reason to stop a start (see the module docstring). Subclasses set ``stage`` and
    write :meth:`stops` and :meth:`verdict`; ``options`` names the run options a rule
    reads (for its documentation)."""

    stage: ClassVar[str] = "step"
    options: ClassVar[tuple[str, ...]] = ()
    #: False: the rule reads f, which a training step does not have (it sees a batch loss)
    training: ClassVar[bool] = True
    #: True: every row's verdict is the same (a step limit, the clock), asked once for
    #: all the rows it stops
    same_verdict: ClassVar[bool] = False

    def stops(self, view: RuleView) -> np.ndarray:
        """Which rows stop: a boolean per row of ``view``."""
        raise NotImplementedError(f"{type(self).__name__}.stops")

    def verdict(self, view: RuleView, row: int) -> Verdict:
        """Why row ``row`` of ``view`` stops: a :class:`~optiframe.status.Status` and the
        reason, which the result's message quotes."""
        raise NotImplementedError(f"{type(self).__name__}.verdict")

    def skips(self, view: RuleView) -> np.ndarray | None:
        """Rows whose step is skipped instead (x and the optimizer's state stay, the
        step counts); None: none. Only the gradient stage asks."""
        return None

    def window(self, p: Any) -> tuple[float, float, float] | None:
        """The built-ins' part of the gradient stage's gate: rows go on while
        ``k < k_max`` and ``low < GN < high``. None (the default): the rule is asked
        every step instead."""
        return None

    def __repr__(self) -> str:
        fields = getattr(self, "__dict__", {})
        args = ", ".join(f"{key}={value!r}" for key, value in fields.items())
        return f"{type(self).__name__}({args})"


# -- the gradient stage -------------------------------------------------------------------


class NonFiniteGradient(StopRule):
    """``nan``: a gradient with a NaN or infinite entry, after ``max_bad_gradients``
    skipped steps (each earlier one is skipped: x and the optimizer's state stay)."""

    stage = "gradient"
    options = ("max_bad_gradients",)

    def skips(self, view: RuleView) -> np.ndarray:
        p = view.problem
        return (~np.isfinite(view.GN) & (view.bad < p.stop.max_bad_gradients)
                & (view.k < p.max_steps))

    def stops(self, view: RuleView) -> np.ndarray:
        return ~np.isfinite(view.GN) & ~self.skips(view)

    def verdict(self, view: RuleView, row: int) -> Verdict:
        return Status.NAN, (f"the gradient at step {view.k} is not finite, after "
                            f"{view.bad[row]} non-finite gradients skipped (max_bad_gradients"
                            f" = {view.problem.stop.max_bad_gradients})")

    def window(self, p: Any) -> tuple[float, float, float]:
        return math.inf, -math.inf, math.inf  # GN < inf: finite


class GradientTolerance(StopRule):
    """``converged``: the (projected) gradient norm is at most ``gtol`` (never with a
    stochastic estimate or in training, whose one draw is no evidence)."""

    stage = "gradient"
    options = ("gtol",)

    def stops(self, view: RuleView) -> np.ndarray:
        return view.problem.gtol >= view.GN

    def verdict(self, view: RuleView, row: int) -> Verdict:
        text = f"gradient norm {view.GN[row]:.3g} <= gtol {view.problem.stop.gtol:g}"
        f = float(view.F[row])
        if view.GN[row] == 0.0 and view.problem.by_differences and f != 0.0 and math.isfinite(f):
            text += (f" (every finite difference was 0: f = {f:.6g} did not change at the "
                     f"differences' points, so f is flat there or its rounding, "
                     f"{_EPS * abs(f):.2g}, hides the change: check f's scale and offset, "
                     "or give the gradient)")
        return Status.CONVERGED, text

    def window(self, p: Any) -> tuple[float, float, float]:
        return math.inf, p.gtol, math.inf


class MaxSteps(StopRule):
    """``max_steps``: ``max_steps`` steps were taken."""

    stage = "gradient"
    options = ("max_steps",)
    same_verdict = True

    def stops(self, view: RuleView) -> np.ndarray:
        return np.full(len(view), view.k >= view.problem.max_steps)

    def verdict(self, view: RuleView, row: int) -> Verdict:
        p = view.problem
        return Status.MAX_STEPS, f"max_steps = {view.k if p.batches else p.stop.max_steps}"

    def window(self, p: Any) -> tuple[float, float, float]:
        return p.max_steps, -math.inf, math.inf


class BadBatch(StopRule):
    """Training, ``nan``: a batch loss that is NaN or a gradient that is not finite,
    after ``max_bad_gradients`` skipped batches."""

    stage = "gradient"
    options = ("max_bad_gradients",)

    @staticmethod
    def _sick(view: RuleView) -> np.ndarray:
        return np.isnan(view.F) | ~np.isfinite(view.GN)

    def skips(self, view: RuleView) -> np.ndarray:
        p = view.problem
        return (self._sick(view) & (view.bad < p.stop.max_bad_gradients)
                & (view.k < p.max_steps))

    def stops(self, view: RuleView) -> np.ndarray:
        return self._sick(view) & ~self.skips(view)

    def verdict(self, view: RuleView, row: int) -> Verdict:
        return Status.NAN, (f"the batch loss ({view.F[row]:.6g}) or gradient is not finite "
                            f"at step {view.k}, after {view.bad[row]} such batches skipped "
                            f"(max_bad_gradients = {view.problem.stop.max_bad_gradients})")

    def window(self, p: Any) -> tuple[float, float, float]:
        return math.inf, -math.inf, math.inf  # the loss's part is the Batches' alarm


class BatchDivergence(StopRule):
    """Training, ``diverged``: a finite batch loss above the divergence limit (set by
    each start's first finite batch loss)."""

    stage = "gradient"
    options = ("detect_divergence", "divergence_factor")

    def stops(self, view: RuleView) -> np.ndarray:
        sick = np.isnan(view.F) | ~np.isfinite(view.GN)
        return ~sick & ~(view.f_limit >= view.F) & ~np.isnan(view.f_limit)

    def verdict(self, view: RuleView, row: int) -> Verdict:
        return Status.DIVERGED, (f"batch loss {view.F[row]:.6g} at step {view.k} (a step "
                                 "too long for the batches: try a smaller learning rate)")

    def window(self, p: Any) -> tuple[float, float, float]:
        return math.inf, -math.inf, math.inf  # its test is the Batches' alarm


# -- the value stage ----------------------------------------------------------------------


class BadValue(StopRule):
    """``nan`` or ``diverged``: a new f that is NaN, infinite, at or below ``F_FLOOR``
    (fell without bound), or above ``f0 + divergence_factor * (|f0| + 1)`` (when
    ``detect_divergence``). The start ends at its best finite point."""

    stage = "value"
    options = ("detect_divergence", "divergence_factor")

    def stops(self, view: RuleView) -> np.ndarray:
        return ~((F_FLOOR < view.F) & (view.f_limit >= view.F))

    def verdict(self, view: RuleView, row: int) -> Verdict:
        f, k = float(view.F[row]), view.k
        where = ""
        if not math.isfinite(f):
            where = f" at x = {np.array2string(view.X[row], threshold=8, precision=6)}"
        if math.isnan(f):
            return Status.NAN, f"f is NaN at step {k}{where}"
        if f == -math.inf:
            return Status.DIVERGED, f"f went to -inf at step {k}{where}: it has no minimum there"
        if f <= F_FLOOR:
            return Status.DIVERGED, (f"f fell to {f:.6g} at step {k}, near the most negative "
                                     "float: it has no minimum there, or none a float holds")
        advice = "" if view.problem.line_search is not None else f" ({FIXED_STEP_ADVICE})"
        if math.isinf(f):
            return Status.DIVERGED, f"f overflowed to {f} at step {k}{where}{advice}"
        return Status.DIVERGED, f"f = {f:.6g} at step {k}{advice}"


# -- the step stage -----------------------------------------------------------------------


def f_within_ftol(F_old: np.ndarray, F: np.ndarray, ftol: float) -> np.ndarray:
    """Which rows' change in f is at most ``ftol * max(|f_k|, |f_k+1|, 1)``."""
    return np.abs(F_old - F) <= ftol * np.maximum(np.maximum(np.abs(F_old), np.abs(F)), 1.0)


class SmallStep(StopRule):
    """The step moved x by at most ``xtol``, or changed f by at most
    ``ftol * max(|f_k|, |f_k+1|, 1)``: ``converged`` where a line search with a curvature
    condition sized it (strong Wolfe: no shorter than f's slope asks), ``stalled`` where
    none did (a fixed step: a short step shows no minimum); ``stalled`` too where it left x
    where it was (a skipped step is neither; never with a stochastic estimate or in
    training)."""

    options = ("xtol", "ftol")

    def stops(self, view: RuleView) -> np.ndarray:
        stop = view.problem.stop
        small = stop.xtol >= view.SN
        if stop.ftol > 0.0:
            small |= f_within_ftol(view.F_old, view.F, stop.ftol)
        return small if view.skipped is None else small & ~view.skipped

    def verdict(self, view: RuleView, row: int) -> Verdict:
        stop, snorm = view.problem.stop, float(view.SN[row])
        if snorm == 0.0:
            return Status.STALLED, f"step {view.k} left x unchanged"
        if snorm <= stop.xtol:
            met = f"step norm {snorm:.3g} <= xtol {stop.xtol:g}"
        else:
            change = abs(float(view.F_old[row]) - float(view.F[row]))
            met = f"change in f {change:.3g} <= ftol {stop.ftol:g} (relative)"
        if getattr(view.problem.line_search, "curvature", False):
            return Status.CONVERGED, met
        return Status.STALLED, (f"{met} at step {view.k}, a step no curvature condition "
                                "sized (a fixed step, or a search that only shortens one): "
                                "a short step shows no minimum; rely on gtol, raise the "
                                "learning rate, or use line_search='wolfe'")


# -- the top of a step --------------------------------------------------------------------


class EvaluationBudget(StopRule):
    """``max_nfev``: the next step would take a start's evaluations past its budget
    (``max_nfev``, shared equally among a stack's starts); tested before the first
    step too."""

    stage = "top"
    options = ("max_nfev",)

    @staticmethod
    def _costs(view: RuleView) -> np.ndarray:
        p = view.problem
        return np.broadcast_to(p.step_costs(view.state.fd_level, view.state.grad), (len(view),))

    def stops(self, view: RuleView) -> np.ndarray:
        budget = view.problem.budget
        if budget is None:
            return np.zeros(len(view), dtype=bool)
        return view.nfev + self._costs(view) > budget

    def verdict(self, view: RuleView, row: int) -> Verdict:
        cost, budget, spent = int(self._costs(view)[row]), view.problem.budget, int(view.nfev[row])
        return Status.MAX_NFEV, (f"{spent} evaluation{'s' * (spent != 1)} spent, and the next "
                                 f"step needs {cost} more than the budget of {budget} allows")


class Clock(StopRule):
    """``max_time``: ``max_time`` seconds have passed since the run began (a resumed
    run counts the time before its checkpoint too); tested before the first step and
    between a line search's trials."""

    stage = "top"
    options = ("max_time",)
    same_verdict = True

    def stops(self, view: RuleView) -> np.ndarray:
        max_time = view.problem.stop.max_time
        return np.full(len(view), max_time is not None and view.elapsed >= max_time)

    def verdict(self, view: RuleView, row: int) -> Verdict:
        return Status.MAX_TIME, (f"{view.elapsed:.4f} s elapsed, max_time = "
                                 f"{view.problem.stop.max_time:g} s")


class Epochs(StopRule):
    """Training, ``completed``: the run has swept the data ``epochs`` times (asked at the
    end of each epoch; a success)."""

    stage = "epoch"
    options = ("epochs",)
    same_verdict = True

    def stops(self, view: RuleView) -> np.ndarray:
        p = view.problem
        return np.full(len(view), view.state.cursor.epoch > p.batches.batching.epochs)

    def verdict(self, view: RuleView, row: int) -> Verdict:
        return Status.COMPLETED, f"{view.problem.batches.batching.epochs} epochs"


# -- rules to add -------------------------------------------------------------------------


class FTarget(StopRule):
    """``converged`` at a value you name: f at the new point is at most ``f_target``
    (NLopt's ``stopval``). Full-data runs only: a training step sees a batch loss.

    >>> import optiframe as of
    >>> r = of.minimize("sphere", [1.0, 2.0], optimizer="gd", stop_rules=[of.FTarget(1e-2)])
    >>> r.status, r.message
    ('converged', 'Converged: f = 0.00... <= f_target 0.01 at step ....')
    """

    options = ()
    training = False

    def __init__(self, f_target: float) -> None:
        if (isinstance(f_target, bool) or not isinstance(f_target, numbers.Real)
                or not math.isfinite(f_target)):
            raise InvalidArgumentError(f"'f_target' must be a finite number: {f_target!r}")
        self.f_target: float = float(f_target)

    def stops(self, view: RuleView) -> np.ndarray:
        return self.f_target >= view.F

    def verdict(self, view: RuleView, row: int) -> Verdict:
        return Status.CONVERGED, (f"f = {view.F[row]:.6g} <= f_target {self.f_target:g} at "
                                  f"step {view.k}")


# -- the gates ----------------------------------------------------------------------------


class Gates:
    """The rules of a run by stage, and the gradient stage's combined test.

    ``window``: the built-in gradient rules' windows combined, ``(k_max, low, high)``
    (rows go on while ``k < k_max`` and ``low < GN < high``); ``asked``: the stages that have
    rules without a window, which the loop asks every step (a run of built-ins only
    asks none)."""

    def __init__(self, p: Any, extra: Sequence[StopRule] = ()) -> None:
        if p.batches is not None:
            gradient: tuple[StopRule, ...] = (BadBatch(), BatchDivergence(), MaxSteps())
        else:
            gradient = (NonFiniteGradient(), GradientTolerance(), MaxSteps())
        # a stochastic estimate's one draw is no evidence: such runs end at their budgets
        step: tuple[StopRule, ...] = (() if p.batches is not None or p.stochastic
                                      else (SmallStep(),))
        by_stage: dict[str, list[StopRule]] = {
            "top": [EvaluationBudget(), Clock()], "gradient": list(gradient),
            "value": [BadValue()], "step": list(step),
            "epoch": [Epochs()] if p.batches is not None else []}
        if p.batches is not None:
            check_training(extra)
        for rule in extra:
            by_stage[rule.stage].append(rule)
        self.top, self.gradient, self.value, self.step, self.epoch = (
            tuple(by_stage[name]) for name in STAGES)
        self.asked = frozenset(rule.stage for rule in extra)
        k_max, low, high = math.inf, -math.inf, math.inf
        for rule in self.gradient:
            window = rule.window(p)
            if window is not None:
                k_max, low, high = (min(k_max, window[0]), max(low, window[1]),
                                    min(high, window[2]))
        self.window = (k_max, low, high)


def check_training(rules: Sequence[StopRule]) -> None:
    """Refuse, naming it, a rule that reads f in a training run (which has batch losses)."""
    for rule in rules:
        if not rule.training:
            raise InvalidArgumentError(
                f"stop rule {rule!r} reads f, which a training run (batch_size=...) does "
                "not have: each step sees one batch's loss; drop it, or stop training with "
                "an epoch callback")


def stage_verdicts(rules: Sequence[StopRule], view: RuleView,
                   ) -> tuple[np.ndarray, np.ndarray | None, list[Verdict]]:
    """The rows that ``rules`` stop, each at the first rule that stops it; the rows whose
    step is skipped (a rule's :meth:`~StopRule.skips`, and no rule stops them; None: no
    rule skips); and the stopping rows' verdicts, in row order."""
    n = len(view)
    done: np.ndarray | None = None
    skip = None
    found: list[tuple[list[int], list[Verdict]]] = []  # each rule's rows and verdicts
    for rule in rules:
        hit = np.asarray(rule.stops(view), dtype=bool)
        if hit.shape != (n,):
            hit = np.broadcast_to(hit, (n,))
        fresh = hit if done is None else hit & ~done  # the first rule that stops a row
        rows = np.flatnonzero(fresh).tolist()
        if rows:
            found.append((rows, [rule.verdict(view, rows[0])] * len(rows)
                          if rule.same_verdict else [rule.verdict(view, r) for r in rows]))
        done = hit if done is None else done | hit
        skipped = rule.skips(view)
        if skipped is not None:
            skip = skipped if skip is None else skip | skipped
    if done is None:
        done = np.zeros(n, dtype=bool)
    if skip is not None:
        skip = skip & ~done
    if len(found) <= 1:  # (rows in order)
        return done, skip, found[0][1] if found else []
    by_row = {r: v for rows, verdicts in found for r, v in zip(rows, verdicts, strict=True)}
    return done, skip, [by_row[r] for r in sorted(by_row)]


def as_stop_rules(value: Any) -> tuple[StopRule, ...]:
    """``stop_rules`` as rule objects: a sequence of :class:`StopRule` instances,
    registered names (built with no arguments) or mappings ``{"name": ..., **options}``.
    Refused, naming the item: anything else, or a rule whose ``stage`` is not ``"top"``,
    ``"gradient"``, ``"step"`` or ``"epoch"``."""
    if value is None:
        return ()
    if isinstance(value, (str, StopRule, Mapping)):
        value = (value,)
    if not isinstance(value, (list, tuple)):
        raise InvalidArgumentError(
            f"'stop_rules' must be a list of StopRule objects or registered names: {value!r}")
    rules = []
    for j, item in enumerate(value):
        if isinstance(item, (str, Mapping)):
            from .plugins import get_registry

            item = get_registry().build("stop_rule", item, StopRule)
        if not isinstance(item, StopRule):
            raise InvalidArgumentError(
                f"'stop_rules'[{j}] must be a StopRule (subclass optiframe.StopRule), a "
                f"registered name or {{'name': ..., **options}}: {item!r}")
        if item.stage not in ("top", "gradient", "step", "epoch"):
            raise InvalidArgumentError(
                f"'stop_rules'[{j}] ({type(item).__name__}) has stage {item.stage!r}: a "
                "rule of your own runs at 'top', 'gradient', 'step' or 'epoch'")
        rules.append(item)
    return tuple(rules)


#: the rules that are not always on, by the name ``stop_rules`` takes
BUILTIN_STOP_RULES: dict[str, type[StopRule]] = {"f_target": FTarget}


@hookimpl
def register_stop_rules(register: Register) -> None:
    for name, cls in BUILTIN_STOP_RULES.items():
        register(name, cls)


__all__ = [
    "BadBatch",
    "BadValue",
    "BatchDivergence",
    "Clock",
    "Epochs",
    "EvaluationBudget",
    "FTarget",
    "Gates",
    "GradientTolerance",
    "MaxSteps",
    "NonFiniteGradient",
    "RuleView",
    "SmallStep",
    "StopRule",
]
