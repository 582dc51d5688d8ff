"""The options a run takes, declared once.

Each :class:`Option` says where it goes (a stopping rule, the Runner, or the run itself),
its default, whether a resumed run may change it, and whether ``of.sweep`` sweeps a list
given for it. The lists the rest of the package checks against derive from
:data:`OPTIONS`: the Runner's option names, the run's arguments, the ``[stop]`` keys of a
config file, the settings a checkpoint lets a resumed run change, and the sweepable
options; tests hold ``Runner``'s and ``minimize``'s signatures and the option table of
docs/reference.md to it. A new option is one line here, its parameter in ``Runner``
(and ``minimize``), and its row in the table.

>>> from optiframe.options import OPTIONS, names
>>> names("run")
('x0', 'starts', 'seed', 'workers')
>>> sorted(o.name for o in OPTIONS if o.may_change)
['epochs', 'max_nfev', 'max_steps', 'max_time', 'stop_rules']
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

Where = Literal["stop", "runner", "run"]


@attrs.frozen
class Option:
    """One option: its ``name``, ``default`` and where it goes (``"stop"``: a field of
    :class:`~optiframe.stopping.StopRules`; ``"runner"``: a :class:`~optiframe.Runner`
    option; ``"run"``: an argument of ``Runner.run``); ``may_change``: a resumed run may
    give another value (a budget); ``sweepable``: ``of.sweep`` sweeps a list given for it."""

    name: str
    default: Any
    where: Where
    may_change: bool = False
    sweepable: bool = False


def _stop(name: str, default: Any, may_change: bool = False) -> Option:
    return Option(name, default, "stop", may_change=may_change, sweepable=True)


def _runner(name: str, default: Any, sweepable: bool = False,
            may_change: bool = False) -> Option:
    return Option(name, default, "runner", may_change=may_change, sweepable=sweepable)


#: Every option of a run, in the order of ``Runner``'s signature.
OPTIONS: tuple[Option, ...] = (
    _runner("callbacks", ()),
    _runner("record_every", 1, sweepable=True),
    _runner("record_x", False, sweepable=True),
    _runner("raise_errors", None),
    _runner("on_interrupt", "raise"),
    _runner("schedules", None),
    _runner("minima_tol", 1e-3, sweepable=True),
    _runner("retries", 2, sweepable=True),
    _runner("start_timeout", None, sweepable=True),
    _runner("batch_size", None, sweepable=True),
    _runner("epochs", None, sweepable=True, may_change=True),
    _runner("shuffle", True, sweepable=True),
    _runner("drop_last", False, sweepable=True),
    _runner("batch_sampler", None, sweepable=True),
    _runner("epoch_callbacks", ()),
    _runner("progress", None),
    _runner("checkpoint", None),
    _runner("checkpoint_every", None),
    _runner("stream_history", None),
    _runner("bounds", None),
    _runner("check_gradient", False, sweepable=True),
    _runner("evaluate", None),
    _runner("eval_timeout", None),
    _runner("cache", None),
    _stop("max_steps", None, may_change=True),
    _stop("gtol", 1e-8),
    _stop("ftol", 0.0),
    _stop("xtol", 0.0),
    _stop("detect_divergence", True),
    _stop("divergence_factor", 1e8),
    _stop("max_bad_gradients", 5),
    _stop("max_nfev", None, may_change=True),
    _stop("max_time", None, may_change=True),
    Option("stop_rules", (), "stop", may_change=True),
    Option("x0", None, "run"),
    Option("starts", None, "run"),
    Option("seed", None, "run", sweepable=True),
    Option("workers", None, "run"),
)


def names(where: Where) -> tuple[str, ...]:
    """The names of the options that go ``where``, in declaration order."""
    return tuple(o.name for o in OPTIONS if o.where == where)


def option(name: str) -> Option:
    """The declaration of ``name`` (KeyError for a name not declared)."""
    for o in OPTIONS:
        if o.name == name:
            return o
    raise KeyError(name)


#: what a resumed run may set to another value than the checkpoint's run
MAY_CHANGE = tuple(o.name for o in OPTIONS if o.may_change)
#: options for which ``of.sweep`` sweeps a list (with the estimator and scipy's ``tol``)
SWEEPABLE = ("gradient", "tol", *(o.name for o in OPTIONS if o.sweepable))

#: other libraries' names for optiframe's options and hyperparameters (scikit-learn,
#: torch, Keras, optuna, NLopt), named in the errors that refuse them
OTHER_SPELLINGS = {"max_iter": "max_steps", "max_iters": "max_steps", "n_iter": "max_steps",
                   "num_steps": "max_steps", "steps": "max_steps", "iterations": "max_steps",
                   "max_evals": "max_nfev", "maxeval": "max_nfev", "timeout": "max_time",
                   "time_limit": "max_time", "verbose": "progress", "learning_rate": "lr"}
