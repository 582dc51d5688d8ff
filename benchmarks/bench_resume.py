"""Hostile resumes (issue 20): random runs stopped by Ctrl-C at a random evaluation of f
and resumed from their checkpoint must end with the bits of the run never stopped.

Run: ``.venv/bin/python benchmarks/bench_resume.py`` (400 runs; ``--runs N``, ``--seed S``,
``--show`` prints each broken promise with its run).

Each run draws, from ``bench_hostile.py``'s objectives (all but the one that raises), a
dimension, a start (up to 1e8 away), an optimizer (L-BFGS, BFGS, gd with and without a
line search, Adam), a gradient (the default adaptive differences, forward, central,
Richardson's, SPSA or the analytic one), maybe bounds, ``max_nfev`` and ``ftol``, one start
or a stack of two or three, and a checkpoint every 1, 2 or 5 steps. It runs once to its
end, counting f's calls, then again with the same objective raising KeyboardInterrupt
at a call drawn from them (so inside a gradient, a line search's trials or the checks
at a start's end, wherever f's calls fall), and resumes that run's checkpoint with f
restored.

Promised: Ctrl-C ends the run ``interrupted`` with a Result (``on_interrupt="return"``),
never an escaping exception; the resumed run gives the status, message, nit, nfev, f, x
and history columns of the run never stopped (each start's, for a stack); Ctrl-C before
the first step (while f at the starting points is evaluated) says that no checkpoint
was written.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_hostile import FUNS

import optiframe as of

OPTIMIZERS = [None, "bfgs", {"name": "gd", "lr": 0.01}, "adam",
              {"name": "lbfgs", "line_search": "armijo"}, {"name": "gd", "line_search": "armijo"},
              {"name": "lbfgs", "memory": 3}, {"name": "gd", "line_search": "wolfe"}]
GRADIENTS = ["auto", "forward", "central", "analytic", "spsa", "richardson"]


class Stopper:
    """f, counting its calls, raising KeyboardInterrupt at call ``at`` (None: never)."""

    def __init__(self, f: Any, at: int | None = None) -> None:
        self.f, self.at, self.calls = f, at, 0

    def __call__(self, x: np.ndarray) -> float:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.f(x)


def draw(rng: np.random.Generator) -> tuple[str, Any, Any, Any, dict[str, Any], int]:
    """A run: its objective's name, f and gradient, the run() and Runner keywords, and
    how often it checkpoints."""
    name, f, g, _ = [fun for fun in FUNS if fun[0] != "exception region"][
        rng.integers(len(FUNS) - 1)]
    n = int(rng.choice([1, 2, 3, 5, 9]))
    x0 = rng.normal(size=n) * float(rng.choice([1.0, 10.0, 1e3, 1e8]))
    gradient = GRADIENTS[rng.integers(len(GRADIENTS))]
    kw: dict[str, Any] = {"optimizer": OPTIMIZERS[rng.integers(len(OPTIMIZERS))],
                          "max_steps": int(rng.integers(5, 80)), "gradient": gradient}
    if rng.random() < 0.3:
        lo, hi = float(rng.uniform(-3, 0)), float(rng.uniform(0.5, 3))
        kw["bounds"] = [(lo, hi)] * n
        x0 = np.clip(x0, lo, hi)
        if gradient == "richardson":  # (Richardson's differences cannot keep to bounds)
            kw["gradient"] = "central"
    if rng.random() < 0.4:
        kw["max_nfev"] = int(rng.integers(5, 400))
    if rng.random() < 0.2:
        kw["ftol"] = float(10.0 ** rng.uniform(-12, -2))
    K = int(rng.integers(2, 4)) if rng.random() < 0.3 else 1
    run: dict[str, Any] = {"seed": int(rng.integers(1000))}
    if K == 1:
        run["x0"] = x0
    else:
        starts = np.vstack([x0] + [x0 + rng.normal(size=n) for _ in range(K - 1)])
        run["starts"] = (np.clip(starts, kw["bounds"][0][0], kw["bounds"][0][1])
                         if "bounds" in kw else starts)
    return name, f, g, run, kw, int(rng.choice([1, 1, 2, 5]))


def runner(f: Any, g: Any, kw: dict[str, Any], **more: Any) -> of.Runner:
    objective = f
    if kw["gradient"] == "analytic":
        objective = of.FunctionObjective.from_callable(f, gradient=g)
    return of.Runner(objective, on_interrupt="return", **kw, **more)


def same(a: Any, b: Any) -> bool:
    """Whether two results agree bit for bit (status, message, counts, f, x, history)."""
    if (str(a.status), a.message, a.nit, a.nfev) != (str(b.status), b.message, b.nit, b.nfev):
        return False
    if not (np.array_equal(a.x, b.x, equal_nan=True)
            and np.array_equal(a.fun, b.fun, equal_nan=True)):
        return False
    if isinstance(a, of.MultiStartResult):
        return all((str(p.status), p.message, p.nit, p.nfev) == (str(q.status), q.message,
                                                                 q.nit, q.nfev)
                   and np.array_equal(p.x, q.x, equal_nan=True)
                   for p, q in zip(a.starts, b.starts, strict=True))
    return all(np.array_equal(np.asarray(getattr(a.history, c)),
                              np.asarray(getattr(b.history, c)), equal_nan=True)
               for c in ("fun", "grad_norm", "step_norm", "nfev"))


def one_run(rng: np.random.Generator) -> tuple[str, str]:
    """One hostile resume: its outcome, and what the run was."""
    name, f, g, run, kw, every = draw(rng)
    what = (f"{name}, n={np.size(run.get('x0', run.get('starts', [[0]])[0]))}, "
            f"{ {k: v for k, v in kw.items() if k != 'bounds'} }"
            f"{', bounds' if 'bounds' in kw else ''}, K={len(run.get('starts', [0]))}, "
            f"checkpoint every {every}")
    try:
        counted = Stopper(f)
        whole = runner(counted, g, kw).run(**run)
        if counted.calls < 2:
            return "ended before a second evaluation", what
        at = int(rng.integers(2, counted.calls + 1))
        what += f", Ctrl-C at call {at} of {counted.calls}"
        with tempfile.TemporaryDirectory() as folder:
            ck = Path(folder) / "ck"
            stopper = Stopper(f, at)
            part = runner(stopper, g, kw, checkpoint=ck, checkpoint_every=every).run(**run)
            if part.status != "interrupted":
                return "BROKEN: Ctrl-C did not end the run interrupted", what
            if "no checkpoint was written" in part.message:
                return "interrupted before the first step (no checkpoint, as said)", what
            stopper.at = None
            resumed = runner(stopper, g, kw).resume(ck)
    except of.InvalidArgumentError:
        return "refused (InvalidArgumentError before any work)", what
    except KeyboardInterrupt:
        return "BROKEN: KeyboardInterrupt escaped", what
    except Exception as exc:  # (every other exception is a broken promise)
        return f"BROKEN: {type(exc).__name__} raised", what
    if not same(whole, resumed):
        return "BROKEN: the resumed run differs from the run never stopped", what
    return "resumed to the bits of the run never stopped", what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    tally: Counter = Counter()
    for i in range(args.runs):
        outcome, what = one_run(np.random.default_rng([args.seed, i]))
        tally[outcome] += 1
        if args.show and outcome.startswith("BROKEN"):
            print(f"run {i}: {outcome}: {what}")
    print(f"{args.runs} hostile resumes (seed {args.seed}); runs by outcome:")
    for outcome, k in sorted(tally.items(), key=lambda kv: (not kv[0].startswith("BROKEN"),
                                                             -kv[1])):
        print(f"  {k:5d}  {outcome}")
    print("goal: no BROKEN line")


if __name__ == "__main__":
    main()
