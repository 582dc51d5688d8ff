"""Gradient checking, Richardson differences and gradient clipping (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from optiframe.optimizers.transforms import Chain, ScaleByLearningRate


def f(x):
    return float(np.sum(np.sin(x) * x**2) + x[0] * x[-1])


def good(x):
    g = np.cos(x) * x**2 + 2 * x * np.sin(x)
    g[0] += x[-1]
    g[-1] += x[0]
    return g


def off_in(*coords, by=0.5):
    def bad(x):
        g = good(x)
        g[list(coords)] += by
        return g
    return bad


X0 = np.linspace(-1.5, 2.0, 8)


def test_a_correct_gradient_has_a_tiny_relative_error():
    check = of.check_gradient(f, good, X0)
    assert check.ok and check.relative_error < 1e-9
    assert "within rtol" in check.explain()
    np.testing.assert_allclose(check.numeric, good(X0), rtol=1e-8, atol=1e-9)


def test_a_wrong_gradient_names_its_worst_coordinates():
    check = of.check_gradient(f, off_in(6, 2, by=0.3), X0)
    assert not check.ok and check.relative_error > 1e-3
    assert set(check.worst) == {2, 6}
    text = check.explain()
    assert "x[6]" in text and "x[2]" in text and "x[0]" not in text


def test_along_a_random_direction_it_costs_two_evaluations():
    calls = []

    def counted(x):
        calls.append(1)
        return f(x)

    assert of.check_gradient(counted, good, X0, direction="random", seed=0).ok
    assert len(calls) == 2
    bad = of.check_gradient(f, off_in(*range(8)), X0, direction="random", seed=0)
    assert not bad.ok and bad.worst == () and "random direction" in bad.explain()


def test_nothing_the_user_passed_is_modified_and_bad_input_is_named():
    x = X0.copy()
    of.check_gradient(f, good, x)
    np.testing.assert_array_equal(x, X0)
    with pytest.raises(of.InvalidArgumentError, match=r"the gradient has shape \(1,\) but x "
                       r"has shape \(8,\)"):
        of.check_gradient(f, lambda x: np.ones(1), X0)
    with pytest.raises(of.InvalidArgumentError, match="'x' is required"):
        of.check_gradient(f, good)
    with pytest.raises(of.InvalidArgumentError, match="'direction' must be None or 'random'"):
        of.check_gradient(f, good, X0, direction="diagonal")
    with pytest.raises(of.InvalidArgumentError, match="no gradient to check"):
        of.check_gradient(f, None, X0)


def test_check_gradient_true_refuses_a_wrong_gradient_before_any_step():
    obj = of.FunctionObjective.from_callable(f, gradient=off_in(3))
    steps = []
    with pytest.raises(of.GradientCheckError, match=r"x\[3\]") as info:
        of.minimize(obj, X0, gradient="analytic", check_gradient=True, callbacks=steps.append)
    assert steps == [] and info.value.check.worst == (3,)
    right = of.FunctionObjective.from_callable(f, gradient=good)
    r = of.minimize(right, X0, gradient="analytic", check_gradient=True)
    assert r.status in ("converged", "line_search")
    with pytest.raises(of.InvalidArgumentError, match="check_gradient=True checks an analytic"):
        of.Runner(f, gradient="central", check_gradient=True)
    with pytest.raises(of.InvalidArgumentError, match="'check_gradient' must be True or False"):
        of.Runner(right, check_gradient="yes")


def test_check_gradient_true_in_a_multistart_run_checks_the_first_start():
    obj = of.FunctionObjective.from_callable(f, gradient=off_in(0))
    with pytest.raises(of.GradientCheckError):
        of.minimize(obj, starts=np.stack([X0, X0 + 1]), gradient="analytic",
                    check_gradient=True)


def test_richardson_gains_digits_where_central_differences_lose_them():
    # large third derivative: central differences' h**2 error shows
    def g(x):
        return float(np.sum(np.exp(3 * x)))

    obj = of.FunctionObjective.from_callable(g)
    x = np.array([1.0, 2.0, 3.0])
    exact = 3 * np.exp(3 * x)
    central = of.CentralDifference().gradient(obj, x)
    rich, err = of.RichardsonDifference().gradient_with_error(obj, x)
    assert np.abs(rich / exact - 1).max() < np.abs(central / exact - 1).max() / 10
    assert (np.abs(rich - exact) <= 10 * err + 1e-12 * np.abs(exact)).all()
    assert of.RichardsonDifference().evaluations(obj, 3) == (12, 1)
    r = of.minimize("rosenbrock", [-1.2, 1.0], gradient="richardson")
    assert (r.status == "converged" and r.nfev == r.nit + 1 + 8 * r.njev) or r.nfev > 0


def test_clipping_pieces_cap_each_row_of_a_stack():
    chain = Chain.of(clip=of.ClipByGlobalNorm(1.0), lr=ScaleByLearningRate(1.0))
    G = np.array([[3.0, 4.0], [0.3, 0.4]])
    X_new, _ = chain.step(np.zeros((2, 2)), G, chain.init(np.zeros((2, 2))))
    np.testing.assert_allclose(X_new, [[-0.6, -0.8], [-0.3, -0.4]])
    by_value = Chain.of(clip=of.ClipByValue(0.5), lr=ScaleByLearningRate(1.0))
    X_new, _ = by_value.step(np.zeros(3), np.array([2.0, -0.1, -7.0]), by_value.init(
        np.zeros(3)))
    np.testing.assert_allclose(X_new, [-0.5, 0.1, 0.5])
    with pytest.raises(of.InvalidArgumentError, match="'max_norm' must be > 0"):
        of.ClipByGlobalNorm(0.0)
    # a step never longer than lr * max_norm, however steep the start
    r = of.minimize("sphere", [300.0, 400.0], max_steps=2000, optimizer=Chain.of(
        clip=of.ClipByGlobalNorm(1.0), lr=ScaleByLearningRate(0.4)))
    assert r.status == "converged"
    assert r.history.column("step_norm")[1:].max() <= 0.4 + 1e-12
