"""Conformance: every registered optimizer and gradient estimator passes the same tests.

A new component registered through the hooks is picked up here automatically. Its
invalid hyperparameters are listed as data in ``OPTIMIZER_ERROR_INPUTS``, in the
style of torch.optim's ``optim_db``; a built-in without entries fails the suite.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest

import optiframe as of

REGISTRY = of.get_registry()
OPTIMIZERS = REGISTRY.names("optimizer")
#: every estimator that works on any objective (a plugin's "jax" needs jax.numpy ones and
#: is tested with them in its own suite)
ESTIMATORS = [name for name in REGISTRY.names("gradient")
              if getattr(REGISTRY.get("gradient", name).factory, "black_box", True)]

#: optimizer name -> [(hyperparameters, exception, message pattern)]
OPTIMIZER_ERROR_INPUTS = {
    "gd": [
        ({"lr": -0.1}, of.InvalidArgumentError, r"'lr' must be > 0: -0.1"),
        ({"lr": 0}, of.InvalidArgumentError, r"'lr' must be > 0: 0"),
        ({"lr": math.nan}, of.InvalidArgumentError, r"'lr' must not be NaN: nan"),
        ({"lr": np.array([0.1, -1.0])}, of.InvalidArgumentError, r"'lr' must be > 0"),
    ],
    "momentum": [
        ({"lr": -1e-3}, of.InvalidArgumentError, r"'lr' must be > 0: -0.001"),
        ({"momentum": 1.0}, of.InvalidArgumentError, r"'momentum' must be in \[0, 1\): 1.0"),
        ({"dampening": 1.5}, of.InvalidArgumentError, r"'dampening' must be in \[0, 1\]: 1.5"),
        ({"weight_decay": -1.0}, of.InvalidArgumentError, r"'weight_decay' must be >= 0: -1.0"),
    ],
    "nesterov": [
        ({"momentum": 0.0}, of.InvalidArgumentError,
         r"Nesterov momentum requires a momentum > 0: 'momentum' is 0.0"),
        ({"lr": math.inf}, of.InvalidArgumentError, r"'lr' must be finite: inf"),
    ],
    "adagrad": [
        ({"eps": -1e-10}, of.InvalidArgumentError, r"'eps' must be >= 0: -1e-10"),
        ({"lr_decay": -0.1}, of.InvalidArgumentError, r"'lr_decay' must be >= 0: -0.1"),
        ({"initial_accumulator_value": -1.0}, of.InvalidArgumentError,
         r"'initial_accumulator_value' must be >= 0: -1.0"),
    ],
    "rmsprop": [
        ({"alpha": 1.5}, of.InvalidArgumentError, r"'alpha' must be in \[0, 1\]: 1.5"),
        ({"momentum": -0.1}, of.InvalidArgumentError, r"'momentum' must be in \[0, 1\): -0.1"),
        ({"centered": "yes"}, TypeError, r"'centered' must be <class 'bool'>"),
    ],
    "adam": [
        ({"beta1": 1.0}, of.InvalidArgumentError, r"'beta1' must be in \[0, 1\): 1.0"),
        ({"beta2": -0.1}, of.InvalidArgumentError, r"'beta2' must be in \[0, 1\): -0.1"),
        ({"eps": math.nan}, of.InvalidArgumentError, r"'eps' must not be NaN: nan"),
        ({"amsgrad": 1}, TypeError, r"'amsgrad' must be <class 'bool'>"),
    ],
    "adamw": [
        ({"weight_decay": -0.01}, of.InvalidArgumentError, r"'weight_decay' must be >= 0: -0.01"),
        ({"lr": 0.0}, of.InvalidArgumentError, r"'lr' must be > 0: 0.0"),
        ({"beta1": "0.9"}, of.InvalidArgumentError, r"'beta1' must be a real number: '0.9'"),
    ],
    "lbfgs": [
        ({"memory": 0}, of.InvalidArgumentError, r"'memory' must be >= 1: 0"),
        ({"memory": 2.5}, of.InvalidArgumentError, r"'memory' must be an integer >= 1: 2.5"),
        ({"line_search": 3}, of.InvalidTypeError, r"'line_search' must be a registered name"),
        ({"lr": -1.0}, of.InvalidArgumentError, r"'lr' must be > 0: -1.0"),
    ],
    "bfgs": [
        ({"line_search": [1]}, of.InvalidTypeError, r"'line_search' must be a registered name"),
        ({"lr": math.nan}, of.InvalidArgumentError, r"'lr' must not be NaN: nan"),
    ],
}

ESTIMATOR_ERROR_INPUTS = {
    name: [
        ({"step": -1e-6}, of.InvalidArgumentError, r"'step' must be > 0: -1e-06"),
        ({"step": math.inf}, of.InvalidArgumentError, r"'step' must be finite: inf"),
    ]
    for name in ("central", "forward")
}


def make_optimizer(name, small=False):
    opt = REGISTRY.get("optimizer", name).factory()
    if small and "lr" in {f.name for f in attrs.fields(type(opt))}:
        opt = attrs.evolve(opt, lr=1e-4)
    return opt


def float_fields(obj):
    return [f for f in attrs.fields(type(obj)) if isinstance(getattr(obj, f.name), float)]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize(("objective", "x0"), [("sphere", [3.0, -2.0]),
                                               ("rosenbrock", [-1.2, 1.0])])
def test_optimizer_decreases_the_loss(name, objective, x0):
    r = of.minimize(objective, x0, optimizer=make_optimizer(name, small=True), max_steps=200)
    assert r.status in ("max_steps", "converged")
    assert r.fun < r.history.fun[0]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_step_is_pure_and_elementwise(name):
    opt = make_optimizer(name)
    X = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0]])
    G = 2 * X
    X_before, G_before = X.copy(), G.copy()
    state = opt.init(X)
    new_X, _ = opt.step(X, G, state)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(G, G_before)
    assert new_X.shape == X.shape
    for k in range(3):  # (K, n) at once equals each row alone
        row, _ = opt.step(X[k], G[k], opt.init(X[k]))
        np.testing.assert_array_equal(new_X[k], row)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_has_named_fields_and_round_trips(name):
    opt = make_optimizer(name)
    state = opt.init(np.ones(3))
    assert attrs.has(type(state))
    rebuilt = type(state)(**attrs.asdict(state, recurse=False))
    x1, _ = opt.step(np.ones(3), np.ones(3), state)
    x2, _ = opt.step(np.ones(3), np.ones(3), rebuilt)
    np.testing.assert_array_equal(x1, x2)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_hyperparameters_are_frozen_and_readable(name):
    opt = make_optimizer(name)
    params = opt.hyperparameters()
    assert params == {f.name: getattr(opt, f.name) for f in attrs.fields(type(opt))}
    field = next(iter(params))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(opt, field, 1.0)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_float_hyperparameters_reject_nan(name):
    opt = make_optimizer(name)
    for field in float_fields(opt):
        with pytest.raises(ValueError, match=rf"'{field.name}'.*nan"):
            attrs.evolve(opt, **{field.name: math.nan})


@pytest.mark.parametrize("name", sorted(OPTIMIZER_ERROR_INPUTS))
def test_optimizer_error_inputs(name):
    factory = REGISTRY.get("optimizer", name).factory
    for params, exc, pattern in OPTIMIZER_ERROR_INPUTS[name]:
        with pytest.raises(exc, match=pattern):
            factory(**params)


def test_every_builtin_optimizer_has_error_inputs():
    builtin = [e.name for e in REGISTRY.entries("optimizer") if e.plugin.startswith("optiframe.")]
    assert sorted(builtin) == sorted(set(builtin) & set(OPTIMIZER_ERROR_INPUTS))


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("objective", ["sphere", "rosenbrock", "rastrigin"])
def test_estimator_is_accurate_and_pure(name, objective):
    est = REGISTRY.build("gradient", name, of.GradientEstimator)
    obj = REGISTRY.build("objective", objective, of.Objective)
    x = np.array([0.7, -0.4, 1.3])
    before = x.copy()
    if est.stochastic:  # unbiased: the mean of many draws; the same stream, the same bits
        grad = est.bind(obj)
        draws = np.stack([grad(x, [np.random.default_rng(i)]) for i in range(4000)])
        np.testing.assert_allclose(draws.mean(axis=0), obj.gradient(x), rtol=0.1,
                                   atol=0.1 * np.abs(obj.gradient(x)).max())
        np.testing.assert_array_equal(grad(x, [np.random.default_rng(7)]),
                                      grad(x, [np.random.default_rng(7)]))
        G = est.bind_stack(obj)(np.stack([x, x]), [np.random.default_rng(7)] * 2)
        assert G.shape == (2, 3)
    else:
        g = est.bind(obj)(x)
        np.testing.assert_allclose(g, obj.gradient(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(x, before)
    nfev, njev = est.evaluations(obj, 3)
    assert nfev >= 0 and njev >= 1


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_drives_gd_to_the_minimum(name):
    r = of.minimize("sphere", [1.0, -2.0], optimizer=of.GradientDescent(lr=0.1),
                    gradient=name, gtol=1e-6, seed=0)
    stochastic = REGISTRY.build("gradient", name, of.GradientEstimator).stochastic
    # one random draw is no evidence of convergence: a stochastic estimator's run ends
    # at its budget (issue 20), at the minimum all the same
    assert r.status == ("max_steps" if stochastic else "converged")
    np.testing.assert_allclose(r.x, 0.0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ESTIMATOR_ERROR_INPUTS))
def test_estimator_error_inputs(name):
    factory = REGISTRY.get("gradient", name).factory
    for params, exc, pattern in ESTIMATOR_ERROR_INPUTS[name]:
        with pytest.raises(exc, match=pattern):
            factory(**params)
