"""Helpers for the tests that install real plugin distributions with pip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PLUGINS = Path(__file__).parent / "data" / "plugins"


def install_plugins(tmp_path_factory, names):
    """pip-install the distributions ``tests/data/plugins/<name>`` (no dependencies, no
    index) into a fresh folder, and return it (for PYTHONPATH)."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    for name in names:
        src = build / name
        subprocess.run(["cp", "-r", str(PLUGINS / name), str(src)], check=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
             "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
             str(src)],
            check=True, capture_output=True,
        )
    return target
