"""Module-level objectives for multi-start tests (picklable, so process pools can run them)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import optiframe as of


class Quartic(of.Objective):
    """sum(x**4): gradient descent diverges from far starts and converges from near ones."""

    def value(self, x):
        return float(np.sum(x**4))

    def values(self, X):
        return np.sum(X**4, axis=1)

    def gradient(self, x):
        return 4 * x**3


class RaisesBeyond(of.Objective):
    """Sphere that raises ValueError wherever x[0] > limit; row-vectorized."""

    def __init__(self, limit):
        self.limit = limit

    def value(self, x):
        if x[0] > self.limit:
            raise ValueError(f"x[0] = {x[0]} is beyond {self.limit}")
        return float(x @ x)

    def values(self, X):
        if (X[:, 0] > self.limit).any():
            raise ValueError("some row is beyond the limit")
        return np.einsum("ij,ij->i", X, X)

    def gradient(self, x):
        return 2 * x


class SlowWhereMarked(of.Objective):
    """Sphere; the start beginning at x[0] == marked writes its pid and dawdles until killed.

    After ``killed_flag`` exists it runs at full speed, so a resubmitted start finishes.
    """

    def __init__(self, folder, marked=3.0):
        self.pid_file = Path(folder) / "pid"
        self.killed_flag = Path(folder) / "killed"
        self.marked = marked

    def value(self, x):
        return float(x @ x)

    def gradient(self, x):
        if abs(x[0] - self.marked) < 1e-12 and not self.killed_flag.exists():
            # whole or not at all: a reader never sees the file before the pid is in it
            tmp = self.pid_file.with_name(f"pid.{os.getpid()}.tmp")
            tmp.write_text(str(os.getpid()))
            os.replace(tmp, self.pid_file)
            time.sleep(30)
        return 2 * x


class ExitsAt(of.Objective):
    """Sphere whose evaluation kills its process (``os._exit(1)``) at points whose first
    coordinate is ``marker``: the start from there crashes every worker it runs on."""

    def __init__(self, marker=42.0):
        self.marker = marker

    def value(self, x):
        if x[0] == self.marker:
            os._exit(1)
        return float(x @ x)

    def gradient(self, x):
        return 2 * x


class SleepsAt(of.Objective):
    """Sphere that sleeps ``seconds`` per evaluation at starts whose first coordinate is
    ``marker`` (until ``flag`` exists, when given)."""

    def __init__(self, marker, seconds, flag=None):
        self.marker, self.seconds, self.flag = marker, seconds, flag

    def value(self, x):
        return float(x @ x)

    def gradient(self, x):
        if abs(x[0] - self.marker) < 0.5 and (self.flag is None or not Path(self.flag).exists()):
            time.sleep(self.seconds)
        return 2 * x


class PairLog:
    """A step callback writing each (start, step) it sees to a file, one line each: it
    works in worker processes too (each appends whole lines with O_APPEND)."""

    def __init__(self, path):
        self.path = str(path)

    def __call__(self, info):
        index = np.atleast_1d(info.index).tolist()
        text = "".join(f"{i} {info.step}\n" for i in index)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def pairs(self):
        if not Path(self.path).exists():
            return []
        return [tuple(int(v) for v in line.split()) for line in
                Path(self.path).read_text().splitlines()]


class InterruptOnce:
    """A step callback pressing Ctrl-C at step ``at`` the first time any process gets
    there (a flag file says it happened)."""

    def __init__(self, at, flag):
        self.at, self.flag = at, str(flag)

    def __call__(self, info):
        if info.step == self.at and not Path(self.flag).exists():
            Path(self.flag).write_text("x")
            raise KeyboardInterrupt


def small_regression():
    """A small least-squares training set (60 samples, 3 features), fixed."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 3))
    return of.LeastSquares(X, X @ [1.0, -2.0, 0.5] + 0.3 + 0.01 * rng.normal(size=60))


class SlowToUnpickle(of.Objective):
    """Sphere whose unpickling sleeps ``seconds``: a worker that receives it boots slowly
    (as a spawned worker importing jax does), before any job starts."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __setstate__(self, state):
        self.__dict__.update(state)
        time.sleep(self.seconds)

    def value(self, x):
        return float(x @ x)

    def gradient(self, x):
        return 2 * x


class ExitsAbove(of.Objective):
    """Sphere whose evaluation kills its process (``os._exit(1)``) at points whose first
    coordinate is above ``limit``: a run that starts there crashes every worker it runs on."""

    def __init__(self, limit=10.0):
        self.limit = limit

    def value(self, x):
        if x[0] > self.limit:
            os._exit(1)
        return float(x @ x)

    def gradient(self, x):
        return 2 * x
