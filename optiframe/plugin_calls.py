"""Calling the plugins' run-time hooks so that a faulty plugin is named, never anonymous.

Each implementation of ``on_step``, ``on_epoch``, ``on_start_end`` or ``on_run_start``
becomes one callback of the run, sorted by event like a user's callback object (see
:mod:`optiframe.observers`); an exception it raises, or a value of a type its hook does
not accept, becomes a :class:`~optiframe.errors.PluginError` naming the plugin and the
hook, which the Runner turns into status ``failed`` with the history kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import PluginError
from .observers import Callbacks
from .plugins import get_plugin_manager


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _wrap(hook: str, impl: Any, accept: Callable[[Any], Any]) -> Callable[[Any], Any]:
    plugin, function, argnames = impl.plugin_name, impl.function, tuple(impl.argnames)

    def call(info: Any) -> Any:
        try:
            value = function(*(info for _ in argnames))
        except (StopIteration, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise PluginError(f"plugin {plugin!r} raised in hook {hook}: "
                              f"{type(exc).__name__}: {exc}") from exc
        try:
            return accept(value)
        except TypeError as exc:
            raise PluginError(f"plugin {plugin!r} returned {_describe(value)} from hook "
                              f"{hook}; {exc}") from None

    call.__qualname__ = f"{plugin}.{hook}"
    return call


def _step_value(value: Any) -> None:
    if value is None or value is False:
        return
    if value is True:
        raise StopIteration
    raise TypeError("on_step returns None to go on or True to stop")


def _epoch_value(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            for k, v in value.items()):
        return value
    raise TypeError("on_epoch returns None or a dict of metric name to number")


def _impls(hook: str) -> list[Any]:
    caller = getattr(get_plugin_manager().hook, hook)
    return [impl for impl in reversed(caller.get_hookimpls())  # pluggy's calling order
            if not (impl.hookwrapper or impl.wrapper)]


def step_hooks() -> tuple[Callable[[Any], Any], ...]:
    """One callback per registered ``on_step`` implementation (usually none)."""
    return tuple(_wrap("on_step", impl, _step_value) for impl in _impls("on_step"))


def epoch_hooks() -> tuple[Callable[[Any], Any], ...]:
    """One epoch callback per registered ``on_epoch`` implementation."""
    return tuple(_wrap("on_epoch", impl, _epoch_value) for impl in _impls("on_epoch"))


def _none_value(hook: str) -> Callable[[Any], None]:
    def none_only(value: Any) -> None:
        if value is not None:
            raise TypeError(f"{hook} returns None")
    return none_only


def plugin_callbacks() -> Callbacks:
    """The plugins' run-time hooks as the run's callbacks (``on_run_end`` aside: see
    :func:`run_end_hooks`)."""
    return Callbacks(
        run_start=tuple(_wrap("on_run_start", impl, _none_value("on_run_start"))
                        for impl in _impls("on_run_start")),
        step=step_hooks(), epoch=epoch_hooks(),
        start_end=tuple(_wrap("on_start_end", impl, _none_value("on_start_end"))
                        for impl in _impls("on_start_end")))


def run_end_hooks(result: Any) -> None:
    """Call every ``on_run_end`` implementation; the first fault raises PluginError."""
    def none_only(value: Any) -> None:
        if value is not None:
            raise TypeError("on_run_end returns None")

    for impl in _impls("on_run_end"):
        _wrap("on_run_end", impl, none_only)(result)
