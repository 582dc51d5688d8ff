"""A CPU-heavy objective for the parallel benchmarks (module level: processes import it)."""

from __future__ import annotations

import numpy as np

import optiframe as of


class Heavy(of.Objective):
    """The sphere plus a negligible term that costs ``work`` sines per call (~1 ms)."""

    def __init__(self, work: int = 40_000) -> None:
        self.t = np.linspace(0.0, 1.0, work)

    def value(self, x: np.ndarray) -> float:
        return float(x @ x + 1e-12 * np.sum(np.sin(self.t * x[0]) ** 2))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        g = 2 * x
        s = np.sin(self.t * x[0])
        g[0] += 1e-12 * np.sum(2 * s * np.cos(self.t * x[0]) * self.t)
        return g
