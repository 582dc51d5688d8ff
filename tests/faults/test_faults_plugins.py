"""Plugin faults, written as data: a plugin that raises or returns the wrong type, at
registration, when its component is built, or in a run-time hook during a run.

Every case must name the plugin (and the hook, where there is one); a fault during a run
ends it with status ``failed`` and keeps the history recorded so far.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

import optiframe as of


class Plugin:
    """A throwaway plugin whose hooks are given as keyword functions."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            setattr(self, name, of.hookimpl(fn))


def boom(*_):
    raise ValueError("boom")


def after(n, result):
    """A hook function returning ``result`` (or raising it) from its n-th call on."""
    count = [0]

    def hook(info):
        count[0] += 1
        if count[0] < n:
            return None
        if isinstance(result, BaseException):
            raise result
        return result

    return hook


def single():
    return of.Runner("rosenbrock", of.Adam(lr=0.01), max_steps=200,
                     raise_errors=False).run([-1.0, 1.0])


def multi():
    return of.Runner("himmelblau", max_steps=200, gtol=0, optimizer="gd", raise_errors=False).run(
        starts=of.MultiStart(6, bounds=[(-5, 5)] * 2), seed=0)


def minibatch():
    X, y = load_digits(return_X_y=True)
    return of.Runner(of.SoftmaxRegression(X[:200] / 16, y[:200]), of.GradientDescent(lr=0.5),
                     batch_size=50, epochs=4, raise_errors=False).run(np.zeros(650), seed=0)


# (id, hooks of the plugin "faulty", run, message pattern, check of the kept history)
RUN_CASES = [
    ("on_step raises", dict(on_step=after(10, ValueError("boom"))), single,
     r"plugin 'faulty' raised in hook on_step: ValueError: boom", lambda r: len(r.history) == 10),
    ("on_step returns a string", dict(on_step=after(3, "yes")), single,
     r"plugin 'faulty' returned str 'yes' from hook on_step; on_step returns None to go on or "
     r"True to stop", lambda r: len(r.history) == 3),
    ("on_step returns an array", dict(on_step=after(1, np.zeros(2))), single,
     r"plugin 'faulty' returned ndarray array\(\[0., 0.\]\) from hook on_step",
     lambda r: len(r.history) == 1),
    ("on_step writes into x", dict(on_step=lambda info: info.x.__setitem__(0, 0.0)), single,
     r"plugin 'faulty' raised in hook on_step: ValueError: assignment destination is read-only",
     lambda r: len(r.history) == 1),
    ("on_step raises in a multi-start run", dict(on_step=after(5, RuntimeError("lost"))), multi,
     r"plugin 'faulty' raised in hook on_step: RuntimeError: lost",
     lambda r: len(r.history) == 5 and all(s.status == "failed" for s in r.starts)),
    ("on_step raises in training", dict(on_step=after(3, ValueError("boom"))), minibatch,
     r"plugin 'faulty' raised in hook on_step: ValueError: boom", lambda r: len(r.history) == 3),
    ("on_epoch raises", dict(on_epoch=after(2, KeyError("acc"))), minibatch,
     r"plugin 'faulty' raised in hook on_epoch: KeyError: 'acc'",
     lambda r: len(r.history.epoch_log) == 1 and len(r.history) == 8),
    ("on_epoch returns a list", dict(on_epoch=after(1, [0.9])), minibatch,
     r"plugin 'faulty' returned list \[0.9\] from hook on_epoch; on_epoch returns None or a "
     r"dict", lambda r: len(r.history) == 4),
    ("on_epoch returns text metrics", dict(on_epoch=after(1, {"acc": "high"})), minibatch,
     r"returned dict \{'acc': 'high'\} from hook on_epoch", lambda r: len(r.history) == 4),
    ("on_run_end raises", dict(on_run_end=boom), single,
     r"plugin 'faulty' raised in hook on_run_end: ValueError: boom",
     lambda r: len(r.history) == 201 and r.nit == 200),
    ("on_run_end returns a value", dict(on_run_end=lambda result: 1), single,
     r"plugin 'faulty' returned int 1 from hook on_run_end; on_run_end returns None",
     lambda r: len(r.history) == 201),
    ("on_run_end raises after a multi-start run", dict(on_run_end=boom), multi,
     r"plugin 'faulty' raised in hook on_run_end", lambda r: len(r.starts) == 6),
]


@pytest.mark.parametrize(("hooks", "run", "pattern", "kept"), [c[1:] for c in RUN_CASES],
                         ids=[c[0] for c in RUN_CASES])
def test_plugin_fault_during_a_run_fails_it_naming_plugin_and_hook(hooks, run, pattern, kept,
                                                                    plugin):
    plugin(Plugin(**hooks), "faulty")
    r = run()
    assert r.status == "failed"
    assert re.search(pattern, r.message), r.message
    assert kept(r), r.history


def test_raise_errors_turns_a_plugin_fault_into_run_failed_error(plugin):
    plugin(Plugin(on_step=after(4, ValueError("boom"))), "faulty")
    with pytest.raises(of.RunFailedError, match="plugin 'faulty' raised in hook on_step") as info:
        of.Runner("sphere", max_steps=50, raise_errors=True, optimizer="gd").run([1.0, 2.0])
    assert len(info.value.result.history) == 4
    assert isinstance(info.value.__cause__, of.PluginError)


def test_well_behaved_run_hooks_see_every_step_and_may_stop_the_run(plugin):
    seen, ends = [], []
    plugin(Plugin(on_step=lambda info: seen.append(info.step) or (info.step == 7),
                  on_run_end=lambda result: ends.append(result.status)), "watcher")
    r = of.Runner("sphere", max_steps=50, optimizer="gd", raise_errors=False).run([1.0, 2.0])
    assert r.status == "callback_stop" and seen == list(range(1, 8)) and ends == [
        "callback_stop"]


def test_on_epoch_metrics_are_recorded(plugin):
    plugin(Plugin(on_epoch=lambda info: {"norm": float(info.x @ info.x)}), "metrics")
    r = minibatch()
    assert r.status == "completed" and len(r.history.epochs["norm"]) == 4


# -- registration and building -----------------------------------------------------------------
class NotAnOptimizer:
    pass


def raising_factory():
    raise RuntimeError("needs a GPU")


# (id, hook functions, build call, exception type, message pattern)
BUILD_CASES = [
    ("factory returns the wrong type",
     dict(register_optimizers=lambda register: register("wrong", NotAnOptimizer)),
     lambda: of.Runner("sphere", "wrong", raise_errors=False), of.PluginError,
     r"plugin 'faulty' registered optimizer 'wrong' with a factory that returned "
     r"NotAnOptimizer .*not a Optimizer"),
    ("factory returns None for an objective",
     dict(register_objectives=lambda register: register("nothing", lambda: None)),
     lambda: of.minimize("nothing", [1.0], optimizer="gd", raise_errors=False), of.PluginError,
     r"plugin 'faulty' registered objective 'nothing' with a factory that returned NoneType"),
    ("factory raises",
     dict(register_gradient_estimators=lambda register: register("gpu", raising_factory)),
     lambda: of.Runner("sphere", "gd", "gpu", raise_errors=False), of.PluginError,
     r"plugin 'faulty': building gradient 'gpu' raised RuntimeError: needs a GPU"),
    ("schedule factory returns the wrong type",
     dict(register_schedules=lambda register: register("bad", lambda: 0.5)),
     lambda: of.Runner("sphere", schedules={"lr": "bad"}, optimizer="gd",
                       raise_errors=False), of.PluginError,
     r"plugin 'faulty' registered schedule 'bad' with a factory that returned float 0.5"),
    ("registration hook raises",
     dict(register_objectives=boom), lambda: of.get_registry(), of.PluginError,
     r"plugin 'faulty' raised in hook register_objectives"),
    ("registers a non-callable",
     dict(register_optimizers=lambda register: register("x", 3)), lambda: of.get_registry(),
     of.InvalidTypeError, r"plugin 'faulty' registered optimizer 'x' with a factory that is not "
     r"callable"),
    ("registers an empty name",
     dict(register_optimizers=lambda register: register("", of.GradientDescent)),
     lambda: of.get_registry(), of.InvalidTypeError,
     r"plugin 'faulty' registered a optimizer with an invalid name"),
]


@pytest.mark.parametrize(("hooks", "call", "exc", "pattern"), [c[1:] for c in BUILD_CASES],
                         ids=[c[0] for c in BUILD_CASES])
def test_plugin_fault_at_registration_or_build_names_the_plugin(hooks, call, exc, pattern,
                                                                 plugin):
    with pytest.raises(exc, match=pattern):
        plugin(Plugin(**hooks), "faulty")
        call()


def test_a_blocked_plugin_is_never_imported(monkeypatch):
    from optiframe.plugins import reset_plugins

    monkeypatch.setenv("OPTIFRAME_BLOCK_PLUGINS", "lion")  # the entry-point name
    reset_plugins()
    try:
        assert "lion" not in of.get_registry().names("optimizer")
    finally:
        monkeypatch.delenv("OPTIFRAME_BLOCK_PLUGINS")
        reset_plugins()
