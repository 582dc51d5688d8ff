"""Minibatch descent: epochs, batch order, estimators on batches, memmaps, the digits."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from optiframe import data as data_module
from tests.conftest import on_disk


def small(n=120, d=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1).astype(int)
    return X, np.minimum(y, classes - 1)


@pytest.fixture(scope="module")
def digits():
    sklearn = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    d = sklearn.load_digits()
    return train_test_split(d.data / 16.0, d.target, test_size=0.2, random_state=0,
                            stratify=d.target)


def test_acceptance_form_on_the_digits(digits):
    X_train, _, y_train, _ = digits
    obj = of.SoftmaxRegression(X_train, y_train)
    r = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.1),
                    batch_size=64, epochs=10, seed=0, on_interrupt="return")
    batches = -(-len(X_train) // 64)
    assert (r.epochs, r.nit, len(r.history)) == (10, 10 * batches, 10 * batches)
    assert r.history.epochs["epoch"].tolist() == list(range(1, 11))
    losses = r.history.epochs["train_loss"]
    assert losses[-1] < losses[0] / 2
    assert r.fun == pytest.approx(obj.value(r.x))


def test_softmax_reaches_95_and_the_mlp_97_percent_on_held_out_digits(digits):
    X_train, X_test, y_train, y_test = digits
    softmax = of.SoftmaxRegression(X_train, y_train)
    r = of.minimize(softmax, np.zeros(softmax.dim), optimizer=of.GradientDescent(lr=1.0),
                    batch_size=64, epochs=30, seed=0, on_interrupt="return")
    assert softmax.accuracy(r.x, X_test, y_test) >= 0.95
    mlp = of.MLP(X_train, y_train, hidden=64)
    r = of.minimize(mlp, mlp.init_params(0), optimizer=of.GradientDescent(lr=0.5),
                    batch_size=32, epochs=30, seed=0,
                    epoch_callbacks=lambda e: {"test_accuracy": mlp.accuracy(
                        np.array(e.x), X_test, y_test)}, on_interrupt="return")
    assert mlp.accuracy(r.x, X_test, y_test) >= 0.97
    assert r.history.epochs["test_accuracy"][-1] >= 0.97


def test_a_seeded_run_is_bit_identical_and_the_seed_matters():
    X, y = small()
    obj = of.SoftmaxRegression(X, y)
    kw = dict(optimizer=of.Adam(lr=0.05), batch_size=16, epochs=3)
    a = of.minimize(obj, np.zeros(obj.dim), seed=1, **kw)
    b = of.minimize(obj, np.zeros(obj.dim), seed=1, **kw)
    c = of.minimize(obj, np.zeros(obj.dim), seed=2, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.history.fun, b.history.fun)
    assert not np.array_equal(a.x, c.x)
    d = of.minimize(obj, np.zeros(obj.dim), seed=1, shuffle=False, **kw)
    e = of.minimize(obj, np.zeros(obj.dim), seed=9, shuffle=False, **kw)
    np.testing.assert_array_equal(d.x, e.x)  # sequential batches ignore the seed


def test_batch_order_comes_from_the_sampler_and_covers_every_sample_each_epoch():
    seen = []

    class Spy(of.SoftmaxRegression):
        def batch_loss_and_gradient(self, params, idx):
            seen.append(np.array(idx))
            return super().batch_loss_and_gradient(params, idx)

    X, y = small(n=50)
    obj = Spy(X, y)
    of.minimize(obj, np.zeros(obj.dim), batch_size=8, epochs=2, seed=0, on_interrupt="return")
    first, second = np.concatenate(seen[:7]), np.concatenate(seen[7:14])
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(50))
    assert first.tolist() != second.tolist()  # reshuffled
    assert [len(b) for b in seen[:7]] == [8] * 6 + [2]
    seen.clear()
    of.minimize(obj, np.zeros(obj.dim), batch_size=8, epochs=1, drop_last=True, seed=0,
                on_interrupt="return")
    assert [len(b) for b in seen[:-1]] == [8] * 6  # the last entry is the final full value


@pytest.mark.parametrize("gradient", ["central", "forward", "analytic", "auto"])
def test_every_estimator_works_on_the_batch_loss(gradient):
    X, y = small(n=40, d=2)
    obj = of.SoftmaxRegression(X, y)
    kw = dict(optimizer=of.GradientDescent(lr=0.5), batch_size=10, epochs=2, seed=3)
    exact = of.minimize(obj, np.zeros(obj.dim), gradient="analytic", **kw)
    r = of.minimize(obj, np.zeros(obj.dim), gradient=gradient, **kw)
    np.testing.assert_allclose(r.x, exact.x, rtol=1e-5, atol=1e-7)


def test_training_on_a_memmap_reads_only_batches(tmp_path, monkeypatch, row_reads):
    X, y = small(n=3000, d=6)
    monkeypatch.setattr(data_module, "CHUNK_ROWS", 256)
    obj = of.SoftmaxRegression(on_disk(X, tmp_path), y)
    r = of.minimize(obj, np.zeros(obj.dim), batch_size=50, epochs=2, seed=0,
                    optimizer=of.GradientDescent(lr=0.5), on_interrupt="return")
    assert max(row_reads) <= 256 and r.epochs == 2
    in_memory = of.minimize(of.SoftmaxRegression(X, y), np.zeros(obj.dim), batch_size=50,
                            epochs=2, seed=0, optimizer=of.GradientDescent(lr=0.5),
                                on_interrupt="return")
    np.testing.assert_array_equal(r.x, in_memory.x)


def test_divergence_and_nan_end_the_run():
    X, y = small()
    obj = of.SoftmaxRegression(X * 1e3, y)
    r = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=1e6),
                    batch_size=16, epochs=50, seed=0, on_interrupt="return")
    assert r.status == "diverged" and r.nit < 50 * 8

    class NaNLoss(of.SoftmaxRegression):
        def batch_loss_and_gradient(self, params, idx):
            loss, g = super().batch_loss_and_gradient(params, idx)
            return (np.nan if np.abs(params).sum() > 1.0 else loss), g

    obj = NaNLoss(X, y)
    r = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.5),
                    batch_size=16, epochs=50, seed=0, on_interrupt="return")
    assert r.status == "nan" and "not finite" in r.message


def test_epoch_callbacks_can_stop_and_ctrl_c_keeps_the_epochs_done():
    X, y = small()
    obj = of.SoftmaxRegression(X, y)

    def stop_after_two(info):
        if info.epoch == 2:
            raise StopIteration

    r = of.minimize(obj, np.zeros(obj.dim), batch_size=16, epochs=10, seed=0,
                    epoch_callbacks=stop_after_two, on_interrupt="return")
    assert r.status == "callback_stop" and r.epochs == 2

    def interrupt(info):
        if info.epoch == 3:
            raise KeyboardInterrupt

    r = of.minimize(obj, np.zeros(obj.dim), batch_size=16, epochs=10, seed=0,
                    epoch_callbacks=interrupt, on_interrupt="return")
    assert r.status == "interrupted" and r.epochs == 2 and len(r.history) == 3 * 8


def test_a_training_start_a_step_callback_stops_ends_with_its_whole_set_loss():
    # fun is the loss over the whole training set at x, as for every other way a training
    # start ends; a step callback's stop gave the batch loss of the step's start point
    X, y = small()
    obj = of.SoftmaxRegression(X, y)

    def stop_at_3(info):
        if info.step == 3:
            raise StopIteration

    def stop_start_1_at_3(info):
        if info.step == 3:
            raise StopIteration([1])

    r = of.minimize(obj, np.zeros(obj.dim), batch_size=16, epochs=2, seed=0,
                    callbacks=stop_at_3)
    assert (r.status, r.nit) == ("callback_stop", 3) and r.fun == obj.value(r.x)
    starts = np.zeros((3, obj.dim))
    r = of.minimize(obj, starts=starts, batch_size=16, epochs=2, seed=0,
                    callbacks=stop_start_1_at_3)
    assert [(o.status, o.nit) for o in r.starts] == [("completed", 16), ("callback_stop", 3),
                                                      ("completed", 16)]
    assert all(o.fun == obj.value(o.x) for o in r.starts)


def test_user_arrays_are_never_modified():
    X, y = small()
    X0, y0 = X.copy(), y.copy()
    obj = of.SoftmaxRegression(X, y)
    of.minimize(obj, np.zeros(obj.dim), batch_size=7, epochs=3, seed=0, on_interrupt="return")
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


BAD = [
    ("batch_size 0", dict(batch_size=0), r"'batch_size' must be >= 1: 0"),
    ("epochs 0", dict(batch_size=8, epochs=0), r"'epochs' must be >= 1: 0"),
    ("too large with drop_last", dict(batch_size=500, drop_last=True),
     r"'batch_size' is 500 but the data has only 120 samples"),
    ("epochs without batch_size", dict(epochs=3), r"'epochs' and 'batch_sampler' need"),
    ("unknown sampler", dict(batch_size=8, batch_sampler="stratified"),
     r"unknown batch_sampler 'stratified'"),
    ("shuffle not bool", dict(batch_size=8, shuffle="yes"), r"'shuffle' must be True or False"),
]


@pytest.mark.parametrize(("options", "pattern"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_batching_options_are_refused_before_the_first_step(options, pattern):
    X, y = small()
    obj = of.SoftmaxRegression(X, y)
    with pytest.raises((ValueError, KeyError), match=pattern):
        of.minimize(obj, np.zeros(obj.dim), **options)


def test_batching_needs_a_data_objective():
    with pytest.raises(of.InvalidArgumentError, match="'batch_size' needs a data objective"):
        of.minimize("sphere", [1.0], batch_size=4, on_interrupt="return")


@pytest.mark.parametrize("workers", [None, map, 2])
def test_k_models_train_at_once_on_the_same_batches_and_match_training_alone(workers):
    X, y = small(n=90, d=3)
    mlp = of.MLP(X, y, hidden=5)
    inits = np.stack([mlp.init_params(s) for s in range(3)])
    kw = dict(optimizer=of.GradientDescent(lr=0.5), batch_size=16, epochs=3, seed=7)
    together = of.minimize(mlp, starts=inits, workers=workers, **kw)
    assert [s.status for s in together.starts] == ["completed"] * 3
    for k in range(3):
        alone = of.minimize(mlp, inits[k], **kw)  # one model, same seed: same batches
        np.testing.assert_array_equal(together.starts[k].x, alone.x)
        assert together.starts[k].fun == alone.fun
        np.testing.assert_array_equal(together.history.fun[:, k], alone.history.fun)
    assert together.fun == min(s.fun for s in together.starts)


def test_a_failing_model_stops_while_the_others_train_on():
    class NaNBeyond(of.SoftmaxRegression):
        def batch_loss_and_gradient(self, params, idx):
            loss, g = super().batch_loss_and_gradient(params, idx)
            return (np.nan if params[0] > 100 else loss), g

    X, y = small(n=60, d=2)
    obj = NaNBeyond(X, y)
    inits = np.zeros((3, obj.dim))
    inits[1, 0] = 1000.0
    r = of.minimize(obj, starts=inits, optimizer=of.GradientDescent(lr=0.5), batch_size=10,
                    epochs=4, seed=0, on_interrupt="return")
    assert [s.status for s in r.starts] == ["completed", "nan", "completed"]
    # the NaN start skipped max_bad_gradients = 5 batches, unchanged, then stopped
    assert r.starts[1].nit == 5 and r.starts[0].nit == 24
    assert r.starts[1].x.tolist() == inits[1].tolist()
    assert "after 5 such batches skipped" in r.starts[1].message
    assert np.isnan(r.history.fun[1:, 1]).all() and np.isfinite(r.history.fun[:, 0]).all()


def test_training_shows_a_progress_bar_on_request(capsys):
    pytest.importorskip("tqdm")
    X, y = small(n=100)
    obj = of.SoftmaxRegression(X, y)
    of.minimize(obj, np.zeros(obj.dim), batch_size=10, epochs=3, seed=0, progress=True,
                on_interrupt="return")
    err = capsys.readouterr().err
    assert "optiframe training" in err and "30/30" in err
    assert "epoch 3/3, loss=" in err  # the bar counts epochs too


def _digits_like(n=60, d=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)), rng.integers(0, 3, size=n)


def test_a_training_run_that_completes_its_epochs_is_a_success():
    X, y = _digits_like()
    model = of.SoftmaxRegression(X, y)
    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=3, seed=0)
    assert (r.status, r.success, r.epochs, r.nit) == ("completed", True, 3, 9)
    # max_steps before the epochs run out is still max_steps
    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=3, seed=0, max_steps=4)
    assert (r.status, r.success) == ("max_steps", False)


def test_early_stopping_keeps_the_epoch_it_stopped_in_with_its_metrics():
    X, y = _digits_like()
    model = of.SoftmaxRegression(X, y)

    def stop_in_3(info):
        if info.epoch == 3:
            raise StopIteration({"val": 0.5})
        return {"val": 1.0}

    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=10, seed=0,
                    epoch_callbacks=stop_in_3)
    assert r.status == "callback_stop" and "after epoch 3" in r.message
    assert r.epochs == 3 and r.history.epochs["val"].tolist() == [1.0, 1.0, 0.5]
