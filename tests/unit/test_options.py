"""One declaration of the options (optiframe.options): the Runner's and minimize's
signatures, the stopping rules, the config's [stop] keys, the checkpoint's resumable
settings and docs/reference.md's option table all agree with it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs

import optiframe as of
from optiframe import config, options
from optiframe.checkpoint_config import MAY_CHANGE
from optiframe.runner import RUN_ARGUMENTS, RUNNER_OPTIONS
from optiframe.stopping import STOP_OPTIONS, StopRules
from optiframe.sweep import SWEEPABLE_OPTIONS

ROOT = Path(__file__).resolve().parents[2]


def keyword_defaults(fn):
    return {name: p.default for name, p in inspect.signature(fn).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_the_runners_signature_is_the_declaration_in_order_with_its_defaults():
    declared = [o for o in options.OPTIONS if o.where in ("runner", "stop")]
    assert list(keyword_defaults(of.Runner.__init__).items()) == [
        (o.name, o.default) for o in declared]


def test_minimize_takes_every_declared_option_with_its_default():
    params = inspect.signature(of.minimize).parameters
    for o in options.OPTIONS:
        assert o.name in params, o.name
        if o.name not in ("x0",):  # x0 is minimize's second positional parameter
            assert params[o.name].default == o.default, o.name


def test_the_derived_lists_come_from_the_declaration():
    assert tuple(f.name for f in attrs.fields(StopRules)) == STOP_OPTIONS
    assert options.names("runner") == RUNNER_OPTIONS
    assert RUN_ARGUMENTS == ("x0", "starts", "seed", "workers")
    assert set(MAY_CHANGE) == {"max_steps", "max_nfev", "max_time", "epochs", "stop_rules"}
    assert config.SECTIONS["stop"] == set(STOP_OPTIONS)
    # every stop option is swept by a list, but stop_rules, whose value is a list of rules
    assert set(SWEEPABLE_OPTIONS) >= set(STOP_OPTIONS) - {"stop_rules"} | {"gradient", "tol",
                                                                           "seed"}
    for name in ("callbacks", "workers", "stop_rules"):
        assert name not in SWEEPABLE_OPTIONS


def test_the_reference_table_has_a_row_for_every_declared_option():
    text = (ROOT / "docs" / "reference.md").read_text()
    table = text.split("## `minimize` and `Runner` options", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    missing = [o.name for o in options.OPTIONS if o.name not in rows]
    assert missing == []


def test_a_misspelt_option_is_refused_with_the_closest_declared_name():
    import pytest

    with pytest.raises(ValueError, match="Did you mean 'eval_timeout'"):
        of.Runner("sphere", eval_timout=3)
