"""Schedules: torch's reference values, the conformance of every registered schedule, and
schedules driving any hyperparameter inside a run."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import attrs
import numpy as np
import pytest

import optiframe as of

REGISTRY = of.get_registry()
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DATA = json.loads((DATA_DIR / "torch_reference.json").read_text())


@pytest.mark.parametrize("case", DATA["schedules"],
                         ids=lambda c: f"{c['schedule']}-{sorted(c['params'].items())}")
def test_schedule_matches_torch(case):
    schedule = REGISTRY.build("schedule", {"name": case["schedule"], **case["params"]},
                              of.Schedule)
    state = schedule.init()
    values = []
    for step, loss in enumerate(DATA["losses"]):
        value, state = schedule.value(step, case["base"], loss, state)
        values.append(value)
    np.testing.assert_allclose(values, case["values"], rtol=1e-12)


@pytest.mark.parametrize("name", REGISTRY.names("schedule"))
def test_schedule_gives_finite_positive_values_and_pure_state(name):
    schedule = REGISTRY.build("schedule", name, of.Schedule)
    state = schedule.init()
    first = schedule.value(0, 0.1, 1.0, state)
    for step in range(300):
        value, new_state = schedule.value(step, 0.1, 1.0, state)
        assert math.isfinite(value) and 0 < value <= 0.1 + 1e-15
        if attrs.has(type(new_state)):
            assert type(new_state)(**attrs.asdict(new_state, recurse=False)) == new_state
        state = new_state
    assert schedule.value(0, 0.1, 1.0, schedule.init()) == first  # init is fresh each time


@pytest.mark.parametrize("name", REGISTRY.names("schedule"))
def test_schedule_scales_arrays_per_coordinate(name):
    schedule = REGISTRY.build("schedule", name, of.Schedule)
    value, _ = schedule.value(5, np.array([0.1, 0.2]), 1.0, schedule.init())
    assert value.shape == (2,) and value[1] == pytest.approx(2 * value[0])


SCHEDULE_ERROR_INPUTS = [
    ("step", {"step_size": 0}, r"'step_size' must be >= 1: 0"),
    ("step", {"gamma": 1.5}, r"'gamma' must be in \(0, 1\]: 1.5"),
    ("exponential", {"gamma": 0.0}, r"'gamma' must be > 0: 0.0"),
    ("inverse-time", {"decay_rate": -1.0}, r"'decay_rate' must be >= 0: -1.0"),
    ("cosine", {"total_steps": 10, "warmup_steps": 10}, r"'warmup_steps' must be < 'total_steps'"),
    ("cosine", {"min_value": math.nan}, r"'min_value' must not be NaN: nan"),
    ("plateau", {"factor": 2.0}, r"'factor' must be in \(0, 1\]: 2.0"),
    ("plateau", {"patience": -1}, r"'patience' must be >= 0: -1"),
    ("plateau", {"threshold_mode": "relative"}, r"'threshold_mode' must be in"),
]


@pytest.mark.parametrize(("name", "params", "pattern"), SCHEDULE_ERROR_INPUTS)
def test_schedule_error_inputs(name, params, pattern):
    with pytest.raises(ValueError, match=pattern):
        REGISTRY.build("schedule", {"name": name, **params}, of.Schedule)


def test_cosine_warmup_climbs_then_falls():
    s = of.CosineWarmup(total_steps=20, warmup_steps=4, min_value=0.01)
    values = [s.value(k, 1.0, 0.0, None)[0] for k in range(25)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(values[4:]))
    assert values[20:] == [0.01] * 5


def test_a_schedule_drives_the_learning_rate_in_a_run():
    r = of.minimize("sphere", [1.0], optimizer=of.GradientDescent(lr=0.1), gtol=0,
                    max_steps=6, schedules={"lr": of.StepDecay(step_size=2, gamma=0.5)},
                    record_x=True)
    factors = r.history.x[1:, 0] / r.history.x[:-1, 0]
    np.testing.assert_allclose(factors, 1 - 2 * np.array([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]))


def test_any_hyperparameter_can_follow_a_schedule():
    plain = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.Momentum(lr=1e-3),
                        max_steps=300, gtol=0)
    ramped = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.Momentum(lr=1e-3),
                         max_steps=300, gtol=0,
                         schedules={"momentum": {"name": "inverse-time", "decay_rate": 0.1}})
    assert ramped.fun != plain.fun and ramped.status == "max_steps"


def test_plateau_schedule_reacts_to_the_runs_loss():
    # f stops improving once x is stuck below the float spacing: lr must fall.
    calls = []

    class Spy(of.ReduceOnPlateau):
        def value(self, step, base, loss, state):
            out = super().value(step, base, loss, state)
            calls.append((loss, out[0]))
            return out

    of.minimize("sphere", [1.0], optimizer=of.GradientDescent(lr=1.0), max_steps=30, gtol=0,
                detect_divergence=False, schedules={"lr": Spy(factor=0.5, patience=2)})
    losses = [c[0] for c in calls]
    assert losses[0] == 1.0  # the loss at x0 is handed to the schedule first
    assert calls[-1][1] < 1.0


def test_unknown_hyperparameter_is_refused_before_the_run():
    with pytest.raises(of.InvalidArgumentError,
                       match=r"GradientDescent has no hyperparameter 'learning_rate'"):
        of.minimize("sphere", [1.0], schedules={"learning_rate": "cosine"}, optimizer="gd")
    with pytest.raises(of.InvalidArgumentError, match=r"Did you mean 'beta1'\?"):
        of.Runner("sphere", of.Adam(), schedules={"beta_1": "constant"})
    with pytest.raises(of.UnknownComponentError, match=r"unknown schedule 'cosin'"):
        of.minimize("sphere", [1.0], schedules={"lr": "cosin"}, optimizer="gd")
    with pytest.raises(of.InvalidArgumentError, match="'schedules' must map"):
        of.minimize("sphere", [1.0], schedules=["lr"], optimizer="gd")


def test_a_schedule_producing_an_invalid_value_fails_the_run_cleanly():
    class Bad(of.Schedule):
        def value(self, step, base, loss, state):
            return (-1.0 if step == 3 else base), state

    with pytest.raises(of.InvalidArgumentError, match=r"at step 3 the schedules gave lr = -1\.0"):
        of.minimize("sphere", [1.0], optimizer=of.GradientDescent(lr=0.1),
                    schedules={"lr": Bad()}, max_steps=10, gtol=0)
    r = of.minimize("sphere", [1.0], optimizer=of.GradientDescent(lr=0.1),
                    schedules={"lr": Bad()}, max_steps=10, gtol=0, raise_errors=False)
    assert r.status == "failed" and "'lr' must be > 0: -1.0" in r.message
    assert "at step 3 the schedules gave lr = -1.0" in r.message
    assert r.nit == 3 and len(r.history) == 4


def test_a_cosine_that_reaches_zero_within_the_run_is_refused_before_any_work():
    calls = []

    def f(x):
        calls.append(1)
        return float(x @ x)

    with pytest.raises(of.errors.InvalidArgumentError,
                       match=r"schedules: lr = CosineWarmup\(total_steps=20.*gives lr = 0.0 at "
                             r"step 20, .*the run may take 50 steps.*total_steps=50.*"
                             r"min_value > 0"):
        of.minimize(f, [1.0], optimizer=of.GradientDescent(lr=0.01), gtol=0, max_steps=50,
                    schedules={"lr": of.CosineWarmup(total_steps=20)}, raise_errors=False)
    assert calls == []
    # the default cosine (total_steps=1000) on a 2000-step run: refused at step 1000
    with pytest.raises(of.errors.InvalidArgumentError, match="at step 1000"):
        of.minimize("sphere", [1.0], optimizer="gd", schedules={"lr": "cosine"},
                    max_steps=2000)
    # a horizon as long as the run never reaches 0 (the last step is total_steps - 1)
    r = of.minimize("sphere", [1.0], optimizer=of.GradientDescent(lr=0.01), gtol=0,
                    max_steps=20, schedules={"lr": of.CosineWarmup(total_steps=20)})
    assert r.status == "max_steps" and r.nit == 20


def test_a_training_runs_horizon_is_its_epochs_of_batches():
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    model = of.SoftmaxRegression(X, y)
    kw = dict(optimizer=of.GradientDescent(lr=0.1), batch_size=10, seed=0)
    # 3 epochs of 4 batches: 12 steps; a cosine over 12 steps is fine, over 10 is not
    r = of.minimize(model, np.zeros(model.dim), epochs=3,
                    schedules={"lr": of.CosineWarmup(total_steps=12)}, **kw)
    assert r.status == "completed" and r.nit == 12
    with pytest.raises(of.errors.InvalidArgumentError, match=r"at step 10.*may take 12 steps"):
        of.minimize(model, np.zeros(model.dim), epochs=3,
                    schedules={"lr": of.CosineWarmup(total_steps=10)}, **kw)
