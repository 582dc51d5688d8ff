"""The plugin manager: built lazily, loads built-ins and the ``optiframe`` entry points.

Built-in components are registered through the same hooks as third-party plugins
(the modules in :data:`BUILTIN_PLUGINS`). Each entry point is loaded on its own, so a
plugin that fails to import is skipped with a :class:`PluginLoadWarning` naming it,
its distribution and the cause, while the others load. Environment variables:

``OPTIFRAME_DISABLE_PLUGIN_AUTOLOAD=1``
    load the built-ins only.
``OPTIFRAME_STRICT_PLUGINS=1``
    a plugin that fails to load is an error instead of a warning.
``OPTIFRAME_LOAD_PLUGINS=a,b``
    load only these third-party plugins (an allowlist, by entry-point name).
``OPTIFRAME_BLOCK_PLUGINS=c,d``
    never import these plugins (a denylist).
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import OptiframeError, PluginError, PluginLoadWarning
from .registry import KINDS, Registry

ENTRY_POINT_GROUP = "optiframe"
BUILTIN_PLUGINS = (
    "optiframe.testfunctions",
    "optiframe.gradients",
    "optiframe.gradient_choice",
    "optiframe.spsa",
    "optiframe.optimizers",
    "optiframe.schedules",
    "optiframe.starts",
    "optiframe.executors",
    "optiframe.batching",
    "optiframe.linesearch",
    "optiframe.mgh",
    "optiframe.globalsets",
    "optiframe.strategies",
    "optiframe.stop_rules",
)


@attrs.frozen
class PluginInfo:
    """One registered plugin: its name, where it comes from, and the hooks it implements."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    builtin: bool
    hooks: tuple[str, ...]


@attrs.define
class _Plugins:
    manager: pluggy.PluginManager
    registry: Registry
    distributions: dict[str, tuple[str, str]]


_lock = threading.RLock()
_current: _Plugins | None = None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _add_plugin(pm: pluggy.PluginManager, plugin: Any, name: str) -> None:
    """Register ``plugin``; a hook implementation that matches no spec is an error."""
    try:
        pm.register(plugin, name=name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        raise PluginError(f"plugin {name!r} does not follow the optiframe hooks: {exc}") from exc


def _env_names(name: str) -> set[str] | None:
    """A comma-separated list of plugin names from the environment, or None if unset."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _load_entry_points(pm: pluggy.PluginManager, dists: dict[str, tuple[str, str]]) -> None:
    strict = _env_flag("OPTIFRAME_STRICT_PLUGINS")
    allowed = _env_names("OPTIFRAME_LOAD_PLUGINS")
    blocked = _env_names("OPTIFRAME_BLOCK_PLUGINS") or set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.has_plugin(ep.name):
            continue
        if (allowed is not None and ep.name not in allowed) or ep.name in blocked:
            continue  # not imported at all: a blocked plugin's code never runs
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "unknown distribution"
        dist_version = dist.version if dist is not None else "?"
        try:
            plugin = ep.load()
            _add_plugin(pm, plugin, ep.name)
        except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() at import too
            message = (
                f'Error importing plugin "{ep.name}" from distribution '
                f'"{dist_name} {dist_version}": {type(exc).__name__}: {exc}'
            )
            if strict:
                raise PluginError(message + " (OPTIFRAME_STRICT_PLUGINS is set)") from exc
            warnings.warn(message + "; the plugin is skipped.", PluginLoadWarning, stacklevel=4)
            continue
        dists[ep.name] = (dist_name, dist_version)


#: what qualifies the built-ins' names ("optiframe:spsa")
BUILTIN_OWNER = "optiframe"


def _owner(plugin: str, dists: dict[str, tuple[str, str]]) -> str:
    """Who claims a plugin's names: optiframe for the built-ins, else its distribution
    (a plugin registered at run time: its own name)."""
    if plugin in BUILTIN_PLUGINS:
        return BUILTIN_OWNER
    return dists[plugin][0] if plugin in dists else plugin


def _build_registry(pm: pluggy.PluginManager,
                    dists: dict[str, tuple[str, str]] | None = None) -> Registry:
    registry = Registry()
    dists = dists or {}
    for kind, hook_name in KINDS.items():
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # in registration order
            def register(name: str, factory: Callable[..., Any], _p: str = impl.plugin_name,
                         _k: str = kind) -> None:
                registry.add(_k, name, factory, _p, _owner(_p, dists))

            args = {"register": register}
            try:
                impl.function(*(args[a] for a in impl.argnames))
            except OptiframeError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} raised in hook {hook_name}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
    return registry


def _state() -> _Plugins:
    global _current
    with _lock:
        if _current is None:
            pm = _new_manager()
            for module_name in BUILTIN_PLUGINS:
                _add_plugin(pm, importlib.import_module(module_name), module_name)
            dists: dict[str, tuple[str, str]] = {}
            if not _env_flag("OPTIFRAME_DISABLE_PLUGIN_AUTOLOAD"):
                _load_entry_points(pm, dists)
            _current = _Plugins(pm, _build_registry(pm, dists), dists)
        return _current


def get_plugin_manager() -> pluggy.PluginManager:
    """The plugin manager, built on first use."""
    return _state().manager


def get_registry() -> Registry:
    """The registry of every component the loaded plugins registered."""
    return _state().registry


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object (a module or an instance with hookimpls) at run time.

    Returns the plugin's name; pass it to :func:`unregister_plugin` to remove it.
    """
    with _lock:
        state = _state()
        name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
        _add_plugin(state.manager, plugin, name)
        try:
            state.registry = _build_registry(state.manager, state.distributions)
        except Exception:
            state.manager.unregister(plugin)
            raise
        return name


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered by name and forget its components."""
    with _lock:
        state = _state()
        state.manager.unregister(name=name)
        state.distributions.pop(name, None)
        state.registry = _build_registry(state.manager, state.distributions)


def reset_plugins() -> None:
    """Forget the loaded plugins; the next use loads them again (after env changes)."""
    global _current
    with _lock:
        _current = None


def plugin_infos() -> list[PluginInfo]:
    """Describe every registered plugin, built-ins first."""
    state = _state()
    infos = []
    for name, plugin in state.manager.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(c.name for c in state.manager.get_hookcallers(plugin) or ()))
        module = plugin.__name__ if inspect.ismodule(plugin) else type(plugin).__module__
        dist = state.distributions.get(name)
        infos.append(
            PluginInfo(
                name=name,
                module=module,
                distribution=dist[0] if dist else None,
                version=dist[1] if dist else None,
                builtin=name in BUILTIN_PLUGINS,
                hooks=hooks,
            )
        )
    infos.sort(key=lambda i: (not i.builtin, i.name))
    return infos
