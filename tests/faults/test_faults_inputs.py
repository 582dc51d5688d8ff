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


class _ShortValues(of.Objective):
    """A vectorized objective whose ``values`` drops the last point (a bug of its own)."""

    def __init__(self):
        self.calls = 0

    def value(self, x):
        return float(x @ x)

    def values(self, X):
        self.calls += 1
        return np.sum(X**2, axis=1)[:-1]


class _FlatGradients(of.Objective):
    def value(self, x):
        return float(x @ x)

    def gradient(self, x):
        return 2.0 * x

    def gradients(self, X):
        return 2.0 * X[:, :1]  # one number per point, not one per coordinate


def test_a_stacked_evaluation_of_the_wrong_shape_says_so_instead_of_failing_each_row():
    # it used to fail every start with "the objective raised: cannot reshape array of
    # size 0 into shape ()", after asking each row alone as if one had raised
    f = _ShortValues()
    with pytest.raises(of.InvalidTypeError, match=r"_ShortValues.values must return one value "
                       r"per point: given 3 points, an array of shape \(3,\); it returned "
                       r"shape \(2,\)"):
        of.minimize(f, starts=np.ones((3, 2)))
    assert f.calls == 1  # no row asked again alone
    for how in (dict(gradient="central"), dict(gradient="forward", bounds=[(0.0, 3.0)] * 2),
                dict(gradient="spsa", seed=0)):  # a single start's differences too (it
        with pytest.raises(of.InvalidTypeError, match=r"_ShortValues.values must return one "
                           r"value per point: given \d+ points"):  # raised numpy's
            of.minimize(_ShortValues(), [1.0, 2.0], **how)  # "cannot reshape array")
    r = of.minimize(_FlatGradients(), starts=np.ones((3, 2)), optimizer="gd")
    assert {s.status for s in r.starts} == {"failed"}
    assert ("_FlatGradients.gradients must return one gradient of 2 numbers per point: "
            "given 3 points, an array of shape (3, 2); it returned shape (3, 1)") in r.message


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


def quad(x):
    return float(x @ x)


def with_gradient(g):
    return of.FunctionObjective.from_callable(quad, gradient=g)


class Valued(of.Objective):
    """An Objective subclass whose value() returns ``out`` (no analytic gradient)."""

    dim = 2

    def __init__(self, out):
        self.out = out

    def value(self, x):
        return self.out(x)


def writes_into_x(x):
    v = float((x[0] - 3) ** 2 + (x[1] + 1) ** 2)
    x[:] = 0.0
    return v


# -- wrong answers and crashes in a run: (id, call, status, message pattern) ---------------
RUN_CASES = [
    ("gradient of shape (1,) for 3-D x",
     lambda: of.minimize(with_gradient(lambda x: np.ones(1)), np.ones(3), gradient="analytic",
                         optimizer="gd", raise_errors=False),
     "failed", r"gradient of .* must return an array of x's shape \(3,\).*shape \(1,\)"),
    ("gradient a scalar", lambda: of.minimize(with_gradient(lambda x: 1.0), [1.0, 2.0],
                                              gradient="analytic", optimizer="gd",
                                                  raise_errors=False),
     "failed", r"x's shape \(2,\).*returned float 1.0"),
    ("gradient None", lambda: of.minimize(with_gradient(lambda x: None), [1.0, 2.0],
                                          gradient="analytic", optimizer="gd", raise_errors=False),
     "failed", r"x's shape \(2,\).*returned NoneType None"),
    ("gradient a str", lambda: of.minimize(with_gradient(lambda x: "a"), [1.0, 2.0],
                                           gradient="analytic", optimizer="gd", raise_errors=False),
     "failed", r"x's shape \(2,\).*returned str 'a'"),
    ("gradient (n, 1)", lambda: of.minimize(with_gradient(lambda x: np.ones((2, 1))),
                                            [1.0, 2.0], gradient="analytic", optimizer="gd",
                                                raise_errors=False),
     "failed", r"x's shape \(2,\).*shape \(2, 1\)"),
    ("gradient (n + 1,)", lambda: of.minimize(with_gradient(lambda x: np.ones(3)), [1.0, 2.0],
                                              gradient="analytic", optimizer="gd",
                                                  raise_errors=False),
     "failed", r"x's shape \(2,\).*shape \(3,\)"),
    ("value() an array [f] on the finite-difference path",
     lambda: of.minimize(Valued(lambda x: np.array([float(x @ x)])), [1.0, 2.0],
                         optimizer="gd", max_steps=3000, raise_errors=False),
     "converged", r"gradient norm"),
    ("objective writes into x", lambda: of.minimize(writes_into_x, [1.0, 2.0], optimizer="gd",
                                                    raise_errors=False),
     "failed", r"read-only.*copy x before changing it"),
    ("f0 above 1.8e300: the divergence limit overflows",
     lambda: of.minimize(lambda x: float(1e305 * (1 + x @ x)), [1.0],
                         optimizer=of.GradientDescent(lr=1e-300), raise_errors=False),
     "diverged", r"overflowed|f = "),
    ("divergence_factor=1e308",
     lambda: of.minimize(quad, [1.0], optimizer=of.GradientDescent(lr=10.0),
                         divergence_factor=1e308, raise_errors=False),
     "diverged", r"step"),
    ("adam with gradients beyond 1e154",
     lambda: of.minimize(lambda x: float(1e160 * x @ x), [1.0, 1.0], optimizer="adam",
                         gradient="central", raise_errors=False),
     "nan", r"optimizer's state overflowed to inf at step 1.*rescale the objective"),
    ("workers=np.int64(1)",
     lambda: of.minimize("sphere", starts=np.ones((2, 2)), workers=np.int64(1),
                         optimizer="gd", raise_errors=False),
     "converged", r"Best of 2 starts"),
]


@pytest.mark.parametrize(("call", "status", "pattern"), [c[1:] for c in RUN_CASES],
                         ids=[c[0] for c in RUN_CASES])
def test_run_faults_end_in_a_clear_status(call, status, pattern):
    import re

    r = call()
    assert str(r.status) == status, r.message
    assert re.search(pattern, r.message), r.message


# -- refused before any work: (id, call, error, pattern) ----------------------------------
REFUSED = [
    ("value() returns the str '3'",
     lambda: of.minimize(Valued(lambda x: "3"), [1.0, 2.0], gradient="central", optimizer="gd",
                         raise_errors=False),
     of.InvalidTypeError, r"must return a real number, got str: '3'"),
    ("value() returns None",
     lambda: of.minimize(Valued(lambda x: None), [1.0, 2.0], gradient="central",
                         optimizer="gd", raise_errors=False),
     of.InvalidTypeError, r"must return a real number, got NoneType"),
    ("multi-start bounds of +-1e308",
     lambda: of.minimize("sphere", starts=of.MultiStart(3, bounds=[(-1e308, 1e308)] * 2),
                         optimizer="gd", raise_errors=False),
     of.InvalidArgumentError, r"'bounds'\[0\] is too wide to sample from"),
    ("a starts array holding a string",
     lambda: of.minimize("sphere", starts=np.array([[1.0, 2.0], ["a", 1.0]], dtype=object),
                         optimizer="gd", raise_errors=False),
     of.InvalidArgumentError, r"starts"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_bad_input_is_refused_naming_it(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_an_objective_keeps_the_points_it_is_given_unchanged():
    kept = []

    def storing(x):
        kept.append((x, x.copy()))
        return float(x @ x)

    of.minimize(storing, [1.0, 2.0], optimizer="gd", gradient="central", max_steps=5,
                raise_errors=False)
    assert len(kept) > 10
    assert all(np.array_equal(x, copy) for x, copy in kept)  # no buffer reused under them


def test_a_refused_run_writes_nothing(tmp_path):
    with pytest.raises(of.InvalidArgumentError):
        of.minimize("sphere", [1.0], optimizer="gd", max_steps=-1,
                    stream_history=tmp_path / "a" / "h.jsonl", checkpoint=tmp_path / "ck",
                        raise_errors=False)
    assert list(tmp_path.iterdir()) == []
