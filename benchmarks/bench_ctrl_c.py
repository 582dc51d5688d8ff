"""Ctrl-C at a random moment (issue 20): a run stopped by a timer, not by its objective.

Run: ``.venv/bin/python benchmarks/bench_ctrl_c.py`` (``--runs 80`` a kind, ``--seed 0``;
``--show`` prints each broken promise with where the exception was raised; ``--only stack``
the kinds whose name holds that text).

``bench_resume.py`` raises KeyboardInterrupt in f or in a callback: at the calls the
user's code makes. A user's Ctrl-C comes anywhere: in the loop's bookkeeping, while a
checkpoint is written, while the run ends. Here the process's interval timer
(``signal.setitimer``) sends SIGALRM, whose handler raises SIGINT (through the SIGINT
handler in place, as a terminal's Ctrl-C), at a moment drawn from 0 to 1.2 times the
run's own length, for seven kinds of run: one start with L-BFGS (the default), one with
gd, a stack of three, three starts on ``workers="serial"`` and on two worker processes,
a training run, a global search. Each runs with ``on_interrupt="raise"``, a checkpoint
(a journal, for the global search) and, but for the global search, a streamed history.

Promised: once f has been called (Ctrl-C before it, in the checks of the arguments,
is Python's bare KeyboardInterrupt: nothing was done), the run raises KeyboardInterrupt
with its result (``.result``); a run that returns although the signal came during it
lost the Ctrl-C (BROKEN). A result that says ``interrupted`` resumes from its checkpoint
to the bits of the run never stopped (status, message, counts, f, x, history columns,
and the stream as loaded); one that does not (the Ctrl-C came after its last step,
while it ended) is that run. A
Ctrl-C from the moment f at the starting points returns, as the run makes its state and
opens its stream and checkpoint folder, is held until the loop, which stops at once
(interrupted at step 0). A training run evaluates nothing before its loop: it takes that
hold as its state is begun, and a bare KeyboardInterrupt before it is counted apart.

Why not a timer thread (``threading.Timer`` calling ``_thread.interrupt_main``): while a
run evaluates finite differences, numpy releases and retakes the GIL many times a step
(its copies of the perturbed points), and a thread waiting for the GIL never gets it
(each release counts as a switch, so the waiter never asks the running thread to give
way): a thread that should have woken after 10 ms ran after 0.7 s, at the run's end. A
signal reaches the process itself, and its handler runs at the next bytecode.
"""

from __future__ import annotations

import argparse
import inspect
import math
import signal
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_resume import same

import optiframe as of


class Counted:
    """Rosenbrock, counting its calls (so an escape is known to come before or after
    the run's first evaluation)."""

    def __init__(self) -> None:
        self.calls = 0

    def __repr__(self) -> str:  # (the same for every run: a checkpoint's config names it)
        return "Counted()"

    def __call__(self, x: np.ndarray) -> float:
        self.calls += 1
        return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def _model() -> of.Objective:
    rng = np.random.default_rng(0)
    return of.SoftmaxRegression(rng.normal(size=(200, 5)), np.arange(200) % 3)


#: kind -> (the run, given the objective and the run's extra keywords; its objective)
KINDS: dict[str, Any] = {
    "one start, L-BFGS": lambda f, **k: of.minimize(f, np.tile([-1.2, 1.0], 15),
                                                    max_steps=300, **k),
    "one start, gd": lambda f, **k: of.minimize(f, [-1.2, 1.0], max_steps=2000,
                                                optimizer=of.GradientDescent(lr=1e-3), **k),
    "a stack of three": lambda f, **k: of.minimize(
        f, starts=np.array([[-1.2, 1.0], [0.5, 0.5], [2.0, 2.0]]), max_steps=200, **k),
    "a training run": lambda f, **k: of.minimize(
        f, np.zeros(18), optimizer=of.GradientDescent(lr=0.1), batch_size=16, epochs=5,
        seed=0, **k),
    "three starts on serial workers": lambda f, **k: of.minimize(
        f, starts=np.array([[-1.2, 1.0], [0.5, 0.5], [2.0, 2.0]]), max_steps=200,
        workers="serial", **k),
    "three starts on two processes": lambda f, **k: of.minimize(
        f, starts=np.array([[-1.2, 1.0], [0.5, 0.5], [2.0, 2.0]]), max_steps=200,
        workers=2, **k),
    "a global search": lambda f, **k: of.minimize(
        f, bounds=[(-2.0, 2.0)] * 3, strategy="tiktak", max_nfev=600, seed=0, **k),
}


#: the timer's signals that came (a Ctrl-C sent): one during a run that returned is lost
FIRED: list[int] = []

#: the workers a kind runs and resumes on
WORKERS = {"three starts on serial workers": "serial", "three starts on two processes": 2}


def _objective(kind: str) -> Any:
    return _model() if kind == "a training run" else Counted()


def _started(f: Any) -> bool:
    """Whether the run has evaluated its objective (a model counts as started)."""
    return not isinstance(f, Counted) or f.calls > 0


def _line_of(function: Any, text: str) -> int:
    """The first line of ``function``'s source that holds ``text``."""
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, line in enumerate(lines) if text in line)


def _before_the_hold(stack: Any) -> bool:
    """Whether the KeyboardInterrupt came before a run took its set-up hold: in
    ``new_state`` (a training run takes it there, before any evaluation) or in run_point
    or run_stack above the line that calls it."""
    from optiframe import runs

    if any(fr.name == "new_state" for fr in stack):
        return True
    holds = {"run_point": _line_of(runs.run_point, "s = new_state("),
             "run_stack": _line_of(runs.run_stack, "s = new_state(")}
    frames = [fr for fr in stack if fr.name in holds and fr.filename.endswith("runs.py")]
    return bool(frames) and all(fr.lineno < holds[fr.name] for fr in frames)


def one(kind: str, at: float, whole: Any) -> str:
    """The run of ``kind`` with Ctrl-C ``at`` seconds in: its outcome."""
    run, f = KINDS[kind], _objective(kind)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        keep = ({"checkpoint": folder / "ck"} if kind == "a global search"
                else {"checkpoint": folder / "ck", "stream_history": folder / "s.jsonl"})
        called = False
        FIRED.clear()
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, max(at, 1e-6))
                called = True
                r = run(f, on_interrupt="raise", **keep)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0.0)
            if FIRED:  # (the signal came within the run, which went on as never stopped)
                return "BROKEN: the Ctrl-C was lost: the run returned as never stopped"
        except KeyboardInterrupt as exc:
            if isinstance(getattr(exc, "result", None), (of.Result, of.GlobalResult)):
                r = exc.result  # the run's result, as on_interrupt="return" returns it
            else:
                return _bare(exc, called, f, kind == "a training run")
        except Exception as exc:
            return f"BROKEN: {type(exc).__name__} raised: {exc}"
        return _checked(kind, r, whole, keep)


def _bare(exc: KeyboardInterrupt, called: bool, f: Any, training: bool) -> str:
    """The outcome of a KeyboardInterrupt that escaped without a result."""
    stack = traceback.extract_tb(exc.__traceback__)
    frames = [fr.name for fr in stack]
    if not any("/optiframe/" in fr.filename for fr in stack):
        return "Ctrl-C outside optiframe's code (before or after the call)"
    if not called or not _started(f) or not {"_run", "run_strategy"} & set(frames):
        return "Ctrl-C before the run's first evaluation: a bare KeyboardInterrupt"
    if training and "advance" not in frames and _before_the_hold(stack):
        return "Ctrl-C before the set-up's hold (a training run: nothing evaluated yet)"
    return f"BROKEN: KeyboardInterrupt escaped ({' < '.join(frames[::-1][:6])})"


def _checked(kind: str, r: Any, whole: Any, keep: dict[str, Path]) -> str:
    """The outcome of a run of ``kind`` that returned ``r``: as the run never stopped, or
    resumed from its checkpoint to it."""
    stopped = str(r.status) == "interrupted" or (
        isinstance(r, of.MultiStartResult) and "interrupted" in r.statuses())
    if kind == "a global search":
        if not stopped:
            return ("ended as never stopped" if r.fun == whole.fun and r.nfev == whole.nfev
                    else "BROKEN: it ended, not as the search never stopped")
        back = KINDS[kind](_objective(kind), resume=True, **keep)
        return ("resumed to the search never stopped"
                if np.array_equal(back.x, whole.x) and back.fun == whole.fun
                and back.nfev == whole.nfev else "BROKEN: resumed, it differs")
    if not stopped:
        return ("ended as never stopped (the Ctrl-C came as it ended)" if same(r, whole)
                else "BROKEN: it ended, not as the run never stopped")
    if "no checkpoint was written" in r.message:
        return "interrupted before the first step (no checkpoint, as said)"
    runner = of.Runner(_objective(kind), **_options(kind),
                       stream_history=keep["stream_history"])
    back = runner.resume(keep["checkpoint"], workers=WORKERS.get(kind))
    loaded = of.load_history_stream(keep["stream_history"])
    columns = ("fun", "grad_norm", "step_norm")
    if not same(back, whole) or not all(
            np.array_equal(np.asarray(getattr(loaded, c)),
                           np.asarray(getattr(whole.history, c)), equal_nan=True)
            for c in columns):
        return "BROKEN: resumed, it differs from the run never stopped"
    return "resumed to the bits of the run never stopped"


def _options(kind: str) -> dict[str, Any]:
    """The Runner of ``kind`` (for its resume)."""
    return {"one start, L-BFGS": {"max_steps": 300},
            "one start, gd": {"optimizer": of.GradientDescent(lr=1e-3), "max_steps": 2000},
            "a stack of three": {"max_steps": 200},
            "three starts on serial workers": {"max_steps": 200},
            "three starts on two processes": {"max_steps": 200},
            "a training run": {"optimizer": of.GradientDescent(lr=0.1), "batch_size": 16,
                               "epochs": 5}}[kind]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--only", default="", help="the kinds whose name holds this text "
                        "(e.g. 'stack')")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    def ctrl_c(signum: int, frame: Any) -> None:
        FIRED.append(signum)
        signal.raise_signal(signal.SIGINT)

    signal.signal(signal.SIGALRM, ctrl_c)
    rng = np.random.default_rng(args.seed)
    for kind, run in KINDS.items():
        if args.only not in kind:
            continue
        length = math.inf
        for _ in range(3):  # (timed as the runs below run, warm: the least of three)
            with tempfile.TemporaryDirectory() as d:
                keep = ({"checkpoint": Path(d) / "ck"} if kind == "a global search" else
                        {"checkpoint": Path(d) / "ck", "stream_history": Path(d) / "s.jsonl"})
                t0 = time.perf_counter()
                run(_objective(kind), **keep)
                length = min(length, time.perf_counter() - t0)
        whole = run(_objective(kind))
        tally: Counter = Counter()
        for i in range(args.runs):
            try:
                outcome = one(kind, float(rng.uniform(0.0, 1.2 * length)), whole)
            except KeyboardInterrupt:  # (the timer fired as the harness went on)
                outcome = "the timer fired after the run"
            tally[outcome.split(" (")[0] if outcome.startswith("BROKEN") and not args.show
                  else outcome] += 1
            if args.show and outcome.startswith("BROKEN"):
                print(f"  {kind}, run {i}: {outcome}")
        print(f"{args.runs} runs, {kind}, Ctrl-C within {1.2 * length * 1e3:.0f} ms "
              f"(seed {args.seed}); runs by outcome:")
        for outcome, k in sorted(tally.items(), key=lambda kv: (not kv[0].startswith("BROKEN"),
                                                                 -kv[1])):
            print(f"  {k:5d}  {outcome}")
    print("goal: no BROKEN line")


if __name__ == "__main__":
    main()
