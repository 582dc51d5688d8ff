"""minimize (optiframe.api): scipy's spellings and conventions as scipy users type them
(jac, tol, method, options, args, Bounds, shaped x0), and its messages."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of

so = pytest.importorskip("scipy.optimize")


def test_scipys_rosen_with_its_jac_and_tol():
    r = of.minimize(so.rosen, [1.3, 0.7, 0.8], jac=so.rosen_der, tol=1e-10)
    assert r.success and np.allclose(r["x"], 1.0)
    assert set(r.keys()) >= {"x", "fun", "jac", "nit", "nfev", "njev", "status", "message"}
    assert "x" in r and r.get("nope") is None
    np.testing.assert_allclose(r.jac, so.rosen_der(r.x), atol=1e-12)
    assert np.linalg.norm(r.jac) <= 1e-10  # tol is scipy's: it sets the gradient tolerance
    with pytest.raises(KeyError, match="'hess': a Result has x, fun, jac"):
        r["hess"]


def test_the_spellings_scipy_users_type():
    x0 = [1.3, 0.7]
    by_method = of.minimize(so.rosen, x0, method="L-BFGS-B", jac=so.rosen_der)
    by_name = of.minimize(so.rosen, x0, optimizer="lbfgs", gradient=so.rosen_der)
    np.testing.assert_array_equal(by_method.x, by_name.x)  # gradient=function is jac=
    assert of.minimize(so.rosen, x0, method="BFGS").success
    both = of.minimize(lambda x: (so.rosen(x), so.rosen_der(x)), x0, jac=True)
    assert both.success and both.nfev == both.njev  # one call serves f and g
    assert of.minimize(so.rosen, x0, jac="3-point").success
    capped = of.minimize(so.rosen, x0, options={"maxiter": 5, "disp": False})
    assert capped.status == "max_steps" and capped.nit == 5
    seen, legacy = [], []
    of.minimize(so.rosen, x0, options={"maxiter": 4},
                callback=lambda intermediate_result: seen.append(intermediate_result.fun))
    of.minimize(so.rosen, x0, options={"maxiter": 4}, callback=lambda xk: legacy.append(xk))
    assert len(seen) == 4 and len(legacy) == 4 and legacy[-1].shape == (2,)
    infos = []
    of.minimize(so.rosen, x0, options={"maxiter": 3}, callback=lambda info: infos.append(info))
    assert [i.step for i in infos] == [1, 2, 3] and isinstance(infos[0], of.StepInfo)
    with pytest.raises(of.InvalidArgumentError, match=r"options\['maxiters'\]"):
        of.minimize(so.rosen, x0, options={"maxiters": 5})
    with pytest.raises(of.InvalidArgumentError, match="'optimizer' or 'method'"):
        of.minimize(so.rosen, x0, optimizer="gd", method="BFGS")


def test_scipy_bounds_objects_work():
    r = of.minimize(so.rosen, [0.5, 0.5], bounds=so.Bounds([-1, -1], [0.8, 0.8]))
    assert r.success and (r.x <= 0.8).all()


def test_an_x0_of_any_shape_keeps_its_shape():
    seen = []

    def loss(w):
        seen.append(w.shape)
        return float(((w - 1) ** 2).sum())

    r = of.minimize(loss, np.zeros((3, 4)))
    assert r.x.shape == (3, 4) and np.allclose(r.x, 1.0) and set(seen) == {(3, 4)}
    assert r.jac.shape == (3, 4)
    g = of.minimize(loss, np.zeros((2, 2)), jac=lambda w: 2 * (w - 1))
    assert g.x.shape == (2, 2) and g.success


def test_an_error_in_the_objective_raises_with_its_traceback():
    def loss(x):
        return float(x @ x) + undefined_name  # noqa: F821  the typo a user makes

    with pytest.raises(NameError, match="undefined_name") as info:
        of.minimize(loss, [1.0, 2.0])
    assert info.value.result.status == "failed"
    assert any(entry.name == "loss" for entry in info.traceback)


def test_the_divergence_message_agrees_with_the_result():
    r = of.minimize(lambda x: float(x[0] ** 2 + 1), -3.0, optimizer=of.GradientDescent(lr=10.0))
    assert r.status == "diverged" and r.x.tolist() == [-3.0] and r.fun == 10.0
    assert "x is the best finite point seen, f = 10 there" in r.message
    assert "line_search='armijo'" in r.message


def test_args_is_scipys_args():
    # issue 23: args= was refused ("Did you mean 'progress'?")
    def f(x, a, b):
        return float((a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2)

    def g(x, a, b):
        return np.array([-2 * (a - x[0]) - 4 * b * x[0] * (x[1] - x[0] ** 2),
                         2 * b * (x[1] - x[0] ** 2)])

    ours = of.minimize(f, [-1.2, 1.0], args=(1.0, 100.0), jac=g)
    theirs = of.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der)
    assert ours.success and np.allclose(ours.x, theirs.x, atol=1e-8)
    assert of.minimize(lambda x, c: float((x[0] - c) ** 2), [0.0], args=3.0).x[0] == (
        pytest.approx(3.0))
    with pytest.raises(of.InvalidArgumentError, match="args= goes with a plain callable"):
        of.minimize("sphere", [1.0], args=(1,))


def test_scipys_option_names_as_keywords_say_where_they_go():
    with pytest.raises(of.InvalidArgumentError) as info:
        of.minimize(so.rosen, [1.0, 2.0], maxiter=5)
    text = str(info.value)
    assert "max_steps=" in text and "options={'maxiter'" in text
    assert "args, callback, jac, method, options, tol" in text


@pytest.mark.parametrize("name, says", [
    ("hess", "scipy's 'hess' is not taken: lbfgs and bfgs learn the curvature"),
    ("hessp", "scipy's 'hessp' is not taken"),
    ("constraints", "scipy's 'constraints' is not taken: optiframe keeps to bounds"),
])
def test_scipys_arguments_optiframe_does_not_take_say_so(name, says):
    calls = []

    def f(x):
        calls.append(1)
        return float(x @ x)

    with pytest.raises(of.InvalidArgumentError, match=f"unknown option '{name}'") as info:
        of.minimize(f, [1.0, 2.0], **{name: None})
    assert says in str(info.value) and "Did you mean" not in str(info.value)
    assert calls == []
