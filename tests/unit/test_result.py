"""Results (optiframe.result): what survives pickling, and the computed jac."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of


def test_results_pickle_with_their_history_and_a_computed_jac():
    import pickle

    r = of.minimize(lambda x: float(((x - 1) ** 2).sum()), [3.0, -1.0])
    jac = r.jac
    back = pickle.loads(pickle.dumps(r))
    assert (back.status, back.nit, back.nfev) == (r.status, r.nit, r.nfev)
    np.testing.assert_array_equal(back.x, r.x)
    np.testing.assert_array_equal(back.history.fun, r.history.fun)
    np.testing.assert_array_equal(back.jac, jac)
    multi = of.minimize("himmelblau", starts=np.array([[1.0, 1.0], [-3.0, 3.0]]))
    again = pickle.loads(pickle.dumps(multi))
    assert len(again.minima) == len(multi.minima) and again.fun == multi.fun


def test_a_multistart_repr_lists_the_best_minima_and_counts_the_rest():
    box = [(-5.12, 5.12)] * 2
    r = of.minimize("rastrigin", starts=of.MultiStart(30, sampler="uniform", bounds=box),
                    seed=0, optimizer=of.GradientDescent(lr=1e-3), max_steps=300)
    assert len(r.minima) > 5
    lines = repr(r).splitlines()
    at = lines.index(f"  minima: {len(r.minima)} distinct, best first")
    shown = lines[at + 1:at + 6]  # five minima, one a line, best first, each with its f
    for line, m in zip(shown, r.minima, strict=False):
        assert line.startswith(f"          f {m.fun:.6g} at [")
        assert line.endswith(f"] from {m.count} start" + ("s" if m.count > 1 else ""))
    assert lines[at + 6] == f"          ... {len(r.minima) - 5} more in .minima"
    assert repr(r).endswith("\n)")


def test_a_global_result_repr_reads_like_the_others_with_its_strategy_and_trace():
    g = of.minimize("rastrigin", bounds=[(-5.12, 5.12)] * 2, seed=0, max_nfev=1500)
    text = repr(g)
    assert text.startswith("GlobalResult(\n  status: ") and text.endswith("\n)")
    assert f"strategy: {g.strategy}\n" in text and "  starts: " in text
    trace = g.trace
    assert (f"   trace: best f {trace.best[0]:.6g} after {trace.nfev[0]} evaluations, "
            f"{trace.best[-1]:.6g} after {trace.nfev[-1]} ({len(trace.best)} improvements"
            ) in text
    assert "array(" not in text  # not attrs' one-line dump


def test_results_export_to_a_dict_and_standard_json(tmp_path):
    import io
    import json

    r = of.minimize("rosenbrock", [-1.2, 1.0])
    d = r.to_dict()
    assert d == {"status": "converged", "success": True, "message": r.message, "fun": r.fun,
                 "x": r.x.tolist(), "nit": r.nit, "nfev": r.nfev, "njev": r.njev}
    assert json.loads(r.to_json(tmp_path / "r.json")) == d
    assert json.loads((tmp_path / "r.json").read_text()) == d
    buf = io.StringIO()
    assert r.to_json(buf) == buf.getvalue()
    # a NaN f is standard JSON's string, not the bare NaN json.dumps writes
    nan = of.minimize(lambda x: float("nan"), [1.0, 2.0], raise_errors=False)
    assert json.loads(nan.to_json(), parse_constant=pytest.fail)["fun"] == "nan"
    multi = of.minimize("himmelblau", starts=np.array([[1.0, 1.0], [-3.0, 3.0]]))
    d = json.loads(multi.to_json())
    assert [s["index"] for s in d["starts"]] == [0, 1]
    assert [m["count"] for m in d["minima"]] == [m.count for m in multi.minima]
    g = of.minimize("rastrigin", bounds=[(-5.12, 5.12)] * 2, seed=0, max_nfev=500)
    d = json.loads(g.to_json())
    assert d["strategy"] == g.strategy and d["trace"]["best"] == list(g.trace.best)


def test_a_printed_result_keeps_a_long_x_on_one_line():
    r = of.minimize(lambda x: float(((x - 0.123456789) ** 2).sum()), np.zeros(50),
                    max_steps=3)
    line = next(line for line in repr(r).splitlines() if line.startswith("       x: "))
    assert line.count("0.12345679") == 6 and "..." in line
    assert repr(r).splitlines()[5].startswith("     fun: ")  # nothing wrapped before it
