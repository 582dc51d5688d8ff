"""Optimizer specifics beyond the conformance suite: per-coordinate rates, composition."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import optiframe as of
from optiframe.optimizers.transforms import (
    AddDecayedWeights,
    Chain,
    ScaleByAdam,
    ScaleByLearningRate,
    Trace,
)

PER_COORDINATE = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


@pytest.mark.parametrize("name", PER_COORDINATE)
def test_an_lr_array_acts_per_coordinate(name):
    factory = of.get_registry().get("optimizer", name).factory
    lr = np.array([0.01, 0.03])
    both = of.minimize("sphere", [1.0, -2.0], optimizer=factory(lr=lr), max_steps=30, gtol=0,
                       record_x=True)
    for j in range(2):  # the sphere is separable: each coordinate runs on its own
        alone = of.minimize("sphere", [[1.0, -2.0][j]], optimizer=factory(lr=float(lr[j])),
                            max_steps=30, gtol=0, record_x=True)
        np.testing.assert_allclose(both.history.x[:, j], alone.history.x[:, 0], rtol=1e-14)


def test_an_lr_array_is_copied_read_only_and_compared_by_value():
    lr = np.array([0.1, 0.2])
    opt = of.Adam(lr=lr)
    lr[0] = 5.0
    assert opt.lr.tolist() == [0.1, 0.2]
    with pytest.raises(ValueError):
        opt.lr[0] = 1.0
    assert opt == of.Adam(lr=[0.1, 0.2]) and opt != of.Adam(lr=[0.1, 0.3])
    assert hash(opt) == hash(of.Adam(lr=[0.1, 0.2]))
    assert attrs.evolve(opt, beta1=0.8).lr.tolist() == [0.1, 0.2]


def test_named_optimizers_are_chains_of_named_pieces():
    adamw = of.AdamW(lr=0.01, weight_decay=0.1)
    assert [name for name, _ in adamw.chain.pieces] == ["adam", "weight_decay", "lr"]
    state = adamw.init(np.ones(2))
    assert state["adam"].count == 0  # state by piece name, fields by name
    by_hand = Chain.of(adam=ScaleByAdam(), weight_decay=AddDecayedWeights(0.1),
                       lr=ScaleByLearningRate(0.01))
    a = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=adamw, max_steps=50, gtol=0)
    b = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=by_hand, max_steps=50, gtol=0)
    np.testing.assert_array_equal(a.x, b.x)


def test_a_chain_refuses_duplicate_names_and_non_pieces():
    with pytest.raises(of.InvalidArgumentError, match="distinct names"):
        Chain([("a", Trace()), ("a", ScaleByLearningRate())])
    with pytest.raises(of.InvalidArgumentError, match="piece 'lr' of a Chain is not a Transform"):
        Chain.of(lr=0.1)


def test_one_optimizer_object_serves_many_runs():
    opt = of.Adam(lr=0.05)
    first = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=40)
    of.minimize("sphere", [5.0, 5.0, 5.0], optimizer=opt, max_steps=40)
    again = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=40)
    np.testing.assert_array_equal(first.x, again.x)
