"""The exceptions optiframe raises.

Every error subclasses both :class:`OptiframeError` and the builtin exception it
behaves like, so ``except ValueError`` works as well as ``except OptiframeError``.
"""

from __future__ import annotations

import inspect
import math
import types
from typing import Any


class OptiframeError(Exception):
    """Base class of every optiframe error."""


class InvalidArgumentError(OptiframeError, ValueError):
    """An argument has the right type but a value optiframe cannot use."""


class InvalidTypeError(OptiframeError, TypeError):
    """An argument, or a value a user function returned, has the wrong type."""


class UnknownComponentError(OptiframeError, KeyError):
    """A component name is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DuplicateComponentError(OptiframeError, ValueError):
    """Two plugins registered the same component name."""


class PluginError(OptiframeError, RuntimeError):
    """A plugin could not be imported or does not follow the hook specifications."""


class RunFailedError(OptiframeError, RuntimeError):
    """A run ended because user code raised; ``.result`` holds what was recorded."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class EvaluationError(OptiframeError, RuntimeError):
    """An evaluation sent to workers (``evaluate=``) was lost with its worker more than
    ``retries`` times, or ran past ``eval_timeout``; the run ends ``failed`` with it."""


class CheckpointError(OptiframeError, ValueError):
    """A checkpoint cannot be read, or does not belong to the run resuming it."""


class HistoryStreamError(OptiframeError, ValueError):
    """A streamed history file has a bad line (named by number) or is not a stream."""


class PluginLoadWarning(UserWarning):
    """A plugin failed to import and was skipped (set OPTIFRAME_STRICT_PLUGINS=1 to raise)."""


class CheckpointReplacedWarning(UserWarning):
    """A new run was given a ``checkpoint`` folder that holds an earlier run's checkpoint,
    which the new run's first checkpoint replaces."""


def callable_name(fn: object) -> str:
    """A function's name for a message: its qualified name without the ``<locals>``
    path of a function defined inside another (``Obj.on_step``, ``<lambda>``)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return repr(fn) if not isinstance(name, str) else name.rsplit("<locals>.", 1)[-1]


def refused_call(fn: Any, *args: Any) -> str | None:
    """``name(signature)`` of ``fn`` where it cannot be called with ``args`` (for an
    error that names it before any work: ``<lambda>(x, y)``), else None. A callable
    whose signature Python cannot read (a ufunc, some builtins) is taken as it is.

    >>> refused_call(lambda x, y: 0, 1.0), refused_call(lambda x: 0, 1.0)
    ('<lambda>(x, y)', None)
    """
    if _takes_positional(fn, len(args)):  # a plain function that can: no signature to read
        return None
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*args)
    except TypeError:
        return f"{callable_name(fn)}{signature}"
    return None


def _takes_positional(fn: Any, count: int) -> bool:
    """Whether ``fn``, a plain Python function, surely takes ``count`` positional
    arguments, read from its code object (a few attribute reads, where
    ``inspect.signature`` costs tens of microseconds a call); False where that does not
    decide (any other callable, a decorated function, or one that cannot), and the
    signature does."""
    if type(fn) is not types.FunctionType or fn.__dict__:  # (a __wrapped__ or
        return False  # __signature__ there: the signature reads it)
    code = fn.__code__
    if code.co_kwonlyargcount > len(fn.__kwdefaults__ or ()):
        return False  # a keyword-only argument without a default
    most = math.inf if code.co_flags & inspect.CO_VARARGS else code.co_argcount
    return code.co_argcount - len(fn.__defaults__ or ()) <= count <= most


def write_failure(exc: OSError) -> str:
    """Why a write failed, for a message: ``" (the disk is full): No space left on
    device"`` (the note in parentheses only for ENOSPC)."""
    import errno

    full = " (the disk is full)" if exc.errno == errno.ENOSPC else ""
    return f"{full}: {exc.strerror or exc}"


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of an exception from user code, with a hint where optiframe knows
    the cause (an objective writing into the read-only point it was given)."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        text += (" (optiframe hands objectives and gradients read-only points: copy x "
                 "before changing it, x = x.copy())")
    return text
