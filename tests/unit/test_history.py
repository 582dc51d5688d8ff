"""History export and loading: dict, CSV, JSON and pandas, with exact round trips."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

import optiframe as of


@pytest.fixture
def result():
    return of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.GradientDescent(lr=1e-3),
                       max_steps=30, record_x=True)


def assert_same(a: of.History, b: of.History):
    assert len(a) == len(b)
    for name in of.History(record_x=True).columns:
        np.testing.assert_array_equal(a.column(name), b.column(name))


def test_to_dict_has_every_column(result):
    d = result.history.to_dict()
    assert list(d) == ["step", "fun", "grad_norm", "step_norm", "nfev", "elapsed", "step_size",
                       "x"]
    assert d["step"][:3] == [0, 1, 2] and isinstance(d["step"][0], int)
    assert len(d["x"]) == len(result.history) and len(d["x"][0]) == 2
    assert_same(of.History.from_dict(d), result.history)


def test_csv_round_trip_is_exact(result, tmp_path):
    path = tmp_path / "h.csv"
    text = result.history.to_csv(path)
    assert text.splitlines()[0] == "step,fun,grad_norm,step_norm,nfev,elapsed,step_size,x0,x1"
    assert_same(of.History.from_csv(path), result.history)
    assert_same(of.History.from_csv(text), result.history)


def test_json_round_trip_is_exact_and_standard(result, tmp_path):
    path = tmp_path / "h.json"
    text = result.history.to_json(path)
    doc = json.loads(text)  # standard JSON: NaN is null
    assert doc["columns"]["step_norm"][0] is None
    assert "NaN" not in text
    assert_same(of.History.from_json(path), result.history)
    assert math.isnan(of.History.from_json(text).step_norm[0])


def test_exports_write_to_and_load_from_open_files(result, tmp_path):
    # as pandas' to_csv takes a buffer: a StringIO, or a file opened by the caller
    buf = io.StringIO()
    text = result.history.to_csv(buf)
    assert buf.getvalue() == text
    buf.seek(0)
    assert_same(of.History.from_csv(buf), result.history)
    with open(tmp_path / "h.json", "w") as out:
        result.history.to_json(out)
    with open(tmp_path / "h.json") as src:
        assert_same(of.History.from_json(src), result.history)
    many = of.minimize("himmelblau", starts=np.array([[1.0, 1.0], [-3.0, 3.0]]))
    buf = io.StringIO()
    assert many.history.to_csv(buf) == buf.getvalue()
    assert buf.getvalue().startswith("step,start,fun,")


def test_infinities_survive_json():
    h = of.History()
    h.append((0, math.inf, math.nan, -math.inf, 1, 0.0, math.nan))
    back = of.History.from_json(h.to_json())
    assert back.fun[0] == math.inf and back.step_norm[0] == -math.inf


def test_to_pandas(result):
    pd = pytest.importorskip("pandas")
    df = result.history.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["step", "fun", "grad_norm", "step_norm", "nfev", "elapsed",
                                "step_size", "x0", "x1"]
    assert len(df) == len(result.history) and df["step"].dtype == np.int64
    np.testing.assert_array_equal(df["fun"].to_numpy(), result.history.fun)


def test_unknown_column_and_bad_documents_are_errors():
    h = of.History()
    with pytest.raises(of.InvalidArgumentError, match="unknown history column 'loss'"):
        h.column("loss")
    with pytest.raises(of.InvalidArgumentError, match="not an optiframe history"):
        of.History.from_json('{"a": 1}')
    with pytest.raises(of.InvalidArgumentError, match="different lengths"):
        of.History.from_dict({c: [1.0] for c in ("step", "fun", "grad_norm", "step_norm",
                                                  "nfev")} | {"elapsed": []})


def test_columns_are_copies(result):
    col = result.history.fun
    col[:] = 0
    assert result.history.fun[0] != 0


def test_npz_round_trip_is_exact_and_pickle_free(result, tmp_path):
    path = tmp_path / "h.npz"
    result.history.to_npz(path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"step", "fun", "grad_norm", "step_norm", "nfev", "elapsed",
                                   "step_size", "x"}
    assert_same(of.History.from_npz(path), result.history)


def test_print_shows_the_records_as_a_table_its_first_and_last_rows(result):
    lines = str(result.history).splitlines()
    assert lines[0] == "History: 31 rows, with x"
    assert lines[1].split() == ["step", "fun", "grad_norm", "step_norm", "nfev", "step_size"]
    shown = [line.split() for line in lines[3:]]
    assert [row[0] for row in shown] == ["0", "1", "2", "3", "4", "...", "26", "27", "28",
                                         "29", "30"]
    assert shown[-1][1] == f"{result.history.fun[-1]:.6g}"
    assert repr(result.history) == "<History: 31 rows, with x>"  # (what a Result shows)
    short = of.minimize("sphere", [1.0], optimizer="gd", max_steps=2).history
    assert len(str(short).splitlines()) == 3 + 3  # every row of a short history


def test_print_of_a_multistart_history_summarizes_each_step():
    r = of.minimize("rosenbrock", starts=np.array([[-1.2, 1.0], [2.0, 2.0], [0.0, 0.0]]))
    lines = str(r.history).splitlines()
    assert lines[0] == f"StartsHistory: {len(r.history)} rows x 3 starts"
    first = lines[3].split()
    fun0 = r.history.fun[0]
    assert first == ["0", "3", f"{fun0.min():.6g}", f"{np.median(fun0):.6g}",
                     f"{fun0.max():.6g}"]
    last = lines[-1].split()
    assert last[1] == str(int((~np.isnan(r.history.fun[-1])).sum()))


def test_records_kept_by_the_recorder_read_as_appended_rows_in_order():
    kept, appended = of.History(), of.History()
    record = kept.recorder
    rows = [(k, 1.0 / (k + 1), math.nan, 2.0 * k, 3 * k, 0.5, math.inf) for k in range(5)]
    record(rows[0])
    record(rows[1])
    kept.append(rows[2])  # an append between records keeps the order
    record(rows[3])
    assert len(kept) == 4 and kept.last_step == 3  # read: the kept records are packed
    record(rows[4])  # the recorder handed out still records after a read
    for row in rows:
        appended.append(row)
    assert len(kept) == len(appended) == 5
    for name in kept.columns:
        np.testing.assert_array_equal(kept.column(name), appended.column(name))
    assert kept.step.dtype == np.int64 and kept.step.tolist() == [0, 1, 2, 3, 4]


def test_settle_packs_the_kept_records_and_the_recorder_goes_on():
    h = of.History()
    record = h.recorder
    for k in range(3):
        record((k, float(k), 0.0, 0.0, k, 0.0, math.nan))
    h.settle()
    h.settle()  # nothing kept: nothing to pack
    record((3, 3.0, 0.0, 0.0, 3, 0.0, math.nan))
    assert h.fun.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_long_single_start_run_packs_its_records_as_it_goes(monkeypatch):
    # a run keeps at most SETTLE_EVERY records unpacked (tuples: a few hundred bytes each)
    from optiframe.observers import SETTLE_EVERY

    packed = []
    settle = of.History.settle

    def counting(self):
        packed.append(len(self._pending))
        settle(self)

    monkeypatch.setattr(of.History, "settle", counting)
    steps = 2 * SETTLE_EVERY + 10
    r = of.minimize("sphere", [1.0, 2.0], optimizer=of.GradientDescent(lr=1e-6),
                    max_steps=steps, gtol=0)
    assert r.nit == steps and len(r.history) == steps + 1
    assert packed[:2] == [SETTLE_EVERY, SETTLE_EVERY]  # packed twice during the run
    assert all(n <= SETTLE_EVERY for n in packed)
    assert r.history.step.tolist() == list(range(steps + 1))


def test_ctrl_c_as_the_records_are_packed_leaves_each_record_once():
    # Python raises a pending KeyboardInterrupt as a call returns: here, as frombytes has
    # packed the records and before they leave the list of kept ones
    from array import array

    class Interrupted(array):
        def frombytes(self, data):
            super().frombytes(data)
            raise KeyboardInterrupt

    h = of.History()
    record = h.recorder
    for k in range(3):
        record((k, float(k), 0.0, 0.0, k, 0.0, math.nan))
    h._packed = Interrupted("d")
    with pytest.raises(KeyboardInterrupt):
        h.settle()
    assert h.step.tolist() == [0, 1, 2]  # read again: nothing packed twice, nothing lost


def test_the_records_kept_start_no_passes_of_the_garbage_collector():
    # kept tuples count towards gc's threshold of new objects; packed every SETTLE_EVERY
    # steps they stay below it (20 x SETTLE_EVERY steps kept whole would start ~14 passes)
    import gc

    from optiframe.observers import SETTLE_EVERY

    passes = []

    def note(phase, info):
        if phase == "start":
            passes.append(info["generation"])

    gc.collect()
    gc.callbacks.append(note)
    try:
        r = of.minimize("sphere", [1.0, 2.0], optimizer=of.GradientDescent(lr=1e-6),
                        max_steps=20 * SETTLE_EVERY, gtol=0)
    finally:
        gc.callbacks.remove(note)
    assert r.nit == 20 * SETTLE_EVERY
    assert len(passes) <= 1 and 2 not in passes, passes  # (the run's own set-up: one)
