"""Checks of user input, shared by every module, with messages that name argument and value."""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidArgumentError, InvalidTypeError


def as_point(x0: Any, name: str = "x0") -> np.ndarray:
    """Return a fresh 1-D float array from ``x0``; a scalar counts as one coordinate.

    The caller's object is never kept or modified: the result is always a copy.
    """
    if isinstance(x0, (str, bytes)) or x0 is None:
        raise InvalidTypeError(f"{name!r} must be a number or a 1-D array of numbers: {x0!r}")
    try:
        arr = np.array(x0, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidTypeError(f"{name!r} must be a 1-D array of numbers: {x0!r}") from exc
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise InvalidTypeError(
            f"{name!r} must hold real numbers, got dtype {arr.dtype}: {_short(x0)}"
        )
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"{name!r} must be 1-D (one coordinate per variable), got shape {arr.shape}; "
            "of.minimize keeps an x0 of any shape, or pass x0.ravel()"
        )
    if arr.size == 0:
        raise InvalidArgumentError(f"{name!r} must have at least one coordinate: {_short(x0)}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidArgumentError(f"{name!r} must be finite: {name}[{i}] is {float(arr[i])!r}")
    return arr


def check_int(name: str, value: Any, minimum: int = 0) -> int:
    """Return ``value`` as an int, refusing bools, non-integral floats and values < minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidArgumentError(f"{name!r} must be an integer >= {minimum}: {value!r}")
    if value < minimum:
        raise InvalidArgumentError(f"{name!r} must be >= {minimum}: {int(value)!r}")
    return int(value)


def check_real(name: str, value: Any, *, positive: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a float: a real number, not NaN, finite unless ``allow_inf``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"{name!r} must be a real number: {value!r}")
    value = float(value)
    if math.isnan(value):
        raise InvalidArgumentError(f"{name!r} must not be NaN: {value!r}")
    if not allow_inf and math.isinf(value):
        raise InvalidArgumentError(f"{name!r} must be finite: {value!r}")
    if positive and value <= 0:
        raise InvalidArgumentError(f"{name!r} must be > 0: {value!r}")
    if not positive and value < 0:
        raise InvalidArgumentError(f"{name!r} must be >= 0: {value!r}")
    return value


def positive_int(instance: Any, attribute: Any, value: Any) -> None:
    """attrs validator: an integer >= 1."""
    check_int(attribute.name, value, minimum=1)


def nonneg_int(instance: Any, attribute: Any, value: Any) -> None:
    """attrs validator: an integer >= 0."""
    check_int(attribute.name, value, minimum=0)


def positive_real(instance: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a finite number > 0."""
    check_real(attribute.name, value, positive=True)


def nonneg_real(instance: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a finite number >= 0."""
    check_real(attribute.name, value)


def positive_finite(instance: Any, attribute: Any, value: Any) -> None:
    """attrs validator: a finite number > 0, or an array of them (per-coordinate values)."""
    name = attribute.name
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf" or value.size == 0:
            raise InvalidArgumentError(f"{name!r} must hold real numbers: {value!r}")
        if not np.all(np.isfinite(value)):
            raise InvalidArgumentError(f"{name!r} must be finite: {value!r}")
        if not np.all(value > 0):
            raise InvalidArgumentError(f"{name!r} must be > 0: {value!r}")
        return
    check_real(name, value, positive=True)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def closest(name: str, choices: Any) -> str | None:
    """The closest of ``choices`` to ``name`` (None: none is close)."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return close[0] if close else None


def did_you_mean(name: str, choices: Any) -> str:
    """`` optiframe calls it 'x'.`` where ``name`` is another library's spelling of one
    of ``choices`` (:data:`~optiframe.options.OTHER_SPELLINGS`), else `` Did you mean
    'x'?`` for the closest of them, or an empty string.

    >>> did_you_mean("max_iter", ["max_steps", "gtol"]), did_you_mean("gtl", ["gtol"])
    (" optiframe calls it 'max_steps'.", " Did you mean 'gtol'?")
    """
    from .options import OTHER_SPELLINGS

    choices = list(choices)
    if OTHER_SPELLINGS.get(name) in choices:
        return f" optiframe calls it {OTHER_SPELLINGS[name]!r}."
    close = closest(name, choices)
    return f" Did you mean {close!r}?" if close else ""


def unwritable_folder(folder: Path) -> str | None:
    """Why ``folder`` could not be created and written (None: it could), found without
    creating anything: a refused run leaves no empty folders behind."""
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            return f"{str(probe)!r} is a symlink to {os.readlink(probe)!r}, which does not exist"
        if probe.parent == probe:
            return f"no part of {str(folder)!r} exists"
        probe = probe.parent
    if not probe.is_dir():
        return f"{str(probe)!r} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{str(probe)!r} is not writable (permission denied)"
    return None
