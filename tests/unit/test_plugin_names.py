"""Names two installed distributions claim (issue 22, item 24), end to end: real
distributions installed with pip into a temporary folder, found by their entry points.

``optiframe-extras`` registers a gradient "spsa", as a plugin written before optiframe
had one would; ``rival-optiframe-plugin`` registers the optimizer "half-step" that the
``tiny`` plugin registers too. Everything else keeps working; the names are an error
only where used unqualified, and the qualified names always resolve.
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
    return install_plugins(tmp_path_factory, ("tiny", "extras", "rival"))


def run(site, *args, code=None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPTIFRAME_")}
    environ.update(PYTHONPATH=str(site))
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "optiframe",
                                                          *args]
    return subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120)


PROBE = """
import json
import optiframe as of

def outcome(**kw):
    try:
        r = of.minimize("sphere", [1.0, 2.0], max_steps=3, **kw)
        return {"ok": r.x.tolist()}
    except of.OptiframeError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}

print(json.dumps({
    "default run": outcome(),
    "spsa": outcome(gradient="spsa", optimizer="gd"),
    "optiframe:spsa": outcome(gradient="optiframe:spsa", optimizer="gd", seed=0),
    "optiframe-extras:spsa": outcome(gradient="optiframe-extras:spsa", optimizer="gd"),
    "extras:spsa": outcome(gradient="extras:spsa", optimizer="gd"),
    "half-step": outcome(optimizer="half-step"),
    "tiny:half-step": outcome(optimizer="tiny:half-step"),
    "rival-optiframe-plugin:half-step": outcome(optimizer="rival-optiframe-plugin:half-step"),
    "third-step": outcome(optimizer="third-step"),
    "nobody:spsa": outcome(gradient="nobody:spsa"),
}))
"""


@pytest.fixture(scope="module")
def probe(site):
    proc = run(site, code=PROBE)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_everything_that_does_not_use_a_claimed_name_keeps_working(probe):
    assert "ok" in probe["default run"] and "ok" in probe["third-step"]


@pytest.mark.parametrize(("name", "qualified"), [
    ("spsa", ["'optiframe:spsa'", "'optiframe-extras:spsa'"]),
    ("half-step", ["'tiny-optiframe-plugin:half-step'", "'rival-optiframe-plugin:half-step'"]),
])
def test_a_claimed_name_used_unqualified_is_an_error_offering_the_qualified_names(
        probe, name, qualified):
    out = probe[name]
    assert out["error"] == "DuplicateComponentError"
    assert "is claimed by 2 distributions" in out["message"]
    for q in qualified:
        assert q in out["message"]


@pytest.mark.parametrize("name", ["optiframe:spsa", "optiframe-extras:spsa", "extras:spsa",
                                  "tiny:half-step", "rival-optiframe-plugin:half-step"])
def test_qualified_names_resolve(probe, name):
    assert "ok" in probe[name], probe[name]


def test_the_two_half_steps_are_different_optimizers(probe):
    assert probe["tiny:half-step"]["ok"] != probe["rival-optiframe-plugin:half-step"]["ok"]


def test_an_unknown_qualifier_names_the_ones_that_resolve(probe):
    out = probe["nobody:spsa"]
    assert out["error"] == "UnknownComponentError"
    assert "no distribution 'nobody' registers 'spsa'" in out["message"]
    assert "'optiframe:spsa'" in out["message"]


def test_optiframe_plugins_and_list_show_the_conflict_and_exit_0(site):
    plugins = run(site, "plugins")
    assert plugins.returncode == 0, plugins.stderr
    assert "Names claimed by more than one distribution" in plugins.stdout
    assert "gradient 'spsa': 'optiframe:spsa' or 'optiframe-extras:spsa'" in plugins.stdout
    listed = run(site, "list", "gradient")
    assert listed.returncode == 0, listed.stderr
    assert "optiframe-extras:spsa" in listed.stdout and "optiframe:spsa" in listed.stdout
    as_json = json.loads(run(site, "plugins", "--json").stdout)
    extras = next(p for p in as_json if p["name"] == "extras")
    assert extras["conflicts"] == ["optiframe-extras:spsa"]
