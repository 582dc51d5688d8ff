"""Faults in what the user hands a run: values, gradients and bounds (issue 22 and before).

Every case is data: the input, and the status or error it must give. Each failed before
its fix (a wrong answer, a raw exception) and passes after it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import optiframe as of


def parabola(x):
    return float((x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2)


class StringOffStart(of.Objective):
    """Returns a float at x0 and the string "3" everywhere else: only finite differences,
    line-search trials or later steps see the string (issue 22, item 16)."""

    dim = 2

    def __init__(self, x0):
        self.x0 = np.asarray(x0, dtype=float)

    def value(self, x):
        return float(x @ x) if np.array_equal(x, self.x0) else "3"


# -- values that are not real numbers: a clear type error on every path --------------------
STRING_PATHS = [
    ("central differences", dict(gradient="central", optimizer="gd")),
    ("forward differences", dict(gradient="forward", optimizer="gd")),
    ("line-search trials", dict(gradient="central", optimizer="lbfgs")),
    ("fixed step, then f at the new point", dict(gradient="spsa", optimizer="gd", seed=0)),
]


@pytest.mark.parametrize("how", [c[1] for c in STRING_PATHS], ids=[c[0] for c in STRING_PATHS])
def test_a_string_value_is_a_type_error_never_a_number(how):
    x0 = [1.0, 2.0]
    r = of.minimize(StringOffStart(x0), x0, raise_errors=False, **how)
    assert r.status == "failed" and not r.success
    assert "must return a real number, got str: '3'" in r.message


def test_a_string_value_in_a_stack_fails_its_rows_with_the_type_error():
    x0 = np.array([1.0, 2.0])
    r = of.minimize(StringOffStart(x0), starts=np.array([x0, x0 + 1]), optimizer="gd",
                    gradient="central", raise_errors=False)
    assert {s.status for s in r.starts} == {"failed"}
    assert all("real number" in s.message for s in r.starts)


def test_a_vectorized_function_returning_strings_is_refused():
    f = of.FunctionObjective.from_callable(lambda X: np.array(["1"] * len(X)), vectorized=True)
    with pytest.raises(of.InvalidTypeError, match=r"must return real numbers.*dtype <U1"):
        f.values(np.ones((2, 2)))


# -- values that hold one real number are that number (item 18) ---------------------------
ONE_NUMBER = [
    ("np.longdouble", lambda x: np.longdouble(np.sum((x - 1.0) ** 2))),
    ("(1, 1) np.matrix", lambda x: np.matrix([[float(np.sum((x - 1.0) ** 2))]])),
    ("one-element masked array", lambda x: np.ma.masked_array([np.sum((x - 1.0) ** 2)])),
    ("(1, 1) ndarray", lambda x: np.array([[np.sum((x - 1.0) ** 2)]])),
]


@pytest.mark.parametrize("fun", [c[1] for c in ONE_NUMBER], ids=[c[0] for c in ONE_NUMBER])
def test_a_value_holding_one_number_is_accepted(fun):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix
        r = of.minimize(fun, [3.0, 3.0])
    assert r.status == "converged"
    np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-6)


def test_a_longdouble_x0_runs():
    r = of.minimize(lambda x: np.sum((x - 1.0) ** 2), np.array([3.0, 3.0], dtype=np.longdouble))
    assert r.status == "converged"
    np.testing.assert_allclose(np.asarray(r.x, dtype=float), [1.0, 1.0], atol=1e-6)


def test_a_masked_value_is_nan_not_zero():
    from optiframe.objective import as_scalar

    assert np.isnan(as_scalar(np.ma.masked_array([1.0], mask=[True])))


# -- complex gradients are refused (item 14) -----------------------------------------------
def test_check_gradient_refuses_a_complex_gradient():
    with pytest.raises(of.InvalidTypeError, match="complex"):
        of.check_gradient(lambda x: float(x @ x), lambda x: 2 * x + 1j, np.ones(2))


def test_a_run_refuses_a_complex_gradient():
    r = of.minimize(lambda x: float(x @ x), [1.0, 2.0], jac=lambda x: 2 * x + 1j,
                    raise_errors=False)
    assert r.status == "failed" and not r.success
    assert "complex" in r.message


# -- bounds (items 8 and 17) -----------------------------------------------------------------
@pytest.mark.parametrize("gradient", ["central", "forward", "analytic"])
@pytest.mark.parametrize("optimizer", ["lbfgs", "gd", "adam"])
def test_a_fixed_variable_stays_put_and_the_others_converge(gradient, optimizer):
    f = of.FunctionObjective.from_callable(
        parabola, gradient=lambda x: np.array([2 * (x[0] - 1.0), 2 * (x[1] - 2.0)]))
    opt = {"gd": of.GradientDescent(lr=0.25), "adam": of.Adam(lr=0.1)}.get(optimizer,
                                                                          optimizer)
    r = of.minimize(f, [0.5, 3.0], bounds=[(0, 2), (3, 3)], gradient=gradient,
                    optimizer=opt, max_steps=2000)
    assert r.status == "converged", r.message
    assert r.x[1] == 3.0 and abs(r.x[0] - 1.0) < 1e-4
    assert not np.isnan(r.history.grad_norm[:-1]).any()  # no NaN gradient along the way


def test_finite_differences_give_slope_zero_on_a_fixed_coordinate():
    est = of.CentralDifference()
    from optiframe.bounds import as_box

    box = as_box([(0, 2), (3, 3)], 2)
    g = est.bind(of.FunctionObjective.from_callable(parabola), box)(np.array([0.5, 3.0]))
    assert g[1] == 0.0 and abs(g[0] + 1.0) < 1e-6
    g = of.ForwardDifference().bind(of.FunctionObjective.from_callable(parabola), box)(
        np.array([0.5, 3.0]))
    assert g[1] == 0.0


@pytest.mark.parametrize("pair", [(np.inf, np.inf), (-np.inf, -np.inf), (float("inf"), None),
                                  (None, -np.inf)])
def test_a_bound_pair_without_a_finite_value_is_refused_by_name(pair):
    with pytest.raises(of.InvalidArgumentError, match=r"'bounds'\[1\] leaves no finite value"):
        of.minimize(parabola, [1.0, 1.0], bounds=[(0, 1), pair])
