"""sweep (issue 15, part): the blog's learning-rate table as one call."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optiframe as of
from optiframe.sweep import SweepTable
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


def test_the_table_prints_as_a_table_and_its_best_row_is_finite():
    """print(table) shows the rows (swept values, status, f, counts), as optiframe sweep
    prints them, numbers right-aligned, at most SHOWN_ROWS of them; best() passes over a
    row whose f is infinite."""
    table = of.sweep("sphere", [1.0, 2.0], optimizer="gd", lr=[0.01, 0.1, 0.4], max_steps=5)
    lines = repr(table).splitlines()
    assert lines[0] == "SweepTable: 3 combinations"
    assert lines[1].split() == ["lr", "status", "fun", "nit", "nfev", "njev"]
    assert lines[3].split()[:2] == ["0.01", "max_steps"] and lines[3].startswith("0.01")
    assert lines[4].startswith(" 0.1")  # right-aligned under the header
    assert str(table) == repr(table) and len(lines) == 6
    table.SHOWN_ROWS = 2
    assert repr(table).splitlines()[-1] == "... 1 more rows (table[2:])"
    assert table.text().count("\n") == 4  # every row
    rows = [dict(table[0], fun=-math.inf), dict(table[1], fun=3.0)]
    assert SweepTable(rows, [None, None]).best()["fun"] == 3.0


def test_the_table_writes_csv_and_json_as_the_command_line_does(tmp_path):
    import csv
    import io
    import json

    from optiframe.sweep_config import write_table

    table = of.sweep("sphere", [1.0, 2.0], optimizer="gd", lr=[0.01, 10.0], max_steps=20)
    text = table.to_csv(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [float(r["lr"]) for r in rows] == [0.01, 10.0]
    assert [r["status"] for r in rows] == [row["status"] for row in table]
    assert float(rows[0]["fun"]) == table[0]["fun"]  # the shortest exact form
    assert json.loads(rows[0]["x"]) == table[0]["x"]
    buf = io.StringIO()
    assert table.to_json(buf) == buf.getvalue()
    assert [r["status"] for r in json.loads(buf.getvalue())] == ["max_steps", "diverged"]
    write_table(table, tmp_path / "cli")  # optiframe sweep's files are these exports
    assert (tmp_path / "cli" / "sweep.csv").read_text() == text
    assert (tmp_path / "cli" / "sweep.json").read_text() == table.to_json()


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
    # a misspelt hyperparameter is named with the optimizer's own (it used to list only
    # minimize's options, without a suggestion)
    with pytest.raises(of.InvalidArgumentError, match=r"sweep: 'lrr' is neither a "
                       r"hyperparameter of GradientDescent \(lr, line_search\) nor an option "
                       r"of minimize. Did you mean 'lr'\?"):
        of.sweep("sphere", [1.0], optimizer="gd", lrr=[0.1, 0.2])
    with pytest.raises(of.InvalidArgumentError, match="Did you mean 'max_steps'"):
        of.sweep("sphere", [1.0], optimizer="gd", lr=[0.1], max_step=[10, 20])
    # another library's name for a hyperparameter is named as optiframe's (did_you_mean)
    with pytest.raises(of.InvalidArgumentError, match="optiframe calls it 'lr'"):
        of.sweep("sphere", [1.0], optimizer="gd", learning_rate=[0.1, 0.2])
    assert np.isfinite(table[0]["fun"])


def test_learning_rates_run_as_one_stack_per_setting_with_each_rows_own_bits():
    lrs = [1e-9, 0.001, 0.01, 0.999, 10.0]
    stacked = of.sweep(func1, -3.0, optimizer=of.GradientDescent, lr=lrs,
                       max_steps=[100, 1000], gradient=BLOG)
    alone = of.sweep(func1, -3.0, optimizer=of.GradientDescent, lr=lrs,
                     max_steps=[100, 1000], gradient=BLOG, stack=False)
    assert stacked.groups == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    assert alone.groups == [[i] for i in range(10)]
    for a, b, ra, rb in zip(stacked, alone, stacked.results, alone.results, strict=True):
        assert {k: a[k] for k in a if k != "message"} == {k: b[k] for k in b if k != "message"}
        assert a["message"] == b["message"]
        # a stack records a start until its last finite step: a diverged row lacks the
        # single run's last record (the point where f blew up)
        n = len(ra.history)
        assert n == len(rb.history) - (a["status"] == "diverged")
        np.testing.assert_array_equal(ra.history.fun, rb.history.fun[:n])
        np.testing.assert_array_equal(ra.history.grad_norm, rb.history.grad_norm[:n])
    assert [r["status"] for r in stacked][-2:] == ["diverged", "diverged"]


def test_zipped_lists_pair_up_and_must_match_in_length():
    table = of.sweep(func1, -3.0, optimizer=of.GradientDescent, lr=[0.01, 0.001, 1e-9],
                     max_steps=[500, 5000, 100], zipped=True, gradient=BLOG,
                     detect_divergence=False)
    assert [(r["lr"], r["max_steps"]) for r in table] == [(0.01, 500), (0.001, 5000),
                                                          (1e-9, 100)]
    assert table[0]["x"] == [-0.00012307192187321903]
    with pytest.raises(of.InvalidArgumentError, match="lists of one length"):
        of.sweep(func1, -3.0, lr=[0.1, 0.2], max_steps=[10], zipped=True)


def test_a_hundred_learning_rates_on_himmelblau_are_one_stack():
    lrs = np.geomspace(1e-4, 0.02, 100).tolist()
    table = of.sweep("himmelblau", [0.5, -0.5], optimizer="gd", lr=lrs, max_steps=300)
    assert table.groups == [list(range(100))]
    for i in (0, 57, 99):
        alone = of.minimize("himmelblau", [0.5, -0.5], optimizer=of.GradientDescent(lr=lrs[i]),
                            max_steps=300)
        assert table[i]["x"] == alone.x.tolist() and table[i]["nit"] == alone.nit


def test_what_cannot_be_stacked_runs_alone_or_on_workers():
    # a line search is no per-row number: one stack per line search
    table = of.sweep(func1, -3.0, optimizer="gd", lr=[0.01, 0.02],
                     line_search=[None, "armijo"], max_steps=50, gradient=BLOG)
    assert table.groups == [[0, 2], [1, 3]]
    one = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=0.02, line_search="armijo"),
                      max_steps=50, gradient=BLOG)
    assert table[3]["x"] == one.x.tolist() and table[3]["nfev"] == one.nfev
    spread = of.sweep(func1, -3.0, optimizer="gd", lr=[0.01, 0.02],
                      line_search=[None, "armijo"], max_steps=50, gradient=BLOG,
                      stack=False, workers=2)
    assert [r["x"] for r in spread] == [r["x"] for r in table]
    with pytest.raises(of.InvalidArgumentError, match="cannot be sent to worker processes"):
        of.sweep(lambda x: x**2, -3.0, lr=[0.1, 0.2], stack=False, workers=2)


def test_the_acceptance_form():
    table = of.sweep(lambda x: x**2 + 1, -3.0, optimizer=of.GradientDescent,
                     lr=[1e-9, 0.001, 0.01, 0.999, 10.0], max_steps=[100, 1000],
                     gradient=of.CentralDifference(step=1e-7, relative=False))
    df = table.to_pandas()
    assert len(df) == 10 and set(df["status"]) >= {"max_steps", "diverged"}
    assert list(df.columns[:2]) == ["lr", "max_steps"] and len(table.groups) == 2


def test_a_stacked_rows_history_is_built_when_read_and_pickles_as_a_plain_one():
    import pickle

    table = of.sweep("himmelblau", [0.5, -0.5], optimizer="gd", lr=[0.001, 0.01], max_steps=30)
    h = table.results[1].history
    assert isinstance(h, of.History) and h._make is not None  # not built yet
    alone = of.minimize("himmelblau", [0.5, -0.5], optimizer=of.GradientDescent(lr=0.01),
                        max_steps=30)
    np.testing.assert_array_equal(h.fun, alone.history.fun)
    assert h._make is None and len(h) == 31 and (h.nfev == -1).all()
    again = pickle.loads(pickle.dumps(table.results[0]))
    assert type(again.history) is of.History
    np.testing.assert_array_equal(again.history.step_norm, table.results[0].history.step_norm)
    assert table.results[0].history.to_csv().startswith("step,fun")
