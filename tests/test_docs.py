"""Every example in the docs runs: docstring doctests and the Python blocks of the Markdown."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import optiframe

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.walk_packages(optiframe.__path__, "optiframe."))
MARKDOWN = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert failures == 0


def test_public_api_has_examples():
    with_examples = [n for n in ("minimize", "Objective", "GradientDescent", "Runner",
                                 "CentralDifference", "History", "GradientEstimator",
                                 "Optimizer", "FunctionObjective")
                     if ">>>" in (getattr(optiframe, n).__doc__ or "")]
    assert len(with_examples) == 9


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in BLOCK.findall(path.read_text()):
        exec(compile(block, str(path), "exec"), namespace)
