"""Write the checkpoints tests/integration/test_resume.py resumes to prove old formats keep loading.

Run from the project root with the optiframe version whose format is being frozen:

    .venv/bin/python tests/data/make_checkpoints.py

Format 1 froze two runs (``format1-single``, ``format1-multistart``: a checkpoint at step
100 and ``expected.json`` with the runner options and the result of an uninterrupted
200-step run). From format 3 on, every kind of run in ``checkpoint_cases.CASES`` is
frozen: each run is interrupted (Ctrl-C) in its middle, and ``expected.json`` holds the
case's name and the whole result of the same run left uninterrupted. Never regenerate an
existing folder: a new format gets new folders, so every earlier one is still tested.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import optiframe as of  # noqa: E402
from optiframe.checkpoint import FORMAT_VERSION  # noqa: E402
from tests.data.checkpoint_cases import CASES, case, expected_of  # noqa: E402

HERE = Path(__file__).parent / "checkpoints"


def interrupted_at(step: int):
    """A callback that presses Ctrl-C after ``step`` steps."""
    def callback(info):
        if info.step == step:
            raise KeyboardInterrupt
    return callback


def map_interrupted_after(n: int):
    """A map-like callable where Ctrl-C arrives after ``n`` results."""
    def mapper(fn, items):
        for i, item in enumerate(items):
            if i == n:
                raise KeyboardInterrupt
            yield fn(item)
    return mapper


def interrupted_data(objective, calls: int):
    """A copy of a data objective whose batch gradient presses Ctrl-C at call ``calls``."""
    objective = copy.copy(objective)
    inner = objective.batch_loss_and_gradient
    count = [0]

    def batch_loss_and_gradient(params, idx):
        count[0] += 1
        if count[0] == calls:
            raise KeyboardInterrupt
        return inner(params, idx)

    objective.batch_loss_and_gradient = batch_loss_and_gradient
    return objective


def freeze(name: str, at: int, folder: Path) -> None:
    runner_kw, run_kw = case(name)
    whole = of.Runner(**runner_kw).run(**run_kw)
    kw, run = dict(runner_kw), dict(run_kw)
    if name == "multistart-workers":
        run["workers"] = map_interrupted_after(at)
    elif name == "minibatch-multistart":
        kw["objective"] = interrupted_data(kw["objective"], at * 3 + 1)
    else:
        kw["callbacks"] = interrupted_at(at)
    part = of.Runner(**kw, checkpoint=folder, checkpoint_every=10).run(**run)
    assert "interrupted" in part.message or "interrupted" in str(part.status), part.message
    expected = {"optiframe_version": of.__version__, "case": name,
                "checkpoint_step": of.load_checkpoint(folder).step, **expected_of(whole)}
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


def main() -> None:
    for name, at in CASES.items():
        folder = HERE / f"format{FORMAT_VERSION}-{name}"
        if folder.exists() and "--force" not in sys.argv:
            print(f"{folder} exists; keeping it")
            continue
        shutil.rmtree(folder, ignore_errors=True)
        freeze(name, at, folder)
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
