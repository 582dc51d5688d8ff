"""Hostile resumes (issue 20): random runs stopped by Ctrl-C at a random evaluation of f
and resumed from their checkpoint must end with the bits of the run never stopped.

Run: ``.venv/bin/python benchmarks/bench_resume.py`` (400 runs, 200 training runs, 200
global searches, 200 runs and 100 training runs stopped in a callback, 200 runs and 100
training runs that stream their history, 200 runs with ``f_target``, 100 global
searches stopped in a callback, 200 multi-start runs on ``workers="serial"``, 100 on a
pool of two processes, 100 runs whose points are evaluated on a pool (half through
its cache), 200 runs, 100 training runs and 100 global searches stopped twice;
``--runs N``, ``--training-runs N``, ``--global-runs N``, ``--callback-runs N``,
``--stream-runs N``, ``--target-runs N``, ``--global-callback-runs N``,
``--worker-runs N``, ``--process-runs N``, ``--evaluate-runs N``, ``--twice-runs N``,
``--seed S``; ``--show``
prints each broken promise with its run).

Each run draws, from ``bench_hostile.py``'s objectives (all but the one that raises), a
dimension, a start (up to 1e8 away), an optimizer (L-BFGS, BFGS, gd with and without a
line search, Adam), a gradient (the default adaptive differences, forward, central,
Richardson's, SPSA or the analytic one), maybe bounds, ``max_nfev`` and ``ftol``, one start
or a stack of two or three, and a checkpoint every 1, 2 or 5 steps. It runs once to its
end, counting f's calls, then again with the same objective raising KeyboardInterrupt
at a call drawn from them (so inside a gradient, a line search's trials or the checks
at a start's end, wherever f's calls fall), and resumes that run's checkpoint with f
restored.

Then training runs (``bench_hostile.py``'s random least squares, logistic and softmax
regressions, its optimizers and learning rates, batch sizes 1 to 500, 1 to 5 epochs,
maybe ``max_steps``, one model or a stack), stopped at a random call of the model's
batch loss or whole-set loss, and resumed the same way; and global searches (the four
strategies over a random box, a random budget, x0 given or not, the analytic gradient
or differences, half through a cache), stopped at a random evaluation of f and resumed
by the same call with ``resume=True`` from their journal. Last, the same runs and
training runs stopped by Ctrl-C in a step callback (and an epoch callback, in training)
at a random call; and
runs whose stopped and resumed parts stream their history to one file (maybe with the
points, maybe every 2nd, 3rd or 7th step), which must load as the history of the run
never stopped (Ctrl-C in f, or in a step callback for half of them); runs with a rule
of the step stage (``f_target``), stopped the same two ways; global searches stopped
in a step callback of a local search; multi-start runs (two to five starts) spread out
by ``workers="serial"`` (Ctrl-C in f or a callback) and by a pool of two processes (f,
in a worker, sends SIGINT to the run's process at a call counted across the
processes: Ctrl-C as a user makes it, while the workers work), each run of the three on
the same executor; and runs, training runs and global searches stopped again in their
resumed run, then resumed from that run's checkpoint or journal (half of the runs
streaming their history through both resumes).

Promised: Ctrl-C ends the run ``interrupted`` with a Result (``on_interrupt="return"``),
never an escaping exception; the resumed run gives the status, message, nit, nfev, f, x
and history columns of the run never stopped (each start's, for a stack; with a cache,
``nfev`` and the cache hits together, as the resumed run's cache begins empty and
evaluates again points the run never stopped found in its own); Ctrl-C before
the first step (while f at the starting points is evaluated) says that no checkpoint
was written. A global search stopped by Ctrl-C and resumed gives the best point, f,
status, evaluations, local searches and trace of the search never stopped.
"""

from __future__ import annotations

import argparse
import fcntl
import math
import os
import signal
import tempfile
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_hostile import FUNS, STRATEGIES, TRAINING_OPTIMIZERS, _data

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


# -- bench_hostile's objectives, at module level: a process pool's workers unpickle them
def _rosen(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _rosen_der(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    d = x[1:] - x[:-1] ** 2
    g[:-1] = -400 * x[:-1] * d - 2 * (1 - x[:-1])
    g[1:] += 200 * d
    return g


def _quartic(x: np.ndarray) -> float:
    return float(np.sum(x**4))


def _quartic_der(x: np.ndarray) -> np.ndarray:
    return 4 * x**3


def _huge(x: np.ndarray) -> float:
    return 1e200 * float(np.sum((x - 1) ** 2))


def _huge_der(x: np.ndarray) -> np.ndarray:
    return 2e200 * (x - 1)


def _tiny(x: np.ndarray) -> float:
    return 1e-200 * float(np.sum((x - 1) ** 2))


def _tiny_der(x: np.ndarray) -> np.ndarray:
    return 2e-200 * (x - 1)


def _kink(x: np.ndarray) -> float:
    return float(np.sum(np.abs(x - 0.3)))


def _kink_der(x: np.ndarray) -> np.ndarray:
    return np.sign(x - 0.3)


def _nan_region(x: np.ndarray) -> float:
    return float(np.sum((x - 1) ** 2)) if x[0] < 3 else math.nan


def _nan_region_der(x: np.ndarray) -> np.ndarray:
    return 2 * (x - 1) if x[0] < 3 else np.full_like(x, np.nan)


def _constant(x: np.ndarray) -> float:
    return 3.0


def _constant_der(x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x)


def _exp_sum(x: np.ndarray) -> float:
    return float(np.exp(np.sum(x)) + np.sum(x**2))


def _exp_sum_der(x: np.ndarray) -> np.ndarray:
    return np.exp(np.sum(x)) + 2 * x


def _sphere(x: np.ndarray) -> float:
    return float(x @ x)


def _sphere_der(x: np.ndarray) -> np.ndarray:
    return 2 * x


#: the folder of the Signallers' call counts
COUNTERS = tempfile.TemporaryDirectory()
PICKLABLE = {"rosenbrock": (_rosen, _rosen_der), "x**4": (_quartic, _quartic_der),
             "1e200 (x-1)**2": (_huge, _huge_der), "1e-200 (x-1)**2": (_tiny, _tiny_der),
             "|x - 0.3|": (_kink, _kink_der), "NaN region": (_nan_region, _nan_region_der),
             "constant": (_constant, _constant_der),
             "exp(sum x) + |x|**2": (_exp_sum, _exp_sum_der), "sphere": (_sphere, _sphere_der)}


class Signaller:
    """f, counting its calls in every process in a file; at call ``at`` it sends SIGINT
    to the process that made it (the run's, whose pool's workers make the calls): Ctrl-C
    as a user makes it, in the parent, while the workers work (None: never)."""

    def __init__(self, f: Any, folder: str) -> None:
        self.f, self.at, self.parent = f, None, os.getpid()
        self.counter = os.path.join(folder, f"calls-{id(self)}")
        Path(self.counter).write_text("0")

    @property
    def calls(self) -> int:
        return int(Path(self.counter).read_text())

    def __call__(self, x: np.ndarray) -> float:
        with open(self.counter, "r+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            n = int(fh.read()) + 1
            fh.seek(0)
            fh.write(str(n))
            fh.truncate()
        if n == self.at:
            os.kill(self.parent, signal.SIGINT)
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


def asked(r: Any) -> int:
    """The evaluations a run asked of f: ``nfev`` and, with a cache, its hits. A resumed
    run's cache begins empty, so its real evaluations may outnumber those of the run
    never stopped; the two ask the same points."""
    return r.nfev + (r.evaluation.cache_hits if r.evaluation is not None else 0)


def same(a: Any, b: Any) -> bool:
    """Whether two results agree bit for bit (status, message, counts, f, x, history)."""
    if ((str(a.status), a.message, a.nit, asked(a))
            != (str(b.status), b.message, b.nit, asked(b))):
        return False
    if not (np.array_equal(a.x, b.x, equal_nan=True)
            and np.array_equal(a.fun, b.fun, equal_nan=True)):
        return False
    if isinstance(a, of.MultiStartResult):
        return all((str(p.status), p.message, p.nit, p.nfev) == (str(q.status), q.message,
                                                                 q.nit, q.nfev)
                   and np.array_equal(p.x, q.x, equal_nan=True)
                   for p, q in zip(a.starts, b.starts, strict=True)) and all(
            np.array_equal(np.asarray(getattr(a.history, c)),
                           np.asarray(getattr(b.history, c)), equal_nan=True)
            for c in ("step", "fun", "grad_norm", "step_norm"))
    return all(np.array_equal(np.asarray(getattr(a.history, c)),
                              np.asarray(getattr(b.history, c)), equal_nan=True)
               for c in ("fun", "grad_norm", "step_norm", "nfev"))


def _resumed(what: str, rng: np.random.Generator, whole: Any, calls: Any, stopped: Any,
             resumed: Any, agree: Any) -> tuple[str, str]:
    """One hostile resume: ``whole()`` runs to its end and ``calls()`` then says how many
    calls it made; ``stopped(at, folder)`` runs again with Ctrl-C at call ``at`` (drawn
    from them), checkpointing into ``folder``, and ``resumed(folder)`` goes on from there.
    Returns the outcome (``agree(whole, resumed)``: the bits agree) and what the run was."""
    try:
        full = whole()
        n = calls()
        if n < 2:
            return "ended before a second call (of f, or the callback)", what
        at = int(rng.integers(2, n + 1))
        what += f", Ctrl-C at call {at} of {n}"
        with tempfile.TemporaryDirectory() as folder:
            ck = Path(folder) / "ck"
            part = stopped(at, ck)
            if str(part.status) not in ("interrupted", str(full.status)):  # (or ended as it
                return "BROKEN: Ctrl-C did not end the run interrupted", what  # would there)
            if "no checkpoint was written" in part.message:
                return "interrupted before the first step (no checkpoint, as said)", what
            back = resumed(ck)
    except of.InvalidArgumentError:
        return "refused (InvalidArgumentError before any work)", what
    except KeyboardInterrupt:
        return "BROKEN: KeyboardInterrupt escaped", what
    except Exception as exc:  # (every other exception is a broken promise)
        where = traceback.format_exception(exc)[-2:]  # (--show prints where it was raised)
        return f"BROKEN: {type(exc).__name__} raised", f"{what}\n{''.join(where)}"
    if not agree(full, back):
        return "BROKEN: the resumed run differs from the run never stopped", what
    return "resumed to the bits of the run never stopped", what


class Ticker:
    """A step (or epoch) callback counting its calls, raising KeyboardInterrupt at call
    ``at`` (None: never)."""

    def __init__(self) -> None:
        self.at: int | None = None
        self.calls = 0

    def __call__(self, info: Any) -> None:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt


def _same_history(a: Any, b: Any, record_x: bool) -> bool:
    """Whether two histories agree bit for bit (their columns, and the points)."""
    columns = ["fun", "grad_norm", "step_norm"] + (["nfev"] if hasattr(a, "nfev") else [])
    if record_x:
        columns.append("x")
    return all(np.array_equal(np.asarray(getattr(a, c)), np.asarray(getattr(b, c)),
                              equal_nan=True) for c in columns)


def _stopped_again(rng: np.random.Generator, stop: Any, whole_calls: int, resume: Any,
                   note: dict[str, Any]) -> Any:
    """``twice``: the resumed run (``resume()``) with Ctrl-C again, at a call of ``stop``
    drawn from those the run never stopped made after the first one; its result where
    it ended before that call (noted), else None (it was stopped: resume again)."""
    left = max(1, whole_calls - int(stop.at))
    stop.at = stop.calls + 1 + int(rng.integers(left))
    mid = resume()
    stop.at = None
    if str(mid.status) == "interrupted" or (isinstance(mid, of.MultiStartResult)
                                            and "interrupted" in mid.statuses()):
        return None
    note["ended first"] = True
    return mid


def _twice_outcome(outcome: str, note: dict[str, Any]) -> str:
    """The outcome of a run stopped twice, saying whether the second Ctrl-C came."""
    if not outcome.startswith("resumed"):
        return outcome
    return outcome + (", the first resumed run ending before its Ctrl-C"
                      if note.get("ended first") else ", stopped and resumed twice")


def one_run(rng: np.random.Generator, in_callback: bool = False,
            streamed: bool = False, target: bool = False, workers: Any = None,
            twice: bool = False, evaluate: Any = None) -> tuple[str, str]:
    """One hostile resume of a run from x0 or a stack (Ctrl-C in f, or in a step
    callback; ``streamed``: the stopped and the resumed run stream their history to one
    file, which must load as the history of the run never stopped; ``workers``: a
    multi-start run spread out by that executor, each of its three runs on it;
    ``twice``: the resumed run is stopped again, and resumed from its own checkpoint;
    ``evaluate``: the run's points evaluated on that pool, in each of its three runs):
    its outcome, and what it was."""
    name, f, g, run, kw, every = draw(rng)
    if evaluate is not None:  # half with the pool's cache (its default size), half without
        kw = {**kw, "evaluate": evaluate, "cache": None if rng.integers(2) else 0}
    if isinstance(workers, int) or isinstance(evaluate, int):
        in_callback = False  # (a process pool's callbacks run in its workers)
    if workers is not None:
        if "x0" in run:  # a stack of two to five starts around x0
            x0 = run.pop("x0")
            starts = np.vstack([x0] + [x0 + rng.normal(size=x0.size)
                                       for _ in range(int(rng.integers(1, 5)))])
            run["starts"] = (np.clip(starts, kw["bounds"][0][0], kw["bounds"][0][1])
                             if "bounds" in kw else starts)
        run["workers"] = workers
    stream: dict[str, Any] = {}
    if streamed:
        kw = {**kw, "record_x": bool(rng.random() < 0.5),
              "record_every": int(rng.choice([1, 1, 2, 3, 7]))}
    if target:  # a rule of the step stage, asked after the step's callbacks
        kw = {**kw, "stop_rules": [of.FTarget(float(10.0 ** rng.uniform(-10, 3)))]}
    goal = f", f_target {kw['stop_rules'][0].f_target:.3g}" if target else ""
    what = (f"{name}, n={np.size(run.get('x0', run.get('starts', [[0]])[0]))}, "
            f"{ {k: v for k, v in kw.items() if k not in ('bounds', 'stop_rules')} }{goal}"
            f"{', bounds' if 'bounds' in kw else ''}, K={len(run.get('starts', [0]))}, "
            f"checkpoint every {every}{', in a step callback' if in_callback else ''}"
            f"{', streamed' if streamed else ''}{f', workers {workers!r}' if workers else ''}"
            f"{', stopped twice' if twice else ''}")
    if isinstance(workers, int) or isinstance(evaluate, int):  # a process pool: f signals
        f, g = PICKLABLE[name]  # this process
        counted, stopper = Signaller(f, COUNTERS.name), Signaller(f, COUNTERS.name)
        stopped_kw, f_counted, f_stopper = kw, counted, stopper
    elif in_callback:
        counted, stopper = Ticker(), Ticker()
        kw = {**kw, "callbacks": [counted]}
        stopped_kw, f_counted, f_stopper = {**kw, "callbacks": [stopper]}, f, f
    else:
        counted, stopper = Stopper(f), Stopper(f)
        stopped_kw, f_counted, f_stopper = kw, counted, stopper

    def streaming(ck: Path) -> dict[str, Any]:
        return {"stream_history": ck.parent / "run.jsonl"} if streamed else {}

    def stopped(at: int, ck: Path) -> Any:
        stopper.at = at
        return runner(f_stopper, g, stopped_kw, checkpoint=ck, checkpoint_every=every,
                      **streaming(ck)).run(**run)

    saving = twice and bool(rng.integers(2))  # the resumed runs checkpoint too
    what += ", the resumed runs checkpointing" if saving else ""

    def resumed(ck: Path) -> Any:
        def resume() -> Any:
            more = {"checkpoint": ck, "checkpoint_every": every} if saving else {}
            return runner(f_stopper, g, stopped_kw, **streaming(ck), **more).resume(
                ck, workers=workers)

        back = _stopped_again(rng, stopper, counted.calls, resume, stream) if twice else None
        stopper.at = None
        if back is None:
            back = resume()
        if streamed:
            stream["loaded"] = of.load_history_stream(ck.parent / "run.jsonl")
        return back

    def agree(whole: Any, back: Any) -> bool:
        return same(whole, back) and (not streamed
                                      or _same_history(stream["loaded"], whole.history,
                                                                   kw["record_x"]))

    outcome, what = _resumed(what, rng, lambda: runner(f_counted, g, kw).run(**run),
                             lambda: counted.calls, stopped, resumed, agree)
    return (_twice_outcome(outcome, stream) if twice else outcome), what


def _stopping_model(model: type) -> type:
    """``model`` whose batch and whole-set losses count their calls and raise
    KeyboardInterrupt at call ``at`` (None: never)."""

    class Stopping(model):  # type: ignore[misc, valid-type]
        at: int | None = None
        calls = 0

        def _call(self) -> None:
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt

        def batch_loss_and_gradient(self, params: np.ndarray, idx: np.ndarray) -> Any:
            self._call()
            return super().batch_loss_and_gradient(params, idx)

        def value(self, params: np.ndarray) -> float:
            self._call()
            return super().value(params)

    return Stopping


def one_training(rng: np.random.Generator, in_callback: bool = False,
                 streamed: bool = False, twice: bool = False) -> tuple[str, str]:
    """One hostile resume of a training run (minibatches; Ctrl-C in the model's losses,
    or in a step or epoch callback; ``streamed``: as :func:`one_run`'s, the epochs' rows
    too; ``twice``: as :func:`one_run`'s): its outcome, and what it was."""
    kind, model, X, y = _data(rng)
    name = TRAINING_OPTIMIZERS[rng.integers(len(TRAINING_OPTIMIZERS))]
    lr = float(10.0 ** rng.uniform(-4, 2.5))
    kw: dict[str, Any] = {"optimizer": {"name": name, "lr": lr},
                          "batch_size": int(rng.choice([1, 4, 16, 64, 500])),
                          "epochs": int(rng.integers(1, 6)), "on_interrupt": "return"}
    if rng.random() < 0.3:
        kw["max_steps"] = int(rng.integers(1, 40))
    counted, stopper = (_stopping_model(model)(X, y) for _ in range(2))
    K = int(rng.integers(2, 4)) if rng.random() < 0.3 else 1
    x0 = rng.normal(size=counted.dim) * float(rng.choice([0.0, 1.0, 10.0, 1e3]))
    run: dict[str, Any] = {"seed": int(rng.integers(1000))}
    if K == 1:
        run["x0"] = x0
    else:
        run["starts"] = np.vstack([x0] + [rng.normal(size=counted.dim) for _ in range(K - 1)])
    every = int(rng.choice([1, 1, 2, 5, 17]))
    what = (f"{kind}, {X.shape}, {name} lr={lr:.2g}, batch {kw['batch_size']}, "
            f"{kw['epochs']} epochs, K={K}, |x0|~{np.abs(x0).max():.0e}"
            f"{', max_steps=' + str(kw['max_steps']) if 'max_steps' in kw else ''}, "
            f"checkpoint every {every}{', in a step or epoch callback' if in_callback else ''}"
            f"{', streamed' if streamed else ''}{', stopped twice' if twice else ''}")
    saving = twice and bool(rng.integers(2))  # the resumed runs checkpoint too
    ticks = {"counted": Ticker(), "stopper": Ticker()}
    stream: dict[str, Any] = {}
    if streamed:
        kw["record_x"] = bool(rng.random() < 0.5)
        kw["record_every"] = int(rng.choice([1, 1, 2, 3, 7]))

    def streaming(ck: Path) -> dict[str, Any]:
        return {"stream_history": ck.parent / "run.jsonl"} if streamed else {}

    def options(who: str) -> dict[str, Any]:
        tick = ticks[who]
        return {**kw, "callbacks": [tick], "epoch_callbacks": [tick]} if in_callback else kw

    count = ticks["counted"] if in_callback else counted
    stop = ticks["stopper"] if in_callback else stopper

    def stopped(at: int, ck: Path) -> Any:
        stop.at = at
        return of.Runner(stopper, checkpoint=ck, checkpoint_every=every, **streaming(ck),
                         **options("stopper")).run(**run)

    def resumed(ck: Path) -> Any:
        def resume() -> Any:
            more = {"checkpoint": ck, "checkpoint_every": every} if saving else {}
            return of.Runner(stopper, **streaming(ck), **options("stopper"), **more).resume(ck)

        back = _stopped_again(rng, stop, count.calls, resume, stream) if twice else None
        stop.at = None
        if back is None:
            back = resume()
        if streamed:
            stream["loaded"] = of.load_history_stream(ck.parent / "run.jsonl")
        return back

    def agree(whole: Any, back: Any) -> bool:
        if not streamed:
            return same(whole, back)
        loaded, h = stream["loaded"], whole.history
        epochs = (loaded.epoch_log == h.epoch_log if hasattr(h, "epoch_log")
                  else all(np.array_equal(loaded.epochs[k], h.epochs[k], equal_nan=True)
                           for k in h.epochs))
        return same(whole, back) and _same_history(loaded, h, kw["record_x"]) and epochs

    outcome, what = _resumed(what, rng,
                             lambda: of.Runner(counted, **options("counted")).run(**run),
                             lambda: count.calls, stopped, resumed, agree)
    return (_twice_outcome(outcome, stream) if twice else outcome), what


def _same_search(a: Any, b: Any) -> bool:
    """Whether two global searches agree bit for bit: the best point, its f, the status,
    the evaluations (and with a cache, its hits), the trace and every local search (where
    it ended, how)."""
    if (str(a.status), a.nfev, len(a.starts)) != (str(b.status), b.nfev, len(b.starts)):
        return False
    if (a.evaluation is None) != (b.evaluation is None) or (
            a.evaluation is not None and (a.evaluation.evaluations, a.evaluation.cache_hits)
            != (b.evaluation.evaluations, b.evaluation.cache_hits)):
        return False
    if list(a.trace.nfev) != list(b.trace.nfev) or list(a.trace.best) != list(b.trace.best):
        return False
    return same(a, b)


def one_global(rng: np.random.Generator, in_callback: bool = False,
               twice: bool = False) -> tuple[str, str]:
    """One hostile resume of a global search (Ctrl-C in f, or in a step callback of its
    local searches; ``twice``: as :func:`one_run`'s, from its journal): its outcome, and
    what it was."""
    name, f, g, _ = [fun for fun in FUNS if fun[0] != "exception region"][
        rng.integers(len(FUNS) - 1)]
    n = int(rng.choice([1, 2, 3, 5]))
    lo = float(rng.choice([-10.0, -6.0, -1.0, 0.0, 1e8]))
    width = float(rng.choice([1.0, 10.0, 1e6]))
    kw: dict[str, Any] = {"bounds": [(lo, lo + width)] * n,
                          "strategy": STRATEGIES[rng.integers(len(STRATEGIES))],
                          "seed": int(rng.integers(1000)), "on_interrupt": "return",
                          "max_nfev": int(rng.choice([20, 50, 200, 1000]))}
    if rng.random() < 0.5:
        kw["jac"] = g
    x0 = rng.uniform(lo, lo + width, n) if rng.random() < 0.3 else None
    if rng.random() < 0.5:  # a cache: the budget counts real evaluations, its hits matter
        kw["cache"] = 4096
    what = (f"{name}, n={n}, box [{lo:g}, {lo + width:g}], x0 "
            f"{'given' if x0 is not None else 'none'}, {kw['strategy']}, "
            f"max_nfev={kw['max_nfev']}, {'analytic' if 'jac' in kw else 'differences'}"
            f"{', cached' if 'cache' in kw else ''}{', in a step callback' if in_callback else ''}")
    if in_callback:
        counted, stopper = Ticker(), Ticker()
        f_counted = f_stopper = f
    else:
        counted, stopper = Stopper(f), Stopper(f)
        f_counted, f_stopper = counted, stopper
    more = {"callbacks": [stopper]} if in_callback else {}

    def stopped(at: int, ck: Path) -> Any:
        stopper.at = at
        return of.minimize(f_stopper, x0, checkpoint=ck, **more, **kw)

    note: dict[str, Any] = {}

    def resumed(ck: Path) -> Any:
        def resume() -> Any:
            return of.minimize(f_stopper, x0, checkpoint=ck, resume=True, **more, **kw)

        back = _stopped_again(rng, stopper, counted.calls, resume, note) if twice else None
        stopper.at = None
        return resume() if back is None else back

    def whole() -> Any:
        return of.minimize(f_counted, x0, **({"callbacks": [counted]} if in_callback else {}),
                           **kw)

    outcome, what = _resumed(what, rng, whole, lambda: counted.calls, stopped, resumed,
                             _same_search)
    return (_twice_outcome(outcome, note) if twice else outcome), what


def _tally(label: str, runs: int, one: Any, seed: int, show: bool) -> None:
    tally: Counter = Counter()
    for i in range(runs):
        outcome, what = one(np.random.default_rng([seed, i]))
        tally[outcome] += 1
        if show and outcome.startswith("BROKEN"):
            print(f"run {i}: {outcome}: {what}")
    print(f"{runs} hostile resumes of {label} (seed {seed}); runs by outcome:")
    for outcome, k in sorted(tally.items(), key=lambda kv: (not kv[0].startswith("BROKEN"),
                                                             -kv[1])):
        print(f"  {k:5d}  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--training-runs", type=int, default=200)
    parser.add_argument("--global-runs", type=int, default=200)
    parser.add_argument("--callback-runs", type=int, default=200)
    parser.add_argument("--stream-runs", type=int, default=200)
    parser.add_argument("--target-runs", type=int, default=200)
    parser.add_argument("--global-callback-runs", type=int, default=100)
    parser.add_argument("--worker-runs", type=int, default=200)
    parser.add_argument("--process-runs", type=int, default=100)
    parser.add_argument("--twice-runs", type=int, default=200)
    parser.add_argument("--evaluate-runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    def either(rng: np.random.Generator) -> bool:  # Ctrl-C in f or in a callback
        return bool(rng.integers(2))

    # (label, runs, one run, seed offset): each section draws from generators of its
    # own, so seed 0's first 400 runs are those the script ran before the others came
    sections = [
        ("runs from x0 or a stack", args.runs, one_run, 0),
        ("training runs", args.training_runs, one_training, 10_000),
        ("global searches", args.global_runs, one_global, 20_000),
        ("runs from x0 or a stack, Ctrl-C in a step callback", args.callback_runs,
         lambda rng: one_run(rng, in_callback=True), 30_000),
        ("training runs, Ctrl-C in a step or epoch callback", args.callback_runs // 2,
         lambda rng: one_training(rng, in_callback=True), 40_000),
        ("runs from x0 or a stack, streaming their history (Ctrl-C in f or a callback)",
         args.stream_runs, lambda rng: one_run(rng, in_callback=either(rng), streamed=True),
         50_000),
        ("training runs, streaming their history", args.stream_runs // 2,
         lambda rng: one_training(rng, streamed=True), 60_000),
        ("runs from x0 or a stack with f_target (Ctrl-C in f or a callback)",
         args.target_runs, lambda rng: one_run(rng, in_callback=either(rng), target=True),
         70_000),
        ("global searches, Ctrl-C in a step callback of a local search",
         args.global_callback_runs, lambda rng: one_global(rng, in_callback=True), 80_000),
        ("multi-start runs on workers='serial' (Ctrl-C in f or a callback)",
         args.worker_runs, lambda rng: one_run(rng, in_callback=either(rng),
                                               workers="serial"), 90_000),
        ("multi-start runs on workers=2, a process pool (SIGINT to the run's process)",
         args.process_runs, lambda rng: one_run(rng, workers=2), 100_000),
        ("multi-start runs on workers, streaming their history (serial: Ctrl-C in f or a "
         "callback; a pool of two: SIGINT)", args.worker_runs // 2,
         lambda rng: one_run(rng, in_callback=either(rng), streamed=True,
                             workers="serial" if either(rng) else 2), 140_000),
        ("runs whose points are evaluated on a pool (map: Ctrl-C in f or a callback; a "
         "pool of two processes: SIGINT)", args.evaluate_runs,
         lambda rng: one_run(rng, in_callback=either(rng), evaluate=map if either(rng) else 2),
         150_000),
        ("runs stopped twice, resumed twice (Ctrl-C in f or a callback; half streamed)",
         args.twice_runs, lambda rng: one_run(rng, in_callback=either(rng),
                                              streamed=either(rng), twice=True), 110_000),
        ("training runs stopped twice, resumed twice (Ctrl-C in a loss or a callback; half "
         "streamed)", args.twice_runs // 2,
         lambda rng: one_training(rng, in_callback=either(rng), streamed=either(rng),
                                  twice=True), 120_000),
        ("global searches stopped twice, resumed twice (Ctrl-C in f or a local search's "
         "callback)", args.twice_runs // 2,
         lambda rng: one_global(rng, in_callback=either(rng), twice=True), 130_000),
    ]
    for label, runs, one, offset in sections:
        _tally(label, runs, one, args.seed + offset, args.show)
    print("goal: no BROKEN line")


if __name__ == "__main__":
    main()
