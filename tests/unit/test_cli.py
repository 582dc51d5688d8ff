"""The command line: plugins, list, sweep and demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import optiframe as of
from optiframe.cli import main


def test_list_prints_a_table_of_every_kind(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for kind, name in [("objective", "himmelblau"), ("gradient", "central"),
                       ("optimizer", "gd")]:
        assert any(line.split()[:2] == [kind, name] for line in out.splitlines())


def test_list_one_kind_as_json(capsys):
    assert main(["list", "gradient", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    builtin = {e["name"] for e in entries if e["plugin"].startswith("optiframe.")}
    assert builtin == {"adaptive", "analytic", "auto", "central", "forward", "richardson",
                       "spsa"}
    assert all(e["kind"] == "gradient" and e["description"] for e in entries)


def test_list_unknown_kind_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list", "optimisers"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_plugins_all_includes_builtins(capsys):
    assert main(["plugins", "--all", "--json"]) == 0
    plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert plugins["optiframe.optimizers"]["builtin"] is True
    assert "optimizer:gd" in plugins["optiframe.optimizers"]["components"]
    assert main(["plugins", "--all"]) == 0
    assert "register_gradient_estimators" in capsys.readouterr().out


def test_demo_tells_the_story(capsys, tmp_path):
    assert main(["demo", "--figures", str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    assert "-0.00012307192187321903" in out and "2459382288.1580424" in out
    assert "diverged" in out
    assert "[0.39785867 0.39785867 0.39785867]" in out
    assert "4 distinct minima" in out and "[3. 2.]" in out
    assert "Minibatch SGD on 8x8 digits" in out and "test accuracy" in out
    assert "the checkpoint holds step 2500" in out
    assert "Same bits as a run never interrupted (x and every f in the history): True" in out


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "optiframe.cli", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("optiframe ")


def test_list_shows_parameters_and_plain_text(capsys):
    assert main(["list", "optimizer"]) == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":class:" not in out
    adam = next(line for line in out.splitlines() if line.startswith("optimizer  adam "))
    assert "lr=0.001, beta1=0.9, beta2=0.999" in adam
    assert main(["list", "gradient", "--json"]) == 0
    central = next(e for e in json.loads(capsys.readouterr().out) if e["name"] == "central")
    assert central["parameters"].startswith("step=None, relative=True")


def test_sweep_runs_the_lists_of_a_config_and_writes_the_table(tmp_path, capsys):
    config = tmp_path / "sweep.toml"
    config.write_text('[objective]\nname = "himmelblau"\n[optimizer]\nname = "gd"\n'
                      'lr = [0.001, 0.01, 0.1]\n[start]\nx0 = [0.5, -0.5]\n'
                      f'[stop]\nmax_steps = [100, 1000]\n[output]\nfolder = "{tmp_path / "out"}"\n')
    assert main(["sweep", str(config)]) == 0
    out = capsys.readouterr().out
    assert "lr" in out.splitlines()[0] and "diverged" in out
    rows = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert [(r["lr"], r["max_steps"]) for r in rows][:2] == [(0.001, 100), (0.001, 1000)]
    alone = of.minimize("himmelblau", [0.5, -0.5], optimizer=of.GradientDescent(lr=0.01),
                        max_steps=1000)
    assert rows[3]["x"] == alone.x.tolist() and rows[3]["status"] == str(alone.status)
    assert (tmp_path / "out" / "sweep.csv").read_text().startswith("lr,max_steps,status")
    # an existing table is not overwritten without --force; a bad value is named first
    assert main(["sweep", str(config)]) == 2
    assert "--force" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace("0.1]", "-0.1]"))
    assert main(["sweep", str(bad), "--force"]) == 2
    assert "'lr' must be > 0: -0.1" in capsys.readouterr().err
    zipped = tmp_path / "zipped.toml"
    zipped.write_text(config.read_text().replace("[0.001, 0.01, 0.1]", "[0.001, 0.01]")
                      + "[sweep]\nzipped = true\n")
    assert main(["sweep", str(zipped), "--force"]) == 0
    rows = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert [(r["lr"], r["max_steps"]) for r in rows] == [(0.001, 100), (0.01, 1000)]


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
