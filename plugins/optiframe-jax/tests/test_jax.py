"""optiframe-jax against real jax: exact gradients, every kind of run, clear refusals."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from optiframe_jax import JaxData, JaxGradient

import optiframe as of


def rosen(x):
    return jnp.sum((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2)


def rosen_rows(X):  # vectorized: (m, n) -> (m,)
    return jnp.sum((1 - X[:, :-1]) ** 2 + 100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2, axis=1)


def test_jax_is_registered_through_the_entry_point():
    entry = of.get_registry().get("gradient", "jax")
    assert entry.factory is JaxGradient and entry.plugin == "jax"


def test_the_gradient_is_the_analytic_one_on_rosenbrock_with_1000_coordinates():
    x = np.random.default_rng(0).uniform(-2, 2, 1000)
    g = JaxGradient().gradient(of.FunctionObjective.from_callable(rosen), x)
    exact = of.Rosenbrock().gradient(x)
    assert g.dtype == np.float64 and g.shape == x.shape
    assert np.max(np.abs(g - exact)) / np.max(np.abs(exact)) < 1e-12


def test_the_acceptance_form_converges_and_leaves_x0_alone():
    x0 = np.zeros(100)
    r = of.minimize(lambda x: jnp.sum((1 - x[:-1])**2 + 100*(x[1:] - x[:-1]**2)**2),
                    x0, optimizer="lbfgs", gradient="jax")
    assert r.status == "converged" and np.allclose(r.x, 1.0, atol=1e-6)
    assert r.nfev == r.njev  # no finite-difference evaluations
    assert not x0.any()


@pytest.mark.parametrize("optimizer", of.get_registry().names("optimizer"))
def test_every_optimizer_takes_the_same_steps_as_with_the_analytic_gradient(optimizer):
    kw = dict(optimizer=optimizer, max_steps=200)
    with_jax = of.minimize(rosen, [-1.2, 1.0], gradient="jax", **kw)
    analytic = of.minimize("rosenbrock", [-1.2, 1.0], gradient="analytic", **kw)
    assert (with_jax.status, with_jax.nit) == (analytic.status, analytic.nit)
    np.testing.assert_allclose(with_jax.x, analytic.x, rtol=1e-9, atol=1e-12)


def test_a_multistart_run_uses_one_vmapped_gradient_and_matches_single_runs():
    starts = np.random.default_rng(1).uniform(-2, 2, size=(6, 3))
    estimator = JaxGradient()
    r = of.minimize(rosen, starts=starts, optimizer="adam", gradient=estimator,
                    max_steps=150)
    # one conversion each way per gradient of the whole stack, not per start
    assert estimator.conversions.to_numpy == r.history.step[-1] + 1
    for row, start in zip(starts, r.starts, strict=True):
        one = of.minimize(rosen, row, optimizer="adam", gradient="jax", max_steps=150)
        np.testing.assert_allclose(start.x, one.x, rtol=1e-12, atol=1e-14)


def test_a_vectorized_objective_gets_each_rows_gradient():
    obj = of.FunctionObjective.from_callable(rosen_rows, vectorized=True)
    X = np.array([[-1.2, 1.0, 0.5], [0.0, 0.0, 0.0]])
    G = JaxGradient().bind_stack(obj)(X)
    np.testing.assert_allclose(G, np.stack([of.Rosenbrock().gradient(x) for x in X]),
                               rtol=1e-13)
    np.testing.assert_allclose(JaxGradient().gradient(obj, X[0]),
                               of.Rosenbrock().gradient(X[0]), rtol=1e-13)


def test_conversions_are_counted_one_each_way_per_gradient():
    estimator = JaxGradient()
    r = of.minimize(rosen, [-1.2, 1.0], optimizer="lbfgs", gradient=estimator)
    assert estimator.conversions.to_jax == estimator.conversions.to_numpy == r.njev


def test_bounds_and_a_bounded_run():
    r = of.minimize(rosen, [0.2, 0.2], gradient="jax", bounds=[(0, 0.5), (0, 0.5)])
    assert r.status == "converged" and r.x.max() <= 0.5
    np.testing.assert_allclose(r.x, [0.5, 0.25], atol=1e-6)


def test_a_checkpointed_run_resumes_to_the_same_bits(tmp_path):
    whole = of.minimize(rosen, [-1.2, 1.0], optimizer="adam", gradient="jax", max_steps=400)
    calls = {"n": 0}

    def stop_at_150(info):
        calls["n"] += 1
        if info.step == 150:
            raise KeyboardInterrupt

    part = of.Runner(rosen, "adam", gradient="jax", max_steps=400, checkpoint=tmp_path,
                     checkpoint_every=50, callbacks=[stop_at_150],
                     on_interrupt="return").run([-1.2, 1.0])
    assert part.status == "interrupted"
    resumed = of.Runner(rosen, "adam", gradient="jax", max_steps=400).resume(tmp_path)
    assert (resumed.status, resumed.nit) == (whole.status, whole.nit)
    np.testing.assert_array_equal(resumed.x, whole.x)
    np.testing.assert_array_equal(resumed.history.fun, whole.history.fun)


def test_an_untraceable_objective_is_named_and_central_suggested():
    def uses_numpy(x):
        return float(np.sum(x**2))

    with pytest.raises(of.InvalidArgumentError, match=r"uses_numpy.*gradient='central'"):
        of.minimize(uses_numpy, [1.0, 2.0], gradient="jax")
    with pytest.raises(of.InvalidArgumentError, match=r"Rosenbrock is numpy code"):
        of.minimize("rosenbrock", [1.0, 2.0], gradient="jax")


def test_a_numpy_data_objective_is_refused_with_what_to_use():
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    with pytest.raises(of.InvalidArgumentError, match=r"JaxData.*'analytic' or 'central'"):
        of.minimize(of.LogisticRegression(X, y), np.zeros(3), gradient="jax", batch_size=5,
                    epochs=1)


def test_float32_mode_is_refused_when_asked_not_to_switch():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(of.InvalidArgumentError, match=r"float32.*jax_enable_x64"):
            of.minimize(rosen, [-1.2, 1.0], gradient=JaxGradient(x64=False))
        r = of.minimize(rosen, [-1.2, 1.0], gradient=JaxGradient(), max_steps=5)
        assert jax.config.jax_enable_x64 and r.nit == 5
    finally:
        jax.config.update("jax_enable_x64", True)


# -- training ------------------------------------------------------------------------------


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data / 16.0, d.target
    return X[:1400], y[:1400], X[1400:], y[1400:]


def jax_mlp(hidden, d, c):
    a, b, e = d * hidden, d * hidden + hidden, d * hidden + hidden + hidden * c

    def scores(params, X):
        W1, b1 = params[:a].reshape(d, hidden), params[a:b]
        W2, b2 = params[b:e].reshape(hidden, c), params[e:]
        return jnp.tanh(X @ W1 + b1) @ W2 + b2

    def loss(params, X, y):
        logp = jax.nn.log_softmax(scores(params, X))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None].astype(int), axis=1))

    return scores, loss


def test_a_digits_mlp_written_in_jax_trains_like_the_builtin_mlp():
    pytest.importorskip("sklearn")
    X, y, Xt, yt = digits()
    builtin = of.MLP(X, y, hidden=16)
    scores, loss = jax_mlp(16, X.shape[1], 10)
    data = JaxData(loss, X, y, dim=builtin.dim)
    x0 = builtin.init_params(seed=0)
    kw = dict(optimizer=of.GradientDescent(lr=0.5), batch_size=32, epochs=15, seed=0)
    ours = of.minimize(builtin, x0, **kw)
    theirs = of.minimize(data, x0, gradient="jax", **kw)
    acc_builtin = builtin.accuracy(ours.x, Xt, yt)
    acc_jax = float(np.mean(np.argmax(np.asarray(scores(theirs.x, Xt)), axis=1) == yt))
    assert acc_builtin > 0.9 and acc_jax == pytest.approx(acc_builtin, abs=1e-9)
    np.testing.assert_allclose(theirs.x, ours.x, rtol=1e-8, atol=1e-10)


def test_a_per_sample_loss_is_vmapped_over_the_batch_and_multistart_training_works():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = X @ np.array([2.0, -1.0])
    data = JaxData(lambda w, x, t: (x @ w - t) ** 2, X, y, dim=2, per_sample=True)
    idx = np.arange(10)
    np.testing.assert_allclose(data.batch_loss(np.ones(2), idx),
                               np.mean((X[:10] @ np.ones(2) - y[:10]) ** 2), rtol=1e-14)
    r = of.minimize(data, starts=np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]]),
                    optimizer=of.GradientDescent(lr=0.1), gradient="jax", batch_size=20,
                    epochs=30, seed=0)
    for start in r.starts:
        np.testing.assert_allclose(start.x, [2.0, -1.0], atol=1e-6)
    auto = of.minimize(data, np.zeros(2), optimizer=of.GradientDescent(lr=0.1),
                       batch_size=20, epochs=3, seed=0)
    with_jax = of.minimize(data, np.zeros(2), optimizer=of.GradientDescent(lr=0.1),
                           gradient="jax", batch_size=20, epochs=3, seed=0)
    np.testing.assert_allclose(auto.x, with_jax.x, rtol=1e-13)


def test_bad_jaxdata_arguments_are_named():
    with pytest.raises(of.InvalidArgumentError, match=r"'dim'.*0"):
        JaxData(lambda w, X, y: 0.0, np.ones((3, 2)), np.ones(3), dim=0)
    with pytest.raises(of.InvalidTypeError, match="'loss'"):
        JaxData("loss", np.ones((3, 2)), np.ones(3), dim=2)


def test_workers_are_spawned_not_forked_once_jax_is_loaded():
    starts = np.random.default_rng(1).uniform(-2, 2, size=(4, 3))
    together = of.minimize(rosen, starts=starts, optimizer="adam", gradient="jax",
                           max_steps=100)
    spread = of.minimize(rosen, starts=starts, optimizer="adam", gradient="jax",
                         max_steps=100, workers=2)
    assert [s.status for s in spread.starts] == [s.status for s in together.starts]
    for s, t in zip(spread.starts, together.starts, strict=True):
        np.testing.assert_allclose(s.x, t.x, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("module", ["optiframe_jax", *(
    f"optiframe_jax.{m.name}" for m in __import__("pkgutil").iter_modules(
        __import__("optiframe_jax").__path__))])
def test_the_docstring_examples_run(module, tmp_path, monkeypatch):
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_the_benchmark_smoke_run():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_jax.py"
    proc = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "jax/central" in proc.stdout and "same accuracy: yes" in proc.stdout


def test_without_jax_the_estimator_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "jax", None)  # import jax fails
    with pytest.raises(of.InvalidArgumentError, match=r"pip install \./plugins/optiframe-jax"):
        of.minimize(rosen, [-1.2, 1.0], gradient="jax")


TARGET = {"c": jnp.zeros(2)}


def _reads_global_data(x):
    return jnp.sum((x - TARGET["c"]) ** 2)


def test_each_run_differentiates_the_function_as_it_is_now():
    # issue 22, item 7: a compiled gradient cached across runs kept the old data, and
    # the second run ended "converged" with gradient 0 where f = 32
    TARGET["c"] = jnp.zeros(2)
    first = of.minimize(_reads_global_data, [1.0, 2.0], gradient="jax")
    np.testing.assert_allclose(first.x, [0.0, 0.0], atol=1e-8)
    TARGET["c"] = jnp.array([4.0, 4.0])
    second = of.minimize(_reads_global_data, [0.0, 0.0], gradient="jax")
    assert second.success and second.fun < 1e-12
    np.testing.assert_allclose(second.x, [4.0, 4.0], atol=1e-6)


@pytest.mark.parametrize("fun, expected", [
    (lambda x: jnp.sum((x - 1.0) ** 2).reshape(1), "converged"),     # shape (1,): its number
    (lambda x: jnp.sum((x - 1.0) ** 2)[None, None], "converged"),    # shape (1, 1)
])
def test_a_one_element_value_is_its_number(fun, expected):
    assert of.minimize(fun, [3.0, 3.0], gradient="jax").status == expected


@pytest.mark.parametrize("fun, match", [
    (lambda x: jnp.sum(jnp.round(x).astype(jnp.int32)), "dtype int(32|64).*gradient='central'"),
    (lambda x: x**2, r"must return one number, got an array of shape \(2,\)"),
])
def test_a_value_jax_cannot_differentiate_is_one_line_naming_the_objective(fun, match):
    with pytest.raises(of.InvalidTypeError) as info:
        of.minimize(fun, [3.0, 3.0], gradient="jax")
    first_line = str(info.value).splitlines()[0]  # jax adds its traceback note below
    assert re.search(match, first_line) and "the objective <lambda>" in first_line


def test_a_stack_of_parameters_on_one_batch_is_one_vmapped_gradient():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    data = JaxData(lambda w, x, t: (x @ w - t) ** 2, X, y, dim=3, per_sample=True)
    view = data.batch(np.arange(8))
    P = rng.normal(size=(4, 3))
    estimator = JaxGradient()
    G = estimator.bind_stack(view)(P)
    rows = np.stack([data.batch_loss_and_gradient(p, np.arange(8))[1] for p in P])
    np.testing.assert_allclose(G, rows, rtol=1e-13)
    assert estimator.conversions.to_numpy == 1


def test_a_built_in_numpy_objective_is_refused_before_the_run_in_its_words(tmp_path):
    from optiframe.cli import main

    calls = []
    with pytest.raises(of.InvalidArgumentError,
                       match="the built-in objective Rosenbrock is numpy code: use "
                             r"gradient='analytic' \(its exact gradient\)"):
        of.minimize("rosenbrock", [-1.2, 1.0], gradient="jax",
                    callbacks=lambda info: calls.append(info))
    assert calls == []
    config = tmp_path / "run.toml"
    config.write_text('[objective]\nname = "rosenbrock"\n[gradient]\nname = "jax"\n'
                      f'[start]\nx0 = [-1.2, 1.0]\n[output]\nfolder = "{tmp_path / "out"}"\n')
    assert main(["run", str(config)]) == 2
    assert not (tmp_path / "out").exists()
