"""The hooks through which built-ins and third-party plugins register components.

Each hook receives ``register(name, factory)``. ``factory`` is a class or callable that
builds the component; called with no arguments it must give a usable default.
An implementation may take a subset of the hook's arguments, as pluggy allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "optiframe"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Marks a plugin's hook implementations: ``@optiframe.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[str, Callable[..., Any]], None]


@hookspec
def register_objectives(register: Register) -> None:
    """Register objectives (things to minimize) by name."""


@hookspec
def register_gradient_estimators(register: Register) -> None:
    """Register gradient estimators (how the slope is measured) by name."""


@hookspec
def register_optimizers(register: Register) -> None:
    """Register optimizers (how a step is taken from the slope) by name."""


@hookspec
def register_schedules(register: Register) -> None:
    """Register schedules (how a hyperparameter changes during a run) by name."""


@hookspec
def register_start_samplers(register: Register) -> None:
    """Register start samplers (where multi-start drops its balls) by name."""


@hookspec
def register_executors(register: Register) -> None:
    """Register executors (how starts are spread over processes or machines) by name.

    A factory, called with keyword options, returns an object with ``map(fn, items)``
    (an iterator of results in order) and ``close()``.
    """


@hookspec
def register_batch_samplers(register: Register) -> None:
    """Register batch samplers (which samples each minibatch step sees) by name."""


@hookspec
def register_plots(register: Register) -> None:
    """Register plot functions by name (each takes ``ax=None`` and returns the Axes)."""
