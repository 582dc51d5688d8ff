"""Packaging (issue 14): a typed package, its license, its classifiers, ``python -m``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

USER_SCRIPT = textwrap.dedent("""
    import numpy as np
    import optiframe as of

    def bowl(x: np.ndarray) -> float:
        return float(np.sum((x - 1.0) ** 2))

    r: of.Result = of.minimize(bowl, np.zeros(3))
    best: float = r.fun
    steps: int = r.nit
    h: of.History = r.history
    runner = of.Runner("rosenbrock", of.LBFGS(), max_steps=100)
    print(runner.run([-1.2, 1.0]).x, best, steps, len(h))
""")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """optiframe installed (not editable) into a folder of its own, as a user gets it."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "--target",
                    str(target), str(ROOT)], check=True, capture_output=True)
    return target


def mypy(site, tmp_path, source):
    pytest.importorskip("mypy")
    script = tmp_path / "user.py"
    script.write_text(source)
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--strict",
                           "--python-executable", sys.executable, str(script)],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})


def test_a_users_typed_script_checks_against_the_installed_package(installed, tmp_path):
    assert (installed / "optiframe" / "py.typed").exists()
    ok = mypy(installed, tmp_path, USER_SCRIPT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = mypy(installed, tmp_path, USER_SCRIPT + "oops: int = of.minimize(bowl, np.zeros(3))\n")
    assert wrong.returncode == 1
    assert 'expression has type "Result", variable has type "int"' in wrong.stdout


def test_license_changelog_and_the_tested_pythons_are_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "MIT" in (ROOT / "LICENSE").read_text() and meta["license"]["text"] == "MIT"
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
    versions = [c.rsplit(":: ", 1)[1] for c in meta["classifiers"]
                if c.startswith("Programming Language :: Python :: 3.")]
    assert versions == ["3.11", "3.12", "3.13"] and meta["requires-python"] == ">=3.11"
    script = (ROOT / "scripts" / "test").read_text()
    assert "3.13" in script  # the newest is tested beside the default (oldest) python3


def test_python_dash_m_optiframe_runs():
    proc = subprocess.run([sys.executable, "-m", "optiframe", "list", "optimizer"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "lbfgs" in proc.stdout


def test_no_module_of_the_package_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "optiframe").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}, f"split these modules by concern: {long}"


def test_no_function_of_the_loop_the_stop_rules_or_the_step_lengths_is_over_80_lines():
    import ast

    engine = ("loop.py", "settle.py", "stopping.py", "stop_rules.py", "line_step.py",
              "linesearch.py", "value_trials.py", "finer_check.py",
              "widened.py")
    long = {}
    for name in engine:
        for node in ast.walk(ast.parse((ROOT / "optiframe" / name).read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    n := node.end_lineno - node.lineno + 1) > 80:
                long[f"{name}:{node.name}"] = n
    assert long == {}, f"split these functions: {long}"
