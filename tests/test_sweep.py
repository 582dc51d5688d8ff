"""sweep (issue 15, part): the blog's learning-rate table as one call."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from tests.conftest import func1

BLOG = of.CentralDifference(step=1e-7, relative=False)


def test_every_combination_runs_and_equals_its_own_minimize_call():
    table = of.sweep(func1, -3.0, optimizer=of.GradientDescent, lr=[1e-9, 0.01, 10.0],
                     max_steps=[100, 500], detect_divergence=False, gradient=BLOG)
    assert len(table) == 6 and len(table.results) == 6
    assert [(r["lr"], r["max_steps"]) for r in table] == [
        (1e-9, 100), (1e-9, 500), (0.01, 100), (0.01, 500), (10.0, 100), (10.0, 500)]
    for row, result in zip(table, table.results, strict=True):
        alone = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=row["lr"]),
                            max_steps=row["max_steps"], detect_divergence=False,
                            gradient=BLOG)
        assert row["x"] == alone.x.tolist() and row["nfev"] == alone.nfev
        assert row["status"] == str(alone.status) and result.nit == alone.nit
    # the blog's own figure: lr 0.01 for 500 steps
    assert table[3]["x"] == [-0.00012307192187321903]


def test_the_table_exports_and_names_its_best_row():
    table = of.sweep("sphere", [1.0, 2.0], optimizer="gd", lr=[0.01, 0.1, 0.4])
    assert table.best()["lr"] == 0.4
    df = table.to_pandas()
    assert list(df.columns[:3]) == ["lr", "status", "success"] and len(df) == 3


def test_a_failing_combination_is_recorded_and_bad_grids_are_refused():
    def fails_fast(x):
        if abs(x[0]) > 100:
            raise ValueError("too far")
        return float(x @ x)

    table = of.sweep(fails_fast, [3.0], optimizer="gd", lr=[0.1, 200.0], max_steps=50)
    assert [r["status"] for r in table] == ["max_steps", "failed"]
    with pytest.raises(of.InvalidArgumentError, match="'lr' lists no values"):
        of.sweep("sphere", [1.0], optimizer="gd", lr=[])
    with pytest.raises(of.InvalidArgumentError, match="an Optimizer class or a registered"):
        of.sweep("sphere", [1.0], optimizer=of.GradientDescent(lr=0.1), lr=[0.1])
    assert np.isfinite(table[0]["fun"])
