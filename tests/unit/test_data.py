"""Data objectives: batch losses, analytic gradients, whole-set chunks, memmaps, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from optiframe import data as data_module
from tests.conftest import on_disk


def dataset(n=300, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, classes, size=n)
    return X, y


def objectives():
    X, y = dataset()
    reg_y = X @ np.arange(1.0, 6.0) - 2.0
    mlp = of.MLP(X, y, hidden=7)
    return [
        ("least-squares", of.LeastSquares(X, reg_y), None),
        ("logistic", of.LogisticRegression(X, (y > 0).astype(int)), None),
        ("softmax", of.SoftmaxRegression(X, y), None),
        ("mlp", mlp, mlp.init_params(1)),
    ]


@pytest.mark.parametrize(("name", "obj", "start"), objectives(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_batch_gradient_matches_central_differences(name, obj, start):
    params = start if start is not None else np.random.default_rng(2).normal(size=obj.dim)
    idx = np.array([3, 17, 42, 99, 250])
    batch = obj.batch(idx)
    fd = of.CentralDifference().gradient(of.FunctionObjective.from_callable(batch.value),
                                         params)
    np.testing.assert_allclose(batch.gradient(params), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("name", "obj", "start"), objectives(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_whole_set_value_and_gradient_are_chunk_means(name, obj, start, monkeypatch):
    params = start if start is not None else np.random.default_rng(3).normal(size=obj.dim)
    everything = np.arange(obj.n_samples)
    loss, grad = obj.batch_loss_and_gradient(params, everything)
    monkeypatch.setattr(data_module, "CHUNK_ROWS", 64)  # several uneven chunks
    assert obj.value(params) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(obj.gradient(params), grad, rtol=1e-10, atol=1e-14)


def test_least_squares_recovers_the_coefficients():
    X, _ = dataset()
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 4.0
    obj = of.LeastSquares(X, y)
    r = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.5))
    np.testing.assert_allclose(r.x, [1.0, -2.0, 0.5, 0.0, 3.0, 4.0], atol=1e-6)


def test_softmax_and_logistic_learn_separable_classes():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    logistic = of.LogisticRegression(X, y)
    r = of.minimize(logistic, np.zeros(3), optimizer=of.GradientDescent(lr=1.0),
                    max_steps=300)
    assert np.mean(logistic.predict(r.x, X) == y) > 0.97
    softmax = of.SoftmaxRegression(X, y)
    r = of.minimize(softmax, np.zeros(softmax.dim), optimizer=of.GradientDescent(lr=1.0),
                    max_steps=300)
    assert softmax.accuracy(r.x, X, y) > 0.97


def test_memmap_data_is_read_by_chunks_not_copied(tmp_path, monkeypatch, row_reads):
    X, y = dataset(n=5000, d=4)
    X_disk = on_disk(X, tmp_path)
    full = of.SoftmaxRegression(X, y).value(np.zeros((4 + 1) * 3))
    row_reads.clear()
    monkeypatch.setattr(data_module, "CHUNK_ROWS", 512)
    obj = of.SoftmaxRegression(X_disk, y)
    assert obj.X is X_disk  # kept as the memmap, not copied
    assert obj.value(np.zeros(obj.dim)) == pytest.approx(full)
    assert max(row_reads) <= 512 and sum(row_reads) == 5000


def test_data_is_never_modified():
    X, y = dataset()
    X0, y0 = X.copy(), y.copy()
    obj = of.SoftmaxRegression(X, y)
    of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.5), max_steps=5)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


BAD = [
    ("lengths differ", lambda: of.LeastSquares(np.zeros((5, 2)), np.zeros(4)),
     r"'X' and 'y' have different lengths: 5 samples and 4 targets"),
    ("empty", lambda: of.LeastSquares(np.zeros((0, 2)), np.zeros(0)), r"the dataset is empty"),
    ("NaN in X", lambda: of.LeastSquares(np.array([[1.0, np.nan]]), np.zeros(1)),
     r"'X' must be finite: X\[0, 1\] is nan"),
    ("inf in y", lambda: of.LeastSquares(np.zeros((2, 2)), np.array([0.0, np.inf])),
     r"'y' must be finite: y\[1\] is inf"),
    ("X 1-D", lambda: of.LeastSquares(np.zeros(5), np.zeros(5)), r"'X' must be 2-D"),
    ("label out of range", lambda: of.SoftmaxRegression(np.zeros((3, 2)), [0, 1, 5],
                                                        n_classes=3),
     r"labels must be in \[0, 2\] for SoftmaxRegression: found 5"),
    ("negative label", lambda: of.MLP(np.zeros((3, 2)), [0, -1, 1]),
     r"labels must be in \[0, 1\] for MLP: found -1"),
    ("fractional label", lambda: of.LogisticRegression(np.zeros((2, 2)), [0.5, 1.0]),
     r"must hold integer class labels"),
    ("logistic with 3 classes", lambda: of.LogisticRegression(np.zeros((3, 2)), [0, 1, 2]),
     r"labels must be in \[0, 1\] for LogisticRegression: found 2"),
    ("hidden 0", lambda: of.MLP(np.zeros((3, 2)), [0, 1, 1], hidden=0),
     r"'hidden' must be an integer >= 1: 0"),
]


@pytest.mark.parametrize(("call", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_data_is_refused_naming_the_argument(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_a_data_model_of_the_wrong_size_says_what_its_parameters_are():
    X, y = np.ones((10, 3)), np.ones(10)
    with pytest.raises(of.InvalidArgumentError,
                       match=r"LeastSquares\(10 samples, 3 features\) takes 4 \(3 weights \+ 1 "
                             r"intercept\): start from np.zeros\(model.dim\)"):
        of.minimize(of.LeastSquares(X, y), np.zeros(2))
