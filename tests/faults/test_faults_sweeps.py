"""Faults in sweeps and in the command line's results folders (issue 22, items 3-6, 9-13,
15, 20 and 22), each a case that failed before its fix: lost rows, files overwritten by
the next row, budgets split, lists swept that were one value, raw tracebacks."""

from __future__ import annotations

import csv
import json
import textwrap

import numpy as np
import pytest
from multistart_helpers import ExitsAbove, SlowToUnpickle

import optiframe as of
from optiframe.cli import main


def rosen_like(x):
    return float((1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2)


# -- rows keep their own files and budgets (items 4 and 9) ---------------------------------
def test_each_row_writes_its_own_stream_and_checkpoint(tmp_path):
    table = of.sweep(rosen_like, [-1.2, 1.0], optimizer="gd", lr=[1e-3, 2e-3],
                     max_steps=30, gtol=0, stream_history=tmp_path / "h.jsonl",
                     checkpoint=tmp_path / "ck", checkpoint_every=10)
    assert len(table) == 2
    for i, result in enumerate(table.results):
        streamed = of.load_history_stream(tmp_path / f"h-row{i}.jsonl")
        np.testing.assert_array_equal(streamed.fun, result.history.fun)
        assert of.load_checkpoint(tmp_path / "ck" / f"row{i}").step == 30
    assert table.results[0].fun != table.results[1].fun
    assert not (tmp_path / "h.jsonl").exists()


@pytest.mark.parametrize("budget", [{"max_nfev": 200}, {"max_time": 60.0}])
def test_each_row_keeps_its_own_budget(budget):
    lrs = [1e-3, 2e-3, 3e-3]
    table = of.sweep(rosen_like, [-1.2, 1.0], optimizer="gd", lr=lrs, max_steps=300,
                     gradient="central", **budget)
    for lr, result in zip(lrs, table.results, strict=True):
        alone = of.minimize(rosen_like, [-1.2, 1.0], optimizer=of.GradientDescent(lr=lr),
                            max_steps=300, gradient="central", **budget)
        assert (result.nit, result.nfev, result.fun) == (alone.nit, alone.nfev, alone.fun)


# -- what is swept (items 11, 12, 13) --------------------------------------------------------
def test_lists_that_are_one_value_of_an_option_are_passed_whole():
    seen = {"a": 0, "b": 0}

    def a(info):
        seen["a"] += 1

    def b(info):
        seen["b"] += 1

    table = of.sweep(lambda x: float((x[0] - 3) ** 2 + x[1] ** 2), [0.0, 1.0],
                     optimizer="lbfgs", callbacks=[a, b], bounds=[(0, 2), (0, 4)])
    assert len(table) == 1 and seen["a"] == seen["b"] > 0
    np.testing.assert_allclose(table[0]["x"], [2.0, 0.0], atol=1e-8)


def test_swept_sweeps_an_option_explicitly():
    table = of.sweep(lambda x: float((x[0] - 3) ** 2), [0.0], optimizer="lbfgs",
                     bounds=of.Swept([(0, 2)], [(0, 4)]))
    assert [round(r["fun"], 8) for r in table] == [1.0, 0.0]


def test_a_1d_array_of_values_is_swept_and_a_per_coordinate_lr_is_one_value():
    table = of.sweep("sphere", [1.0, 2.0], optimizer="gd", lr=np.logspace(-3, -1, 3),
                     max_steps=5)
    assert [r["lr"] for r in table] == pytest.approx([1e-3, 1e-2, 1e-1])
    per_coordinate = of.sweep("sphere", [1.0, 2.0], optimizer="gd",
                              lr=of.Swept(np.array([0.1, 0.2])), max_steps=5)
    assert len(per_coordinate) == 1


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"zipped": "false"}, r"'zipped' must be True or False: 'false'"),
    ({"workers": "bogus"}, r"unknown executor 'bogus'"),
    ({"workers": -1}, r"'workers' must be >= 1: -1"),
    ({"workers": True}, r"'workers' must be an int"),
])
def test_bad_sweep_arguments_are_refused_before_any_work(kwargs, pattern):
    calls = []

    def f(x):
        calls.append(1)
        return float(x @ x)

    with pytest.raises(of.OptiframeError, match=pattern):
        of.sweep(f, [1.0], optimizer="gd", lr=[0.1, 0.2], **kwargs)
    assert calls == []


# -- workers and Ctrl-C (items 5, 6, 15) -------------------------------------------------------
def test_a_row_that_kills_its_worker_is_a_failed_row_and_the_others_are_kept():
    table = of.sweep(ExitsAbove(10.0), [20.0, 1.0], optimizer="gd", lr=0.1, max_steps=50,
                     bounds=of.Swept([(0, 5), (-5, 5)], [(0, 50), (-5, 5)]), workers=2)
    assert [r["status"] for r in table] == ["max_steps", "failed"]
    assert "was lost with its worker 2 times" in table[1]["message"]
    assert "exited with code 1" in table[1]["message"]


class InterruptAt:
    """A callback that presses Ctrl-C at step ``step`` (only rows that get that far)."""

    def __init__(self, step):
        self.step = step

    def __call__(self, info):
        if info.step == self.step:
            raise KeyboardInterrupt


def test_ctrl_c_in_a_sweep_keeps_the_finished_rows():
    with pytest.raises(KeyboardInterrupt) as stop:
        of.sweep("sphere", [1.0, 2.0], optimizer="gd", max_steps=[10, 20, 30, 40], gtol=0,
                 callbacks=[InterruptAt(25)])
    table = stop.value.table
    assert [r["max_steps"] for r in table] == [10, 20, 30]
    assert [r["status"] for r in table] == ["max_steps", "max_steps", "interrupted"]


def test_on_interrupt_return_ends_the_sweep_not_just_the_row():
    table = of.sweep("sphere", [1.0, 2.0], optimizer="gd", max_steps=[10, 20, 30, 40],
                     gtol=0, callbacks=[InterruptAt(25)], on_interrupt="return")
    assert [r["status"] for r in table] == ["max_steps", "max_steps", "interrupted"]


def test_a_slow_worker_boot_does_not_count_against_start_timeout():
    # each worker unpickles the objective for 2 s before it takes a job: a boot, as a
    # spawned worker importing jax has; the starts themselves take milliseconds
    starts = np.array([[1.0, 2.0], [3.0, -1.0], [-2.0, 0.5]])
    r = of.minimize(SlowToUnpickle(2.0), starts=starts, optimizer=of.GradientDescent(lr=0.1),
                    workers=2, start_timeout=1.0)
    assert [s.status for s in r.starts] == ["converged"] * 3


# -- the command line: its folders and its errors (items 3, 6, 10, 13, 20, 22) -------------------
SWEEP = textwrap.dedent("""
    [objective]
    name = "sphere"
    [start]
    x0 = [1.0, 2.0]
    [optimizer]
    name = "gd"
    lr = 0.1
    [stop]
    max_steps = [10, 20]
    gtol = 0.0
""")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.toml").write_text(SWEEP)
    (tmp_path / "run.toml").write_text(SWEEP.replace("[10, 20]", "10"))
    return tmp_path


def test_sweep_force_leaves_a_runs_files_and_run_force_leaves_a_sweeps(folder):
    assert main(["run", "run.toml"]) == 0
    assert main(["sweep", "sweep.toml"]) == 0
    run_files = {"config.toml", "history.csv", "summary.json"}
    assert run_files <= {p.name for p in (folder / "results").iterdir()}
    assert main(["sweep", "sweep.toml", "--force"]) == 0
    assert run_files <= {p.name for p in (folder / "results").iterdir()}
    assert main(["run", "run.toml", "--force"]) == 0
    assert (folder / "results" / "sweep.csv").exists()


def test_ctrl_c_in_optiframe_sweep_writes_the_finished_rows_and_exits_130(folder, capsys):
    assert main(["sweep", "sweep.toml"]) == 0  # an earlier complete sweep
    (folder / "results" / "history.csv").write_text("an earlier run's\n")
    (folder / "slow.py").write_text(textwrap.dedent("""
        calls = []
        def f(x):
            calls.append(1)
            if len(calls) > 80:  # the first row (10 steps, ~55 calls) ends; the second not
                raise KeyboardInterrupt
            return float(x @ x)
    """))
    (folder / "s2.toml").write_text(SWEEP.replace('name = "sphere"', 'path = "slow.py:f"'))
    assert main(["sweep", "s2.toml", "--force"]) == 130
    with open(folder / "results" / "sweep.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["max_steps", "interrupted"]
    assert (folder / "results" / "history.csv").read_text() == "an earlier run's\n"
    assert "interrupted: 2 rows finished" in capsys.readouterr().err


BAD_SWEEP_CONFIGS = [
    ("x0 a date", {"x0 = [1.0, 2.0]": "x0 = 1979-05-27"}, r"start\.x0 must be a list"),
    ("x0 a table", {"x0 = [1.0, 2.0]": "x0 = {a = 1}"}, r"start\.x0 must be a list"),
    ("x0 a string", {"x0 = [1.0, 2.0]": 'x0 = "abc"'}, r"start\.x0 must be a list"),
    ("x0 NaN", {"x0 = [1.0, 2.0]": "x0 = [1.0, nan]"},
     r"start\.x0 must be finite: coordinate 1 is nan"),
    ("x0 a boolean", {"x0 = [1.0, 2.0]": "x0 = [true, 1.0]"}, r"start\.x0 must be a list"),
]
#: keys only a sweep reads, or refuses
BAD_SWEEP_ONLY = [
    ("zipped a string", {"gtol = 0.0": 'gtol = 0.0\n[sweep]\nzipped = "false"'},
     r"sweep\.zipped must be true or false: 'false'"),
    ("workers bogus", {"gtol = 0.0": 'gtol = 0.0\n[sweep]\nworkers = "bogus"'},
     r"sweep\.workers: unknown executor 'bogus'"),
    ("workers -1", {"gtol = 0.0": "gtol = 0.0\n[sweep]\nworkers = -1"},
     r"sweep\.workers: 'workers' must be >= 1"),
    ("schedules", {"gtol = 0.0": 'gtol = 0.0\n[schedules]\nlr = "cosine"'},
     r"does not take \[schedules\]"),
    ("a checkpoint", {"gtol = 0.0": "gtol = 0.0\n[output]\ncheckpoint_every = 5"},
     r"does not take output\.checkpoint_every"),
    ("a stream", {"gtol = 0.0": "gtol = 0.0\n[output]\nstream_history = true"},
     r"does not take output\.stream_history"),
    ("mlflow", {"gtol = 0.0": 'gtol = 0.0\n[output]\nmlflow = "sqlite:///x.db"'},
     r"does not take output\.mlflow"),
]


CASES = ([("sweep", *c) for c in BAD_SWEEP_CONFIGS + BAD_SWEEP_ONLY]
         + [("run", *c) for c in BAD_SWEEP_CONFIGS])


@pytest.mark.parametrize(("command", "edits", "pattern"), [(c[0], *c[2:]) for c in CASES],
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_a_refused_config_is_one_line_exit_2_and_writes_nothing(folder, capsys, command,
                                                                edits, pattern):
    text = SWEEP if command == "sweep" else SWEEP.replace("[10, 20]", "10")
    for old, new in edits.items():
        text = text.replace(old, new)
    (folder / "bad.toml").write_text(text)
    assert main([command, "bad.toml"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("optiframe: error: bad.toml: "), err
    assert __import__("re").search(pattern, err), err
    assert not (folder / "results").exists()


def test_a_refused_run_creates_no_stream_folder(tmp_path):
    with pytest.raises(of.InvalidArgumentError, match="must be finite"):
        of.minimize("sphere", [1.0, np.nan], stream_history=tmp_path / "sub" / "h.jsonl")
    assert not (tmp_path / "sub").exists()


def test_the_saved_sweep_json_is_whole(folder):
    assert main(["sweep", "sweep.toml"]) == 0
    rows = json.loads((folder / "results" / "sweep.json").read_text())
    assert [r["max_steps"] for r in rows] == [10, 20]
    assert not list((folder / "results").glob(".*.tmp"))
