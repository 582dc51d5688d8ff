"""The blog's experiments, reproduced bit for bit through the public API."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from tests.conftest import func1, func2

BLOG_TABLE = [
    (0.01, 500, "-0.00012307192187321903"),
    (0.001, 5000, "-0.00013484277838493597"),
    (0.999, 5000, "-0.00013485598670825993"),
    (1e-9, 100, "-2.99999940000006"),
    (1e-9, 1000, "-2.9999940000060055"),
    (1e-9, 10000, "-2.999940000600035"),
    (10.0, 100, "2459382288.1580424"),
    (10.0, 1000, "2459382288.1580424"),
]


def blog_loop(f, x, lr, steps, h=1e-7):
    """The blog's own loop (it modifies x in place when x is an array)."""
    for _ in range(steps):
        slope = (f(x + h) - f(x - h)) / (2 * h)
        x -= lr * slope
    return x


@pytest.mark.parametrize(("lr", "steps", "expected"), BLOG_TABLE)
def test_learning_rate_table_bit_for_bit(lr, steps, expected):
    r = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=lr),
                    gradient=of.CentralDifference(step=1e-7, relative=False),
                    max_steps=steps, detect_divergence=False)
    assert repr(float(r.x[0])) == expected
    assert repr(float(blog_loop(func1, -3.0, lr, steps))) == expected
    assert r.x.shape == (1,)
    assert r.fun == func1(float(r.x[0]))


def test_acceptance_form_fields():
    r = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=0.01),
                    gradient=of.CentralDifference(step=1e-7, relative=False),
                    max_steps=500, detect_divergence=False)
    assert (r.status, r.nit, r.success) == ("max_steps", 500, False)
    assert len(r.history) == 501
    assert r.history.step[-1] == 500
    assert r.nfev == 1 + 500 + 501 * 2  # f(x0), f after each step, 2 per gradient
    assert r.njev == 501


def test_one_element_array_gives_the_same_bits_as_python_floats():
    x = np.array([-3.0])
    r = of.minimize(func1, x, optimizer=of.GradientDescent(lr=0.01),
                    gradient=of.CentralDifference(step=1e-7, relative=False),
                    max_steps=500, detect_divergence=False)
    assert float(r.x[0]) == blog_loop(func1, np.array([-3.0]), 0.01, 500)[0]
    assert x.tolist() == [-3.0]


@pytest.mark.parametrize("n", [2, 3])
def test_sum_of_squares_nd_matches_the_blog_and_leaves_x0_alone(n):
    x0 = np.full(n, 3.0)
    r = of.minimize(func2, x0, optimizer=of.GradientDescent(lr=0.01),
                    gradient=of.CentralDifference(step=1e-7, relative=False), max_steps=100)
    np.testing.assert_array_equal(np.round(r.x, 8), np.full(n, 0.39785867))
    assert x0.tolist() == [3.0] * n


def test_per_coordinate_blog_loop_bit_for_bit():
    def blog_nd(f, x, lr, steps, h=1e-7):
        for _ in range(steps):
            slope = np.zeros_like(x)
            for i in range(len(x)):
                xp = x.copy()
                xp[i] += h
                xm = x.copy()
                xm[i] -= h
                slope[i] = (f(xp) - f(xm)) / (2 * h)
            x -= lr * slope
        return x

    x0 = np.array([3.0, -1.5, 0.25])
    r = of.minimize(func2, x0, optimizer=of.GradientDescent(lr=0.01),
                    gradient=of.CentralDifference(step=1e-7, relative=False), max_steps=100)
    np.testing.assert_array_equal(r.x, blog_nd(func2, x0.copy(), 0.01, 100))


def test_default_settings_report_divergence_for_lr_10():
    r = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=10.0), max_steps=1000)
    assert r.status == "diverged"
    assert not r.success
    assert r.x.tolist() == [-3.0]  # the best finite point seen
    assert r.fun == 10.0
    assert np.isfinite(r.history.fun).all()
    assert r.history.fun[-1] > 1e9  # the row that triggered the stop is kept


def test_why_the_blog_stops_at_2p46e9():
    x = 2459382288.1580424
    assert x + 1e-7 == x  # h is below half the float spacing here
    assert np.spacing(x) > 2e-7
    g = of.CentralDifference(step=1e-7, relative=False).gradient(
        of.FunctionObjective.from_callable(func1), np.array([x]))
    assert g.tolist() == [0.0]
    g_rel = of.CentralDifference().gradient(of.FunctionObjective.from_callable(func1),
                                            np.array([x]))
    np.testing.assert_allclose(g_rel, [2 * x], rtol=1e-6)
