"""Line searches (issue 12): the conditions they promise, their counts, their faults."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest

import optiframe as of
from optiframe.linesearch import SearchResult, SearchTask


def rosen(X):
    X = np.atleast_2d(X)
    return np.sum(100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2, axis=1)


def rosen_grad(X):
    X = np.atleast_2d(X)
    g = np.zeros_like(X)
    g[:, :-1] = -400 * X[:, :-1] * (X[:, 1:] - X[:, :-1] ** 2) - 2 * (1 - X[:, :-1])
    g[:, 1:] += 200 * (X[:, 1:] - X[:, :-1] ** 2)
    return g


def task_of(X, D, alpha0=1.0, counts=None, values=rosen, cheap=False):
    """A search task on Rosenbrock for the rows of X along D, counting the calls."""
    counts = {"f": 0, "g": 0} if counts is None else counts

    def vals(P, rows):
        counts["f"] += len(P)
        return values(P)

    def grads(P, rows, F):
        counts["g"] += len(P)
        return rosen_grad(P)

    X = np.asarray(X, float)
    return SearchTask(X=X, F=rosen(X), G=rosen_grad(X), D=np.asarray(D, float),
                      alpha0=np.full(len(X), alpha0), alpha_max=np.full(len(X), math.inf),
                      values=vals, gradients=grads, cheap_gradients=cheap), counts


STARTS = np.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0], [1.5, -0.5]])


@pytest.mark.parametrize("search", [of.Armijo(), of.StrongWolfe()], ids=["armijo", "wolfe"])
def test_each_row_accepts_its_own_step_meeting_the_sufficient_decrease(search):
    D = -rosen_grad(STARTS)
    task, counts = task_of(STARTS, D)
    res = search.search(task)
    assert isinstance(res, SearchResult) and res.ok.all()
    slope = np.einsum("ij,ij->i", task.G, D)
    np.testing.assert_allclose(res.X, STARTS + res.alpha[:, None] * D)
    np.testing.assert_array_equal(res.F, rosen(res.X))
    assert (task.F + search.c1 * res.alpha * slope >= res.F).all()
    assert len(set(res.alpha.round(12).tolist())) > 1  # not one length for all
    assert res.nfev.sum() == counts["f"] and res.njev.sum() == counts["g"]


@pytest.mark.parametrize("cheap", [False, True])
def test_wolfe_steps_meet_the_strong_curvature_condition(cheap):
    D = -rosen_grad(STARTS)
    search = of.StrongWolfe()
    task, counts = task_of(STARTS, D, cheap=cheap)
    res = search.search(task)
    assert res.ok.all()
    d0 = np.einsum("ij,ij->i", task.G, D)
    d1 = np.einsum("ij,ij->i", rosen_grad(res.X), D)
    assert (np.abs(d1) <= -search.c2 * d0 + 1e-12).all()
    np.testing.assert_allclose(res.G, rosen_grad(res.X))  # handed to the next step
    assert res.nfev.sum() == counts["f"] and res.njev.sum() == counts["g"]
    if cheap:  # a gradient at every trial, as scipy's and torch's searches take
        assert (res.njev == res.nfev).all()


@pytest.mark.parametrize("search", [of.Armijo(), of.StrongWolfe()], ids=["armijo", "wolfe"])
def test_a_nan_or_inf_trial_shrinks_the_step(search):
    def poisoned(P):  # NaN beyond 0.5 along the direction, inf beyond 0.3
        f = rosen(P)
        far = np.abs(P[:, 0] - STARTS[0, 0])
        return np.where(far > 0.5, np.nan, np.where(far > 0.3, np.inf, f))

    D = np.array([[1.0, 0.0]])
    task, _ = task_of(STARTS[:1], D, alpha0=4.0, values=poisoned)
    task = attrs.evolve(task, G=np.array([[-1.0, 0.0]]))  # a descent direction by fiat
    res = search.search(task)
    assert res.ok.all() and np.isfinite(res.F).all() and res.alpha[0] <= 0.3


def test_armijo_example_from_the_issue_converges_where_the_fixed_step_diverges():
    fixed = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.GradientDescent(lr=1.0))
    assert fixed.status == "diverged"
    assert "line_search='armijo'" in fixed.message
    searched = of.minimize("rosenbrock", [-1.2, 1.0], max_steps=20000,
                           optimizer=of.GradientDescent(lr=1.0, line_search="armijo"))
    assert searched.status == "converged"
    np.testing.assert_allclose(searched.x, [1.0, 1.0], atol=1e-6)


class Counting(of.Objective):
    dim = 3

    def __init__(self):
        self.f = self.g = 0

    def value(self, x):
        self.f += 1
        return float(np.sum((x - 1.0) ** 4) + np.sum(x**2))

    def gradient(self, x):
        self.g += 1
        return 4 * (x - 1.0) ** 3 + 2 * x


@pytest.mark.parametrize("gradient", ["analytic", "central", "forward"])
@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", {"name": "gd", "lr": 1.0,
                                                         "line_search": "armijo"}],
                         ids=["lbfgs", "bfgs", "gd-armijo"])
def test_nfev_and_njev_count_every_trial_evaluation(optimizer, gradient):
    obj = Counting()
    r = of.minimize(obj, [3.0, -2.0, 0.5], optimizer=optimizer, gradient=gradient)
    assert r.status == "converged"
    assert r.nfev == obj.f and r.njev == obj.g + (0 if gradient == "analytic" else r.njev)
    steps = r.history.column("step_size")  # NaN: no step (step 0, a search that ended)
    assert math.isnan(steps[0]) and (steps[1:-1] > 0).all() and not steps[-1] <= 0
    assert r.history.column("nfev")[-1] == r.nfev


def test_multistart_rows_search_independently_and_equal_single_runs():
    starts = np.array([[-1.2, 1.0], [2.0, 2.0], [0.5, -1.0]])
    stack = of.minimize("rosenbrock", starts=starts, optimizer="lbfgs")
    for i, x0 in enumerate(starts):
        one = of.minimize("rosenbrock", x0, optimizer="lbfgs")
        row = stack.starts[i]
        assert row.nit == one.nit and row.nfev == one.nfev
        np.testing.assert_array_equal(row.x, one.x)


def test_a_line_search_that_fails_ends_with_its_status_and_says_what_to_try():
    # a gradient that points uphill everywhere: no step along -g ever decreases f
    bad = of.FunctionObjective.from_callable(lambda x: float(x @ x), gradient=lambda x: -2 * x)
    r = of.minimize(bad, [1.0, 2.0], optimizer="lbfgs", gradient="analytic")
    assert r.status == "line_search"
    assert "check_gradient=True" in r.message
    assert len(r.history) >= 1


def test_a_non_descent_direction_is_reset_once_and_the_reset_recorded():
    @attrs.frozen
    class Uphill(of.Optimizer):  # proposes the wrong way: x + g
        line_search: str = "armijo"

        def init(self, x):
            return of.EmptyState()

        def step(self, x, grad, state):
            return x + 0.1 * grad, state

    r = of.minimize("sphere", [1.0, 2.0], optimizer=Uphill(), max_steps=50)
    assert r.status == "converged"
    # every step was reset, once each, and the message counts them
    assert f"no descent direction {r.nit} times" in r.message


def test_a_plugin_adds_a_line_search_through_the_hook():
    @attrs.frozen
    class FullStep(of.LineSearch):
        """Accepts alpha0 whenever f decreases."""

        def search(self, task):
            P = task.X + task.alpha0[:, None] * task.D
            F = task.values(P, np.arange(len(P)))
            ok = F < task.F
            return SearchResult(task.alpha0.copy(), np.where(ok[:, None], P, task.X),
                                np.where(ok, F, task.F), None, np.ones(len(P), np.int64),
                                np.zeros(len(P), np.int64), ok)

    class Plugin:
        @of.hookimpl
        def register_line_searches(self, register):
            register("full-step", FullStep)

    of.register_plugin(Plugin(), "full-step-plugin")
    try:
        r = of.minimize("sphere", [1.0, -1.0], max_steps=100,
                        optimizer=of.GradientDescent(lr=0.3, line_search="full-step"))
        assert r.status == "converged"
        # the length is relative to the optimizer's proposal: 1 is its whole step
        assert (r.history.column("step_size")[1:] == 1.0).all()
    finally:
        of.unregister_plugin("full-step-plugin")


def test_line_searches_refuse_bad_settings_and_minibatch_runs():
    with pytest.raises(of.InvalidArgumentError, match=r"'c1' must be in \(0, 1\): 1.5"):
        of.Armijo(c1=1.5)
    with pytest.raises(of.InvalidArgumentError, match=r"'c2' must be > 'c1'"):
        of.StrongWolfe(c1=0.5, c2=0.1)
    with pytest.raises(of.UnknownComponentError, match="wolf"):
        of.minimize("sphere", [1.0], optimizer=of.GradientDescent(line_search="wolf"))
    X = np.random.default_rng(0).normal(size=(40, 3))
    data = of.LeastSquares(X, X @ np.ones(3))
    with pytest.raises(of.InvalidArgumentError, match="minibatch runs"):
        of.Runner(data, "lbfgs", batch_size=8)


def _same_result(one, rows, k):
    for name in ("alpha", "X", "F", "G", "nfev", "njev", "ok", "stopped"):
        a, b = getattr(one, name)[0], getattr(rows, name)[k]
        assert np.array_equal(a, b, equal_nan=True), (name, a, b)


def test_one_rows_wolfe_search_gives_the_stacks_bits_in_every_branch():
    # a single row searches in Python floats (_wolfe_one); a stack's rows search with the
    # bracket's arrays: extrapolation, zoom by cubic and quadratic, NaN regions, a
    # capped alpha_max, a budget and the trial limit must end each row the same way
    rng = np.random.default_rng(7)
    wolfe = of.StrongWolfe(max_trials=12)

    radius = [30.0]

    def values(P):  # NaN far from the origin: a trial there is "too far"
        F = rosen(P)
        return np.where(np.abs(P).max(axis=1) > radius[0], np.nan, F)

    branches = set()
    for _ in range(400):
        radius[0] = 0.0 if rng.random() < 0.1 else 30.0  # 0: every trial is NaN
        n = int(rng.integers(2, 6))
        X = rng.uniform(-2, 2, size=(3, n))
        D = -rosen_grad(X) * 10.0 ** rng.uniform(-6, 1, size=(3, 1))
        task, _ = task_of(X, D, values=values, cheap=bool(rng.integers(2)))
        alpha0 = 10.0 ** rng.uniform(-3, 3, size=3)
        alpha_max = np.where(rng.random(3) < 0.3, 10.0 ** rng.uniform(-1, 2, size=3), np.inf)
        budget = np.where(rng.random(3) < 0.3, rng.integers(1, 8, size=3), 10**6)
        task = attrs.evolve(task, alpha0=alpha0, alpha_max=alpha_max, budget=budget,
                            gradient_cost=int(rng.integers(0, 3)))
        rows = wolfe.search(task)
        for k in range(3):
            sub = attrs.evolve(task, X=X[k:k + 1], F=task.F[k:k + 1], G=task.G[k:k + 1],
                               D=D[k:k + 1], alpha0=alpha0[k:k + 1],
                               alpha_max=alpha_max[k:k + 1], budget=budget[k:k + 1])
            _same_result(wolfe.search(sub), rows, k)
            branches.add((bool(rows.ok[k]), int(rows.nfev[k]) > 1, int(rows.stopped[k])))
    # accepted at once, after more trials, failed, stopped by the budget: all were seen
    assert {(True, False, 0), (True, True, 0), (False, True, 0)} <= branches
    assert any(stopped == 1 for _, _, stopped in branches)


@attrs.frozen
class _Oblique(of.Optimizer):
    """A descent direction that is not the steepest: -(g + R g / 2), R a quarter turn."""

    line_search: object = None

    def init(self, x):
        return of.EmptyState()

    def step(self, x, grad, state):
        turned = np.stack([-grad[..., 1], grad[..., 0]], axis=-1)
        return x - 0.1 * (grad + 0.5 * turned), state


@attrs.frozen
class _SteepestOnly(of.LineSearch):
    """Accepts the first trial only along the steepest descent, where f decreases."""

    def search(self, task):
        G, D = task.G, task.D
        along = np.einsum("ij,ij->i", -G, D) >= (1 - 1e-12) * (
            np.linalg.norm(G, axis=1) * np.linalg.norm(D, axis=1))
        P = task.X + task.alpha0[:, None] * D
        F = task.values(P, np.arange(len(P)))
        ok = along & (F < task.F)
        return SearchResult(task.alpha0.copy(), np.where(ok[:, None], P, task.X),
                            np.where(ok, F, task.F), None, np.ones(len(P), np.int64),
                            np.zeros(len(P), np.int64), ok)


@attrs.frozen
class _SteepestOnlyRestarting(_SteepestOnly):
    def restart_policy(self, optimizer):
        return of.linesearch.Restart()


def test_restarting_along_the_steepest_descent_is_the_line_searchs_policy():
    # the optimizer's own direction always fails this search: without a restart policy
    # (the default for an optimizer whose step is not a natural one) the run ends there
    plain = of.minimize("sphere", [1.0, 2.0], optimizer=_Oblique(line_search=_SteepestOnly()),
                        max_steps=50)
    assert plain.status == "line_search" and plain.fun == 5.0  # x0: no step was taken
    # a search whose policy restarts retries each step along the steepest descent
    again = of.minimize("sphere", [1.0, 2.0], max_steps=50,
                        optimizer=_Oblique(line_search=_SteepestOnlyRestarting()))
    assert again.nit > 0 and again.fun < plain.fun
    assert f"{again.nit} times" in again.message  # every step was a reset
    # and L-BFGS (a natural step) keeps its restarts by default, none when a search says so
    assert of.linesearch.StrongWolfe().restart_policy(of.LBFGS()) == of.linesearch.Restart()
    assert of.linesearch.StrongWolfe().restart_policy(of.GradientDescent()) is None


def test_without_a_bracket_the_trial_jumps_to_the_cubics_minimizer_within_four_strides():
    from optiframe.interpolation import XTRAPL, XTRAPU, extrapolated

    # (t - 1)^2 measured at 0 and 0.25: the cubic through both is the parabola, its
    # minimizer 1.0 lies inside [0.25 + 1.1 * 0.25, 0.25 + 4 * 0.25]
    assert float(extrapolated(np.float64(0.0), 1.0, -2.0, 0.25, 0.5625, -1.5)) == 1.0
    # (t - 100)^2: its minimizer is far beyond; the trial stops at four strides
    f = lambda t: (t - 100.0) ** 2  # noqa: E731
    d = lambda t: 2.0 * (t - 100.0)  # noqa: E731
    a, b = np.float64(0.0), np.float64(1.0)
    assert float(extrapolated(a, f(a), d(a), b, f(b), d(b))) == 1.0 + XTRAPU * 1.0
    # a slope that steepens (a concave stretch): no minimizer beyond, the far end again
    g = lambda t: -(t ** 2)  # noqa: E731
    assert float(extrapolated(a, g(a), -0.0, b, g(b), -2.0)) == 1.0 + XTRAPU
    # a minimizer just past b is moved out to 1.1 strides
    h = lambda t: (t - 1.01) ** 2  # noqa: E731
    dh = lambda t: 2.0 * (t - 1.01)  # noqa: E731
    assert float(extrapolated(a, h(a), dh(a), b, h(b), dh(b))) == pytest.approx(1.0 + XTRAPL)
    # rows and float64 scalars give the same bits
    rows = extrapolated(np.array([0.0, 0.0]), np.array([f(a), h(a)]), np.array([d(a), dh(a)]),
                        np.array([1.0, 1.0]), np.array([f(b), h(b)]), np.array([d(b), dh(b)]))
    assert rows.tolist() == [float(extrapolated(a, f(a), d(a), b, f(b), d(b))),
                             float(extrapolated(a, h(a), dh(a), b, h(b), dh(b)))]


@pytest.mark.parametrize("starts", [1, 3], ids=["one start", "stack"])
def test_a_minimum_a_million_away_is_reached_in_few_trials(starts):
    # along a unit step from 0, (x - 1e6)^2 meets the strong Wolfe conditions (c2 = 0.9)
    # from x = 1e5 on: doubling the trial took 18 trials to get there; a trial of at most
    # 4 strides beyond the last (the cubic's minimizer lies further) takes 10
    def f(X):
        return np.sum((np.atleast_2d(X) - 1e6) ** 2, axis=1)

    def g(X):
        return 2.0 * (np.atleast_2d(X) - 1e6)

    X = np.zeros((starts, 1))
    counts = {"f": 0}

    def vals(P, rows):
        counts["f"] += len(P)
        return f(P)

    D = -g(X) / np.abs(g(X))  # a unit step
    task = SearchTask(X=X, F=f(X), G=g(X), D=D, alpha0=np.ones(starts),
                      alpha_max=np.full(starts, math.inf), values=vals,
                      gradients=lambda P, rows, F: g(P), cheap_gradients=True)
    res = of.StrongWolfe().search(task)
    assert res.ok.all()
    assert (res.nfev <= 10).all(), res.nfev
    assert (res.X >= 1e5).all() and (res.X < 1e6).all()
    # the default optimizer on the same function: its first step ends there too
    r = of.minimize(lambda x: float(f(x)[0]), [0.0], jac=lambda x: g(x)[0])
    assert r.status == "converged" and abs(r.x[0] - 1e6) < 1e-6 and r.nfev <= 14, r


@pytest.mark.parametrize(("minimum", "trials"), [(50.3, 9), (1.5, 3)])
def test_farther_ends_at_the_lowest_f_along_the_direction_not_where_doubling_stopped(
        minimum, trials):
    # the finer checks' search: Armijo accepts the unit length, doubling goes on while f
    # decreases (2, 4, ..., 64 for a minimum at 50.3) and stops up to twice short of the
    # minimum; the parabola through its last three lengths (the quadratic through f(0),
    # its slope and 2 where the first doubling rose) finds it
    from optiframe.value_trials import Farther

    def f(P):
        return (P[:, 0] - minimum) ** 2

    spent = {"f": 0}

    def vals(P, rows):
        spent["f"] += len(P)
        return f(P)

    X = np.zeros((1, 1))
    task = SearchTask(X=X, F=f(X), G=np.array([[-2.0 * minimum]]), D=np.ones((1, 1)),
                      alpha0=np.ones(1), alpha_max=np.full(1, math.inf), values=vals,
                      gradients=lambda P, rows, F: -2.0 * (minimum - P))
    res = Farther().search(task)
    assert res.ok[0] and res.nfev[0] == trials == spent["f"]
    assert res.alpha[0] == pytest.approx(minimum, rel=1e-9) and res.F[0] < 1e-12
    poor = attrs.evolve(task, budget=np.array([trials - 1]))  # no evaluation for it: the
    assert Farther().search(poor).alpha[0] in (64.0, 1.0)  # length doubling stopped at
