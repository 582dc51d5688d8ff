"""The runs whose checkpoints tests/data/checkpoints freezes, one per kind of run.

Shared by ``make_checkpoints.py`` (which writes a checkpoint in the middle of each run with
the optiframe of the day, and the result of the same run left uninterrupted) and
``tests/integration/test_resume.py`` (which resumes every frozen checkpoint with today's
optiframe and expects those results, bit for bit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import optiframe as of


def digits(rows: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:rows] / 16, y[:rows]


def himmelblau(x: np.ndarray) -> float:
    """A plain callable (module level, so worker processes can import it)."""
    return float((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2)


def case(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Runner keyword arguments, run keyword arguments) of the frozen run ``name``."""
    if name == "single":
        return (dict(objective="rosenbrock", optimizer=of.Adam(lr=0.01), max_steps=200),
                dict(x0=[-1.2, 1.0]))
    if name == "single-plateau":
        return (dict(objective="rosenbrock", optimizer=of.GradientDescent(lr=1e-3),
                     schedules={"lr": "plateau"}, max_steps=200, record_x=True),
                dict(x0=[-1.0, 1.0]))
    if name == "multistart":
        return (dict(objective="himmelblau", optimizer=of.Momentum(lr=1e-3), max_steps=200,
                     gtol=1e-6, record_x=True),
                dict(starts=of.MultiStart(12, bounds=[(-5, 5)] * 2), seed=11))
    if name == "minibatch":
        X, y = digits(300)
        return (dict(objective=of.SoftmaxRegression(X, y), optimizer=of.Adam(lr=0.01),
                     batch_size=32, epochs=4),
                dict(x0=np.zeros(65 * 10), seed=3))
    if name == "minibatch-multistart":
        X, y = digits(200)
        return (dict(objective=of.SoftmaxRegression(X, y), optimizer=of.RMSprop(lr=0.01),
                     batch_size=32, epochs=3),
                dict(starts=np.random.default_rng(0).normal(size=(3, 650)), seed=3))
    if name == "multistart-workers":
        starts = np.array([[-4.0, 4.0], [1.0, 1.0], [3.0, -3.0], [2.0, 2.0], [-1.0, -3.0]])
        return (dict(objective=himmelblau, optimizer=of.Adam(lr=0.05), gradient="central",
                     max_steps=200, gtol=1e-6),
                dict(starts=starts, workers="serial"))
    raise KeyError(name)


#: Each frozen run, with the step (or, on workers, the number of finished starts) at which
#: its checkpoint is taken.
CASES = {"single": 100, "single-plateau": 100, "multistart": 100, "minibatch": 20,
         "minibatch-multistart": 20, "multistart-workers": 2}


def expected_of(result: Any) -> dict[str, Any]:
    """What a resumed run must reproduce: the result and the whole history."""
    out: dict[str, Any] = {"status": str(result.status), "x": result.x.tolist(),
                           "fun": result.fun, "nit": result.nit, "nfev": result.nfev,
                           "njev": result.njev, "message": result.message}
    h = result.history
    out["history"] = {c: np.asarray(getattr(h, c)).tolist()
                      for c in ("step", "fun", "grad_norm", "step_norm")}
    if hasattr(result, "starts"):
        out["starts"] = [{"index": s.index, "status": str(s.status), "x": s.x.tolist(),
                          "fun": s.fun, "nit": s.nit} for s in result.starts]
    else:
        out["epochs"] = h.epoch_log
    return out
