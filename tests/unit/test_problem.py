"""The bound Problem (optiframe.problem): a stack's failing rows are traced and fail
alone, the others go on."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from tests.multistart_helpers import RaisesBeyond

GD = of.GradientDescent


@pytest.mark.parametrize("workers", [None, map])
def test_one_failing_start_does_not_stop_the_others(workers):
    starts = np.array([[1.0, 0.0], [5.0, 0.0], [-2.0, 1.0]])
    r = of.minimize(RaisesBeyond(4.0), starts=starts, optimizer=GD(lr=0.1), workers=workers)
    statuses = [s.status for s in r.starts]
    assert statuses == ["converged", "failed", "converged"]
    failed = r.starts[1]
    assert "ValueError" in failed.message and "beyond" in failed.message
    assert failed.index == 1 and failed.x.tolist() == [5.0, 0.0] and failed.nit == 0
    assert r.status == "converged"


def test_a_start_failing_after_some_steps_keeps_its_last_good_point():
    class RaisesLater(RaisesBeyond):
        def gradient(self, x):
            return -2 * x  # walks away from 0, until it passes the limit

    starts = np.array([[1.0, 0.0], [0.5, 0.0]])
    r = of.minimize(RaisesLater(4.0), starts=starts, optimizer=GD(lr=0.1), max_steps=50)
    for s in r.starts:
        assert s.status == "failed" and s.x[0] <= 4.0 and s.fun == float(s.x @ s.x)
        assert s.x[0] * 1.2 > 4.0  # one more step would pass the limit
        np.testing.assert_allclose(s.x[0], s.x0[0] * 1.2**s.nit)


def test_a_stacks_rows_are_each_asked_once_when_one_raises():
    # the stack was asked for its rows in one call, then, as one row raised, each row
    # again alone: the rows before the failing one were evaluated twice
    from optiframe.problem import RowError, stack_values

    asked = []

    def f(x):
        asked.append(float(x[0]))
        if x[0] > 4:
            raise ValueError("beyond 4")
        return float(x @ x)

    obj = of.FunctionObjective.from_callable(f)
    with pytest.raises(RowError) as caught:
        stack_values(obj)(np.array([[1.0, 0.0], [5.0, 0.0], [2.0, 1.0]]))
    assert asked == [1.0, 5.0, 2.0]
    assert caught.value.values[[0, 2]].tolist() == [1.0, 5.0] and list(caught.value.errors) == [1]


def test_a_stack_with_a_raising_start_counts_every_call_of_the_objective():
    calls = []

    def f(x):
        calls.append(1)
        if x[0] > 4:
            raise ValueError("beyond 4")
        return float(x @ x)

    r = of.minimize(f, None, starts=np.array([[1.0, 0.0], [5.0, 0.0], [-2.0, 1.0]]),
                    jac=lambda x: 2 * x)
    assert [s.status for s in r.starts] == ["converged", "failed", "converged"]
    assert len(calls) == r.nfev  # (one more call than counted: the first row twice)


@pytest.mark.parametrize("gradient", ["analytic", "central"])
def test_a_fixed_steps_row_whose_new_point_raises_counts_that_evaluation(gradient):
    # the row's f raised at its new point; that call was not counted (2 calls, nfev 1)
    calls = []

    def f(x):
        calls.append(1)
        if x[0] < -4:
            raise ValueError("x[0] < -4")
        return float(np.sum((x + 5) ** 2))

    kw = {"jac": lambda x: 2 * (x + 5)} if gradient == "analytic" else {"gradient": gradient}
    r = of.minimize(f, None, starts=np.array([[-3.9], [-2.0]]), optimizer=GD(lr=0.6), **kw)
    assert r.starts[0].status == "failed" and r.starts[0].nit == 0
    assert len(calls) == r.nfev


def _counted(limit: float, on: str):
    """f = |x - 3|**2 and its gradient, counting their calls; ``on`` ("f" or "g") raises
    where x[0] > limit."""
    calls = {"f": 0, "g": 0}

    def f(x):
        calls["f"] += 1
        if on == "f" and x[0] > limit:
            raise ValueError(f"x[0] > {limit}")
        return float(np.sum((x - 3.0) ** 2))

    def g(x):
        calls["g"] += 1
        if on == "g" and x[0] > limit:
            raise ValueError(f"x[0] > {limit}")
        return 2.0 * (x - 3.0)

    return calls, f, g


@pytest.mark.parametrize("gradient", ["forward", "central", "richardson", "analytic"])
def test_a_stack_asks_f_what_its_starts_ask_alone_when_one_raises(gradient):
    # the stacked gradient raised at a row after others: every row was evaluated again,
    # one by one, and the first pass's calls went uncounted (forward: 32 calls against
    # the 28 of the three starts alone; central 53 against 46)
    starts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    on = "g" if gradient == "analytic" else "f"

    def run(x0=None, stack=None):
        calls, f, g = _counted(1.0, on)
        kw = {"jac": g} if gradient == "analytic" else {"gradient": gradient}
        r = of.minimize(f, x0, starts=stack, raise_errors=False, max_steps=50, **kw)
        return calls, r

    calls, r = run(stack=starts)
    alone = [run(x0=s) for s in starts]
    assert r.starts[1].status == "failed"
    for name in ("f", "g"):
        assert calls[name] == sum(c[name] for c, _ in alone)
    for s, (_, a) in zip(r.starts, alone, strict=True):
        assert (s.nfev, s.njev, s.status, s.x.tolist()) == (a.nfev, a.njev, a.status,
                                                          a.x.tolist())
    assert r.nfev >= calls["f"]  # a gradient that raised part way: charged its whole cost
