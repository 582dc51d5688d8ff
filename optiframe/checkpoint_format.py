"""The checkpoint format: its name and version, the checks that a loaded checkpoint's
parts fit together, and the upgrades that bring a checkpoint written by an earlier
optiframe up to the current version (formats 1 to 4 load as format 5 does).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CheckpointError
from .state import ROW_FIELDS
from .status import Status

FORMAT = "optiframe-checkpoint"
#: The layout written now; every earlier layout still loads (see
#: :func:`optiframe.checkpoint.load_checkpoint`).
FORMAT_VERSION = 5
JSON_NAME = "checkpoint.json"
#: The kinds of checkpoint: one point, K rows advanced together, K starts on workers.
KINDS = ("single", "multistart", "workers")


def _int_keys(row: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v) if k in ("epoch", "step", "start") else v for k, v in row.items()}


def _upgrade(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Bring a checkpoint written in an earlier layout up to :data:`FORMAT_VERSION`, in
    place: each layout change adds its step here, so every earlier checkpoint loads.

    4 -> 5: checkpoint.json carries a digest of its own entries (checked on load); nothing
    else changed.
    3 -> 4: one state for every kind of run (the rows of the running starts, their trees,
    the finished starts, the position in the data) instead of a layout per kind; the
    kinds ``minibatch`` and ``minibatch-multistart`` became ``single`` and ``multistart``
    (the config's batching tells training runs apart), ``multistart-workers`` became
    ``workers``. Counts that were the same for every start are rebuilt from the rule of
    their day on resume; a multi-model training run of format 3 kept no per-epoch table,
    so the resumed epoch's table row counts only the steps after the checkpoint.
    2 -> 3: the history moved from the state file into segments (``history_segments``);
    older checkpoints keep theirs in the state file, which still loads.
    1 -> 2 (optiframe 0.1.0, before ``max_bad_gradients``): the stopping rules were one
    repr string, now a mapping of field to repr; the counts of skipped non-finite
    gradients did not exist (none had been skipped).
    """
    version = meta["format_version"]
    if version < 3 and "history_segments" not in meta:
        meta["history_segments"], meta["history_upto"] = [], 0  # history in the state file
    if version < 2:
        stop = meta["config"]["stop"]
        inner = stop[stop.index("(") + 1 : stop.rindex(")")]
        meta["config"]["stop"] = dict(re.findall(r"(\w+)=([^,]+)", inner))
        meta["config"]["stop"].pop("max_steps", None)
        if meta["kind"] in ("single", "minibatch"):
            meta["scalars"]["skipped"] = 0
        else:
            arrays["BAD"] = np.zeros(len(arrays["index"]), dtype=np.int64)
            arrays.setdefault("f_limit", np.full(len(arrays["index"]), np.nan))
    if version < 4:
        _upgrade_to_4(meta, arrays)
    meta["format_version"] = FORMAT_VERSION


def _upgrade_to_4(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    kind, scalars = meta["kind"], meta.get("scalars", {})
    meta["legacy"] = True  # its config is in the text of its day (see check_config)

    def scalar(name: str) -> Any:
        value = scalars[name]
        if isinstance(value, dict) and set(value) == {"float"}:
            return float(arrays[value["float"]])
        return math.nan if value is None else value

    def rows(**fields: Any) -> None:
        for name, value in fields.items():
            arrays[f"rows/{name}"] = np.asarray(value)

    def outcomes() -> None:
        done = meta.pop("outcomes", [])
        n = meta["config"]["shape"][-1]
        arrays["finished/index"] = np.array([o["index"] for o in done], dtype=np.int64)
        arrays["finished/x0"] = arrays.get("outcomes/x0", np.empty((0, n)))
        arrays["finished/x"] = arrays.get("outcomes/x", np.empty((0, n)))
        arrays["finished/fun"] = arrays.get("outcomes/fun", np.empty(0))
        for name in ("nit", "nfev", "njev"):
            arrays[f"finished/{name}"] = np.array([o[name] for o in done], dtype=np.int64)
        meta["finished"] = {"status": [o["status"] for o in done],
                            "message": [o["message"] for o in done]}

    meta.setdefault("trees", {})
    meta["trees"].setdefault("schedules", [])
    n = int(meta["config"]["shape"][-1])
    state: dict[str, Any] = {"n": n, "k": int(meta["step"]), "rng": False, "cursor": None}
    arrays["scalar/elapsed"] = np.asarray(scalar("elapsed") if "elapsed" in scalars else 0.0,
                                          dtype=np.float64)
    if kind in ("single", "minibatch"):
        state["point"] = True
        x = arrays["x"]
        if kind == "single":
            rows(X=x, F=scalar("f"), SN=scalar("snorm"), nfev=scalar("nfev"),
                 njev=scalar("njev"), bad=scalar("skipped"), best_X=arrays["best_x"],
                 best_F=scalar("best_f"), f_limit=scalar("f_limit"), index=[0], x0=x)
        else:
            rows(X=x, F=scalar("loss"), SN=scalar("snorm"), nfev=scalar("nfev"),
                 njev=scalar("njev"), bad=scalar("skipped"), best_X=x,
                 best_F=scalar("loss"), f_limit=scalar("f_limit"), index=[0], x0=x)
            state["cursor"] = {"epoch": scalar("epoch"), "position": scalar("position"),
                               "epoch_rng": scalars["epoch_rng"]}
            arrays["cursor/total"] = np.asarray(scalar("total"), dtype=np.float64)
            arrays["cursor/count"] = np.asarray(scalar("count"), dtype=np.int64)
            values = iter(arrays.pop("history/epoch_values", np.empty(0)).tolist())
            meta["epoch_log"] = [dict(zip(keys, values, strict=False))
                                 for keys in meta.pop("epoch_keys", [])]
        meta["kind"] = "single"
    elif kind in ("multistart", "minibatch-multistart"):
        state["point"] = False
        K = len(arrays["index"])
        if kind == "multistart":
            rows(X=arrays["X"], F=arrays["F"], SN=arrays["SN"], bad=arrays["BAD"],
                 best_X=arrays["best_X"], best_F=arrays["best_F"],
                 f_limit=arrays["f_limit"], index=arrays["index"], x0=arrays["starts0"])
            state["counts"] = {"grads_done": int(scalar("grads_done"))}
        else:
            P = arrays["P"]
            rows(X=P, F=np.full(K, np.nan), SN=arrays["SN"], bad=arrays["BAD"], best_X=P,
                 best_F=np.full(K, np.nan), f_limit=arrays["f_limit"],
                 index=arrays["index"], x0=arrays["starts0"])
            state["counts"] = {"per_step": True}
            state["cursor"] = {"epoch": scalar("epoch"), "position": scalar("position"),
                               "epoch_rng": scalars["epoch_rng"]}
            arrays["cursor/total"] = np.zeros(K)
            arrays["cursor/count"] = np.zeros(K, dtype=np.int64)
        rows(nfev=np.zeros(K, dtype=np.int64), njev=np.zeros(K, dtype=np.int64))
        outcomes()
        meta["kind"] = "multistart"
    elif kind == "multistart-workers":
        outcomes()
        meta["kind"] = "workers"
    else:
        raise CheckpointError(f"unknown kind of checkpoint {kind!r}")
    meta["state"] = state
    old_kind = meta["config"].get("kind")
    meta["config"]["kind"] = {"minibatch": "single", "minibatch-multistart": "multistart",
                              "multistart-workers": "workers"}.get(old_kind, old_kind)


def _later_rows(arrays: dict[str, np.ndarray]) -> None:
    """Per-start fields added after a checkpoint was written (line searches:
    ``step_size``, ``resets``; adaptive differences: ``fd_level``), at the values of a
    run that had none."""
    if "rows/F" not in arrays:
        return
    shape = np.shape(arrays["rows/F"])
    arrays.setdefault("rows/step_size", np.full(shape, np.nan))
    arrays.setdefault("rows/resets", np.zeros(shape, dtype=np.int64))
    arrays.setdefault("rows/fd_level", np.zeros(shape, dtype=np.int64))
    arrays.setdefault("rows/fd_shown", np.zeros(shape, dtype=np.int64))


def _validate(meta: dict[str, Any], arrays: dict[str, np.ndarray], json_path: Path) -> None:
    """Refuse a checkpoint whose parts do not fit together (a damaged or crafted file)."""
    kind = meta.get("kind")
    if kind not in KINDS:
        raise CheckpointError(f"{json_path}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    if not isinstance(meta.get("step"), int) or isinstance(meta["step"], bool) or (
            meta["step"] < 0):
        raise CheckpointError(f"{json_path}: bad step {meta.get('step')!r}")
    config = meta.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("shape"), list):
        raise CheckpointError(f"{json_path}: its config is missing or has no shape")
    if config.get("kind") != kind:
        raise CheckpointError(f"{json_path}: its kind {kind!r} does not match its config's "
                              f"{config.get('kind')!r}")
    if kind == "workers":
        if "X0" not in arrays:
            raise CheckpointError(f"{json_path}: a workers checkpoint without its starts (X0)")
        return
    state = meta.get("state")
    if not isinstance(state, dict):
        raise CheckpointError(f"{json_path}: its 'state' entry is missing")
    missing = [f"rows/{n}" for n in ROW_FIELDS if f"rows/{n}" not in arrays]
    if missing:
        raise CheckpointError(f"{json_path}: its arrays lack {', '.join(missing)}")
    K = len(np.atleast_1d(arrays["rows/index"]))
    if not state.get("point") and any(len(np.atleast_1d(arrays[f"rows/{n}"])) != K
                                      for n in ROW_FIELDS):
        raise CheckpointError(f"{json_path}: its rows do not all have {K} entries")
    if not isinstance(meta.get("trees"), dict) or not {"optimizer", "schedules"} <= set(
            meta["trees"]):
        raise CheckpointError(f"{json_path}: its state trees are missing")
    _validate_entries(meta, json_path)


def _validate_entries(meta: dict[str, Any], json_path: Path) -> None:
    """The entries read on resume have the shape the reader expects (a file edited behind
    a recomputed digest gives a CheckpointError naming the entry, not a raw TypeError)."""
    log = meta.get("epoch_log", [])
    if not isinstance(log, list) or not all(isinstance(row, dict) for row in log):
        raise CheckpointError(f"{json_path}: its 'epoch_log' entry must be a list of tables "
                              f"(one per epoch): {str(log)[:60]!r}")
    done = meta.get("finished")
    if done is None:
        return
    if not isinstance(done, dict) or not isinstance(done.get("status"), list) or not (
            isinstance(done.get("message"), list)) or len(done["status"]) != len(
            done["message"]):
        raise CheckpointError(f"{json_path}: its 'finished' entry must be a table of "
                              f"'status' and 'message' lists: {str(done)[:60]!r}")
    bad = [v for v in done["status"] if v not in {s.value for s in Status}]
    if bad or not all(isinstance(m, str) for m in done["message"]):
        raise CheckpointError(f"{json_path}: its 'finished' entry holds an unknown status "
                              f"or a message that is not text: {str(bad[:1] or done)[:60]!r}")
