"""attrs fields for hyperparameters: validated, readable back, arrays kept read-only."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from .._validation import check_real, positive_finite
from ..errors import InvalidArgumentError, InvalidTypeError


def _freeze(value: Any) -> Any:
    """A hyperparameter array becomes a read-only copy; numbers stay numbers."""
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.array(value, dtype=float)
        arr.flags.writeable = False
        return arr
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


#: the metadata key of a hyperparameter that may give one number per coordinate
PER_COORDINATE = "optiframe.per_coordinate"


def learning_rate(default: float) -> Any:
    """A learning rate: a finite number > 0, or an array of them, one per coordinate."""
    return attrs.field(default=default, converter=_freeze, validator=positive_finite,
                       eq=attrs.cmp_using(eq=_same), hash=False,
                       metadata={PER_COORDINATE: True})


def nonnegative(default: float) -> Any:
    """A finite number >= 0 (weight decay, epsilon, ...)."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        check_real(attribute.name, value)

    return attrs.field(default=default, validator=check)


def unit_interval(default: float, *, closed_high: bool = False) -> Any:
    """A number in [0, 1) (betas, momentum, smoothing constants), or [0, 1]."""
    high = "]" if closed_high else ")"

    def check(instance: Any, attribute: Any, value: Any) -> None:
        name = attribute.name
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgumentError(f"{name!r} must be a real number: {value!r}")
        if math.isnan(value):
            raise InvalidArgumentError(f"{name!r} must not be NaN: {value!r}")
        inside = 0.0 <= value <= 1.0 if closed_high else 0.0 <= value < 1.0
        if not inside:
            raise InvalidArgumentError(f"{name!r} must be in [0, 1{high}: {float(value)!r}")

    return attrs.field(default=default, validator=check)


def check_coordinates(optimizer: Any, n: int) -> None:
    """Refuse, before any work, a per-coordinate hyperparameter (a learning rate, or any
    field declared with :data:`PER_COORDINATE` in its metadata) whose array does not give
    one number per coordinate of x's ``n`` (or one for all). Other array fields (a
    matrix of one's own) are the optimizer's business.

    >>> import optiframe as of
    >>> check_coordinates(of.GradientDescent(lr=[0.1, 0.2, 0.3]), 2)
    Traceback (most recent call last):
    ...
    optiframe.errors.InvalidArgumentError: 'lr' of GradientDescent must be a number or \
an array of one per coordinate of x (2): got shape (3,): [0.1, 0.2, 0.3]
    """
    for owner, name, value in _arrays(optimizer):
        if value.shape not in ((), (1,), (n,)):
            raise InvalidArgumentError(
                f"{name!r} of {type(owner).__name__} must be a number or an array of one per "
                f"coordinate of x ({n}): got shape {value.shape}: "
                f"{np.array2string(value, threshold=8, separator=', ')}")


def _arrays(obj: Any) -> list[tuple[Any, str, np.ndarray]]:
    """The per-coordinate array fields of an attrs instance and of the attrs instances
    it holds (a chain's transforms), as (owner, field name, array)."""
    found: list[tuple[Any, str, np.ndarray]] = []
    if not attrs.has(type(obj)):
        return found
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if isinstance(value, np.ndarray) and field.metadata.get(PER_COORDINATE):
            found.append((obj, field.name, value))
        for item in value if isinstance(value, tuple) else (value,):
            for part in item if isinstance(item, tuple) else (item,):
                found.extend(_arrays(part))
    return found


def flag(default: bool) -> Any:
    """A boolean option (amsgrad, centered, ...)."""
    return attrs.field(default=default, validator=attrs.validators.instance_of(bool))


def line_search_field(default: Any) -> Any:
    """A ``line_search`` hyperparameter: a registered name (``"armijo"``, ``"wolfe"``), a
    mapping with ``name``, a :class:`~optiframe.linesearch.LineSearch`, or None."""
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is None or isinstance(value, (str, dict)):
            return
        from ..linesearch import LineSearch

        if not isinstance(value, LineSearch):
            raise InvalidTypeError(
                f"'line_search' must be a registered name ('armijo', 'wolfe'), a mapping with "
                f"'name', a LineSearch or None: {value!r}")

    return attrs.field(default=default, validator=check)
