"""The component registry: names to factories, filled by the plugin hooks.

Lookups of unknown names list what is available and suggest the closest name.

A name that two distributions claim (a plugin written before optiframe had a built-in of
that name, or two plugins that chose the same name) is kept for both: everything else
keeps working, and the name is an error only when it is used, naming the qualified names
that always resolve: ``"<owner>:<name>"``, where the owner is ``optiframe`` for the
built-ins, or the plugin's distribution or entry-point name (``"optiframe:spsa"``,
``"extras:spsa"``, ``"optiframe-extras:spsa"``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ._validation import did_you_mean
from .errors import (
    DuplicateComponentError,
    InvalidArgumentError,
    InvalidTypeError,
    OptiframeError,
    PluginError,
    UnknownComponentError,
)

#: Each kind of component and the hook that registers it.
KINDS: dict[str, str] = {
    "objective": "register_objectives",
    "gradient": "register_gradient_estimators",
    "optimizer": "register_optimizers",
    "schedule": "register_schedules",
    "sampler": "register_start_samplers",
    "executor": "register_executors",
    "batch_sampler": "register_batch_samplers",
    "line_search": "register_line_searches",
    "plot": "register_plots",
    "tracker": "register_trackers",
    "strategy": "register_strategies",
    "stop_rule": "register_stop_rules",
}

#: Components that ship in a separately installed plugin: asking for one that is not
#: installed says which distribution to install.
def install_hint(dist: str) -> str:
    """How to install one of optiframe's plugins: from this repository (the plugins are
    not on a package index), as the README's set-up commands do."""
    return f"pip install ./plugins/{dist} (from the root of the optiframe repository)"


PROVIDED_BY: dict[tuple[str, str], str] = {
    ("gradient", "jax"): "optiframe-jax",
    **{("plot", name): "optiframe-plot"
       for name in ("loss", "trajectory", "minima", "lr-sweep", "training", "global")},
    ("executor", "dask"): "optiframe-dask",
    ("tracker", "mlflow"): "optiframe-mlflow",
}


@attrs.frozen
class Entry:
    """One registered component: its kind, name, factory and the plugin that gave it;
    ``owner`` is what qualifies its name (``optiframe`` for the built-ins, else the
    plugin's distribution, or the plugin's name when it has none)."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    owner: str = ""

    @property
    def qualified_name(self) -> str:
        """``owner:name``, which resolves even when another distribution claims the name."""
        return f"{self.owner or self.plugin}:{self.name}"

    def answers_to(self, prefix: str) -> bool:
        """Whether ``prefix:name`` means this entry (its owner, or its plugin's name)."""
        return prefix in (self.owner, self.plugin) or _normal(prefix) == _normal(self.owner)

    @property
    def description(self) -> str:
        """The first line of the factory's docstring, as plain text (no reST markup)."""
        doc = getattr(self.factory, "__doc__", None) or ""
        line = doc.strip().splitlines()[0] if doc.strip() else ""
        line = re.sub(r":\w+:`~?([^`]+)`", lambda m: m.group(1).rsplit(".", 1)[-1], line)
        return line.replace("``", "")

    @property
    def parameters(self) -> dict[str, Any]:
        """The factory's parameters and their defaults (attrs fields, else its signature);
        a parameter without a default maps to ``inspect.Parameter.empty``."""
        factory: Any = self.factory
        if isinstance(factory, type) and attrs.has(factory):
            fields = [f for f in attrs.fields(factory) if f.init]
            return {f.alias or f.name: (f.default.factory() if hasattr(f.default, "factory")
                                        else f.default) for f in fields}
        try:
            params = inspect.signature(self.factory).parameters
        except (TypeError, ValueError):
            return {}
        return {n: p.default for n, p in params.items()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    def parameters_text(self) -> str:
        """``name=default, ...`` in plain text (``name`` alone without a default)."""
        def one(name: str, default: Any) -> str:
            if default is inspect.Parameter.empty or default is attrs.NOTHING:
                return name
            text = repr(default)
            return f"{name}={text if len(text) <= 24 else text[:21] + '...'}"

        return ", ".join(one(n, d) for n, d in self.parameters.items())


@attrs.define
class Registry:
    """Holds every registered component, by kind and name."""

    _entries: dict[str, dict[str, list[Entry]]] = attrs.field(
        factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(self, kind: str, name: str, factory: Callable[..., Any], plugin: str,
            owner: str | None = None) -> None:
        """Register ``factory`` as ``name`` for ``plugin`` of distribution ``owner``; a
        name that another distribution claims too is kept for both (see the module
        docstring); one distribution registering a name twice is an error."""
        if not isinstance(name, str) or not name:
            raise InvalidTypeError(
                f"plugin {plugin!r} registered a {kind} with an invalid name: {name!r}"
            )
        if not callable(factory):
            raise InvalidTypeError(
                f"plugin {plugin!r} registered {kind} {name!r} with a factory that is not "
                f"callable: {factory!r}"
            )
        owner = owner or plugin
        claims = self._entries[kind].setdefault(name, [])
        same = [e for e in claims if e.owner == owner]
        if same:
            raise DuplicateComponentError(
                f"{kind} {name!r} is registered twice by {owner!r}: by plugin "
                f"{same[0].plugin!r} and by plugin {plugin!r}")
        claims.append(Entry(kind, name, factory, plugin, owner))

    def get(self, kind: str, name: str) -> Entry:
        """Return the entry for ``name`` (or a qualified ``owner:name``), or raise an error
        listing the available names; a name two distributions claim must be qualified."""
        known = self._entries[kind]
        claims = known.get(name)
        if claims is None and isinstance(name, str) and ":" in name:
            prefix, _, bare = name.rpartition(":")
            claims = [e for e in known.get(bare, ()) if e.answers_to(prefix)]
            if not claims and bare in known:
                owners = ", ".join(repr(e.qualified_name) for e in known[bare])
                raise UnknownComponentError(
                    f"unknown {kind} {name!r}: no distribution {prefix!r} registers "
                    f"{bare!r}; it resolves as {owners}") from None
        if not claims:
            dist = PROVIDED_BY.get((kind, name))
            hint = (f" It comes with the plugin {dist}: {install_hint(dist)}." if dist
                    else did_you_mean(name, known))
            available = ", ".join(sorted(known)) or "none"
            raise UnknownComponentError(
                f"unknown {kind} {name!r}.{hint} Available: {available}"
            ) from None
        if len(claims) > 1:
            raise DuplicateComponentError(
                f"{kind} {name!r} is claimed by {len(claims)} distributions: "
                f"{', '.join(f'{e.owner} (plugin {e.plugin!r})' for e in claims)}; say "
                f"which with a qualified name: "
                f"{' or '.join(repr(e.qualified_name) for e in claims)}")
        return claims[0]

    def conflicts(self) -> list[list[Entry]]:
        """The names that more than one distribution claims, each with its claims."""
        return [claims for kind in KINDS for _, claims in sorted(self._entries[kind].items())
                if len(claims) > 1]

    def names(self, kind: str) -> list[str]:
        """The registered names of one kind, sorted."""
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> Iterator[Entry]:
        """Every entry (of one kind, or of all kinds), sorted by kind then name (a name
        two distributions claim gives both entries)."""
        kinds = [kind] if kind else list(KINDS)
        for k in kinds:
            for name in sorted(self._entries[k]):
                yield from self._entries[k][name]

    def build(self, kind: str, spec: Any, base: type) -> Any:
        """Turn a component spec into an instance of ``base``.

        ``spec`` may be an instance (returned as is), a registered name, a mapping
        ``{"name": ..., **parameters}`` or a subclass of ``base`` (built with defaults).
        """
        if isinstance(spec, base):
            return spec
        if isinstance(spec, str):
            return _made(self.get(kind, spec), base, {})
        if isinstance(spec, Mapping):
            params = dict(spec)
            name = params.pop("name", None)
            if not isinstance(name, str):
                raise InvalidTypeError(
                    f"a {kind} given as a mapping needs a 'name' key: {dict(spec)!r}"
                )
            entry = self.get(kind, name)
            factory = entry.factory
            try:
                return _made(entry, base, params)
            except TypeError:
                accepted = _parameters(factory)
                unknown = [p for p in params if accepted is not None and p not in accepted]
                if not unknown:
                    raise
                hint = did_you_mean(unknown[0], accepted or ())
                raise InvalidArgumentError(
                    f"{kind} {name!r} has no parameter {unknown[0]!r}.{hint} Parameters: "
                    f"{', '.join(sorted(accepted or ())) or 'none'}") from None
        if isinstance(spec, type) and issubclass(spec, base):
            return spec()
        raise InvalidTypeError(
            f"{kind} must be a registered name, a mapping with 'name', or a "
            f"{base.__name__} instance: {spec!r}"
        )


def _normal(name: str) -> str:
    """A distribution's name as PEP 503 compares them (``Optiframe_Extras`` is
    ``optiframe-extras``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _made(entry: Entry, base: type, params: dict[str, Any]) -> Any:
    """``entry``'s component built with ``params``; a factory that raises something other
    than an optiframe or parameter error, or returns something other than a ``base``, is
    reported with the plugin that registered it."""
    try:
        made = entry.factory(**params)
    except (OptiframeError, TypeError, ValueError):
        raise  # bad parameters: the caller's mistake, reported as such
    except Exception as exc:
        raise PluginError(
            f"plugin {entry.plugin!r}: building {entry.kind} {entry.name!r} raised "
            f"{type(exc).__name__}: {exc}") from exc
    if base is not object and not isinstance(made, base):
        raise PluginError(
            f"plugin {entry.plugin!r} registered {entry.kind} {entry.name!r} with a factory "
            f"that returned {type(made).__name__} {made!r:.60}, not a {base.__name__}")
    return made


def _parameters(factory: Callable[..., Any]) -> list[str] | None:
    """The keyword parameters a factory takes (attrs fields, or its signature)."""
    if isinstance(factory, type) and attrs.has(factory):
        return [f.alias or f.name for f in attrs.fields(factory) if f.init]
    try:
        return list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return None
