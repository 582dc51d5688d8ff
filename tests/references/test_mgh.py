"""The Moré-Garbow-Hillstrom set (issue 12): gradients, minima, bounded variants, names."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from optiframe.mgh import PROBLEMS

NAMES = sorted(PROBLEMS)


def test_the_set_has_the_papers_eighteen_problems_registered_by_name():
    assert len(PROBLEMS) == 18
    registered = set(of.get_registry().names("objective"))
    assert {f"mgh-{name}" for name in NAMES} <= registered


@pytest.mark.parametrize("name", NAMES)
def test_the_analytic_gradient_matches_richardson_differences(name):
    p = PROBLEMS[name]()
    rng = np.random.default_rng(0)
    points = [p.x0, p.x0 * (1 + 0.1 * rng.standard_normal(p.n)) + 0.01]
    for x in points:
        g, err = of.RichardsonDifference().gradient_with_error(p, x)
        scale = max(1.0, float(np.abs(g).max()))
        np.testing.assert_allclose(p.gradient(x), g, rtol=1e-6, atol=1e-6 * scale + 10 * err.max())
        assert of.check_gradient(p, None, x, rtol=1e-5).ok


@pytest.mark.parametrize("name", NAMES)
def test_stacks_and_points_agree(name):
    p = PROBLEMS[name]()
    X = np.stack([p.x0, p.x0 + 0.1, p.x0 - 0.2])
    np.testing.assert_array_equal(p.values(X), [p.value(x) for x in X])
    np.testing.assert_allclose(p.gradients(X), [p.gradient(x) for x in X], rtol=1e-14)


@pytest.mark.parametrize("name", [n for n in NAMES if PROBLEMS[n]().x_star is not None])
def test_the_known_minimizer_has_the_known_minimum_and_the_box_excludes_it(name):
    p = PROBLEMS[name]()
    assert p.value(p.x_star) == pytest.approx(p.f_star, abs=1e-10)
    box = of.Box(*(np.array([(-np.inf if a is None else a) for a, _ in p.box()]),
                   np.array([(np.inf if b is None else b) for _, b in p.box()])))
    assert not box.outside(p.x0).size
    assert box.outside(p.x_star).size == 1


@pytest.mark.parametrize("name", ["beale", "helical-valley", "rosenbrock", "powell-singular"])
def test_lbfgs_reaches_f_star_from_the_standard_start(name):
    p = PROBLEMS[name]()
    r = of.minimize(f"mgh-{name}", p.x0, gtol=0, max_steps=2000)
    assert r.fun - p.f_star <= 1e-8 * max(1.0, abs(p.f_star))


def test_a_wrong_size_is_refused():
    with pytest.raises(of.InvalidArgumentError, match="beale has n = 2: 3"):
        PROBLEMS["beale"](3)
