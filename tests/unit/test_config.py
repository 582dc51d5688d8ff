"""`optiframe run CONFIG.toml`: results folder, overrides, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest

import optiframe as of
from optiframe.cli import main

tomllib = pytest.importorskip("tomllib")

BASE = textwrap.dedent("""
    [objective]
    name = "rosenbrock"

    [optimizer]
    name = "adam"
    lr = 0.05

    [start]
    x0 = [-1.2, 1.0]

    [stop]
    max_steps = 400

    [output]
    folder = "out"
""")


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "run.toml"
    path.write_text(BASE)
    return path


def test_run_writes_a_results_folder(config, tmp_path, capsys):
    assert main(["run", str(config)]) == 0
    out = tmp_path / "out"
    files = sorted(p.name for p in out.iterdir())
    expected = ["config.toml", "history.csv", "history.json", "summary.json"]
    assert files in (expected, sorted([*expected, "loss.png"]))  # plot with optiframe-plot
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "max_steps" and summary["nit"] == 400
    history = of.History.from_csv(out / "history.csv")
    assert len(history) == 401
    resolved = tomllib.loads((out / "config.toml").read_text())
    assert resolved["optimizer"] == {"name": "adam", "lr": 0.05}
    assert resolved["gradient"] == {"name": "auto"}
    assert "results in out/" in capsys.readouterr().out


def test_set_overrides_and_print_config(config, capsys):
    assert main(["run", str(config), "--set", "optimizer.lr=0.2", "--set",
                 "stop.gtol=1e-3", "--print-config"]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert printed["optimizer"]["lr"] == 0.2 and printed["stop"]["gtol"] == 1e-3
    assert not (config.parent / "out").exists()  # printing runs nothing


def test_a_user_objective_from_a_file(config, tmp_path):
    (tmp_path / "mine.py").write_text("import numpy as np\n\ndef bowl(x):\n"
                                      "    return float(np.sum((x - 2.0) ** 2))\n")
    config.write_text(BASE.replace('name = "rosenbrock"', 'path = "mine.py:bowl"'))
    assert main(["run", str(config), "--set", "optimizer.name=gd", "--set",
                 "optimizer.lr=0.1"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "converged"
    assert summary["x"] == pytest.approx([2.0, 2.0], abs=1e-6)


def test_multi_start_from_a_config(config, tmp_path):
    config.write_text(BASE.replace('name = "rosenbrock"', 'name = "himmelblau"').replace(
        "x0 = [-1.2, 1.0]", "n_starts = 40\nsampler = \"lhs\"\nbounds = [[-5, 5], [-5, 5]]\n"
        "seed = 0").replace("max_steps = 400", "max_steps = 3000"))
    assert main(["run", str(config), "--set", "optimizer.lr=0.02"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert len(summary["starts"]) == 40 and len(summary["minima"]) == 4
    # what reference.md promises a multi-start folder holds (plots with optiframe-plot)
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    expected = ["config.toml", "history.csv", "summary.json"]
    assert files in (expected, sorted([*expected, "loss.png", "minima.png"]))
    assert {"index", "status", "fun", "x", "nit"} <= set(summary["starts"][0])
    assert {"x", "fun", "count"} <= set(summary["minima"][0])


ERRORS = [
    ("unknown section", "[optimiser]\nlr = 1\n", [], r"unknown section \[optimiser\]. "
     r"Did you mean 'optimizer'\?"),
    ("unknown key", "", ["stop.max_step=10"], r"unknown key 'stop.max_step'. Did you mean "
     r"'max_steps'\?"),
    ("wrong type", "", ["stop.max_steps=\"ten\""], r"'max_steps' must be an integer"),
    ("unknown optimizer", "", ["optimizer.name=adma"], r"unknown optimizer 'adma'. Did you "
     r"mean 'adam'\?"),
    ("unknown hyperparameter", "", ["optimizer.lrr=0.1"],
     r"optimizer 'adam' has no parameter 'lrr'. Did you mean 'lr'\?"),
    ("bad value", "", ["optimizer.lr=-1"], r"'lr' must be > 0: -1"),
    ("missing file for path", "", ["objective.path=\"nowhere.py:f\""], r"no such file"),
    ("bad --set", "", ["lr=0.1"], r"write section.key=value"),
]


@pytest.mark.parametrize(("extra", "sets", "pattern"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_bad_configs_exit_2_with_one_line_naming_the_file(config, capsys, extra, sets,
                                                          pattern):
    import re

    config.write_text(BASE + extra)
    args = ["run", str(config)]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(config) in err
    assert re.search(pattern, err), err


def test_missing_config_and_existing_folder_exit_2(config, capsys):
    assert main(["run", "nope.toml"]) == 2
    assert "nope.toml: no such config file" in capsys.readouterr().err
    assert main(["run", str(config)]) == 0
    assert main(["run", str(config)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["run", str(config), "--force"]) == 0


def test_config_values_are_never_evaluated(config, tmp_path):
    marker = tmp_path / "evaluated"
    payload = f"__import__('os').system('touch {marker}')"
    config.write_text(BASE.replace('name = "adam"', f'name = "{payload}"'))
    assert main(["run", str(config)]) == 2
    assert not marker.exists()
    assert sys.modules.get("os") is not None


def test_minibatch_training_from_a_config(config, tmp_path):
    (tmp_path / "data.py").write_text(textwrap.dedent("""
        import numpy as np
        import optiframe as of

        def make(n=300):
            rng = np.random.default_rng(0)
            X = rng.normal(size=(n, 4))
            y = (X[:, 0] + X[:, 1] > 0).astype(int)
            return of.SoftmaxRegression(X, y)
    """))
    config.write_text(textwrap.dedent("""
        [objective]
        factory = "data.py:make"
        n = 200

        [optimizer]
        name = "gd"
        lr = 0.5

        [start]
        x0 = "zeros"

        [batch]
        batch_size = 20
        epochs = 3
        seed = 1

        [output]
        folder = "out"
    """))
    assert main(["run", str(config)]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["nit"] == 3 * 10
    assert len(summary["x"]) == (4 + 1) * 2
    # a training run writes its per-epoch table, and the summary has the epoch figures
    assert summary["epochs"] == 3 and len(summary["epoch_table"]) == 3
    lines = (tmp_path / "out" / "epochs.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,step") and len(lines) == 4
    config.write_text(config.read_text().replace('factory = "data.py:make"',
                                                 'factory = "data.py:np"'))
    assert main(["run", str(config), "--force"]) == 2


def test_checkpointed_run_resumes_from_the_command_line(config, capsys):
    config.write_text(BASE.replace('folder = "out"', 'folder = "out"\ncheckpoint_every = 100\n'
                                   'stream_history = true'))
    assert main(["run", str(config), "--set", "stop.max_steps=200"]) == 0
    assert of.load_checkpoint("out/checkpoint").step == 200
    assert main(["run", str(config), "--resume"]) == 0  # on to max_steps = 400
    summary = json.loads((config.parent / "out" / "summary.json").read_text())
    whole = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.Adam(lr=0.05), max_steps=400)
    assert summary["x"] == whole.x.tolist() and summary["nit"] == 400
    streamed = of.load_history_stream("out/history.jsonl")
    assert streamed.fun.tolist() == whole.history.fun.tolist()


@pytest.mark.parametrize(("args", "pattern"), [
    (["--resume"], r"no checkpoint in 'out/checkpoint' to resume"),
    (["--resume", "--set", "optimizer.lr=0.1"],
     r"configured differently.*optimizer.lr: the checkpoint has 0.05, this runner 0.1"),
])
def test_bad_resume_is_one_line_exit_2(args, pattern, config, capsys):
    if "optimizer.lr=0.1" in args:
        config.write_text(BASE.replace('folder = "out"', 'folder = "out"\ncheckpoint_every = 100'))
        assert main(["run", str(config)]) == 0
        capsys.readouterr()
    assert main(["run", str(config), *args]) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err, re.S), err


# -- issue 13: each case once failed with a traceback or a lost result -------------------
def _nested(path):
    path.write_text("a = " + "[" * 3000 + "]" * 3000 + "\n")


def _non_utf8(path):
    path.write_bytes(b"\xff\xfe[objective]\n")


def _text_path(path):
    (path.parent / "f.txt").write_text("x\n")
    path.write_text(BASE.replace('name = "rosenbrock"', 'path = "f.txt:f"'))


def _raises_at_import(path):
    (path.parent / "bad.py").write_text("raise ValueError('broken module')\n")
    path.write_text(BASE.replace('name = "rosenbrock"', 'path = "bad.py:f"'))


def _dangling(path):
    (path.parent / "out").symlink_to(path.parent / "nowhere" / "dir")


def _a_file(path):
    (path.parent / "out").write_text("not a folder\n")


# (id, how the config or folder is damaged, extra arguments, one-line error pattern)
CLI_FAULTS = [
    ("non-UTF-8 config", _non_utf8, [], r"not UTF-8 text \(byte 0\)"),
    ("deeply nested TOML", _nested, [], r"not valid TOML: nested too deeply"),
    ("path to a text file", _text_path, [], r"'f.txt' is not a Python file"),
    ("path whose import raises", _raises_at_import, [],
     r"importing 'bad.py' raised ValueError: broken module"),
    ("top-level scalar with --set", lambda p: None, ["--set", "stop=3"],
     r"write section.key=value"),
    ("a TOML date with --print-config", lambda p: None,
     ["--set", "stop.max_steps=1979-05-27", "--print-config"],
     r"'max_steps' must be an integer >= 0: datetime.date\(1979, 5, 27\)"),
    ("a string for a flag", lambda p: None, ["--set", 'stop.detect_divergence="yes"'],
     r"'detect_divergence' must be True or False: 'yes'"),
    ("x0 of the wrong size, --print-config",
     lambda p: p.write_text(BASE.replace('name = "rosenbrock"', 'name = "rosenbrock"\ndim = 3')),
     ["--print-config"], r"start.x0 has 2 coordinates but the objective .* has 3"),
    ("results folder a dangling symlink, --force", _dangling, ["--force"],
     r"the results folder 'out' is a symlink to .*nowhere/dir', which does not exist"),
    ("results folder a file, --force", _a_file, ["--force"],
     r"the results folder 'out' is a file, not a folder"),
]


@pytest.mark.parametrize(("damage", "extra", "pattern"), [c[1:] for c in CLI_FAULTS],
                         ids=[c[0] for c in CLI_FAULTS])
def test_cli_faults_are_one_line_exit_2_before_the_run(config, capsys, damage, extra, pattern):
    import re

    damage(config)
    assert main(["run", str(config), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert re.search(pattern, err), err
    assert not (config.parent / "out" / "summary.json").exists()  # no run happened


def test_force_removes_what_the_earlier_run_left(config, tmp_path):
    out = tmp_path / "out"
    (out / "checkpoint").mkdir(parents=True)
    for name in ("history.jsonl", "minima.png", "summary.json"):
        (out / name).write_text("old\n")
    assert main(["run", str(config), "--force"]) == 0
    assert not (out / "history.jsonl").exists() and not (out / "minima.png").exists()
    assert not (out / "checkpoint").exists()
    assert json.loads((out / "summary.json").read_text())["nit"] == 400


def test_a_failed_run_exits_1_and_keeps_its_results(config, tmp_path, capsys):
    (tmp_path / "mine.py").write_text("def f(x):\n    raise RuntimeError('boom')\n")
    config.write_text(BASE.replace('name = "rosenbrock"', 'path = "mine.py:f"'))
    assert main(["run", str(config)]) == 1
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "failed" and "RuntimeError: boom" in summary["message"]


def test_results_that_cannot_be_written_go_to_a_named_folder(config, tmp_path, capsys,
                                                             monkeypatch):
    import optiframe.config as cfg

    real = cfg._write_results

    def once_fails(result, folder, config_, *rest):
        if folder.name == "out":
            raise OSError(28, "No space left on device")
        return real(result, folder, config_, *rest)

    monkeypatch.setattr(cfg, "_write_results", once_fails)
    assert main(["run", str(config)]) == 0
    captured = capsys.readouterr()
    assert "could not be written into 'out' (No space left on device); they are in" in (
        captured.err)
    fallback = next(tmp_path.glob("optiframe-results-*"))
    assert json.loads((fallback / "summary.json").read_text())["nit"] == 400
    assert f"results in {fallback.name}" in captured.out or str(fallback) in captured.out


def test_a_plugins_own_value_error_is_one_line_exit_2(config, capsys):
    import attrs

    def positive(instance, attribute, value):
        if value <= 0:
            raise ValueError(f"{attribute.name} must be positive, got {value}")

    @attrs.frozen
    class Halving(of.Optimizer):
        lr: float = attrs.field(default=0.5, validator=positive)

        def init(self, x):
            return of.EmptyState()

        def step(self, x, grad, state):
            return x - self.lr * grad, state

    class Plugin:
        @of.hookimpl
        def register_optimizers(self, register):
            register("halving", Halving)

    of.register_plugin(Plugin(), "halving-plugin")
    try:
        config.write_text(BASE.replace('name = "adam"\nlr = 0.05', 'name = "halving"\nlr = -1'))
        assert main(["run", str(config)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert "lr must be positive, got -1" in err and str(config) in err
    finally:
        of.unregister_plugin("halving-plugin")


def test_other_libraries_names_in_a_config_are_named_as_optiframes(tmp_path):
    """`max_iter` in [stop] was offered 'max_time'; `learning_rate` in [optimizer] no
    suggestion: both are named as optiframe's."""
    from optiframe.config import ConfigError, load_config

    stop = tmp_path / "stop.toml"
    stop.write_text('[objective]\nname = "sphere"\n[start]\nx0 = [1.0]\n[stop]\nmax_iter = 3\n')
    with pytest.raises(ConfigError, match=r"unknown key 'stop.max_iter'. optiframe calls it "
                       r"'max_steps'"):
        load_config(stop, [])
    with pytest.raises(of.InvalidArgumentError, match=r"optimizer 'adam' has no parameter "
                       r"'learning_rate'. optiframe calls it 'lr'"):
        of.get_registry().build("optimizer", {"name": "adam", "learning_rate": 0.1},
                                of.Optimizer)
