"""Every example in the docs runs: docstring doctests and the Python blocks of the Markdown."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

import optiframe
import optiframe as of

ROOT = Path(__file__).resolve().parents[2]
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
