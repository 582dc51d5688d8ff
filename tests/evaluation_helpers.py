"""Module-level objectives for the parallel-evaluation tests (picklable, so worker
processes can run them); state shared with workers lives in files."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np


def rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rosen_der(x):
    """The gradient of :func:`rosen`."""
    g = np.zeros_like(x)
    d = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def rosen_rows(X):
    """Extended Rosenbrock of each row of a stack (row-vectorized)."""
    X = np.atleast_2d(X)
    return np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1.0 - X[:, :-1]) ** 2, axis=1)


class Counted:
    """An objective that counts its calls in this process (and raises KeyboardInterrupt
    at its call ``ctrl_c_at``; None: never)."""

    def __init__(self, f, ctrl_c_at=None):
        self.f, self.calls, self.ctrl_c_at = f, 0, ctrl_c_at
        self.__name__ = f"counted_{f.__name__}"

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.ctrl_c_at:
            raise KeyboardInterrupt
        return self.f(x)


def counted_call(marker: str) -> int:
    """Count one more call in the file ``marker.count`` (shared by every worker process);
    returns how many calls it holds."""
    count = Path(marker + ".count")
    with open(count, "a") as fh:
        fh.write(".")
    return count.stat().st_size


def first_to_mark(marker: str, text: str) -> bool:
    """Create the file ``marker`` holding ``text`` if no process has yet (atomically:
    of two workers that get here at once, one is first)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return True


class ExitsOnce:
    """Rosenbrock whose worker process dies (os._exit) the first time it is asked for f
    near the centre of the second gradient: once, marked by a file."""

    def __init__(self, marker: str, calls_before: int = 12):
        self.marker, self.calls_before = marker, calls_before
        self.__name__ = "exits_once"

    def __call__(self, x):
        if counted_call(self.marker) > self.calls_before and first_to_mark(self.marker, "died"):
            os._exit(3)
        return rosen(x)


class HangsNearZero:
    """sum(x**2) that hangs (sleeps 60 s) once every coordinate is below ``below``."""

    def __init__(self, below: float):
        self.below = below
        self.__name__ = "hangs_near_zero"

    def __call__(self, x):
        if np.max(np.abs(x)) < self.below:
            time.sleep(60)
        return float(x @ x)


class InterruptsOnce:
    """Rosenbrock that sends Ctrl-C (SIGINT) to the run's process once, during the
    ``at``-th evaluation (counted in a file), and then goes on."""

    def __init__(self, marker: str, at: int):
        self.marker, self.at = marker, at
        self.__name__ = "interrupts_once"

    def __call__(self, x):
        # at or past the at-th call: two workers counting at once may both read at + 1
        if counted_call(self.marker) >= self.at and first_to_mark(self.marker, "sent"):
            os.kill(os.getppid(), signal.SIGINT)
            time.sleep(0.5)  # the run stops this evaluation with the pool
        return rosen(x)


def raises_near_zero(x):
    if x[0] < 0.2:
        raise ValueError(f"no model below 0.2: x[0] = {x[0]}")
    return float(x @ x)
