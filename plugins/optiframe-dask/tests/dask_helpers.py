"""Objectives the Dask workers import (module level, so they pickle by reference)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import optiframe as of


class SlowWhereMarked(of.Objective):
    """Sphere; the start beginning at x[0] == 3 writes its worker's pid and dawdles until
    ``killed`` exists, so a test can kill that worker mid-run."""

    def __init__(self, folder):
        self.pid_file = Path(folder) / "pid"
        self.killed_flag = Path(folder) / "killed"

    def value(self, x):
        return float(x @ x)

    def gradient(self, x):
        if abs(x[0] - 3.0) < 1e-12 and not self.killed_flag.exists():
            # whole or not at all: a reader never sees the file before the pid is in it
            tmp = self.pid_file.with_name(f"pid.{os.getpid()}.tmp")
            tmp.write_text(str(os.getpid()))
            os.replace(tmp, self.pid_file)
            time.sleep(60)
        return 2 * x


class Heavy(of.Objective):
    """A CPU-heavy objective (a few ms per call) for the speed-up benchmark."""

    def __init__(self, work=20_000):
        self.work = work

    def value(self, x):
        t = np.linspace(0.0, 1.0, self.work)
        return float(x @ x + 1e-9 * np.sum(np.sin(t * x[0]) ** 2))

    def gradient(self, x):
        t = np.linspace(0.0, 1.0, self.work)
        g = 2 * x
        g[0] += 1e-9 * np.sum(2 * np.sin(t * x[0]) * np.cos(t * x[0]) * t)
        return g


