"""L-BFGS and BFGS (issue 12): the recursion, the rejected pairs, the answers scipy finds."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import optiframe as of
from optiframe.mgh import PROBLEMS
from optiframe.optimizers.quasinewton import LBFGSState, _two_loop


def explicit_inverse_hessian(pairs, n):
    """The L-BFGS matrix built by the BFGS update formula, oldest pair first, from the
    identity scaled by the newest pair's s.y / y.y."""
    s, y = pairs[-1]
    H = np.eye(n) * (s @ y) / (y @ y)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        V = np.eye(n) - rho * np.outer(s, y)
        H = V @ H @ V.T + rho * np.outer(s, s)
    return H


@pytest.mark.parametrize("stored", [1, 3, 5])
def test_the_two_loop_recursion_applies_the_explicit_lbfgs_matrix(stored):
    rng = np.random.default_rng(stored)
    n, m = 6, 5
    A = rng.normal(size=(n, n))
    A = A @ A.T + n * np.eye(n)  # curvature pairs of a convex quadratic: y = A s
    pairs = [(s, A @ s) for s in rng.normal(size=(stored, n))]
    S, Y, rho = np.zeros((1, m, n)), np.zeros((1, m, n)), np.zeros((1, m))
    head = 3  # a ring buffer that has wrapped around
    for i, (s, y) in enumerate(pairs):
        j = (head - stored + i) % m
        S[0, j], Y[0, j], rho[0, j] = s, y, 1.0 / (s @ y)
    g = rng.normal(size=(1, n))
    got = _two_loop(g, S, Y, rho, np.array([head]), np.array([stored]))
    np.testing.assert_allclose(got[0], explicit_inverse_hessian(pairs, n) @ g[0], rtol=1e-12)


@pytest.mark.parametrize("name", ["rosenbrock", "beale", "helical-valley", "wood",
                                  "powell-singular", "chebyquad"])
@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs"])
def test_it_reaches_the_minimum_scipy_reaches_on_mgh_problems(name, optimizer):
    so = pytest.importorskip("scipy.optimize")
    p = PROBLEMS[name]()
    r = of.minimize(p, p.x0, optimizer=optimizer, gtol=1e-10, max_steps=5000)
    s = so.minimize(p.value, p.x0, jac=p.gradient, method="L-BFGS-B",
                    options=dict(gtol=1e-10, ftol=0, maxiter=5000))
    assert r.status in ("converged", "line_search")
    assert r.fun <= max(s.fun, p.f_star) + 1e-8 * max(1.0, abs(p.f_star))


def test_a_pair_without_positive_curvature_is_rejected_and_the_descent_goes_on():
    # concave along x[1] near the start: the first pairs have s.y < 0
    def f(x):
        return float((x[0] - 1) ** 2 + np.cos(x[1]) + 0.05 * x[1] ** 2)

    opt = of.LBFGS()
    state = opt.init(np.array([0.0, 0.1]))
    _, state = opt.step(np.array([0.0, 0.1]), np.array([-2.0, -np.sin(0.1) + 0.01]), state)
    # a step along x[1] with the gradient turning further downhill: s.y < 0
    x2 = np.array([0.0, 0.3])
    g2 = np.array([-2.0, -np.sin(0.3) + 0.03 - 1.0])
    _, state = opt.step(x2, g2, state)
    assert state.rejected.tolist() == [1] and state.count.tolist() == [0]
    r = of.minimize(f, [0.0, 0.1], optimizer="lbfgs", gradient="central")
    assert r.status == "converged"
    assert abs(r.x[0] - 1) < 1e-6 and abs(-np.sin(r.x[1]) + 0.1 * r.x[1]) < 1e-6


def test_multistart_lbfgs_rows_equal_single_runs_on_every_executor():
    starts = np.array([[-1.2, 1.0], [2.0, 2.0], [0.5, -1.0], [-3.0, -3.0]])
    stack = of.minimize("rosenbrock", starts=starts)
    serial = of.minimize("rosenbrock", starts=starts, workers="serial")
    for i, x0 in enumerate(starts):
        one = of.minimize("rosenbrock", x0)
        for row in (stack.starts[i], serial.starts[i]):
            assert (row.nit, row.nfev, row.njev) == (one.nit, one.nfev, one.njev)
            np.testing.assert_array_equal(row.x, one.x)


def test_the_defaults_solve_the_acceptance_examples():
    r = of.minimize("rosenbrock", [-1.2, 1.0])
    assert r.status == "converged" and np.allclose(r.x, 1.0, atol=1e-6)
    assert r.nfev < 100

    def f(x):
        return float(np.sum((x - np.array([2.0, -3.0, 0.5])) ** 2) + np.prod(np.cos(x)))

    r = of.minimize(f, np.zeros(3), optimizer="lbfgs", gradient="central")
    assert r.status == "converged"
    np.testing.assert_allclose(of.CentralDifference().gradient(
        of.FunctionObjective.from_callable(f), r.x), 0.0, atol=1e-6)


def test_quasi_newton_settings_are_checked():
    with pytest.raises(of.InvalidArgumentError, match="'memory' must be >= 1: 0"):
        of.LBFGS(memory=0)
    with pytest.raises(of.InvalidArgumentError, match="'lr' must be > 0"):
        of.BFGS(lr=-1.0)


@pytest.mark.parametrize("optimizer", ["bfgs", "lbfgs"])
def test_hess_inv_approximates_the_inverse_hessian_as_scipys_does(optimizer):
    rng = np.random.default_rng(3)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + 4 * np.eye(4)
    r = of.minimize(lambda x: float(0.5 * x @ A @ x), np.ones(4), optimizer=optimizer,
                    jac=lambda x: A @ x, tol=1e-12)
    assert r.success and r["hess_inv"] is r.hess_inv
    np.testing.assert_allclose(r.hess_inv @ A, np.eye(4), atol=0.05)
    assert of.minimize("sphere", [1.0, 2.0], optimizer="gd").hess_inv is None


def test_hess_inv_is_computed_on_first_access_only_and_survives_pickling():
    import pickle

    class Counting(of.LBFGS):
        calls = 0

        def inverse_hessian(self, state):
            type(self).calls += 1
            return super().inverse_hessian(state)

    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=Counting())
    assert Counting.calls == 0  # the run did not build the n x n matrix
    H = r.hess_inv
    assert Counting.calls == 1 and H.shape == (2, 2) and r.hess_inv is H
    again = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(again.hess_inv, H)
    assert Counting.calls == 1  # the pickle carries the matrix, not the optimizer


def test_hess_inv_is_none_where_the_optimizers_state_cannot_give_one():
    class Unreadable(of.LBFGS):
        def inverse_hessian(self, state):
            raise RuntimeError("no matrix here")

    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=Unreadable())
    assert r.success and r.hess_inv is None


def test_a_unit_lr_takes_the_short_way_with_the_same_bits():
    # lr == 1.0 subtracts H g from x; any other lr type goes x + lr * (-H g)
    short = of.minimize("rosenbrock", [-1.2, 1.0, -1.2, 1.0], optimizer=of.LBFGS(lr=1.0))
    general = of.minimize("rosenbrock", [-1.2, 1.0, -1.2, 1.0],
                          optimizer=of.LBFGS(lr=np.float64(1.0)))
    assert short.nit == general.nit > 10 and short.nfev == general.nfev
    np.testing.assert_array_equal(short.x, general.x)
    np.testing.assert_array_equal(short.history.fun, general.history.fun)


def test_the_two_loop_of_one_start_gives_the_rows_bits():
    # the one-row path (views of the memory) against the rows' loop (gathers and masks)
    from optiframe.optimizers import quasinewton as q

    rng = np.random.default_rng(0)
    for _ in range(200):
        K, m, n = 3, 5, 4
        S = rng.normal(size=(K, m, n))
        Y = S * rng.uniform(0.5, 2.0, size=(K, m, n))
        rho = 1.0 / np.einsum("kmn,kmn->km", S, Y)
        count, head = rng.integers(0, m + 1, size=K), rng.integers(0, m, size=K)
        G = rng.normal(size=(K, n))
        rows = q._two_loop(G, S, Y, rho, head, count)
        for k in range(K):
            one = q._two_loop(G[k:k + 1], S[k:k + 1], Y[k:k + 1], rho[k:k + 1],
                              head[k:k + 1], count[k:k + 1])
            assert np.array_equal(one[0], rows[k])


def test_the_one_row_two_loop_recursion_gives_the_rows_loops_bits():
    from optiframe.optimizers.quasinewton import _two_loop, _two_loop_one

    rng = np.random.default_rng(1)
    for i in range(400):
        n, m = int(rng.integers(1, 200 if i % 4 else 1500)), int(rng.integers(1, 12))
        count, head = int(rng.integers(0, m + 1)), int(rng.integers(0, m))
        S = rng.standard_normal((2, m, n))
        Y = S + 0.1 * rng.standard_normal((2, m, n))
        rho = 1.0 / np.einsum("kmn,kmn->km", S, Y)
        G = rng.standard_normal((2, n)) * 10 ** rng.uniform(-3, 3)
        rows = _two_loop(G, S, Y, rho, np.array([head, head]), np.array([count, count]))
        one = _two_loop_one(G[:1], S[:1], Y[:1], rho[:1], head, count)
        assert np.array_equal(rows[0], one[0])


def test_a_single_starts_step_gives_the_stacks_bits():
    # LBFGS.step of one row (Python flags, _pair_one, _two_loop_one) against the same row
    # in a stack of three: pairs kept and rejected, overflowing scales, empty memories,
    # short rows and rows long enough for numpy's vectorized sums (numpy's overflow
    # warnings off, as a run steps)
    rng = np.random.default_rng(5)
    opt = of.LBFGS(memory=4)
    with np.errstate(over="ignore", invalid="ignore"):
        _single_rows_against_the_stack(rng, opt)


def _single_rows_against_the_stack(rng: np.random.Generator, opt: of.LBFGS) -> None:
    for i in range(80):
        n = int(rng.integers(1, 8)) if i % 4 else int(rng.integers(8, 300))
        scale = 10.0 ** rng.choice([0, 0, 150, 200, -150])
        X = rng.normal(size=(3, n))
        state = opt.init(X)
        for _ in range(int(rng.integers(1, 9))):
            G = rng.normal(size=(3, n)) * scale
            if rng.random() < 0.2:
                G[int(rng.integers(3))] = 0.0  # a zero gradient change: no pair
            proposal, new = opt.step(X, G, state)
            for k in range(3):
                row = LBFGSState(**{name: getattr(state, name)[k:k + 1]
                                    for name in attrs.fields_dict(LBFGSState)})
                one, one_state = opt.step(X[k], G[k], row)
                assert np.array_equal(one, proposal[k], equal_nan=True)
                for name in attrs.fields_dict(LBFGSState):
                    assert np.array_equal(getattr(one_state, name)[0],
                                          getattr(new, name)[k], equal_nan=True), name
            X, state = X + rng.normal(size=(3, n)) * rng.choice([1e-3, 1.0]), new


def test_a_single_start_whose_dot_products_overflow_under_raise_goes_the_classic_way():
    # a step outside a run, numpy set to raise: gradients of 1e200 overflow the
    # recursion's dot products (y.q), not the classic loop's (y.z, z = gamma q); the
    # single start's step falls back as the stack's does under the run's errstate
    rng = np.random.default_rng(5)
    opt = of.LBFGS(memory=4)
    compared = 0
    for i in range(20):
        n = int(rng.integers(1, 8)) if i % 2 else int(rng.integers(8, 100))
        X = rng.normal(size=(3, n))
        state = opt.init(X)
        for _ in range(6):
            G = rng.normal(size=(3, n)) * 1e200
            with np.errstate(over="ignore", invalid="ignore"):
                proposal, new = opt.step(X, G, state)
            for k in range(3):
                row = LBFGSState(**{name: getattr(state, name)[k:k + 1]
                                    for name in attrs.fields_dict(LBFGSState)})
                with np.errstate(all="raise"):
                    one, _ = opt.step(X[k], G[k], row)
                assert np.array_equal(one, proposal[k], equal_nan=True)
                compared += int(np.isfinite(one).all())
            X, state = X + rng.normal(size=(3, n)), new
    assert compared > 300  # (finite steps: the classic loop took over)


def test_the_dot_product_recursion_matches_the_classic_one_and_takes_over_when_it_overflows():
    from optiframe.optimizers.quasinewton import _two_loop, _two_loop_classic

    rng = np.random.default_rng(2)
    for _ in range(200):
        K, m, n = 3, int(rng.integers(1, 11)), int(rng.integers(1, 40))
        S = rng.standard_normal((K, m, n))
        Y = S + 0.3 * rng.standard_normal((K, m, n))
        rho = 1.0 / np.einsum("kmn,kmn->km", S, Y)
        count, head = rng.integers(0, m + 1, size=K), rng.integers(0, m, size=K)
        G = rng.standard_normal((K, n))
        classic = _two_loop_classic(G, S, Y, rho, head, count)
        np.testing.assert_allclose(_two_loop(G, S, Y, rho, head, count), classic,
                                   rtol=1e-9, atol=1e-9 * np.abs(classic).max())
    # y of 1e200: y.y overflows, so the rows go the classic way (a direction, not NaN)
    S, Y = rng.standard_normal((2, 3, 4)), 1e200 * rng.standard_normal((2, 3, 4))
    rho = 1.0 / np.einsum("kmn,kmn->km", S, Y)
    G = 1e200 * rng.standard_normal((2, 4))
    head, count = np.array([0, 0]), np.array([3, 3])
    got = _two_loop(G, S, Y, rho, head, count)
    assert np.isfinite(got).all()
    assert np.array_equal(got, _two_loop_classic(G, S, Y, rho, head, count))


def test_a_single_starts_head_and_count_are_shared_only_read_only():
    # one start's head and count are one-element arrays shared between states (made once
    # per value): writing into one must fail rather than change another state
    opt, rng = of.LBFGS(memory=3), np.random.default_rng(3)
    A = np.diag([1.0, 4.0, 9.0])  # g = A x: every pair has s.y > 0 and is kept
    x = rng.normal(size=3)
    state, states = opt.init(x), []
    for _ in range(6):
        _, state = opt.step(x, A @ x, state)
        states.append(state)
        x = x + rng.normal(size=3)
    assert [int(s.count[0]) for s in states] == [0, 1, 2, 3, 3, 3]
    assert [int(s.head[0]) for s in states] == [0, 1, 2, 0, 1, 2]
    assert states[2].head is states[5].head  # the same value, the same array
    for s in states[1:]:
        for field in (s.head, s.count):
            with pytest.raises(ValueError, match="read-only"):
                field[0] = 7
    assert int(states[5].head[0]) == 2 and int(states[5].count[0]) == 3
