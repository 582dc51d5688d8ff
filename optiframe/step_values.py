"""The values a step carries from phase to phase before its commit: what it measured
(:class:`Measured`) and where it moved (:class:`Moved`); the step loop
(:mod:`optiframe.loop`) fills them, and commits them to the state in one assignment."""

from __future__ import annotations

from typing import Any

import numpy as np


class Measured:
    """A step's measurements: f (training: the batch loss), the gradient, the projected
    gradient, its norm (a stack's: and the largest, ``top``), what the gradient cost (per
    row with a line search) and which rows skip their step (a non-finite gradient;
    None)."""

    __slots__ = ("F", "G", "GN", "LV", "PG", "mf", "mj", "skip", "top")

    def __init__(self, F: Any, G: Any, PG: Any, GN: Any, mf: Any, mj: Any,
                 LV: Any, top: Any = None) -> None:
        self.F, self.G, self.PG, self.GN, self.mf, self.mj = F, G, PG, GN, mf, mj
        self.LV = LV  # the rows' finite-difference levels (a central check may raise them)
        self.skip: Any = None
        self.top = top

    def keep(self, keep: np.ndarray) -> None:
        """Only the rows ``keep`` (the others ended)."""
        self.F, self.G, self.PG, self.GN = (self.F[keep], self.G[keep], self.PG[keep],
                                            self.GN[keep])
        if np.ndim(self.mf):  # per row (a line search's, or adaptive differences')
            self.mf = self.mf[keep]
        if np.ndim(self.mj):
            self.mj = self.mj[keep]
        if np.ndim(self.LV):
            self.LV = self.LV[keep]
        if self.skip is not None:
            self.skip = self.skip[keep]


class Moved:
    """A step's new points and what comes with them: values, optimizer and schedule
    states, batch cursor, best points; with a line search, the accepted lengths, the
    gradients there, what the search spent, which rows found a step, the resets, the
    rows whose evaluations raised and what each first trial promised."""

    __slots__ = ("A", "F", "Gn", "RS", "X", "bF", "bX", "cursor", "errors", "fmin", "gain",
                 "improved", "ok", "opt", "sched", "snf", "snj")
    A: Any  # set by the step length (the loop's _Step.move)
    Gn: Any
    RS: Any
    gain: Any
    snf: Any
    snj: Any
    fmin: Any  # a stack's least new value (the loop's _Step._best)
    improved: bool  # whether every row of a stack found a new best point (the loop's _Step._best)

    def __init__(self, X: Any, opt: Any, sched: Any, cursor: Any, F: Any = None,
                 bX: Any = None, bF: Any = None) -> None:
        self.X, self.opt, self.sched, self.cursor = X, opt, sched, cursor
        self.F, self.bX, self.bF = F, bX, bF
        self.errors: dict[int, BaseException] = {}
        self.ok: Any = True
