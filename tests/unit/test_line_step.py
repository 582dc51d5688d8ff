"""The step length as one piece (issue 20): a fixed step and a line search share
``StepLength.take``, which returns a named :class:`~optiframe.line_step.Trial`."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

import optiframe as of
from optiframe.assembly import bind
from optiframe.line_step import FixedStep, LineStep, Trial, line_step


def _bound(optimizer, fun="rosenbrock", point=False, K=3):
    runner = of.Runner(fun, optimizer, "analytic" if fun == "rosenbrock" else "central")
    return bind(runner, point, 2, 1 if point else K, 0)


@pytest.mark.parametrize(("optimizer", "kind"), [
    ("gd", FixedStep), (of.Adam(), FixedStep), ("lbfgs", LineStep), ("bfgs", LineStep),
    (of.GradientDescent(line_search="armijo"), LineStep)])
def test_a_run_binds_the_step_length_its_optimizer_asks_for(optimizer, kind):
    p = _bound(optimizer)
    assert type(p.step_length) is kind and p.step_length.searched is (kind is LineStep)


def test_a_fixed_step_takes_the_proposal_and_names_the_rows_whose_f_raised():
    def f(x):
        if x[0] > 10:
            raise ValueError("too far")
        return float(x @ x)

    p = _bound("gd", fun=f)
    X = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    X_prop = np.array([[0.5, 0.5], [20.0, 0.0], [1.0, 1.0]])
    s = types.SimpleNamespace(X=X, F=np.array([2.0, 8.0, 18.0]), step_size=np.full(3, np.nan))
    t = p.step_length.take(p, s, None, X_prop)
    assert isinstance(t, Trial) and t.X is X_prop
    assert t.F[0] == 0.5 and math.isnan(t.F[1]) and t.F[2] == 2.0
    assert list(t.errors) == [1] and isinstance(t.errors[1], ValueError)
    assert (t.nfev, t.njev, t.ok, t.resets) == (1, 0, True, 0)


def test_a_line_step_is_the_line_search_along_the_proposal():
    p = _bound("lbfgs")
    X = np.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0]])
    obj = of.Rosenbrock()
    F = np.array([obj.value(x) for x in X])
    G = np.array([obj.gradient(x) for x in X])
    args = (p, X, F, G, G, X - 1e-3 * G, np.full(3, math.nan), None, None)
    s = types.SimpleNamespace(X=X, step_size=args[6], rng=None, nfev=np.zeros(3, dtype=int),
                              SN=np.full(3, np.nan), fd_level=np.zeros(3, dtype=int))
    m = types.SimpleNamespace(F=F, G=G, PG=G, skip=None, mf=0, LV=None)
    t, direct = p.step_length.take(p, s, m, args[5]), line_step(*args)
    assert t.ok.all() and (t.F < F).all() and (t.nfev >= 1).all()
    for name in ("X", "F", "A", "G", "nfev", "njev", "ok", "resets", "gain"):
        assert np.array_equal(getattr(t, name), getattr(direct, name)), name


@pytest.mark.parametrize("starts", [None, np.array([[1.0, 2.0], [6.0, 1.0], [2.0, -1.0]])])
def test_a_row_whose_f_raises_on_a_fixed_step_fails_and_the_others_go_on(starts):
    def f(x):
        if 4.0 < x[0] < 5.0:  # the start at 6 steps to 4.8 (x -> 0.8 x)
            raise ValueError("outside the model's range")
        return float(x @ x)

    kw = dict(optimizer=of.GradientDescent(lr=0.1), gradient="central", max_steps=200)
    if starts is None:
        with pytest.raises(ValueError, match="outside the model's range") as caught:
            of.minimize(f, [6.0, 1.0], **kw)  # one start: the error propagates
        partial = caught.value.result
        assert partial.status == "failed" and partial.nit == 0 and partial.x[0] == 6.0
        return
    r = of.minimize(f, starts=starts, **kw)
    assert [o.status for o in r.starts] == ["converged", "failed", "converged"]
    failed = r.starts[1]
    assert "the objective raised at step 0" in failed.message and failed.x[0] == 6.0



@pytest.mark.parametrize("n", [1, 2, 3, 8, 9, 10, 64, 65, 200])
def test_a_single_starts_step_length_has_a_stack_rows_bits(n):
    # a line search's retry along the steepest descent starts from the last step's length:
    # a single start computing it with math.dist (rounded better) stepped apart from the
    # same start in a stack by an ulp
    from optiframe.problem import row_dist, row_dists

    rng = np.random.default_rng(n)
    for scale in (1e-300, 1e-8, 1.0, 3.7, 1e150, 1e200, 1e308):  # (1e308: inf, NaN)
        with np.errstate(over="ignore", invalid="ignore"):
            A, B = rng.normal(size=(40, n)) * scale, rng.normal(size=(40, n)) * scale
            rows = row_dists(A, B)
            got = [row_dist(a, b) for a, b in zip(A, B, strict=True)]
        assert np.array_equal(np.array(got), rows, equal_nan=True)
    bad = np.zeros(n)
    bad[-1] = math.nan
    assert math.isnan(row_dist(bad, np.zeros(n)))
    bad[-1] = math.inf
    assert row_dist(bad, np.zeros(n)) == math.inf


def test_a_bounded_lbfgs_start_with_a_retry_ends_in_a_stack_as_alone():
    # bench_hostile seed 11, run 409: forward differences on |x - 0.3| in a box; the
    # direction is reset to the steepest descent, whose length was the last step's norm
    # by math.dist alone and by a row's sum of squares in the stack
    lo, hi = -2.4376160600597263, 2.180564641050521
    starts = np.clip(np.array([
        [2.18056464, -2.43761606, -2.43761606, -0.3217017, 2.18056464, -2.43761606,
         2.18056464, -2.43761606, 2.18056464, 2.18056464],
        [2.18056464, -2.32078391, -1.38117324, -0.82898323, 0.7466787, -1.85535377,
         2.18056464, -2.43761606, 2.18056464, 1.8217264]]), lo, hi)

    def f(x):
        return float(np.sum(np.abs(x - 0.3)))

    kw = dict(optimizer={"name": "lbfgs", "memory": 3}, bounds=[(lo, hi)] * 10,
              gradient="forward")
    stack = of.minimize(f, starts=starts, **kw)
    assert any(o.message.count("reset it to the steepest descent") for o in stack.starts)
    for k, o in enumerate(stack.starts):
        alone = of.minimize(f, starts[k], **kw)
        assert np.array_equal(o.x, alone.x)
        assert (o.fun, o.nit, o.nfev, str(o.status)) == (alone.fun, alone.nit, alone.nfev,
                                                          str(alone.status))


def test_a_stacks_rows_at_different_difference_levels_search_as_alone():
    # bench_hostile seed 38, run 691: adaptive differences, start 0 at forward
    # differences (a gradient costs 1), start 2 at central ones (2); the search tested
    # every row's budget at the dearest cost, so start 0 stopped with 2 evaluations left
    # (16 of its 18) where alone it used them (18)
    starts = np.array([[1.8393918994258227], [0.9010361182054386], [1.8261087668146054]])

    def f(x):
        return float(np.exp(np.sum(x)) + np.sum(x**2))

    stack = of.minimize(f, starts=starts, seed=686, max_nfev=54, gradient="auto")
    assert [o.nfev for o in stack.starts] == [18, 18, 18]
    for k, o in enumerate(stack.starts):
        alone = of.minimize(f, starts[k], seed=686, max_nfev=18, gradient="auto",
                            raise_errors=False)
        assert np.array_equal(o.x, alone.x) and o.message == alone.message
        assert (o.fun, o.nit, o.nfev, str(o.status)) == (alone.fun, alone.nit, alone.nfev,
                                                          str(alone.status))


def test_a_failed_steepest_descent_search_is_not_searched_again():
    # an empty L-BFGS memory proposes the steepest-descent step: when its search fails
    # (here the gradient given is -f's), the restart along the steepest descent would
    # try the same points again (it did: 33 evaluations, 17 of them distinct)
    calls = []

    def f(x):
        calls.append(tuple(x))
        return float(x @ x)

    r = of.minimize(f, [1.0, 2.0], jac=lambda x: -2.0 * x)
    assert r.status == "line_search" and "check_gradient=True" in r.message
    assert len(calls) == len(set(calls)) == r.nfev
    assert "reset it to the steepest descent" not in r.message
