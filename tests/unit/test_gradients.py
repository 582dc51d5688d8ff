"""Gradient estimators: accuracy, step rules, costs, vectorized and stacked evaluation."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from tests.conftest import Counting, func1, func2

ROSEN = of.Rosenbrock()


@pytest.mark.parametrize("vectorized", [False, True])
@pytest.mark.parametrize(("est", "rtol"), [(of.CentralDifference(), 1e-8),
                                           (of.ForwardDifference(), 1e-6)])
def test_accuracy_against_the_analytic_gradient(est, rtol, vectorized):
    obj = Counting(ROSEN, vectorized=vectorized)
    x = np.array([-1.2, 1.0, 0.3, 2.0])
    np.testing.assert_allclose(est.gradient(obj, x), ROSEN.gradient(x), rtol=rtol)


@pytest.mark.parametrize("est", [of.CentralDifference(), of.ForwardDifference(),
                                 of.CentralDifference(step=1e-6, relative=False)])
def test_row_vectorized_objective_is_called_once_with_all_points(est):
    obj = Counting(ROSEN, vectorized=True)
    x = np.linspace(-1, 1, 10)
    g_vec = est.bind(obj)(x)
    nfev, njev = est.evaluations(obj, 10)
    assert obj.calls == 1 and obj.points == nfev and njev == 1
    plain = Counting(ROSEN, vectorized=False)
    g_loop = est.bind(plain)(x)
    assert plain.points == nfev
    np.testing.assert_array_equal(g_vec, g_loop)


def test_relative_step_follows_scipys_rule():
    est = of.CentralDifference()
    x = np.array([0.0, 0.5, -3.0, 1e9])
    eps = np.finfo(float).eps
    np.testing.assert_allclose(est._steps(x), eps ** (1 / 3) * np.maximum(1, np.abs(x)))
    np.testing.assert_allclose(of.ForwardDifference()._steps(x),
                               eps ** 0.5 * np.maximum(1, np.abs(x)))


def test_absolute_step_is_used_exactly():
    h = of.CentralDifference(step=1e-3, relative=False)._steps(np.array([0.0, 1e6]))
    assert h.tolist() == [1e-3, 1e-3]


def test_vanishing_step_is_substituted_on_request():
    x = np.array([1e12])
    obj = of.FunctionObjective.from_callable(func1)
    blog = of.CentralDifference(step=1e-7, relative=False)
    assert blog.gradient(obj, x).tolist() == [0.0]
    fixed = of.CentralDifference(step=1e-7, relative=False, substitute_zero_step=True)
    np.testing.assert_allclose(fixed.gradient(obj, x), [2e12], rtol=1e-6)
    tiny_rel = of.CentralDifference(step=1e-20)
    np.testing.assert_allclose(tiny_rel.gradient(obj, x), [2e12], rtol=1e-6)


@pytest.mark.parametrize("scale", [1e9, 1e17])
def test_large_coordinates_stay_accurate(scale):
    obj = of.FunctionObjective.from_callable(func2)
    x = np.array([scale, -scale / 3])
    np.testing.assert_allclose(of.CentralDifference().gradient(obj, x), 2 * x, rtol=1e-6)


def test_float32_points_use_float32_epsilon_and_return_float32():
    obj = of.FunctionObjective.from_callable(lambda p: np.sum(p**2, dtype=np.float32))
    x = np.array([1.5, -2.0], dtype=np.float32)
    est = of.CentralDifference()
    assert est._steps(x).dtype == np.float32
    np.testing.assert_allclose(est._steps(x), np.finfo(np.float32).eps ** (1 / 3) *
                               np.maximum(1, np.abs(x)), rtol=1e-6)
    g = est.gradient(obj, x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x, rtol=1e-3)


@pytest.mark.parametrize("name", ["central", "forward", "analytic", "auto"])
def test_stacks_of_points_give_one_gradient_per_row(name):
    est = of.get_registry().build("gradient", name, of.GradientEstimator)
    X = np.random.default_rng(0).uniform(-2, 2, size=(5, 3))
    G = est.bind_stack(ROSEN)(X)
    assert G.shape == X.shape
    np.testing.assert_allclose(G, ROSEN.gradients(X), rtol=1e-5, atol=1e-6)


def test_auto_picks_analytic_when_available():
    assert isinstance(of.AutoGradient().for_objective(ROSEN), of.AnalyticGradient)
    obj = of.FunctionObjective.from_callable(func2)
    assert isinstance(of.AutoGradient().for_objective(obj), of.CentralDifference)


def test_evaluation_counts_reach_the_result():
    r = of.minimize(func2, [1.0, 2.0, 3.0], gradient="central", max_steps=4, gtol=0, optimizer="gd")
    assert r.njev == 5 and r.nfev == 1 + 4 + 5 * 6
    r = of.minimize(func2, [1.0, 2.0, 3.0], gradient="forward", max_steps=4, gtol=0, optimizer="gd")
    assert r.nfev == 1 + 4 + 5 * 3  # forward differences reuse f at the point
    r = of.minimize("sphere", [1.0, 2.0, 3.0], gradient="analytic", max_steps=4, gtol=0,
                    optimizer="gd")
    assert (r.nfev, r.njev) == (5, 5)


@pytest.mark.parametrize("vectorized", [False, True])
def test_forward_difference_costs_n_plus_one_evaluations(vectorized):
    obj = Counting(ROSEN, vectorized=vectorized)
    of.ForwardDifference().bind(obj)(np.array([0.5, 0.5, 0.1]))
    assert obj.points == 4 == of.ForwardDifference().evaluations(obj, 3)[0]


def test_estimators_do_not_mutate_x():
    x = np.array([0.3, -0.2, 1.1])
    before = x.copy()
    for est in (of.CentralDifference(), of.ForwardDifference(),
                of.CentralDifference(step=1e-7, relative=False)):
        est.gradient(ROSEN, x)
        est.gradient(Counting(ROSEN, vectorized=True), x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("cls", [of.CentralDifference, of.ForwardDifference])
def test_blocks_of_points_give_the_same_bits_as_one_call(cls):
    obj = Counting(ROSEN, vectorized=True)
    X = np.random.default_rng(3).uniform(-1, 1, size=(3, 7))
    whole = cls().bind_stack(obj)(X)
    calls = obj.calls
    for block in (1, 5, 13):
        blocked = cls(block_size=block).bind_stack(obj)(X)
        np.testing.assert_array_equal(blocked, whole)
    assert calls == 1 and obj.calls > 3


def test_large_stacks_are_evaluated_in_cache_sized_blocks():
    from optiframe.gradients import BLOCK_NUMBERS, SINGLE_CALL_NUMBERS

    n = 200
    assert 2 * n * n > SINGLE_CALL_NUMBERS
    obj = Counting(ROSEN, vectorized=True)
    x = np.random.default_rng(4).uniform(-1, 1, n)
    g = of.CentralDifference().bind(obj)(x)
    assert obj.calls == -(-2 * n // (BLOCK_NUMBERS // n)) and obj.points == 2 * n
    exact = ROSEN.gradient(x)
    np.testing.assert_allclose(g, exact, rtol=1e-7, atol=1e-9 * np.abs(exact).max())
    small = Counting(ROSEN, vectorized=True)
    of.CentralDifference().bind(small)(x[:100])
    assert small.calls == 1


def test_block_size_is_validated():
    with pytest.raises(of.InvalidArgumentError, match="'block_size' must be >= 1: 0"):
        of.CentralDifference(block_size=0)
