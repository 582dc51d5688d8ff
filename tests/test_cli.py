"""The command line: plugins, list, sweep and demo."""

from __future__ import annotations

import json
import subprocess
import sys

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
