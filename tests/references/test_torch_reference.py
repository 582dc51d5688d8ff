"""Every optimizer matches torch.optim's 50-step trajectories to rtol 1e-10 in float64.

The reference numbers are data (tests/data/torch_reference.json), written by
tests/data/make_torch_reference.py with torch; this test does not need torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import optiframe as of

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DATA = json.loads((DATA_DIR / "torch_reference.json").read_text())
A = np.array(DATA["quadratic"]["A"])
B = np.array(DATA["quadratic"]["b"])


class Quadratic(of.Objective):
    """0.5 x'Ax - b'x, the reference problem."""

    def value(self, x):
        return float(0.5 * x @ A @ x - B @ x)

    def gradient(self, x):
        return A @ x - B


PROBLEMS = {"quadratic": Quadratic(), "rosenbrock": of.Rosenbrock()}


def case_id(case):
    extra = ",".join(f"{k}={v}" for k, v in case["params"].items() if k != "lr")
    return f"{case['optimizer']}[{extra}]-{case['problem']}"


@pytest.mark.parametrize("case", DATA["cases"], ids=case_id)
def test_trajectory_matches_torch(case):
    optimizer = of.get_registry().build("optimizer", {"name": case["optimizer"],
                                                      **case["params"]}, of.Optimizer)
    r = of.minimize(PROBLEMS[case["problem"]], case["x0"], optimizer=optimizer,
                    gradient="analytic", max_steps=DATA["steps"], gtol=0,
                    detect_divergence=False, record_x=True)
    assert r.nit == DATA["steps"]
    np.testing.assert_allclose(r.history.x, np.array(case["trajectory"]), rtol=1e-10, atol=0)


#: line-search optimizers: torch's LBFGS takes several line-searched iterations in one
#: ``step(closure)``, so no trajectory compares; tests/unit/test_quasinewton.py checks them
#: against scipy's BFGS and L-BFGS-B and against the explicit inverse Hessian
CHECKED_ELSEWHERE = {"lbfgs", "bfgs"}


def test_every_builtin_optimizer_is_checked_against_torch():
    covered = {c["optimizer"] for c in DATA["cases"]}
    builtin = {e.name for e in of.get_registry().entries("optimizer")
               if e.plugin.startswith("optiframe.")}
    assert builtin - CHECKED_ELSEWHERE <= covered
    assert all(getattr(of.get_registry().build("optimizer", name, of.Optimizer),
                       "natural_step", False) for name in CHECKED_ELSEWHERE)
