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
            self.pid_file.write_text(str(os.getpid()))
            time.sleep(30)
        return 2 * x
