"""optiframe inside scipy (issue 15, part): scipy_method as scipy.optimize's method."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of

so = pytest.importorskip("scipy.optimize")


def test_scipy_minimize_runs_an_optiframe_optimizer_and_returns_an_optimize_result():
    r = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=of.scipy_method("lbfgs"))
    assert isinstance(r, so.OptimizeResult) and r.success and r.status == 0
    np.testing.assert_allclose(r.x, 1.0, atol=1e-6)
    assert r.optiframe_status == "converged" and r.nit > 0 and r.njev == r.nfev
    assert len(r.history) == r.nit + 1 and r.hess_inv.shape == (2, 2)
    np.testing.assert_allclose(r.jac, so.rosen_der(r.x), atol=1e-12)


def test_scipys_args_options_and_callback_reach_the_run():
    seen = []

    def shifted(x, c):
        return float(np.sum((x - c) ** 2))

    r = so.minimize(shifted, np.zeros(3), args=(2.0,), method=of.scipy_method("bfgs"),
                    callback=lambda intermediate_result: seen.append(intermediate_result.fun),
                    options={"maxiter": 50})
    assert r.success and np.allclose(r.x, 2.0) and len(seen) == r.nit
    capped = so.minimize(so.rosen, [-1.2, 1.0], method=of.scipy_method({"name": "gd", "lr": 1e-3}),
                         options={"maxiter": 7})
    assert capped.status == 1 and capped.optiframe_status == "max_steps" and capped.nit == 7


def test_bounds_from_scipy_are_honoured():
    r = so.minimize(so.rosen, [0.0, 0.0], method=of.scipy_method("lbfgs"),
                    bounds=so.Bounds([-2, -2], [0.5, 0.5]))
    assert r.success and (r.x <= 0.5 + 1e-12).all()


def test_basinhopping_uses_an_optiframe_local_method():
    def double_well(x):  # a local minimum near +1, the global one near -1
        return float((x[0] ** 2 - 1) ** 2 + 0.3 * x[0])

    bh = so.basinhopping(double_well, [1.0], niter=30, stepsize=1.5, seed=0,
                         minimizer_kwargs={"method": of.scipy_method("lbfgs")})
    assert bh.x[0] < -0.9 and bh.fun < -0.2


def test_the_acceptance_form_with_adam_counts_what_optiframe_counts():
    r = so.minimize(so.rosen, [-1.2, 1.0], method=of.scipy_method("adam", lr=0.01),
                    options={"maxiter": 500})
    own = of.minimize(so.rosen, [-1.2, 1.0], optimizer=of.Adam(lr=0.01), max_steps=500)
    assert isinstance(r, so.OptimizeResult)
    assert (r.nit, r.nfev, r.njev) == (own.nit, own.nfev, own.njev)
    np.testing.assert_array_equal(r.x, own.x)
    bh = so.basinhopping(so.rosen, [-1.2, 1.0], niter=3, seed=0,
                         minimizer_kwargs={"method": of.scipy_method("adam", lr=0.01)})
    assert isinstance(bh, so.OptimizeResult) and np.isfinite(bh.fun)
    assert bh.lowest_optimization_result.optiframe_status in ("converged", "max_steps")


def test_a_bad_hyperparameter_is_refused_before_scipy_runs():
    with pytest.raises(of.InvalidArgumentError, match=r"'lr' must be > 0: -1"):
        of.scipy_method("adam", lr=-1)
    with pytest.raises(of.InvalidArgumentError, match="unknown option 'lrr'"):
        so.minimize(so.rosen, [0.0, 0.0], method=of.scipy_method("adam", lrr=0.1))




def test_scipy_method_honours_scipys_tol_and_options_and_warns_about_the_rest():
    method = of.scipy_method("lbfgs")
    with pytest.warns(so.OptimizeWarning, match="Unknown solver options: bogus"):
        r = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method, tol=1e-2,
                        options={"maxfun": 3, "bogus": 1})
    assert r.nfev <= 3 and r.optiframe_status == "max_nfev" and not r.success
    loose = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method, tol=1e-2)
    tight = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method)
    assert loose.success and loose.nit < tight.nit
    assert np.linalg.norm(so.rosen_der(loose.x)) <= 1e-2
    r = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method,
                    options={"maxiter": 4})
    assert r.nit == 4 and r.optiframe_status == "max_steps"
    r = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method,
                    options={"gtol": 1e-3, "ftol": 1e-30, "xtol": 0.0})
    assert np.linalg.norm(so.rosen_der(r.x)) <= 1e-3


def test_scipy_method_disp_prints_the_outcome(capsys):
    so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=of.scipy_method("lbfgs"),
                options={"disp": True})
    assert "optiframe_lbfgs: converged" in capsys.readouterr().out
