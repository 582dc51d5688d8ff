"""The plugin system in-process: hooks, registration, conflicts and lookups."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest

import optiframe as of
from optiframe.plugins import BUILTIN_PLUGINS, plugin_infos


@attrs.frozen
class Doubler(of.Optimizer):
    """Steps twice as far as gd."""

    lr: float = 0.01

    def init(self, x):
        return of.EmptyState()

    def step(self, x, grad, state):
        return x - 2 * self.lr * grad, state


class ThrowawayPlugin:
    @of.hookimpl
    def register_optimizers(self, register):
        register("doubler", Doubler)


def test_builtins_register_through_the_same_hooks():
    infos = {i.name: i for i in plugin_infos()}
    for module in BUILTIN_PLUGINS:
        assert infos[module].builtin and infos[module].hooks
    plugins = {e.plugin for e in of.get_registry().entries()}
    assert plugins <= set(BUILTIN_PLUGINS) | {i.name for i in plugin_infos()}
    assert of.get_registry().get("optimizer", "gd").plugin == "optiframe.optimizers"


def test_throwaway_plugin_registers_and_unregisters(plugin):
    name = plugin(ThrowawayPlugin(), "throwaway")
    r = of.minimize("sphere", [1.0], optimizer="doubler", max_steps=1)
    assert r.x.tolist() == [1.0 - 2 * 0.01 * 2.0]
    assert "doubler" in of.get_registry().names("optimizer")
    of.unregister_plugin(name)
    with pytest.raises(of.UnknownComponentError, match="unknown optimizer 'doubler'"):
        of.minimize("sphere", [1.0], optimizer="doubler")


def test_mapping_spec_passes_hyperparameters(plugin):
    plugin(ThrowawayPlugin(), "throwaway")
    r = of.minimize("sphere", [1.0], optimizer={"name": "doubler", "lr": 0.1}, max_steps=1)
    assert r.x.tolist() == pytest.approx([1.0 - 2 * 0.1 * 2.0])


def test_a_name_two_plugins_claim_is_an_error_only_where_used_naming_both(plugin):
    # issue 22, item 24: registering the clash no longer breaks everything; using the
    # name unqualified is the error, and it offers the qualified names
    class Clash:
        @of.hookimpl
        def register_optimizers(self, register):
            register("gd", Doubler)
            register("doubler2", Doubler)

    plugin(Clash(), "clash")
    assert of.get_plugin_manager().has_plugin("clash")
    with pytest.raises(of.DuplicateComponentError,
                       match=r"optimizer 'gd' is claimed by 2 distributions: optiframe "
                             r"\(plugin 'optiframe.optimizers'\), clash \(plugin 'clash'\); "
                             r"say which with a qualified name: 'optiframe:gd' or 'clash:gd'"):
        of.minimize("sphere", [1.0], optimizer="gd", max_steps=1)
    registry = of.get_registry()
    assert registry.get("optimizer", "optiframe:gd").factory is of.GradientDescent
    assert registry.get("optimizer", "clash:gd").factory is Doubler
    assert registry.get("optimizer", "doubler2").factory is Doubler  # the rest works
    r = of.minimize("sphere", [1.0], optimizer="optiframe:gd", max_steps=1)
    assert r.nit == 1


def test_one_plugin_registering_a_name_twice_is_an_error_naming_it(plugin):
    class Twice:
        @of.hookimpl
        def register_optimizers(self, register):
            register("twice", Doubler)
            register("twice", Doubler)

    with pytest.raises(of.DuplicateComponentError,
                       match=r"optimizer 'twice' is registered twice by 'twice'"):
        plugin(Twice(), "twice")
    assert not of.get_plugin_manager().has_plugin("twice")


def test_misspelled_hook_is_an_error(plugin):
    class Typo:
        @of.hookimpl
        def register_optimisers(self, register):
            register("x", Doubler)

    with pytest.raises(of.PluginError, match="'typo' does not follow the optiframe hooks"):
        plugin(Typo(), "typo")
    assert not of.get_plugin_manager().has_plugin("typo")


def test_plugin_raising_in_a_hook_is_named(plugin):
    class Raises:
        @of.hookimpl
        def register_objectives(self, register):
            raise RuntimeError("cannot register")

    with pytest.raises(of.PluginError,
                       match="plugin 'raises' raised in hook register_objectives: "
                             "RuntimeError: cannot register"):
        plugin(Raises(), "raises")
    assert "sphere" in of.get_registry().names("objective")


def test_non_callable_factory_is_refused(plugin):
    class Bad:
        @of.hookimpl
        def register_gradient_estimators(self, register):
            register("bad", 42)

    with pytest.raises(of.InvalidTypeError, match="plugin 'bad' registered gradient 'bad'"):
        plugin(Bad(), "bad")


def test_hook_implementations_may_take_no_arguments(plugin):
    class Silent:
        @of.hookimpl
        def register_objectives(self):
            pass

    plugin(Silent(), "silent")
    assert "sphere" in of.get_registry().names("objective")


def test_third_party_objective_and_estimator_work_by_name(plugin):
    class Tilted(of.Objective):
        """x**2 + x."""

        def value(self, x):
            return float(np.sum(x**2 + x))

    class Objectives:
        @of.hookimpl
        def register_objectives(self, register):
            register("tilted", Tilted)

    plugin(Objectives(), "objectives")
    r = of.minimize("tilted", [2.0], optimizer=of.GradientDescent(lr=0.1), gtol=1e-7)
    assert r.status == "converged" and r.x[0] == pytest.approx(-0.5, abs=1e-7)


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(KeyError, match="Available: adaptive, analytic, auto, central, forward"):
        of.get_registry().get("gradient", "spsa2")


def test_a_component_of_a_plugin_that_is_not_installed_names_the_distribution():
    from optiframe.registry import Registry

    empty = Registry()
    with pytest.raises(of.UnknownComponentError,
                       match=r"optiframe-jax: pip install \./plugins/optiframe-jax \(from"):
        empty.get("gradient", "jax")
    with pytest.raises(of.UnknownComponentError, match=r"pip install \./plugins/optiframe-plot"):
        empty.get("plot", "lr-sweep")


def test_an_objective_may_return_any_array_like_scalar():
    class Boxed:  # what a jax or torch scalar looks like to numpy
        def __init__(self, v):
            self.v = v

        def __array__(self, dtype=None, copy=None):
            return np.asarray(self.v, dtype=dtype)

    r = of.minimize(lambda x: Boxed(float(x[0] ** 2)), [1.0], max_steps=50)
    assert r.fun < 1e-6
    with pytest.raises(of.InvalidTypeError, match="one number, got an array of shape"):
        of.minimize(lambda x: Boxed([1.0, 2.0]), [1.0])


ROOT = Path(__file__).resolve().parents[2]


def test_install_hints_name_what_can_be_installed():
    from optiframe.registry import PROVIDED_BY, install_hint

    for dist in set(PROVIDED_BY.values()):
        assert (ROOT / "plugins" / dist / "pyproject.toml").is_file()
        assert install_hint(dist).startswith(f"pip install ./plugins/{dist} ")
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                 *(ROOT / "optiframe").glob("*.py"),
                 *(ROOT / "plugins").glob("*/src/*/*.py"), *(ROOT / "plugins").glob("*/README.md")]:
        text = path.read_text()
        assert "pip install optiframe" not in text and "'optiframe[" not in text, path
