"""A CPU-heavy objective for the parallel benchmarks (module level: processes import it)."""

from __future__ import annotations

import numpy as np

import optiframe as of


class Heavy(of.Objective):
    """The sphere plus a negligible term that costs ``work`` sines per call (~1 ms)."""

    def __init__(self, work: int = 40_000) -> None:
        self.work = work  # the grid is rebuilt per call: a small pickle for the workers

    def value(self, x: np.ndarray) -> float:
        t = np.linspace(0.0, 1.0, self.work)
        return float(x @ x + 1e-12 * np.sum(np.sin(t * x[0]) ** 2))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        t = np.linspace(0.0, 1.0, self.work)
        g = 2 * x
        s = np.sin(t * x[0])
        g[0] += 1e-12 * np.sum(2 * s * np.cos(t * x[0]) * t)
        return g
