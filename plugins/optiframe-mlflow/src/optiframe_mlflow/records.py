"""What an optiframe run becomes in MLflow: parameters, metric series, tags and files.

Plain functions of the Runner and the Result, with no MLflow call, so each can be tested
and read on its own.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np

import optiframe as of
from optiframe.config import write_epochs_csv, write_plots

#: MLflow refuses longer parameter values; longer reprs are cut.
MAX_PARAM = 500
#: Points per metric series when ``log_every`` is not given.
MAX_POINTS = 500


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_PARAM else text[: MAX_PARAM - 3] + "..."


def _registered_name(kind: str, component: Any) -> str:
    for entry in of.get_registry().entries(kind):
        if entry.factory is type(component):
            return entry.name
    return type(component).__name__


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    return {f"{prefix}.{name}": _text(value) for name, value in values.items()}


def params_of(runner: Any, n_starts: int, seed: int | None) -> dict[str, str]:
    """The run's settings: the optimizer and its hyperparameters, the gradient estimator,
    the stop rules, the seed, the number of starts, batching and schedules."""
    params = {"optimizer": _registered_name("optimizer", runner.optimizer),
              **_prefixed("optimizer", runner.optimizer.hyperparameters()),
              "gradient": _text(runner.gradient),
              **_prefixed("stop", attrs.asdict(runner.stop, recurse=False)),
              "seed": _text(seed), "n_starts": str(n_starts),
              "objective": _text(runner.objective),
              "record_every": str(runner.record_every)}
    if runner.line_search is not None:
        params["line_search"] = _text(runner.line_search)
    if runner.batching is not None:
        b = runner.batching
        params.update({"batch_size": str(b.batch_size), "epochs": str(b.epochs),
                       "drop_last": str(b.drop_last), "batch_sampler": _text(b.sampler)})
    if runner.schedules:
        params["schedules"] = _text(runner.schedules)
    if runner.bounds is not None:
        params["bounds"] = _text(runner.bounds)
    return params


def _stride(rows: int, log_every: int | None) -> int:
    return log_every if log_every is not None else max(1, -(-rows // MAX_POINTS))


def _kept_rows(rows: int, stride: int) -> np.ndarray:
    keep = np.arange(0, rows, stride)
    if rows and keep[-1] != rows - 1:
        keep = np.append(keep, rows - 1)  # the last recorded step always
    return keep


def _series(key: str, steps: np.ndarray, values: np.ndarray) -> list[tuple[str, float, int]]:
    return [(key, v, s) for s, v in zip(steps.tolist(), values.tolist(), strict=True)
            if v == v]  # NaN: no value at that step (a start that had ended)


def series_of(result: Any, log_every: int | None = None,
              per_start: int = 20) -> list[tuple[str, float, int]]:
    """``(key, value, step)`` for every logged point: f, grad_norm and step_norm at the
    recorded steps (each ``log_every``-th recorded row and the last one; by default as
    many as keep a series within :data:`MAX_POINTS` points), and the per-epoch table.

    A multi-start run gives ``best/fun`` and ``median/fun`` over the starts running at
    each step, ``running`` (how many), and ``start_<k>/fun``, ``/grad_norm`` and
    ``/step_norm`` for the ``per_start`` starts that ended lowest."""
    h = result.history
    steps = np.asarray(h.step, dtype=np.int64)
    keep = _kept_rows(len(steps), _stride(len(steps), log_every))
    steps = steps[keep]
    out: list[tuple[str, float, int]] = []
    columns = {name: np.asarray(getattr(h, name), dtype=float)[keep]
               for name in ("fun", "grad_norm", "step_norm")}
    if isinstance(result, of.MultiStartResult):
        F = columns["fun"]
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a row with no start
                out += _series("best/fun", steps, np.nanmin(F, axis=1))
                out += _series("median/fun", steps, np.nanmedian(F, axis=1))
        out += _series("running", steps, np.sum(~np.isnan(F), axis=1).astype(float))
        finals = [s.fun if math.isfinite(s.fun) else math.inf for s in result.starts]
        for col in np.argsort(finals, kind="stable")[:per_start].tolist():
            k = result.starts[col].index
            for name, values in columns.items():
                out += _series(f"start_{k}/{name}", steps, values[:, col])
    else:
        for name, values in columns.items():
            out += _series(name, steps, values)
    table = h.epochs
    if table:
        epochs = np.asarray(table["epoch"], dtype=np.int64)
        starts = np.asarray(table["start"], dtype=np.int64) if "start" in table else None
        for name, values in table.items():
            if name in ("epoch", "step", "start"):
                continue
            values = np.asarray(values, dtype=float)
            if starts is None:
                out += _series(f"epoch/{name}", epochs, values)
            else:
                for k in np.unique(starts).tolist():
                    rows = starts == k
                    out += _series(f"start_{k}/epoch/{name}", epochs[rows], values[rows])
    return out


def final_metrics(result: Any) -> dict[str, float]:
    return {"final/fun": float(result.fun), "final/nit": float(result.nit),
            "final/nfev": float(result.nfev), "final/njev": float(result.njev)}


def tags_of(result: Any) -> dict[str, str]:
    kind = "multistart" if isinstance(result, of.MultiStartResult) else "single"
    if result.history.epochs:
        kind += "-training"
    return {"optiframe.status": str(result.status), "optiframe.success": str(result.success),
            "optiframe.kind": kind, "optiframe.message": result.message[:5000]}


def mlflow_status(result: Any) -> str:
    """How MLflow sees the run: FAILED (status failed), KILLED (interrupted), FINISHED."""
    status = str(result.status)
    return {"failed": "FAILED", "interrupted": "KILLED"}.get(status, "FINISHED")


def write_artifacts(result: Any, folder: Path, figures: bool) -> list[str]:
    """history.csv, result.json, epochs.csv (training), starts.csv (multi-start) and, with
    optiframe-plot installed, the figures; returns the names written."""
    written = []
    result.history.to_csv(folder / "history.csv")
    written.append("history.csv")
    summary = {"status": str(result.status), "success": result.success,
               "message": result.message, "fun": _json_number(result.fun),
               "x": [_json_number(v) for v in result.x.ravel().tolist()],
               "nit": result.nit, "nfev": result.nfev, "njev": result.njev}
    (folder / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
    written.append("result.json")
    log = result.history.epoch_log
    if log:
        write_epochs_csv(log, folder / "epochs.csv")
        written.append("epochs.csv")
    if isinstance(result, of.MultiStartResult):
        lines = ["start,status,fun,nit,nfev,njev"] + [
            f"{s.index},{s.status},{s.fun!r},{s.nit},{s.nfev},{s.njev}" for s in result.starts]
        (folder / "starts.csv").write_text("\n".join(lines) + "\n")
        written.append("starts.csv")
    if figures:
        written += _figures(result, folder)
    return written


def _json_number(v: float) -> Any:
    return v if math.isfinite(v) else str(v)


def _figures(result: Any, folder: Path) -> list[str]:
    """The command line's figures (loss.png, minima.png), and training.png for a
    training run, with optiframe-plot installed."""
    written = write_plots(result, folder)
    if written and result.history.epochs:
        import optiframe_plot

        optiframe_plot.training_curves(result).figure.savefig(folder / "training.png", dpi=80)
        written.append("training.png")
    return written
