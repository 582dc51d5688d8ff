"""The hooks through which built-ins and third-party plugins register components, and
the run-time hooks through which they watch runs.

Each ``register_*`` hook receives ``register(name, factory)``. ``factory`` is a class or
callable that builds the component; called with no arguments it must give a usable
default. An implementation may take a subset of the hook's arguments, as pluggy allows.

The run-time hooks (``on_run_start``, ``on_step``, ``on_epoch``, ``on_start_end``,
``on_run_end``) are called by every Runner while a plugin implementing them is
registered, at the same events as a user's callback object with methods of those names
(:mod:`optiframe.observers`). A plugin that raises in one, or returns something the hook
does not accept, ends the run with status ``failed``; the message names the plugin and
the hook, and the history recorded so far is kept.

Where they run: ``on_step`` and ``on_epoch`` where the starts run (in the worker process
when ``workers`` spreads the starts out; each (start, step) is seen exactly once, a call
carrying the starts one worker advances together); ``on_run_start``, ``on_start_end`` and
``on_run_end`` in the process that called :func:`~optiframe.minimize`.
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
def register_line_searches(register: Register) -> None:
    """Register line searches (how far to go along a step's direction) by name."""


@hookspec
def register_stop_rules(register: Register) -> None:
    """Register stop rules (:class:`~optiframe.stop_rules.StopRule` subclasses: when a
    start stops, and why) by name, for ``stop_rules=["name"]`` and ``[stop] stop_rules``
    in a config."""


@hookspec
def register_plots(register: Register) -> None:
    """Register plot functions by name (each takes ``ax=None`` and returns the Axes)."""


@hookspec
def register_trackers(register: Register) -> None:
    """Register trackers (callback objects that record runs in another system, such as
    MLflow) by name. The factory takes the value of ``[output] <name>`` in a run's config:
    ``factory(value)`` for a string (such as a tracking URI), ``factory(**table)`` for a
    table; the command line passes what it builds to the run as a callback."""


@hookspec
def register_strategies(register: Register) -> None:
    """Register global strategies (how ``of.minimize(f, bounds=box, strategy=...)`` spends
    its budget on samples and local searches) by name: each a
    :class:`~optiframe.strategies.Strategy`."""


@hookspec
def on_run_start(run: Any) -> None:
    """Called once before a run's first evaluation with its
    :class:`~optiframe.runner.RunStart` (the Runner, the number of starts, the seed)."""


@hookspec
def on_step(info: Any) -> bool | None:
    """Called after each step of every kind of run, with the
    :class:`~optiframe.observers.StepInfo` callbacks get (``info.x`` is read-only; in a
    multi-start run it holds rows, ``info.index`` their starts; in training ``info.fun``
    is the batch loss).

    Return None to go on, True to stop the starts in ``info`` (status ``callback_stop``).
    """


@hookspec
def on_epoch(info: Any) -> dict[str, float] | None:
    """Called after each epoch of a training run, once per start, with its
    :class:`~optiframe.observers.EpochInfo`; return None, or a dict of metrics to record
    in ``history.epochs``."""


@hookspec
def on_start_end(outcome: Any) -> None:
    """Called in the calling process as each start of a run ends, with its
    :class:`~optiframe.result.StartOutcome` (a single-start run's one start too)."""


@hookspec
def on_run_end(result: Any) -> None:
    """Called with the :class:`~optiframe.result.Result` when a run ends; return None."""
