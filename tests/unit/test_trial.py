"""A single start's first strong Wolfe trial taken at once (optiframe.trial): the same
run as the search's, with the same calls of the user's functions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optiframe as of


class _Calls:
    """f (and its gradient) with every call counted; raising or NaN where asked."""

    def __init__(self, kind):
        self.kind, self.calls, self.fs = kind, 0, 0

    def f(self, x):
        self.calls += 1
        self.fs += 1
        if self.kind == "second f raises" and self.fs == 2:
            raise ValueError("no f at the first trial")
        if self.kind == "second f is nan" and self.fs == 2:
            return math.nan
        if self.kind == "raises" and x[0] > 1.5:
            raise ValueError("no f here")
        if self.kind == "nan" and x[0] > 1.5:
            return math.nan
        if self.kind == "flat":
            return float(1.0 + 1e-17 * np.sum(x**2))
        return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2 + np.sum(x[2:] ** 4))

    def g(self, x):
        self.calls += 1
        if self.kind == "g raises" and x[0] > 1.0:
            raise ValueError("no gradient here")
        g = np.zeros_like(x)
        g[0] = -2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2)
        g[1] = 200 * (x[1] - x[0] ** 2)
        g[2:] = 4 * x[2:] ** 3
        return g


@pytest.mark.parametrize("kind", ["plain", "raises", "nan", "g raises", "flat",
                                  "second f raises", "second f is nan"])
@pytest.mark.parametrize("setting", [
    {}, {"gradient": "forward"}, {"gradient": "auto"}, {"max_nfev": 17},
    {"max_nfev": 40, "gradient": "auto"}, {"optimizer": "bfgs"},
    {"optimizer": {"name": "lbfgs", "memory": 2}}, {"max_steps": 3},
    {"bounds": [(-2.0, 0.9), (-1.0, 1.2), (-1.0, 2.0)]},
    {"bounds": [(-1.0, 1.3), (None, 1.5), (0.2, None)], "gradient": "auto"},
    {"bounds": [(0.5, 0.5), (-5.0, 5.0), (-5.0, 5.0)], "max_nfev": 30}])
@pytest.mark.parametrize("x0", [[-1.2, 1.0, 0.5], [1.4, 1.9, -0.3], [1e8, -1e8, 3.0]])
@pytest.mark.parametrize("stack", [False, True], ids=["point", "one-row stack"])
def test_a_first_trial_accepted_at_once_gives_the_searchs_bits(monkeypatch, kind, setting,
                                                                 x0, stack):
    # trial.first_accepted takes a single start's first strong Wolfe trial without the search's
    # packing (a point's, or a stack of one row's: a global search's local runs); where it
    # does not, the search goes on from what it evaluated: the same run either way (the
    # same x, f, counts, history and message) and the same calls
    from optiframe import line_step as ls

    runs = []
    for fast in (True, False):
        monkeypatch.setattr(ls, "FIRST_ACCEPTED", fast)
        c = _Calls(kind)
        kw = dict(setting)
        if kw.get("gradient") is None:
            kw["jac"] = c.g
        if stack:
            r = of.minimize(c.f, starts=np.array([x0]), raise_errors=False, **kw)
        else:
            r = of.minimize(c.f, np.array(x0), raise_errors=False, **kw)
        runs.append((r, c.calls))
    (a, calls_a), (b, calls_b) = runs
    assert (str(a.status), a.nit, a.nfev, a.njev, a.message) == (
        str(b.status), b.nit, b.nfev, b.njev, b.message)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.fun == b.fun or (math.isnan(a.fun) and math.isnan(b.fun))
    for column in ("fun", "grad_norm", "step_norm", "step_size"):
        np.testing.assert_array_equal(_column(a, column), _column(b, column))
    if not stack:
        np.testing.assert_array_equal(a.history.column("nfev"), b.history.column("nfev"))
    assert calls_a == calls_b


def _column(result, name):
    history = result.history
    return history.column(name) if hasattr(history, "column") else getattr(history, name)
