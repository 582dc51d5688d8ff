"""``optiframe sweep CONFIG.toml``: a run's config whose lists are swept.

A list in ``[optimizer]`` (a hyperparameter, e.g. ``lr = [0.001, 0.01, 0.1]``) or in
``[stop]`` (``max_steps = [100, 1000]``) is swept, every combination (or element by
element with ``[sweep] zipped = true``), as :func:`~optiframe.sweep` does; ``[sweep]
workers`` spreads the runs that cannot go side by side. The table is printed and written
to the results folder as sweep.csv and sweep.json.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from .config import ConfigError, build_run
from .errors import OptiframeError
from .executors import check_workers
from .sweep import SweepTable, sweep

#: The sections whose lists are swept.
SWEPT_SECTIONS = ("optimizer", "stop")


def swept_values(config: dict[str, Any], where: str) -> dict[str, list[Any]]:
    """The lists to sweep, by key (a key may be swept in one section only)."""
    swept: dict[str, list[Any]] = {}
    for section in SWEPT_SECTIONS:
        for key, value in config.get(section, {}).items():
            if not isinstance(value, list):
                continue
            if not value:
                raise ConfigError(f"{where}: {section}.{key} lists no values")
            swept[key] = value
    if not swept:
        raise ConfigError(f"{where}: nothing to sweep: give a list in [optimizer] or [stop], "
                          "e.g. lr = [0.001, 0.01, 0.1]")
    return swept


def _with(config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    one = copy.deepcopy(config)
    for section in SWEPT_SECTIONS:
        body = one.get(section, {})
        for key in list(body):
            if key in values:
                body[key] = values[key]
    return one


def run_sweep(config: dict[str, Any], path: Path) -> SweepTable:
    """Check every swept value (each as the run it gives, before any work), then sweep."""
    where = str(path)
    swept = swept_values(config, where)
    options = _sweep_options(config, where)
    firsts = {key: values[0] for key, values in swept.items()}
    for key, values in swept.items():
        for value in values[1:]:
            build_run(_with(config, {**firsts, key: value}), path)  # a bad value: named, now
    runner, run_args = build_run(_with(config, firsts), path)
    if "starts" in run_args:
        raise ConfigError(f"{where}: optiframe sweep runs one start per combination: drop "
                          "start.n_starts")
    optimizer = dict(config["optimizer"])
    name = optimizer.pop("name")
    fixed = {k: v for k, v in optimizer.items() if k not in swept}
    stop = {k: v for k, v in config.get("stop", {}).items() if k not in swept}
    batch = dict(config.get("batch", {}))
    batch.pop("seed", None)
    if "sampler" in batch:
        batch["batch_sampler"] = batch.pop("sampler")
    output = {k: v for k, v in config.get("output", {}).items()
              if k in ("record_every", "record_x")}
    extra: dict[str, Any] = {"seed": run_args["seed"]} if "seed" in run_args else {}
    extra.update(swept)
    return sweep(runner.objective, run_args["x0"], optimizer=name, gradient=runner.gradient,
                 zipped=options["zipped"], workers=options["workers"],
                 **fixed, **stop, **batch, **output, **extra)


#: what a sweep's config may not hold: each names why, and what to do instead
NOT_SWEPT = {
    "schedules": "[schedules] (a sweep compares fixed hyperparameters)",
    "output.checkpoint_every": "output.checkpoint_every (a sweep writes no checkpoints)",
    "output.stream_history": "output.stream_history (a sweep writes sweep.csv and sweep.json)",
    "output.mlflow": "output.mlflow (a sweep's rows are not tracked)",
}


def _sweep_options(config: dict[str, Any], where: str) -> dict[str, Any]:
    """[sweep] zipped and workers, type-checked; what a sweep cannot honour, refused."""
    def value(key: str) -> Any:
        section, _, name = key.partition(".")
        return config.get(section) if not name else config.get(section, {}).get(name)

    given = [key for key in NOT_SWEPT if value(key) not in (None, False, {})]
    if given:
        raise ConfigError(f"{where}: optiframe sweep does not take "
                          f"{', '.join(NOT_SWEPT[k] for k in given)}: remove it, or run the "
                          "combination you need with optiframe run")
    options = dict(config.get("sweep", {}))
    zipped = options.get("zipped", False)
    if not isinstance(zipped, bool):
        raise ConfigError(f"{where}: sweep.zipped must be true or false: {zipped!r}")
    workers = options.get("workers")
    if workers is not None:
        try:
            check_workers(workers)
        except OptiframeError as exc:
            raise ConfigError(f"{where}: sweep.workers: {exc}") from None
    return {"zipped": zipped, "workers": workers}


def write_table(table: SweepTable, folder: Path) -> list[str]:
    """sweep.csv and sweep.json in ``folder``, each written whole into a temporary file
    and then renamed over the old one (an earlier table stays until the new one is
    ready); returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (("sweep.csv", table.to_csv()), ("sweep.json", table.to_json())):
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        with open(tmp, "x", newline="") as fh:  # exclusive: never through a planted link
            fh.write(body)
        os.replace(tmp, folder / name)
    return ["sweep.csv", "sweep.json"]
