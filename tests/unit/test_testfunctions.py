"""Built-in objectives: documented minima, analytic gradients, vectorized = pointwise."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of

DIMS = {"sphere": 3, "rosenbrock": 4, "himmelblau": 2, "rastrigin": 5, "ackley": 3,
        "styblinski-tang": 3}


def all_test_functions():
    return [(name, of.get_registry().get("objective", name).factory()) for name in DIMS]


@pytest.mark.parametrize(("name", "obj"), all_test_functions())
def test_known_minima_have_the_documented_value_and_zero_gradient(name, obj):
    n = DIMS[name]
    for x_star in obj.minima(n):
        assert obj.value(x_star) == pytest.approx(obj.minimum_value(n), abs=1e-12)
        np.testing.assert_allclose(obj.gradient(x_star), 0.0, atol=1e-9)


@pytest.mark.parametrize(("name", "obj"), all_test_functions())
def test_minima_are_lowest_on_a_random_sample_of_the_box(name, obj):
    n = DIMS[name]
    rng = np.random.default_rng(0)
    lo, hi = np.array(obj.bounds(n)).T
    X = rng.uniform(lo, hi, size=(2000, n))
    assert obj.values(X).min() >= obj.minimum_value(n) - 1e-12


@pytest.mark.parametrize(("name", "obj"), all_test_functions())
def test_analytic_gradient_matches_central_differences(name, obj):
    n = DIMS[name]
    rng = np.random.default_rng(1)
    lo, hi = np.array(obj.bounds(n)).T
    est = of.CentralDifference()
    for x in rng.uniform(lo, hi, size=(5, n)):
        fd = est.gradient(obj, x)
        np.testing.assert_allclose(obj.gradient(x), fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


@pytest.mark.parametrize(("name", "obj"), all_test_functions())
def test_vectorized_values_and_gradients_equal_pointwise(name, obj):
    n = DIMS[name]
    X = np.random.default_rng(2).uniform(-2, 2, size=(7, n))
    np.testing.assert_allclose(obj.values(X), [obj.value(x) for x in X], rtol=1e-14)
    if name != "sphere":  # one formula for both: the same bits (sphere's value uses BLAS dot)
        np.testing.assert_array_equal(obj.values(X), [obj.value(x) for x in X])
    np.testing.assert_array_equal(obj.gradients(X), np.stack([obj.gradient(x) for x in X]))
    assert obj.vectorized and obj.has_gradient


def test_himmelblau_minima_are_accurate_to_1e_12():
    h = of.Himmelblau()
    for m in h.minima():
        # one Newton step from the stored minimum must not move it
        x = np.array(m)
        eps = 1e-6
        H = np.stack([(h.gradient(x + eps * e) - h.gradient(x - eps * e)) / (2 * eps)
                      for e in np.eye(2)])
        assert np.abs(np.linalg.solve(H, h.gradient(x))).max() < 1e-12


def test_gradient_descent_finds_each_documented_minimum():
    r = of.minimize("himmelblau", [2.5, 2.5], optimizer=of.GradientDescent(lr=0.01))
    assert r.status == "converged"
    np.testing.assert_allclose(r.x, [3.0, 2.0], atol=1e-8)
    r = of.minimize("styblinski-tang", [-2.0, -3.0], optimizer=of.GradientDescent(lr=0.01))
    np.testing.assert_allclose(r.x, [of.StyblinskiTang.X_STAR] * 2, atol=1e-8)
    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.GradientDescent(lr=1e-3),
                    max_steps=50_000, gtol=1e-8)
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-6)


def test_ackley_gradient_at_the_origin_is_zero_not_nan():
    np.testing.assert_array_equal(of.Ackley().gradient(np.zeros(3)), 0.0)


def test_any_dimension_unless_fixed():
    assert of.Sphere().value(np.ones(7)) == 7.0
    with pytest.raises(of.InvalidArgumentError):
        of.Himmelblau(dim=3)
    with pytest.raises(of.InvalidArgumentError, match="pass 'n'"):
        of.Sphere().minima()


def test_the_global_set_functions_describe_their_dimension_box_and_minimum():
    reg = of.get_registry()
    text = reg.get("objective", "branin").factory.__doc__
    assert text == ("Branin (global set, see optiframe.globalsets): 2-D, box [-5, 10] x "
                    "[0, 15], minimum 0.397887.")
    assert "any dimension (dim=...), box [-10, 10] per coordinate, minimum 0." in (
        reg.get("objective", "levy").factory.__doc__)
