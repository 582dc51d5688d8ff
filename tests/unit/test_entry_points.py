"""Third-party plugins end to end: real distributions installed with pip, found by entry point.

Four small distributions from tests/data/plugins are installed with pip into a
temporary folder that the child processes see on their path: one that works, one whose
import fails, one with a misspelled hook, one that calls sys.exit() at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from plugin_helpers import install_plugins


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return install_plugins(tmp_path_factory, ("tiny", "broken", "misspelled", "exiting"))


def run(site, code, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPTIFRAME_")}
    environ.update(PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environ, timeout=120)


PROBE = """
import json, warnings
warnings.simplefilter("always")
import optiframe as of
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    reg = of.get_registry()
r = of.minimize("quartic", [1.0], optimizer="half-step", max_steps=3)
print(json.dumps({
    "optimizers": reg.names("optimizer"),
    "objectives": reg.names("objective"),
    "plugin": reg.get("optimizer", "half-step").plugin,
    "warnings": [str(w.message) for w in caught],
    "categories": [w.category.__name__ for w in caught],
    "x": r.x.tolist(),
}))
"""


def test_installed_plugin_is_loaded_and_broken_ones_are_named(site):
    proc = run(site, PROBE)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "half-step" in out["optimizers"] and "quartic" in out["objectives"]
    assert out["plugin"] == "tiny"
    assert out["x"][0] < 1.0
    broken = [w for w in out["warnings"] if '"broken"' in w]
    assert broken and "broken-optiframe-plugin 0.0.1" in broken[0]
    assert "ModuleNotFoundError" in broken[0] and "a_module_that_does_not_exist" in broken[0]
    exiting = [w for w in out["warnings"] if '"exiting"' in w]  # not the script's exit code
    assert exiting and "SystemExit: 3" in exiting[0]
    misspelled = [w for w in out["warnings"] if '"misspelled"' in w]
    assert misspelled and "register_optimisers" in misspelled[0]
    assert set(out["categories"]) == {"PluginLoadWarning"}


def test_strict_mode_turns_a_failed_import_into_an_error(site):
    proc = run(site, "import optiframe as of; of.get_registry()", OPTIFRAME_STRICT_PLUGINS="1")
    assert proc.returncode != 0
    assert "PluginError" in proc.stderr and "OPTIFRAME_STRICT_PLUGINS" in proc.stderr


def test_autoload_can_be_disabled(site):
    code = "import optiframe as of; print(of.get_registry().names('optimizer'))"
    proc = run(site, code, OPTIFRAME_DISABLE_PLUGIN_AUTOLOAD="1")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "half-step" not in proc.stdout


def test_cli_lists_the_installed_plugin_with_its_distribution(site):
    code = "import sys; from optiframe.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = run(site, code.replace("sys.argv[1:]", "['plugins', '--json']"))
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    assert plugins["tiny"]["distribution"] == "tiny-optiframe-plugin"
    assert plugins["tiny"]["version"] == "1.2.3"
    assert set(plugins["tiny"]["components"]) == {"optimizer:half-step", "objective:quartic"}
    assert "broken" not in plugins
    assert "Error importing plugin" in proc.stderr
    table = run(site, code.replace("sys.argv[1:]", "['plugins']"))
    assert "tiny-optiframe-plugin 1.2.3" in table.stdout


def test_an_allowlist_loads_only_the_named_plugins(site):
    proc = run(site, PROBE, OPTIFRAME_LOAD_PLUGINS="tiny")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "half-step" in out["optimizers"] and out["warnings"] == []


def test_a_denylist_never_imports_the_named_plugins(site):
    proc = run(site, PROBE, OPTIFRAME_BLOCK_PLUGINS="broken, misspelled, exiting")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "half-step" in out["optimizers"] and out["warnings"] == []
    blocked_all = run(site, "import optiframe as of; print(of.get_registry().names('optimizer'))",
                      OPTIFRAME_BLOCK_PLUGINS="tiny,broken,misspelled,exiting,lion,dask")
    assert "half-step" not in blocked_all.stdout and blocked_all.stderr == ""
