"""Stop rules as objects (issue 20): each rule owns its stage, its test and its verdicts; a
rule of your own is one class (and, to be named, one registration) and works for one
start, stacks, workers, training and resume."""

from __future__ import annotations

import json
import math
import types

import numpy as np
import pytest
from checkpoint_helpers import assert_same_run

import optiframe as of
from optiframe.status import Status
from optiframe.stop_rules import (
    GradientTolerance,
    MaxSteps,
    NonFiniteGradient,
    RuleView,
    stage_verdicts,
)
from tests.multistart_helpers import small_regression

STARTS = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])


class AtStep(of.StopRule):
    """Stops every row at step ``k`` (a rule of the run's own, at ``stage``)."""

    def __init__(self, k, stage="step"):
        self.k, self.stage = k, stage

    def stops(self, view):
        return np.full(len(view), view.k >= self.k)

    def verdict(self, view, row):
        return Status.MAX_STEPS, f"step {view.k} reached, row {view.index[row]}"


class Never(of.StopRule):
    """Asked every step at ``stage``, never stops."""

    def __init__(self, stage):
        self.stage = stage
        self.asked = 0

    def stops(self, view):
        self.asked += 1
        return np.zeros(len(view), dtype=bool)

    def verdict(self, view, row):  # pragma: no cover - never asked
        raise AssertionError


# -- the built-in rule targets f -------------------------------------------------------------
def test_f_target_stops_a_start_at_the_first_step_whose_f_is_below_it():
    r = of.minimize("sphere", [1.0, 2.0], optimizer="gd", stop_rules=[of.FTarget(1e-2)])
    assert r.status == "converged" and "<= f_target 0.01" in r.message
    f = r.history.fun
    assert f[-1] <= 1e-2 < f[-2]  # the first step at or below the target, not one more
    assert r.nit == len(f) - 1


def test_f_target_stops_each_row_of_a_stack_at_its_own_step():
    r = of.minimize("sphere", optimizer="gd", starts=STARTS, stop_rules=[of.FTarget(1e-2)])
    for o in r.starts:
        assert o.status == "converged" and o.fun <= 1e-2
    assert len({o.nit for o in r.starts}) > 1  # the rows stop apart


def test_f_target_by_name_and_as_a_mapping():
    by_object = of.minimize("sphere", [1.0, 2.0], optimizer="gd",
                            stop_rules=[of.FTarget(1e-2)])
    by_mapping = of.minimize("sphere", [1.0, 2.0], optimizer="gd",
                             stop_rules=[{"name": "f_target", "f_target": 1e-2}])
    assert_same_run(by_object, by_mapping)


def test_the_default_optimizer_with_f_target_stops_before_gtol():
    plain = of.minimize("rosenbrock", [-1.2, 1.0])
    early = of.minimize("rosenbrock", [-1.2, 1.0], stop_rules=[of.FTarget(1e-3)])
    assert early.status == "converged" and early.fun <= 1e-3 and early.nit < plain.nit


# -- rules of your own, at each stage --------------------------------------------------------
@pytest.mark.parametrize("stage", ["top", "gradient", "step"])
def test_a_rule_of_your_own_stops_one_start_at_its_stage(stage):
    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.GradientDescent(lr=1e-3),
                    stop_rules=[AtStep(7, stage)])
    assert r.status == "max_steps" and "step 7 reached, row 0" in r.message
    # the step stage ends after step 7 is taken, the top and gradient stages before step 8
    assert r.nit == 7 and r.history.step.tolist() == list(range(8))


@pytest.mark.parametrize("stage", ["top", "gradient", "step"])
def test_a_rule_of_your_own_stops_a_stack(stage):
    r = of.minimize("rosenbrock", optimizer=of.GradientDescent(lr=1e-4), starts=STARTS,
                    stop_rules=[AtStep(5, stage)])
    assert [o.status for o in r.starts] == ["max_steps"] * 3
    assert [o.nit for o in r.starts] == [5] * 3
    assert [f"row {i}" in o.message for i, o in enumerate(r.starts)] == [True] * 3


@pytest.mark.parametrize("optimizer", [of.GradientDescent(lr=1e-3), "lbfgs"])
@pytest.mark.parametrize("stage", ["top", "gradient", "step"])
def test_a_rule_that_never_stops_changes_no_bit(stage, optimizer):
    never = Never(stage)
    kw = dict(optimizer=optimizer, max_steps=60)
    with_rule = of.minimize("rosenbrock", [-1.2, 1.0], stop_rules=[never], **kw)
    assert_same_run(with_rule, of.minimize("rosenbrock", [-1.2, 1.0], **kw))
    assert never.asked >= with_rule.nit  # every step (a fixed-step start leaves the fast path)
    stack = of.minimize("rosenbrock", starts=STARTS, stop_rules=[Never(stage)], **kw)
    assert_same_run(stack, of.minimize("rosenbrock", starts=STARTS, **kw))


def test_a_gradient_rule_sees_the_gradient_norms_and_the_first_rule_wins():
    class SmallGradient(of.StopRule):
        stage = "gradient"

        def stops(self, view):
            assert view.GN.shape == (len(view),) and view.X.shape == (len(view), 2)
            return view.GN < 1e-2

        def verdict(self, view, row):
            return Status.CONVERGED, f"gradient norm {view.GN[row]:.3g} < 1e-2"

    r = of.minimize("sphere", optimizer="gd", starts=STARTS, stop_rules=[SmallGradient()])
    for o in r.starts:
        assert o.status == "converged" and "< 1e-2" in o.message
    # gtol (a built-in) comes first: a start that is at the minimum already ends by gtol
    at_min = of.minimize("sphere", [0.0, 0.0], optimizer="gd", stop_rules=[SmallGradient()])
    assert "gtol" in at_min.message


@pytest.mark.parametrize("starts", [None, STARTS])
def test_a_rule_cannot_write_into_the_run(starts):
    class Scribbler(of.StopRule):
        def stops(self, view):
            view.F[:] = 0.0  # the run's own values: refused
            return np.zeros(len(view), dtype=bool)

        def verdict(self, view, row):  # pragma: no cover - never asked
            raise AssertionError

    where = dict(x0=[1.0, 2.0]) if starts is None else dict(starts=starts)
    # one start: the ValueError itself; a stack: RunFailedError naming it
    with pytest.raises((ValueError, of.RunFailedError), match="read-only") as caught:
        of.minimize("sphere", optimizer="gd", stop_rules=[Scribbler()], raise_errors=True,
                    **where)
    partial = caught.value.result  # what the run recorded is kept, its values unwritten
    assert np.all(np.asarray(partial.history.fun) > 0)


def test_a_step_rule_sees_f_before_and_after_the_step():
    seen = []

    class Drop(of.StopRule):
        def stops(self, view):
            seen.append((view.F_old.copy(), view.F.copy()))
            return (view.F_old - view.F) < 1e-3

        def verdict(self, view, row):
            return Status.CONVERGED, "f fell by less than 1e-3"

    r = of.minimize("sphere", [1.0, 2.0], optimizer="gd", stop_rules=[Drop()])
    assert r.status == "converged" and "1e-3" in r.message
    assert np.array_equal(np.concatenate([b for _, b in seen]), r.history.fun[1:])
    assert np.array_equal(np.concatenate([a for a, _ in seen]), r.history.fun[:-1])


@pytest.mark.parametrize("workers", ["serial", 2])
def test_rules_run_on_workers_with_the_same_bits(workers):
    kw = dict(optimizer="gd", starts=STARTS, stop_rules=[of.FTarget(1e-2)], seed=0)
    together = of.minimize("sphere", **kw)
    on_workers = of.minimize("sphere", workers=workers, **kw)  # 2: a process pool
    for a, b in zip(together.starts, on_workers.starts, strict=True):
        assert (a.status, a.nit, a.fun, a.message) == (b.status, b.nit, b.fun, b.message)
        assert np.array_equal(a.x, b.x)


def test_a_resumed_run_may_add_a_rule(tmp_path):
    kw = dict(optimizer="gd", max_steps=20)
    part = of.minimize("sphere", [1.0, 2.0], checkpoint=tmp_path, **kw)
    assert part.status == "max_steps"
    more = of.Runner("sphere", max_steps=10**4, stop_rules=[of.FTarget(1e-2)],
                     optimizer="gd").resume(tmp_path)
    whole = of.minimize("sphere", [1.0, 2.0], optimizer="gd", max_steps=10**4,
                        stop_rules=[of.FTarget(1e-2)])
    assert more.status == "converged"
    assert_same_run(more, whole)


def test_a_training_run_takes_step_rules_and_refuses_f_target():
    data = small_regression()
    r = of.minimize(data, np.zeros(4), batch_size=8, epochs=50, seed=0,
                    stop_rules=[AtStep(9)])
    assert r.status == "max_steps" and r.nit == 9
    with pytest.raises(of.InvalidArgumentError, match=r"FTarget.*training run"):
        of.minimize(data, np.zeros(4), batch_size=8, epochs=5, stop_rules=[of.FTarget(0.1)])


class EpochLossBelow(of.StopRule):
    """Ends a training start once an epoch's mean loss is below ``level``."""

    stage = "epoch"

    def __init__(self, level):
        self.level = level

    def stops(self, view):
        return self.level > view.F

    def verdict(self, view, row):
        return Status.CONVERGED, f"epoch loss {view.F[row]:.4g} < {self.level:g}"


@pytest.mark.parametrize("x0", [np.zeros(4), np.array([[0.0] * 4, [3.0] * 4])])
def test_an_epoch_rule_sees_each_starts_epoch_loss(x0):
    data = small_regression()
    kw = dict(batch_size=8, epochs=50, seed=0, optimizer=of.GradientDescent(lr=0.01))
    where = dict(x0=x0) if x0.ndim == 1 else dict(starts=x0)
    full = of.minimize(data, **where, **kw)
    assert full.status == "completed"  # without the rule: every epoch (the Epochs rule)
    level = 0.5  # below the first epoch's loss of every start, reached within 50 epochs
    r = of.minimize(data, **where, stop_rules=[EpochLossBelow(level)], **kw)
    epochs = r.history.epochs
    starts = epochs.get("start", np.zeros(len(epochs["epoch"]), dtype=int))
    outcomes = r.starts if x0.ndim == 2 else [r]
    for i, o in enumerate(outcomes):
        losses = epochs["train_loss"][starts == i]
        assert o.status == "converged" and "< 0.5" in o.message
        assert losses[-1] < level <= losses[:-1].min()  # the first epoch below it
    if x0.ndim == 2:
        assert outcomes[0].nit != outcomes[1].nit  # each start at its own epoch


# -- registration and bad input --------------------------------------------------------------
def test_a_registered_rule_is_named_like_any_component():
    plugin = types.ModuleType("stop_at_three")

    @of.hookimpl
    def register_stop_rules(register):
        register("stop_at_three", lambda: AtStep(3))

    plugin.register_stop_rules = register_stop_rules
    of.register_plugin(plugin, name="stop_at_three")
    try:
        r = of.minimize("sphere", [1.0, 2.0], optimizer="gd", stop_rules=["stop_at_three"])
        assert r.status == "max_steps" and r.nit == 3
    finally:
        of.unregister_plugin("stop_at_three")


def test_a_config_names_stop_rules_in_its_stop_section(tmp_path, monkeypatch):
    from optiframe.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(
        '[objective]\nname = "sphere"\n[optimizer]\nname = "gd"\n[start]\n'
        'x0 = [1.0, 2.0]\n[stop]\nstop_rules = [{name = "f_target", f_target = 0.01}]\n'
        '[output]\nfolder = "out"\n')
    assert main(["run", "run.toml"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "converged" and "f_target 0.01" in summary["message"]
    assert summary["fun"] <= 0.01


@pytest.mark.parametrize(("value", "match"), [
    (3, r"'stop_rules' must be a list"),
    ([of.FTarget(1.0), 3], r"'stop_rules'\[1\] must be a StopRule"),
    (["no_such_rule"], r"no_such_rule"),
    ([AtStep(2, stage="value")], r"'stop_rules'\[0\] \(AtStep\) has stage 'value'"),
])
def test_bad_stop_rules_are_refused_before_any_work(value, match):
    calls = []

    def f(x):
        calls.append(x)
        return float(np.sum(x**2))

    with pytest.raises(of.OptiframeError, match=match):
        of.minimize(f, [1.0, 2.0], stop_rules=value)
    assert calls == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, "1", True])
def test_f_target_must_be_a_finite_number(bad):
    with pytest.raises(of.InvalidArgumentError, match="'f_target' must be a finite number"):
        of.FTarget(bad)


# -- the built-ins as rules --------------------------------------------------------------------
def _view(GN, k=3, bad=0, max_steps=10, gtol=1e-3, max_bad=5):
    K = len(GN)
    state = types.SimpleNamespace(point=False, k=k, X=np.zeros((K, 2)), F=np.ones(K),
                                  SN=np.ones(K), index=np.arange(K), nfev=np.zeros(K),
                                  bad=np.full(K, bad), f_limit=np.full(K, np.inf))
    stop = of.StopRules(gtol=gtol, max_bad_gradients=max_bad, max_steps=max_steps)
    problem = types.SimpleNamespace(stop=stop, gtol=gtol, max_steps=max_steps, batches=None)
    return RuleView(state, problem, GN=np.asarray(GN, dtype=float))


def test_the_gradient_stage_gives_each_row_its_first_rule_and_skips_bad_gradients():
    rules = (NonFiniteGradient(), GradientTolerance(), MaxSteps())
    done, skip, verdicts = stage_verdicts(rules, _view([1.0, 1e-4, np.nan, 2.0]))
    assert done.tolist() == [False, True, False, False]
    assert skip.tolist() == [False, False, True, False]  # a non-finite gradient: skipped
    assert [v[0] for v in verdicts] == ["converged"]
    done, skip, verdicts = stage_verdicts(rules, _view([1.0, 1e-4, np.nan], bad=5))
    assert [v[0] for v in verdicts] == ["converged", "nan"] and not skip.any()
    done, _, verdicts = stage_verdicts(rules, _view([1.0, 1e-4, np.inf], k=10))
    assert [v[0] for v in verdicts] == ["max_steps", "converged", "nan"]


def test_a_rule_whose_verdict_is_every_rows_is_asked_once_and_rows_keep_their_order():
    class CountedMaxSteps(MaxSteps):
        asked = 0

        def verdict(self, view, row):
            type(self).asked += 1
            return super().verdict(view, row)

    rules = (GradientTolerance(), CountedMaxSteps())
    done, _, verdicts = stage_verdicts(rules, _view([1.0, 1e-4, 2.0, 3.0], k=10))
    assert CountedMaxSteps.asked == 1 and done.all()
    assert [v[0] for v in verdicts] == ["max_steps", "converged", "max_steps", "max_steps"]
    assert verdicts[0] is verdicts[2] is verdicts[3]
    assert stage_verdicts(rules, _view([1.0, 2.0]))[2] == []  # no row stops


def test_the_gates_window_is_the_built_in_rules_combined():
    p = types.SimpleNamespace(max_steps=40, gtol=1e-6, batches=None, stochastic=False)
    gates = of.stop_rules.Gates(p)
    assert gates.window == (40, 1e-6, math.inf) and not gates.asked
    assert [type(r).__name__ for r in gates.gradient] == [
        "NonFiniteGradient", "GradientTolerance", "MaxSteps"]
    assert [type(r).__name__ for r in gates.step] == ["SmallStep"]
    spsa = of.stop_rules.Gates(types.SimpleNamespace(max_steps=40, gtol=-1.0, batches=None,
                                                     stochastic=True))
    assert spsa.step == ()  # one draw is no evidence: no small-step rule
    mine = of.stop_rules.Gates(p, [AtStep(3, "top"), Never("gradient")])
    assert mine.asked == {"top", "gradient"} and mine.window == gates.window
    assert gates.epoch == () and [type(r).__name__ for r in of.stop_rules.Gates(
        types.SimpleNamespace(max_steps=40, gtol=-1.0, batches=object(), stochastic=False)
    ).epoch] == ["Epochs"]


def test_a_zero_finite_difference_gradient_says_what_it_may_hide():
    """f = 1e20 + |x|^2: its rounding (2.2e4) swallows every difference, so the measured
    gradient is 0 at x0. The run converges on that measurement, and its message says that
    f's rounding may hide the change; a gradient that is 0 where f is 0, or an analytic
    one, says nothing more."""
    offset = of.minimize(lambda x: float(1e20 + x @ x), [1.0, 2.0])
    assert (offset.status, offset.nit) == ("converged", 0)
    assert "every finite difference was 0: f = 1e+20" in offset.message
    assert "its rounding, 2.2e+04, hides the change" in offset.message
    stack = of.minimize(lambda x: float(1e20 + x @ x), starts=np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert all("every finite difference was 0" in s.message for s in stack.starts)
    flat = of.minimize(lambda x: 0.0, [1.0, 2.0])
    analytic = of.minimize(lambda x: float(1e20 + x @ x), [1.0, 2.0], jac=lambda x: 0.0 * x)
    for r in (flat, analytic):
        assert r.message == "Converged: gradient norm 0 <= gtol 1e-08.", r.message


@pytest.mark.parametrize("starts", [None, STARTS], ids=["single", "stack"])
def test_ctrl_c_after_the_step_rules_answered_does_not_ask_them_again(starts, monkeypatch):
    # a Ctrl-C after a step's commit and before observe returns has the step's rules asked
    # (the checkpoint holds the step with its verdicts); one that came after they answered
    # (as settle_steps returned) asked them a second time: a rule counting its calls
    # counted that step twice
    from optiframe import loop

    real = loop.settle_steps

    def settle_steps(s, *args):
        real(s, *args)
        if s.k == 3:
            raise KeyboardInterrupt  # (a Ctrl-C as it returned)

    monkeypatch.setattr(loop, "settle_steps", settle_steps)
    rule = Never("step")
    where = dict(x0=[1.0, 2.0]) if starts is None else dict(starts=starts)
    r = of.minimize("sphere", **where, optimizer=of.GradientDescent(lr=0.01), max_steps=10,
                    stop_rules=[rule], on_interrupt="return")
    assert r.nit == 3 and "interrupted" in str(r.status)
    assert rule.asked == 3  # steps 1, 2 and 3, once each
