"""The template plugin's own tests: the update rule, validation, and the entry point."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from optiframe_lion import Lion


def lion_by_hand(grad, x, steps, lr, beta1, beta2, wd):
    """The paper's Algorithm 2, written out."""
    m = np.zeros_like(x)
    xs = [x.copy()]
    for _ in range(steps):
        g = grad(x)
        c = beta1 * m + (1 - beta1) * g
        x = x - lr * (np.sign(c) + wd * x)
        m = beta2 * m + (1 - beta2) * g
        xs.append(x.copy())
    return np.array(xs)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_matches_the_paper(wd):
    rosen = of.Rosenbrock()
    x0 = np.array([-1.2, 1.0, 0.5])
    r = of.minimize(rosen, x0, optimizer=Lion(lr=1e-2, beta1=0.9, beta2=0.99, weight_decay=wd),
                    max_steps=40, gtol=0, record_x=True, detect_divergence=False)
    expected = lion_by_hand(rosen.gradient, x0, 40, 1e-2, 0.9, 0.99, wd)
    np.testing.assert_allclose(r.history.x, expected, rtol=1e-13)


def test_the_entry_point_registers_lion():
    entry = of.get_registry().get("optimizer", "lion")
    assert entry.plugin == "lion" and entry.factory is Lion
    r = of.minimize("sphere", [1.0, -2.0], optimizer={"name": "lion", "lr": 0.01},
                    max_steps=500)
    assert r.fun < 1e-3


@pytest.mark.parametrize(("params", "pattern"), [
    ({"lr": -1.0}, r"'lr' must be > 0: -1.0"),
    ({"beta1": 1.0}, r"'beta1' must be in \[0, 1\): 1.0"),
    ({"weight_decay": -0.1}, r"'weight_decay' must be >= 0: -0.1"),
])
def test_invalid_hyperparameters_are_refused(params, pattern):
    with pytest.raises(of.InvalidArgumentError, match=pattern):
        Lion(**params)


def test_works_on_many_points_at_once():
    opt = Lion(lr=0.1)
    X = np.array([[1.0, -1.0], [0.5, 2.0]])
    new, _ = opt.step(X, 2 * X, opt.init(X))
    np.testing.assert_allclose(new, X - 0.1 * np.sign(X))
