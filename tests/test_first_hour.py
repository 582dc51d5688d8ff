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


# -- issue 23: the first hour, second round -----------------------------------------------


def _run_config(tmp_path, text, *extra):
    from optiframe.cli import main

    (tmp_path / "run.toml").write_text(textwrap.dedent(text))
    code = main(["run", str(tmp_path / "run.toml"), *extra])
    summary_file = tmp_path / "out" / "summary.json"
    return code, (json.loads(summary_file.read_text()) if summary_file.exists() else None)


def test_a_config_bounds_the_run_and_multi_start_samples_in_the_bounds(tmp_path):
    base = """
        [objective]
        name = "rastrigin"
        dim = 2
        [bounds]
        lower = [-1.0, 0.5]
        upper = 2.0
        [output]
        folder = "{folder}"
        """
    # one x0 outside the box: clipped into it, and no step leaves it
    code, summary = _run_config(tmp_path, base.format(folder=tmp_path / "out")
                                + "[start]\nx0 = [3.0, -3.0]\n")
    assert code == 0
    x = np.array(summary["x"])
    assert (x >= [-1.0, 0.5]).all() and (x <= 2.0).all()
    # many starts: sampled in the box, every final point in it
    code, summary = _run_config(tmp_path, base.format(folder=tmp_path / "out")
                                + "[start]\nn_starts = 20\nseed = 0\n", "--force")
    assert code == 0
    for start in summary["starts"]:
        assert -1.0 <= start["x"][0] <= 2.0 and 0.5 <= start["x"][1] <= 2.0


@pytest.mark.parametrize(("extra", "message"), [
    ("[start]\nx0 = [1.0, 1.0]\nbounds = [[0, 1], [0, 1]]\n",
     "start.bounds is for the starts of a multi-start run: set start.n_starts too (to bound "
     "the run itself, use [bounds] lower and upper)"),
    ("[start]\nx0 = [1.0, 1.0]\n[bounds]\nlower = \"a\"\n",
     "bounds.lower must be a number (every coordinate) or a list of numbers"),
    ("[start]\nx0 = [1.0, 1.0]\n[bounds]\nlower = [0, 0]\nupper = [1, 1, 1]\n",
     "bounds.lower has 2 numbers but bounds.upper has 3"),
    ("[start]\nx0 = [1.0, 1.0]\n[bounds]\nlower = 2\nupper = 1\n", "lo > hi"),
    ("[start]\nx0 = [1.0, 1.0]\n[bounds]\nlow = 2\n", "unknown key 'bounds.low'"),
])
def test_bad_config_bounds_are_one_line_naming_the_key(tmp_path, capsys, extra, message):
    code, summary = _run_config(tmp_path, '[objective]\nname = "sphere"\n'
                                f'[output]\nfolder = "{tmp_path / "out"}"\n' + extra)
    assert code == 2 and summary is None
    assert message in capsys.readouterr().err


def test_minima_hold_every_final_point_and_say_how_their_starts_ended():
    # 40 starts, 30 steps of gd: none converges, every start is somewhere
    r = of.minimize("himmelblau", starts=of.MultiStart(40, bounds=[(-5, 5)] * 2), seed=0,
                    optimizer=of.GradientDescent(lr=1e-3), max_steps=30)
    assert r.status == "max_steps" and not r.success
    assert sum(m.count for m in r.minima) == 40
    assert r.minima[0].fun == r.fun and r.best_start in r.minima[0].starts
    assert all(m.statuses == {"max_steps": m.count} and not m.converged for m in r.minima)
    # with max_time every start ends max_time: still every final point is in a minimum
    r = of.minimize("himmelblau", starts=of.MultiStart(10, bounds=[(-5, 5)] * 2), seed=0,
                    max_time=1e-9)
    assert set(r.statuses()) == {"max_time"} and sum(m.count for m in r.minima) == 10
    assert r.minima[0].fun == r.fun


def test_a_multi_start_status_says_how_the_run_went_and_keeps_the_best_starts():
    # start 0 (the lowest) stops by the line search; the others converge
    class Cliff(of.Objective):
        def value(self, x):
            return float(x @ x) if x[0] > -5 else float(x @ x) - 100.0

    starts = np.array([[-6.0, 0.0], [1.0, 1.0], [2.0, -1.0]])
    r = of.minimize(Cliff(), starts=starts, bounds=[(-6, 3)] * 2, max_steps=50,
                    gradient="central")
    assert r.statuses() == {"line_search": 1, "converged": 2}
    assert (r.status, r.success, r.best_status, r.best_start) == (
        "converged", True, "line_search", 0)
    assert r.fun == r.starts[0].fun == -75.0 and r.x.tolist() == r.starts[0].x.tolist()
    assert r.minima[0].starts == (0,) and r.minima[0].statuses == {"line_search": 1}
    assert not r.minima[0].converged and r.minima[1].converged
    assert "start 0 (2 converged, 1 line_search)" in r.message


def test_diverged_starts_are_no_minimum_and_never_the_best_point():
    starts = np.array([[1.0], [0.5]])
    # lr = 1.5 on x^2 diverges from every start: no minimum, status diverged
    r = of.minimize("sphere", starts=starts, optimizer=of.GradientDescent(lr=1.5))
    assert r.status == "diverged" and r.minima == ()


def test_scipy_method_honours_scipys_tol_and_options_and_warns_about_the_rest():
    method = of.scipy_method("lbfgs")
    with pytest.warns(so.OptimizeWarning, match="Unknown solver options: bogus"):
        r = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method, tol=1e-2,
                        options={"maxfun": 3, "bogus": 1})
    assert r.nfev <= 3 and r.optiframe_status == "max_nfev" and not r.success
    loose = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method, tol=1e-2)
    tight = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method)
    assert loose.success and loose.nit < tight.nit
    assert np.linalg.norm(so.rosen_der(loose.x)) <= 1e-2
    r = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method,
                    options={"maxiter": 4})
    assert r.nit == 4 and r.optiframe_status == "max_steps"
    r = so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=method,
                    options={"gtol": 1e-3, "ftol": 1e-30, "xtol": 0.0})
    assert np.linalg.norm(so.rosen_der(r.x)) <= 1e-3


def test_scipy_method_disp_prints_the_outcome(capsys):
    so.minimize(so.rosen, [-1.2, 1.0], jac=so.rosen_der, method=of.scipy_method("lbfgs"),
                options={"disp": True})
    assert "optiframe_lbfgs: converged" in capsys.readouterr().out


def _digits_like(n=60, d=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)), rng.integers(0, 3, size=n)


def test_a_training_run_that_completes_its_epochs_is_a_success():
    X, y = _digits_like()
    model = of.SoftmaxRegression(X, y)
    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=3, seed=0)
    assert (r.status, r.success, r.epochs, r.nit) == ("completed", True, 3, 9)
    # max_steps before the epochs run out is still max_steps
    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=3, seed=0, max_steps=4)
    assert (r.status, r.success) == ("max_steps", False)


def test_early_stopping_keeps_the_epoch_it_stopped_in_with_its_metrics():
    X, y = _digits_like()
    model = of.SoftmaxRegression(X, y)

    def stop_in_3(info):
        if info.epoch == 3:
            raise StopIteration({"val": 0.5})
        return {"val": 1.0}

    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=10, seed=0,
                    epoch_callbacks=stop_in_3)
    assert r.status == "callback_stop" and "after epoch 3" in r.message
    assert r.epochs == 3 and r.history.epochs["val"].tolist() == [1.0, 1.0, 0.5]


def test_a_command_line_training_run_from_init_follows_the_batch_seed(tmp_path):
    (tmp_path / "data.py").write_text(textwrap.dedent("""
        import numpy as np
        import optiframe as of

        def make():
            rng = np.random.default_rng(0)
            return of.MLP(rng.normal(size=(40, 3)), rng.integers(0, 2, size=40), hidden=4)
        """))
    config = f"""
        [objective]
        factory = "data.py:make"
        [start]
        x0 = "init"
        [batch]
        batch_size = 10
        epochs = 1
        seed = {{seed}}
        [output]
        folder = "{tmp_path / 'out'}"
        """
    xs = []
    for seed in (1, 1, 2):
        code, summary = _run_config(tmp_path, config.format(seed=seed), "--force")
        assert code == 0 and summary["status"] == "completed"
        xs.append(summary["x"])
    assert xs[0] == xs[1] and xs[0] != xs[2]


def test_progress_bars_draw_no_stray_bar_and_end_full_when_the_run_ends_early(capsys):
    pytest.importorskip("tqdm")
    r = of.minimize("himmelblau", starts=of.MultiStart(8, bounds=[(-5, 5)] * 2), seed=0,
                    max_steps=500, progress=True)
    err = capsys.readouterr().err
    assert r.nit < 500
    drawn = [part.strip() for part in err.replace("\n", "\r").split("\r") if part.strip()]
    assert all(part.startswith("optiframe, 8 starts") for part in drawn)  # no stray bar
    assert drawn[-1].startswith("optiframe, 8 starts: 100%") and f"{r.nit}/{r.nit}" in drawn[-1]


def test_a_training_bar_shows_the_epochs_loss_from_its_first_batches(capsys):
    pytest.importorskip("tqdm")
    from types import SimpleNamespace

    from optiframe.observers import _best
    from optiframe.state import BatchCursor

    # mid-epoch 1: no whole-data loss yet (F is NaN), 3 batches of 10 summed to 6.0
    s = SimpleNamespace(point=True, F=np.nan, finished=[],
                        cursor=BatchCursor(1, 3, None, 6.0, 30))
    assert _best(s) == 0.2
    stack = SimpleNamespace(point=False, F=np.full(2, np.nan), finished=[],
                            cursor=BatchCursor(1, 3, None, np.array([6.0, 3.0]),
                                               np.array([30, 30])))
    assert _best(stack) == 0.1  # the best start's
    X, y = _digits_like(n=600)
    model = of.SoftmaxRegression(X, y)
    of.minimize(model, np.zeros(model.dim), batch_size=10, epochs=1, seed=0, progress=True,
                optimizer=of.GradientDescent(lr=0.1))
    err = capsys.readouterr().err
    assert "epoch 1/1, loss=" in err and "loss=nan" not in err


@pytest.mark.parametrize(("x0", "message"), [
    ("[[1.0, 2.0], [3.0, 4.0]]", "start.x0: 'x0' must be 1-D"),
    ("[1.0]", "start.x0: x0 has 1 coordinates but Rosenbrock needs at least 2"),
])
def test_x0_errors_on_the_command_line_name_the_file_and_the_key(tmp_path, capsys, x0,
                                                                  message):
    code, summary = _run_config(tmp_path, '[objective]\nname = "rosenbrock"\n'
                                f'[start]\nx0 = {x0}\n[output]\nfolder = "{tmp_path / "out"}"\n')
    err = capsys.readouterr().err
    assert code == 2 and summary is None and not (tmp_path / "out").exists()
    assert f"{tmp_path / 'run.toml'}: {message}" in err


def test_run_arguments_given_to_the_runner_say_where_they_go():
    for name in ("seed", "starts", "workers"):
        with pytest.raises(of.InvalidArgumentError,
                           match=rf"'{name}' is an argument of the run, not of the Runner: "
                                 rf"runner.run\(x0, {name}=...\)"):
            of.Runner("sphere", **{name: 3})


def test_the_docs_name_the_checkpoint_and_stream_formats_as_they_are(tmp_path):
    from optiframe.checkpoint_format import FORMAT_VERSION

    text = (ROOT / "docs" / "howto-checkpoint.md").read_text()
    assert f"`format_version` ({FORMAT_VERSION})" in text
    of.minimize("sphere", [1.0, 2.0], checkpoint=tmp_path / "ck", checkpoint_every=1,
                max_steps=3, optimizer="gd", stream_history=tmp_path / "h.jsonl")
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    for key in meta:
        assert f"`{key}`" in text, key
    header = json.loads((tmp_path / "h.jsonl").read_text().splitlines()[0])
    for key in header:
        assert f"`{key}`" in text, key
    assert "[" + ", ".join(header["columns"]) + "]" in " ".join(text.split())


def test_install_hints_name_what_can_be_installed():
    from optiframe.registry import PROVIDED_BY, install_hint

    for dist in set(PROVIDED_BY.values()):
        assert (ROOT / "plugins" / dist / "pyproject.toml").is_file()
        assert install_hint(dist).startswith(f"pip install ./plugins/{dist} ")
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                 *(ROOT / "optiframe").glob("*.py"),
                 *(ROOT / "plugins").glob("*/src/*/*.py"), *(ROOT / "plugins").glob("*/README.md")]:
        text = path.read_text()
        assert "pip install optiframe" not in text and "'optiframe[" not in text, path
