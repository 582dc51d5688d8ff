"""``optiframe run CONFIG.toml``: a run described in TOML, resolved and checked before any work.

Sections and keys (all optional but ``objective`` and a start):

.. code-block:: toml

    [objective]            # name = "rosenbrock" | path = "file.py:function" (+ gradient =
    name = "rosenbrock"    #   "file.py:function", vectorized = true); other keys go to it
    [optimizer]            # name and hyperparameters
    name = "adam"
    lr = 0.01
    [gradient]             # name and parameters ("auto" by default)
    name = "central"
    [schedules]            # hyperparameter = "name" or {name = ..., parameters}
    lr = "cosine"
    [start]                # x0 = [...] | "zeros" | "init", or n_starts / sampler / bounds /
    x0 = [-1.2, 1.0]       #   seed / workers (multi-start)
    [bounds]               # the box no evaluation leaves: lower, upper (a number for every
    lower = -5             #   coordinate, or one per coordinate; -inf/inf for an open side);
    upper = 5              #   multi-start samples its starts in it
    [batch]                # minibatch descent on a data objective (objective.factory = ...):
                           #   batch_size, epochs, shuffle, drop_last, sampler, seed
    [stop]                 # max_steps, gtol, ftol, xtol, detect_divergence, divergence_factor,
                           #   max_bad_gradients, max_nfev, max_time
    max_steps = 5000
    [output]               # folder (default "results"), record_every, record_x,
    folder = "results/rosenbrock"  # checkpoint_every (into folder/checkpoint; resume with
                           #   optiframe run --resume), stream_history = true
                           #   (folder/history.jsonl), mlflow = "sqlite:///runs.db"
                           #   (or any tracker a plugin registers: optiframe list tracker)

No value is evaluated as code; a ``path`` (or ``factory``) names a Python file, found next
to the config file, whose function is imported.
"""

from __future__ import annotations

import copy
import csv
import datetime
import importlib.util
import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import did_you_mean, unwritable_folder
from .errors import InvalidArgumentError, OptiframeError
from .options import names
from .plugins import get_registry

SECTIONS: dict[str, set[str] | None] = {
    "objective": None,  # name/path/gradient/vectorized, then the objective's own parameters
    "optimizer": None,
    "gradient": None,
    "start": {"x0", "n_starts", "sampler", "bounds", "seed", "scale", "workers"},
    "bounds": {"lower", "upper"},
    "schedules": None,  # hyperparameter = "name" or a table {name = ..., ...}
    "batch": {"batch_size", "epochs", "shuffle", "drop_last", "sampler", "seed"},
    "stop": set(names("stop")),
    "output": {"folder", "record_every", "record_x", "checkpoint_every", "stream_history"},
    "sweep": {"zipped", "workers"},  # optiframe sweep: lists in [optimizer] and [stop]
}


class ConfigError(InvalidArgumentError):
    """A configuration file that cannot be used; the message names the key and the file."""


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read ``path`` (TOML), apply ``--set key=value`` overrides, and check the keys."""
    import tomllib
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        config = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): save the config as "
                          "UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(
                f"{path}: --set {item!r}: write section.key=value, e.g. optimizer.lr=0.1")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # a bare word is a string
        section, _, name = key.strip().partition(".")
        config.setdefault(section, {})[name] = value
    check_keys(config, path)
    return config


def check_keys(config: dict[str, Any], path: Path) -> None:
    for section, body in config.items():
        if section not in SECTIONS:
            hint = did_you_mean(section, SECTIONS)
            raise ConfigError(f"{path}: unknown section [{section}].{hint} Sections: "
                              f"{', '.join(SECTIONS)}")
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: '{section}' must be a table ([{section}])")
        allowed = SECTIONS[section]
        if section == "output" and allowed is not None:
            allowed = allowed | tracker_names()
        for key in body:
            if allowed is not None and key not in allowed:
                hint = did_you_mean(key, allowed)
                raise ConfigError(f"{path}: unknown key '{section}.{key}'.{hint} Keys: "
                                  f"{', '.join(sorted(allowed))}")
    if "objective" not in config or not ({"name", "path", "factory"} & set(config["objective"])):
        raise ConfigError(f"{path}: [objective] needs 'name' (a registered objective), "
                          "'path' (file.py:function to minimize) or 'factory' (file.py:function "
                          "returning an Objective, e.g. a data objective)")


def tracker_names() -> set[str]:
    """The ``[output]`` keys that name a tracker: the registered ones, and those of the
    plugins known to provide one (so a missing plugin gets a message that names it)."""
    from .registry import PROVIDED_BY

    return set(get_registry().names("tracker")) | {
        name for kind, name in PROVIDED_BY if kind == "tracker"}


def _tracker(name: str, value: Any, where: str) -> Any:
    """The tracker ``[output] name = value`` asks for."""
    try:
        factory = get_registry().get("tracker", name).factory
    except OptiframeError as exc:
        raise ConfigError(f"{where}: output.{name}: {exc.args[0]}") from None
    try:
        return factory(**value) if isinstance(value, dict) else factory(value)
    except (OptiframeError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: output.{name}: {exc}") from None


def _import_function(spec: str, where: str, base: Path | None = None) -> Any:
    """``file.py:function`` imported; a relative file is found next to the config file
    (``base``), wherever the command runs from."""
    file, sep, name = spec.rpartition(":")
    if not sep or not file or not name:
        raise ConfigError(f"{where}: write path/to/file.py:function, got {spec!r}")
    file_path = Path(file)
    if base is not None and not file_path.is_absolute():
        file_path = base / file_path
    if not file_path.is_file():
        raise ConfigError(f"{where}: no such file {file!r}")
    module_spec = importlib.util.spec_from_file_location(f"optiframe_user_{file_path.stem}",
                                                         file_path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"{where}: {file!r} is not a Python file: write path/to/file.py:"
                          "function")
    module = importlib.util.module_from_spec(module_spec)
    # registered, so that its functions pickle by name for worker processes
    sys.modules[module_spec.name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"{where}: importing {file!r} raised {type(exc).__name__}: "
                          f"{exc}") from None
    if not hasattr(module, name):
        raise ConfigError(f"{where}: {file!r} has no function {name!r}")
    return getattr(module, name)


def build_run(config: dict[str, Any], path: Path) -> tuple[Any, dict[str, Any]]:
    """The Runner and the run() arguments the config describes (errors name the key)."""
    from .objective import FunctionObjective, Objective
    from .runner import Runner
    from .starts import MultiStart

    where = str(path)
    objective_cfg = dict(config["objective"])
    objective: Any
    if "factory" in objective_cfg:
        build = _import_function(objective_cfg.pop("factory"), f"{where}: objective.factory",
                                 path.parent)
        if not callable(build):
            raise ConfigError(f"{where}: objective.factory must name a function, not a "
                              f"{type(build).__name__}")
        try:
            objective = build(**objective_cfg)
        except TypeError as exc:
            raise ConfigError(f"{where}: objective.factory: {exc}") from None
        if not isinstance(objective, Objective):
            raise ConfigError(f"{where}: objective.factory must return an Objective, got "
                              f"{type(objective).__name__}")
    elif "path" in objective_cfg:
        func = _import_function(objective_cfg.pop("path"), f"{where}: objective.path",
                                path.parent)
        grad = objective_cfg.pop("gradient", None)
        grad_func = (_import_function(grad, f"{where}: objective.gradient", path.parent) if grad
                     else None)
        objective = FunctionObjective.from_callable(
            func, gradient=grad_func, vectorized=bool(objective_cfg.pop("vectorized", False)))
        if objective_cfg:
            raise ConfigError(f"{where}: unknown key 'objective.{next(iter(objective_cfg))}' "
                              "for an objective given by path")
    else:
        objective = objective_cfg
    start = config.get("start", {})
    output = config.get("output", {})
    batch = dict(config.get("batch", {}))
    batch_seed = batch.pop("seed", None)
    if "sampler" in batch:
        batch["batch_sampler"] = batch.pop("sampler")
    options = {**config.get("stop", {}), **batch,
               **{k: v for k, v in output.items() if k in ("record_every", "record_x")}}
    if config.get("schedules"):
        options["schedules"] = dict(config["schedules"])
    if "n_starts" not in start:
        for key in ("workers", "bounds", "sampler", "scale"):
            if key in start:
                raise ConfigError(
                    f"{where}: start.{key} is for the starts of a multi-start run: set "
                    "start.n_starts too" + (" (to bound the run itself, use [bounds] lower "
                                            "and upper)" if key == "bounds" else ""))
    bounds = _run_bounds(config.get("bounds"), where)
    if bounds is not None:
        options["bounds"] = bounds
    misplaced = set(config.get("optimizer", {})) & set(SECTIONS["stop"] or ())
    if misplaced:
        key = sorted(misplaced)[0]
        raise ConfigError(f"{where}: optimizer.{key} is a stopping rule: it belongs in [stop] "
                          f"({key} = ...)")
    folder = Path(output.get("folder", "results"))
    if "checkpoint_every" in output:
        options["checkpoint"] = folder / "checkpoint"
        options["checkpoint_every"] = output["checkpoint_every"]
    stream = output.get("stream_history", False)
    if not isinstance(stream, bool):
        raise ConfigError(f"{where}: output.stream_history must be true or false: {stream!r}")
    if stream:
        options["stream_history"] = folder / "history.jsonl"
    trackers = [_tracker(name, output[name], where) for name in sorted(tracker_names())
                if name in output]
    if trackers:
        options["callbacks"] = trackers
    try:
        # the command line records a failed run (exit 1) and handles Ctrl-C itself (130)
        runner = Runner(objective, config.get("optimizer"), config.get("gradient", "auto"),
                        raise_errors=False, **options)
    except OptiframeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:  # a component given a parameter it does not take
        raise ConfigError(f"{where}: {exc}") from None
    x0 = start.get("x0")
    if x0 == "zeros" or x0 == "init":
        dim = getattr(runner.objective, "dim", None)
        if x0 == "init" and hasattr(runner.objective, "init_params"):
            # the initial weights follow [start] seed, else [batch] seed: one seed set in
            # the config makes the whole training run reproducible
            x0 = runner.objective.init_params(start.get("seed", batch_seed))
        elif dim is not None:
            x0 = np.zeros(dim)
        else:
            raise ConfigError(f"{where}: start.x0 = {x0!r} needs an objective with a fixed dim")
    elif isinstance(x0, str):
        raise ConfigError(f"{where}: start.x0 must be a list of numbers, \"zeros\" or "
                          f"\"init\": {x0!r}")
    elif x0 is not None:
        _check_x0(x0, where)
    dim = getattr(runner.objective, "dim", None)
    if dim is not None and isinstance(x0, list) and len(x0) != dim:
        raise ConfigError(f"{where}: start.x0 has {len(x0)} coordinates but the objective "
                          f"{runner.objective!r} has {dim}")
    if bounds is not None and np.ndim(bounds.lb) == 0 and np.ndim(bounds.ub) == 0 and not (
            dim is not None or isinstance(x0, (list, np.ndarray)) or "bounds" in start):
        raise ConfigError(f"{where}: bounds.lower and bounds.upper are numbers, and nothing "
                          "says how many coordinates x has: give a list for one of them (one "
                          "number per coordinate), an x0, or an objective with a dim")
    run_args: dict[str, Any] = {"x0": x0}
    if batch_seed is not None:
        run_args["seed"] = batch_seed
    if "n_starts" in start:
        sampler: Any = start.get("sampler", "uniform")
        if "scale" in start:
            sampler = {"name": sampler, "scale": start["scale"]}
        run_args["starts"] = MultiStart(start["n_starts"], sampler=sampler,
                                        bounds=start.get("bounds"))
        run_args["seed"] = start.get("seed")
        if "workers" in start:
            run_args["workers"] = start["workers"]
    elif x0 is None:
        raise ConfigError(f"{where}: [start] needs 'x0' (or 'n_starts' for multi-start)")
    return runner, run_args


def _run_bounds(section: Mapping[str, Any] | None, where: str) -> Any:
    """``[bounds] lower/upper`` as a :class:`~optiframe.bounds.LowerUpper` (None without the
    section); each side a number or a list of numbers, the other side open when absent."""
    if not section:
        return None
    from .bounds import LowerUpper

    sides = {}
    for key, open_side in (("lower", -math.inf), ("upper", math.inf)):
        value = section.get(key, open_side)
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, list) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
        if not ok:
            raise ConfigError(f"{where}: bounds.{key} must be a number (every coordinate) or "
                              f"a list of numbers (one per coordinate): {value!r}")
        sides[key] = np.asarray(value, dtype=float)
    lower, upper = sides["lower"], sides["upper"]
    if lower.ndim and upper.ndim and lower.size != upper.size:
        raise ConfigError(f"{where}: bounds.lower has {lower.size} numbers but bounds.upper "
                          f"has {upper.size}: give one per coordinate (or one number for all)")
    return LowerUpper(lower, upper)


def _check_x0(x0: Any, where: str) -> None:
    """start.x0 given as numbers: real and finite, refused naming the file and the key."""
    try:
        arr = np.asarray(x0)
        if arr.dtype.kind not in "iuf" or (isinstance(x0, list) and any(
                isinstance(v, bool) for v in x0)):  # text, dates, tables, booleans
            raise TypeError(arr.dtype)
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: start.x0 must be a list of numbers, \"zeros\" or "
                          f"\"init\": {x0!r}") from None
    bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
    if bad.size:
        raise ConfigError(f"{where}: start.x0 must be finite: coordinate {int(bad[0])} is "
                          f"{float(arr.reshape(-1)[bad[0]])!r}")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def to_toml(config: dict[str, Any]) -> str:
    """A config as TOML (the subset optiframe configs use: tables of plain values)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v) if math.isfinite(v) else ("nan" if v != v else
                                                    ("inf" if v > 0 else "-inf"))
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, (datetime.date, datetime.time)):
            return v.isoformat()
        raise TypeError(f"cannot write {v!r} as TOML")

    def key(k: Any) -> str:  # bare where TOML allows it, else a quoted key
        k = str(k)
        return k if _BARE_KEY.fullmatch(k) else json.dumps(k)

    lines = []
    for section, body in config.items():
        lines.append(f"[{key(section)}]")
        lines.extend(f"{key(k)} = {value(v)}" for k, v in body.items())
        lines.append("")
    return "\n".join(lines)


def resolved(config: dict[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in: what the run will use."""
    out = copy.deepcopy(config)
    from .runner import DEFAULT_OPTIMIZER, DEFAULT_TRAINING_OPTIMIZER

    training = "batch_size" in out.get("batch", {})
    out.setdefault("optimizer", {"name": DEFAULT_TRAINING_OPTIMIZER if training
                                 else DEFAULT_OPTIMIZER})
    out.setdefault("gradient", {"name": "auto"})
    out.setdefault("output", {}).setdefault("folder", "results")
    return out


#: what ``optiframe run`` writes into a results folder (``--force`` removes these from an
#: earlier run first, and nothing else: a sweep's files in the same folder stay)
RESULT_FILES = ("config.toml", "history.csv", "history.json", "summary.json", "epochs.csv",
                "loss.png", "minima.png", "history.jsonl")
RESULT_FOLDERS = ("checkpoint",)
#: what ``optiframe sweep`` writes (replaced when the new table is ready; nothing else)
SWEEP_FILES = ("sweep.csv", "sweep.json")


def check_results_folder(folder: Path, force: bool, where: str) -> None:
    """Before the run: the results folder can be made and written (a dangling symlink, a
    file in its place, a folder without write permission are errors now, not after the
    run). Nothing is created: a run refused later (a NaN x0) leaves no empty folder. With
    ``force``, what an earlier ``optiframe run`` wrote there is removed."""
    if folder.is_symlink() and not folder.exists():
        raise ConfigError(f"{where}: the results folder {str(folder)!r} is a symlink to "
                          f"{os.readlink(folder)!r}, which does not exist")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{where}: the results folder {str(folder)!r} is a file, not a "
                          "folder: remove it or set output.folder")
    why = unwritable_folder(folder)
    if why is not None:
        raise ConfigError(f"{where}: the results folder {str(folder)!r} cannot be created "
                          f"or written: {why}")
    if force:
        remove_run_files(folder)


def remove_run_files(folder: Path) -> None:
    """What an earlier ``optiframe run`` wrote into ``folder`` (not a sweep's files)."""
    for name in RESULT_FILES:
        (folder / name).unlink(missing_ok=True)
    for name in RESULT_FOLDERS:
        shutil.rmtree(folder / name, ignore_errors=True)


def write_results(result: Any, folder: Path, config: dict[str, Any],
                  objective: Any = None) -> tuple[Path, list[str]]:
    """The results folder: config.toml, history.csv, history.json, summary.json (and the
    plots). A folder that fails while writing (a full disk, a folder removed during the
    run) does not lose the run: the results go to a new folder beside the current
    directory's ``optiframe-results-<pid>``, and the returned folder says where. Returns
    the folder and the files written."""
    try:
        return folder, _write_results(result, folder, config, objective)
    except OSError as exc:
        fallback = Path(tempfile.mkdtemp(prefix="optiframe-results-", dir=_writable_dir()))
        written = _write_results(result, fallback, config, objective)
        print(f"optiframe: warning: the results could not be written into {str(folder)!r} "
              f"({exc.strerror or exc}); they are in {str(fallback)!r}", file=sys.stderr)
        return fallback, written


def _writable_dir() -> str:
    return "." if os.access(".", os.W_OK) else tempfile.gettempdir()


def _write_results(result: Any, folder: Path, config: dict[str, Any],
                   objective: Any = None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(to_toml(config))
    result.history.to_csv(folder / "history.csv")
    if hasattr(result.history, "to_json"):
        result.history.to_json(folder / "history.json")
    result.to_json(folder / "summary.json")
    log = list(getattr(result.history, "epoch_log", ()) or ())
    written = ["config.toml", "history.csv"]
    if hasattr(result.history, "to_json"):
        written.append("history.json")
    written.append("summary.json")
    if log:
        write_epochs_csv(log, folder / "epochs.csv")
        written.append("epochs.csv")
    return written + write_plots(result, folder, objective, run_title(config))


def write_epochs_csv(log: Sequence[Mapping[str, Any]], path: Path) -> None:
    """A training run's per-epoch table (``history.epoch_log``) as CSV."""
    columns = list(dict.fromkeys(k for row in log for k in row))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(log)


def run_title(config: Mapping[str, Any]) -> str:
    """What a config runs, for a figure's title: "rosenbrock, lbfgs"."""
    objective = config.get("objective", {})
    what = next((str(objective[k]) for k in ("name", "path", "factory") if k in objective),
                "objective")
    optimizer = config.get("optimizer", {})
    name = optimizer.get("name") if isinstance(optimizer, Mapping) else optimizer
    return f"{what}, {name}" if name else what


def write_plots(result: Any, folder: Path, objective: Any = None,
                title: str | None = None) -> list[str]:
    """loss.png (and minima.png for a 2-D multi-start run) with optiframe-plot installed;
    ``title`` names the run (the objective and the optimizer)."""
    try:
        import optiframe_plot as plots
    except ImportError:
        return []
    written = []
    if len(result.history):
        starts = f", {len(result.starts)} starts" if hasattr(result, "starts") else ""
        plots.loss_curve(result, title=f"{title}: f per step{starts}" if title else None,
                         ).figure.savefig(folder / "loss.png", dpi=100)
        written.append("loss.png")
    if hasattr(result, "starts") and result.x.size == 2:
        try:  # over the objective's contours, where it can be evaluated on a grid
            figure = plots.multistart_minima(result, objective).figure
        except Exception:
            figure = plots.multistart_minima(result).figure
        figure.savefig(folder / "minima.png", dpi=100)
        written.append("minima.png")
    return written
