"""Every piece combines with every other (issue 11): one test over the matrix of
optimizer x estimator x starts x data x schedule x checkpoint-and-resume x stream.

Each cell runs; cells that differ only in how the starts are run (vectorized, serial, a
process pool) give the same bits; a cell interrupted at a random step and resumed gives
the uninterrupted cell's bits; the callbacks see each (start, step) exactly once; the
stream loads to the run's history. All 576 cells run in about 20 s, so the suite runs
them all.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from checkpoint_helpers import assert_same_run

import optiframe as of
from tests.multistart_helpers import InterruptOnce, PairLog, small_regression

OPTIMIZERS = ("gd", "adam", "lion")  # lion: the template plugin's optimizer
ESTIMATORS = ("central", "analytic", "spsa")
STARTS = ("one", "vectorized", "serial", "process")
DATA = ("full", "minibatch")
SCHEDULES = ("none", "plateau")
RESUME = ("whole", "resumed")
STREAM = ("plain", "streamed")
CELLS = list(itertools.product(OPTIMIZERS, ESTIMATORS, STARTS, DATA, SCHEDULES, RESUME, STREAM))


X_STARTS = np.array([[1.0, 2.0], [-3.0, 1.0], [2.5, -2.0]])


def _setup(optimizer: str, estimator: str, starts: str, data: str, schedule: str):
    """(objective, Runner options, run options) of a cell (no checkpoint, no stream)."""
    opt = {"gd": of.GradientDescent(lr=2e-3), "adam": of.Adam(lr=0.02),
           "lion": {"name": "lion", "lr": 2e-3}}[optimizer]
    kw: dict = dict(optimizer=opt, gradient=estimator, gtol=0.0)
    if schedule == "plateau":
        kw["schedules"] = {"lr": of.ReduceOnPlateau(patience=2, factor=0.7)}
    if data == "full":
        objective = of.Himmelblau()
        kw["max_steps"] = 30
        x0, X0 = X_STARTS[0], X_STARTS
    else:
        objective = small_regression()
        kw.update(batch_size=16, epochs=3)
        x0, X0 = np.zeros(4), np.repeat([[0.0], [0.5], [-0.5]], 4, axis=1)
    run: dict = dict(seed=2)
    if starts == "one":
        run["x0"] = x0
    else:
        run["starts"] = X0
        run["workers"] = {"vectorized": None, "serial": "serial", "process": 2}[starts]
    return objective, kw, run


_REFERENCES: dict[tuple[str, ...], of.Result] = {}


def _reference(optimizer, estimator, starts, data, schedule) -> of.Result:
    """The cell as it runs uninterrupted, without a stream, its starts vectorized."""
    key = (optimizer, estimator, "one" if starts == "one" else "vectorized", data, schedule)
    if key not in _REFERENCES:
        objective, kw, run = _setup(*key)
        _REFERENCES[key] = of.Runner(objective, **kw).run(**run)
    return _REFERENCES[key]


def _steps_of(result: of.Result) -> int:
    return max(o.nit for o in getattr(result, "starts", [result]))


def check_cell(cell: tuple[str, ...], tmp_path) -> None:
    optimizer, estimator, starts, data, schedule, resume, stream = cell
    objective, kw, run = _setup(optimizer, estimator, starts, data, schedule)
    reference = _reference(optimizer, estimator, starts, data, schedule)
    log = PairLog(tmp_path / "pairs")
    options = dict(kw)
    if stream == "streamed":
        options["stream_history"] = tmp_path / "run.jsonl"
    if resume == "resumed":
        at = random.Random(str(cell)).randint(1, _steps_of(reference) - 1)
        part = of.Runner(objective, callbacks=[log, InterruptOnce(at, tmp_path / "flag")],
                         checkpoint=tmp_path / "ckpt", on_interrupt="return", **options).run(**run)
        assert "nterrupted" in part.message, part.message
        result = of.Runner(objective, **options).resume(tmp_path / "ckpt",
                                                         workers=run.get("workers"))
    else:
        result = of.Runner(objective, callbacks=[log], **options).run(**run)
        pairs = log.pairs()  # each (start, step) exactly once, whichever executor ran it
        assert len(pairs) == len(set(pairs))
        assert sorted(pairs) == sorted((o.index if hasattr(o, "index") else 0, k)
                                       for o in getattr(result, "starts", [result])
                                       for k in range(1, o.nit + 1))
    statuses = [str(o.status) for o in getattr(result, "starts", [result])]
    assert "failed" not in statuses and "interrupted" not in statuses, result.message
    assert_same_run(result, reference)
    if stream == "streamed":
        h = of.load_history_stream(tmp_path / "run.jsonl")
        for column in ("step", "fun", "grad_norm", "step_norm"):
            np.testing.assert_array_equal(getattr(h, column), getattr(result.history, column))


@pytest.mark.parametrize("cell", CELLS, ids=["-".join(c) for c in CELLS])
def test_the_combination_matrix(cell, tmp_path):
    check_cell(cell, tmp_path)
