"""What a checkpoint says about the run that wrote it, and the comparison on resume: a
run may go on from a checkpoint only with the same objective, components and options
(but those in :data:`MAY_CHANGE`), and a difference is named, field by field.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import numpy as np

from . import options
from .errors import CheckpointError, InvalidArgumentError

if TYPE_CHECKING:
    from .batching import Batching
    from .gradients import GradientEstimator
    from .objective import Objective
    from .optimizers.base import Optimizer
    from .schedules import Schedule
    from .stopping import StopRules


class Configured(Protocol):
    """What a checkpoint's configuration reads of a runner (a
    :class:`~optiframe.Runner` is one): the components and options a resumed run must
    agree on."""

    @property
    def objective(self) -> Objective: ...
    @property
    def optimizer(self) -> Optimizer: ...
    @property
    def gradient(self) -> GradientEstimator: ...
    @property
    def schedules(self) -> tuple[tuple[str, Schedule], ...]: ...
    @property
    def batching(self) -> Batching | None: ...
    @property
    def stop(self) -> StopRules: ...
    @property
    def record_every(self) -> int: ...
    @property
    def record_x(self) -> bool: ...


def data_digest(*arrays: Any, rows: int = 64) -> str:
    """A short digest of data arrays from ``rows`` rows spread over each (and its shape and
    dtype), so a checkpoint notices other data without reading a large memmap whole."""
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        a = np.asarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        if a.ndim and len(a):
            picks = np.unique(np.linspace(0, len(a) - 1, min(rows, len(a))).astype(np.int64))
            h.update(np.ascontiguousarray(a[picks]).tobytes())
    return h.hexdigest()


def describe_objective(objective: Any) -> str:
    """A stable description of an objective: its class, function, data shapes and a
    digest of sampled data rows."""
    from .data import DataObjective
    from .evaluation import ParallelObjective
    from .objective import FunctionObjective

    if isinstance(objective, ParallelObjective):  # where f runs is not what f is
        objective = objective.objective
    name = f"{type(objective).__module__}.{type(objective).__qualname__}"
    if isinstance(objective, FunctionObjective):
        fn = objective.func
        name += f"({getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))})"
    elif isinstance(objective, DataObjective):
        name += (f"(X {objective.X.shape}, y {np.shape(objective.y)}, data "
                 f"{data_digest(objective.X, objective.y)})")
    dim = getattr(objective, "dim", None)
    return f"{name}, dim {dim}" if dim is not None else name


def describe(value: Any) -> Any:
    """A component or option as exact, comparable JSON: attrs classes as their class and
    fields, floats by their exact repr, arrays by shape, dtype and a digest of their
    bytes (a repr would elide the middle of a large array)."""
    if attrs.has(type(value)):
        fields = {f.name: describe(getattr(value, f.name))
                  for f in attrs.fields(type(value)) if f.init}
        return {"class": type(value).__qualname__, **fields}
    if isinstance(value, np.ndarray):
        digest = hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=8)
        return f"array(shape={list(value.shape)}, dtype={value.dtype}, {digest.hexdigest()})"
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, (bool, np.bool_)) or value is None:
        return value if value is None else bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return value
    return repr(value)


#: Options a resumed run may change: to run longer, or on another budget.
MAY_CHANGE = options.MAY_CHANGE  # the budgets, declared in optiframe.options


def run_config(runner: Configured, kind: str, shape: tuple[int, ...],
               seed: int | None = None) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed by ``runner``.

    Every stopping rule counts except the budgets (``max_steps``, ``max_nfev``,
    ``max_time``) and, in training, ``epochs``: a resumed run may go on longer.
    """
    batching = describe(runner.batching)
    if isinstance(batching, dict):
        batching.pop("epochs", None)
    return {
        "kind": kind,
        "objective": describe_objective(runner.objective),
        "optimizer": describe(runner.optimizer),
        "gradient": describe(runner.gradient),
        "schedules": describe(runner.schedules),
        "stop": {k: v for k, v in describe(runner.stop).items()
                 if k not in MAY_CHANGE and k != "class"},
        "batching": batching,
        "record_every": runner.record_every,
        "record_x": runner.record_x,
        "shape": list(shape),
        "seed": seed,
    }


def _show(value: Any) -> str:
    """A described value (see :func:`describe`) as short text: ``Adam(lr=0.01, ...)``."""
    if isinstance(value, dict) and "class" in value:
        fields = ", ".join(f"{k}={_show(v)}" for k, v in value.items() if k != "class")
        return f"{value['class']}({fields})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return "(none)" if value is None else str(value)


def _differences(saved: Any, current: Any, where: str) -> list[str]:
    """Where two described configurations differ, one line each, down to the field."""
    same_class = not (isinstance(saved, dict) and isinstance(current, dict)
                      and saved.get("class") != current.get("class"))
    if isinstance(saved, dict) and isinstance(current, dict) and same_class:
        out = []
        for key in [k for k in current if k != "class"] + [k for k in saved
                                                            if k not in current]:
            out.extend(_differences(saved.get(key), current.get(key), f"{where}.{key}"))
        return out
    if saved != current:
        def text(v: Any) -> str:
            return repr(_show(v)) if isinstance(v, (dict, list)) else _show(v)
        return [f"{where}: the checkpoint has {text(saved)}, this runner {text(current)}"]
    return []


def _legacy_text(value: Any) -> str:
    """What a config of formats 1 to 3 held for a component or option: its repr, with
    the budgets and ``epochs`` left out as before."""
    return repr(value)


def _legacy_fields(text: str) -> tuple[str, dict[str, str]] | None:
    """``Name(a=1, b=(2, 3))`` as its name and its fields' texts (top-level commas only)."""
    match = re.fullmatch(r"(\w+)\((.*)\)", text, re.S)
    if not match:
        return None
    fields: dict[str, str] = {}
    depth, start, body = 0, 0, match.group(2)
    quote: str | None = None
    parts = []
    for i, ch in enumerate(body):
        if quote:
            quote = None if ch == quote and body[i - 1] != "\\" else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    for part in parts:
        if part.strip():
            key, sep, value = part.strip().partition("=")
            if not sep:
                return None
            fields[key.strip()] = value.strip()
    return match.group(1), fields


def _legacy_component(saved: str, value: Any, where: str) -> list[str]:
    """Compare a component saved as its repr (formats 1 to 3) with today's: a field that
    did not exist then must be at its default now."""
    current = _legacy_text(value)
    if saved == current:
        return []
    parsed = _legacy_fields(saved)
    if parsed is None or not attrs.has(type(value)) or parsed[0] != type(value).__name__:
        return [f"{where}: the checkpoint has {saved!r}, this runner {current!r}"]
    out = []
    fields = {f.name: f for f in attrs.fields(type(value)) if f.init}
    for name, text in parsed[1].items():
        if name not in fields:
            out.append(f"{where}.{name}: the checkpoint has {text}, this runner has no such "
                       "field")
        elif text != repr(getattr(value, name)) and name not in MAY_CHANGE:
            out.append(f"{where}.{name}: the checkpoint has {text}, this runner "
                       f"{getattr(value, name)!r}")
    for name, field in fields.items():
        if name in parsed[1] or name in MAY_CHANGE:
            continue
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        if not np.array_equal(getattr(value, name), default):
            out.append(f"{where}.{name}: new since the checkpoint; it must keep its default "
                       f"{default!r} to resume it, this runner has {getattr(value, name)!r}")
    return out


def _legacy_differences(saved: dict[str, Any], runner: Configured) -> list[str]:
    out = []
    for key, value in (("optimizer", runner.optimizer), ("gradient", runner.gradient),
                       ("schedules", runner.schedules), ("batching", runner.batching)):
        text = saved.get(key)
        if isinstance(text, str):
            out.extend(_legacy_component(text, value, key))
    stop = {f.name: repr(getattr(runner.stop, f.name)) for f in attrs.fields(type(runner.stop))
            if f.name not in MAY_CHANGE}
    saved_stop = saved.get("stop", {})
    for name, text in stop.items():
        default = repr(getattr(type(runner.stop)(), name))
        if saved_stop.get(name, default) != text:
            out.append(f"stop: the checkpoint has {name} = {saved_stop.get(name, default)}, "
                       f"this runner {text}")
    for key in ("objective", "record_every", "record_x", "seed"):
        current = (describe_objective(runner.objective) if key == "objective"
                   else getattr(runner, key, None) if key != "seed" else saved.get("seed"))
        if saved.get(key) != current:
            out.append(f"{key}: the checkpoint has {saved.get(key)!r}, this runner {current!r}")
    return out


def check_config(checkpoint: Any, runner: Configured) -> None:
    """Refuse a checkpoint (a loaded :class:`~optiframe.checkpoint.Checkpoint`) written
    with other components, saying what differs."""
    saved = checkpoint.config
    if checkpoint.meta.get("legacy"):
        differ = _legacy_differences(saved, runner)
    else:
        current = run_config(runner, saved.get("kind", "?"), tuple(saved.get("shape", ())),
                             saved.get("seed"))
        differ = []
        for key in current:
            differ.extend(_differences(saved.get(key), current[key], key))
    if differ:
        raise CheckpointError(
            f"{checkpoint.path} was written by a run configured differently; resume it with "
            "the same components and options. Differences:\n  " + "\n  ".join(differ))


def check_checkpoint_options(checkpoint: Any, every: Any) -> tuple[Path | None, int | None]:
    """The Runner's ``checkpoint`` and ``checkpoint_every`` options, checked."""
    from ._validation import check_int

    if checkpoint is None:
        if every is not None:
            raise InvalidArgumentError(
                f"'checkpoint_every' is {every!r} but no 'checkpoint' folder is given: "
                "pass checkpoint='path/to/folder'")
        return None, None
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"'checkpoint' must be a folder path (str or Path): {checkpoint!r}")
    path = Path(checkpoint)
    if path.exists() and not path.is_dir():
        raise InvalidArgumentError(f"'checkpoint' must be a folder, but {str(path)!r} is a file")
    return path, None if every is None else check_int("checkpoint_every", every, minimum=1)
