"""Write the checkpoints tests/test_resume.py resumes to prove old formats keep loading.

Run from the project root with the optiframe version whose format is being frozen:

    .venv/bin/python tests/data/make_checkpoints.py

Each folder gets a checkpoint written at step 100 of a 100-step run and ``expected.json``:
the Runner options to resume it with (max_steps raised to 200) and the result an
uninterrupted 200-step run reaches. Never regenerate an existing folder: a new format
gets new folders (format2-...), so every earlier one is still tested.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import optiframe as of
from optiframe.checkpoint import FORMAT_VERSION

HERE = Path(__file__).parent / "checkpoints"

RUNS = {
    "single": ({"objective": "rosenbrock"}, {"x0": [-1.2, 1.0]}),
    "multistart": ({"objective": "himmelblau"},
                   {"starts": of.MultiStart(8, bounds=[(-5, 5)] * 2), "seed": 11}),
}


def main() -> None:
    for kind, (runner_kw, run_kw) in RUNS.items():
        folder = HERE / f"format{FORMAT_VERSION}-{kind}"
        if folder.exists() and "--force" not in sys.argv:
            print(f"{folder} exists; keeping it")
            continue
        shutil.rmtree(folder, ignore_errors=True)
        of.Runner(**runner_kw, optimizer=of.Adam(lr=0.01), max_steps=100, checkpoint=folder,
                  checkpoint_every=50).run(**run_kw)
        whole = of.Runner(**runner_kw, optimizer=of.Adam(lr=0.01), max_steps=200).run(**run_kw)
        expected = {"optiframe_version": of.__version__,
                    "runner": {**runner_kw, "max_steps": 200},
                    "x": whole.x.tolist(), "fun": whole.fun, "nit": whole.nit}
        (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
