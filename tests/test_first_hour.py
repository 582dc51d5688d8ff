"""The first hour of a scipy or torch user (issue 14): what they type, what they get."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import optiframe as of

so = pytest.importorskip("scipy.optimize")
ROOT = Path(__file__).resolve().parents[1]


def test_scipys_rosen_with_its_jac_and_tol():
    r = of.minimize(so.rosen, [1.3, 0.7, 0.8], jac=so.rosen_der, tol=1e-10)
    assert r.success and np.allclose(r["x"], 1.0)
    assert set(r.keys()) >= {"x", "fun", "jac", "nit", "nfev", "njev", "status", "message"}
    assert "x" in r and r.get("nope") is None
    np.testing.assert_allclose(r.jac, so.rosen_der(r.x), atol=1e-12)
    assert np.linalg.norm(r.jac) <= 1e-10  # tol is scipy's: it sets the gradient tolerance
    with pytest.raises(KeyError, match="'hess': a Result has x, fun, jac"):
        r["hess"]


def test_the_spellings_scipy_users_type():
    x0 = [1.3, 0.7]
    by_method = of.minimize(so.rosen, x0, method="L-BFGS-B", jac=so.rosen_der)
    by_name = of.minimize(so.rosen, x0, optimizer="lbfgs", gradient=so.rosen_der)
    np.testing.assert_array_equal(by_method.x, by_name.x)  # gradient=function is jac=
    assert of.minimize(so.rosen, x0, method="BFGS").success
    both = of.minimize(lambda x: (so.rosen(x), so.rosen_der(x)), x0, jac=True)
    assert both.success and both.nfev == both.njev  # one call serves f and g
    assert of.minimize(so.rosen, x0, jac="3-point").success
    capped = of.minimize(so.rosen, x0, options={"maxiter": 5, "disp": False})
    assert capped.status == "max_steps" and capped.nit == 5
    seen, legacy = [], []
    of.minimize(so.rosen, x0, options={"maxiter": 4},
                callback=lambda intermediate_result: seen.append(intermediate_result.fun))
    of.minimize(so.rosen, x0, options={"maxiter": 4}, callback=lambda xk: legacy.append(xk))
    assert len(seen) == 4 and len(legacy) == 4 and legacy[-1].shape == (2,)
    infos = []
    of.minimize(so.rosen, x0, options={"maxiter": 3}, callback=lambda info: infos.append(info))
    assert [i.step for i in infos] == [1, 2, 3] and isinstance(infos[0], of.StepInfo)
    with pytest.raises(of.InvalidArgumentError, match=r"options\['maxiters'\]"):
        of.minimize(so.rosen, x0, options={"maxiters": 5})
    with pytest.raises(of.InvalidArgumentError, match="'optimizer' or 'method'"):
        of.minimize(so.rosen, x0, optimizer="gd", method="BFGS")


def test_scipy_bounds_objects_work():
    r = of.minimize(so.rosen, [0.5, 0.5], bounds=so.Bounds([-1, -1], [0.8, 0.8]))
    assert r.success and (r.x <= 0.8).all()


def test_an_x0_of_any_shape_keeps_its_shape():
    seen = []

    def loss(w):
        seen.append(w.shape)
        return float(((w - 1) ** 2).sum())

    r = of.minimize(loss, np.zeros((3, 4)))
    assert r.x.shape == (3, 4) and np.allclose(r.x, 1.0) and set(seen) == {(3, 4)}
    assert r.jac.shape == (3, 4)
    g = of.minimize(loss, np.zeros((2, 2)), jac=lambda w: 2 * (w - 1))
    assert g.x.shape == (2, 2) and g.success


def test_an_error_in_the_objective_raises_with_its_traceback():
    def loss(x):
        return float(x @ x) + undefined_name  # noqa: F821  the typo a user makes

    with pytest.raises(NameError, match="undefined_name") as info:
        of.minimize(loss, [1.0, 2.0])
    assert info.value.result.status == "failed"
    assert any(entry.name == "loss" for entry in info.traceback)


def test_the_divergence_message_agrees_with_the_result():
    r = of.minimize(lambda x: float(x[0] ** 2 + 1), -3.0, optimizer=of.GradientDescent(lr=10.0))
    assert r.status == "diverged" and r.x.tolist() == [-3.0] and r.fun == 10.0
    assert "x is the best finite point seen, f = 10 there" in r.message
    assert "line_search='armijo'" in r.message


CONFIG = textwrap.dedent("""
    [objective]
    path = "bowl.py:bowl"

    [optimizer]
    name = "gd"
    lr = 0.1

    [schedules]
    lr = {name = "exponential", gamma = 0.999}

    [start]
    n_starts = 4
    bounds = [[-2.0, 2.0], [-2.0, 2.0]]
    seed = 0
    workers = 2

    [stop]
    max_steps = 500

    [output]
    folder = "out"
""")


def test_a_config_with_schedules_and_workers_runs_from_another_folder(tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "bowl.py").write_text("def bowl(x):\n    return float(((x - 1) ** 2).sum())\n")
    (project / "run.toml").write_text(CONFIG)
    proc = subprocess.run([sys.executable, "-m", "optiframe", "run",
                           str(project / "run.toml")], cwd=elsewhere, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((elsewhere / "out" / "summary.json").read_text())
    assert summary["status"] == "converged" and len(summary["starts"]) == 4


def test_config_mistakes_get_one_line(tmp_path):
    (tmp_path / "bowl.py").write_text("def bowl(x):\n    return float(((x - 1) ** 2).sum())\n")
    (tmp_path / "run.toml").write_text(CONFIG.replace("lr = 0.1", "lr = 0.1\nmax_steps = 5"))
    proc = subprocess.run([sys.executable, "-m", "optiframe", "run", "run.toml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "optimizer.max_steps is a stopping rule: it belongs in [stop]" in proc.stderr


def test_a_pipe_that_closes_early_ends_quietly():
    proc = subprocess.run(f"{sys.executable} -m optiframe list --json | head -1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "[" and proc.stderr == ""


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX signals")
def test_ctrl_c_on_the_command_line_exits_130_keeping_the_results(tmp_path):
    (tmp_path / "slow.py").write_text(
        "import time\n\ndef slow(x):\n    time.sleep(0.002)\n    return float((x ** 2).sum())\n")
    (tmp_path / "run.toml").write_text(textwrap.dedent("""
        [objective]
        path = "slow.py:slow"
        [optimizer]
        name = "gd"
        lr = 1e-6
        [start]
        x0 = [1.0, 2.0]
        [stop]
        max_steps = 1000000
        [output]
        folder = "out"
        checkpoint_every = 50
    """))
    proc = subprocess.Popen([sys.executable, "-m", "optiframe", "run", "run.toml"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "out" / "checkpoint" / "checkpoint.json").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["nit"] >= 50


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


def test_args_is_scipys_args():
    # issue 23: args= was refused ("Did you mean 'progress'?")
    def f(x, a, b):
        return float((a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2)

    def g(x, a, b):
        return np.array([-2 * (a - x[0]) - 4 * b * x[0] * (x[1] - x[0] ** 2),
                         2 * b * (x[1] - x[0] ** 2)])

    ours = of.minimize(f, [-1.2, 1.0], args=(1.0, 100.0), jac=g)
    theirs = of.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der)
    assert ours.success and np.allclose(ours.x, theirs.x, atol=1e-8)
    assert of.minimize(lambda x, c: float((x[0] - c) ** 2), [0.0], args=3.0).x[0] == (
        pytest.approx(3.0))
    with pytest.raises(of.InvalidArgumentError, match="args= goes with a plain callable"):
        of.minimize("sphere", [1.0], args=(1,))


def test_scipys_option_names_as_keywords_say_where_they_go():
    with pytest.raises(of.InvalidArgumentError) as info:
        of.minimize(so.rosen, [1.0, 2.0], maxiter=5)
    text = str(info.value)
    assert "max_steps=" in text and "options={'maxiter'" in text
    assert "args, callback, jac, method, options, tol" in text


def test_a_data_model_of_the_wrong_size_says_what_its_parameters_are():
    X, y = np.ones((10, 3)), np.ones(10)
    with pytest.raises(of.InvalidArgumentError,
                       match=r"LeastSquares\(10 samples, 3 features\) takes 4 \(3 weights \+ 1 "
                             r"intercept\): start from np.zeros\(model.dim\)"):
        of.minimize(of.LeastSquares(X, y), np.zeros(2))


def test_the_command_line_shows_a_glimpse_of_a_large_x_and_the_step_count(tmp_path,
                                                                           monkeypatch,
                                                                           capsys):
    from optiframe.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text('[objective]\nname = "sphere"\n[start]\n'
                                       'x0 = [' + ", ".join(["1.0"] * 50) + ']\n'
                                       '[stop]\nmax_steps = 3\n')
    assert main(["run", "run.toml"]) == 0
    out = capsys.readouterr().out
    assert "(50 numbers; all of them in summary.json)" in out and "..." in out
    assert "steps = 2, evaluations = 3" in out  # L-BFGS: the sphere in two steps
