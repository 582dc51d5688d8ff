"""Progress bars for long runs (tqdm, optional): cheap enough to leave in the step loop.

The loop asks :meth:`Progress.tick` only every 256 steps (the loop's one comparison with
the next step at which an observer is due), and the bar is redrawn at most five times a
second.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .errors import InvalidArgumentError

#: Steps between two looks at the clock.
TICK = 256


class Progress:
    """A tqdm bar, or nothing when progress is off; ``tick(k, f)`` and ``close()``."""

    #: steps between two ticks
    every = TICK

    def __init__(self, bar: Any, epochs: tuple[int, int] | None = None) -> None:
        self.bar = bar
        self.shown = 0
        self.last = time.perf_counter()
        self.epochs = epochs  # (steps per epoch, epochs) of a training run
        self._fun = float("nan")
        self._noted = 0.0
        self._watched: Any = None  # the objective whose evaluations the bar shows
        self.extra = ""  # what else the bar says (the evaluation pool's pace)

    def _postfix(self, k: int, fun: float) -> str:
        if self.epochs is None:
            return f"f={fun:.6g}{self.extra}"
        per, total = self.epochs
        return f"epoch {min(k // max(per, 1) + 1, total)}/{total}, loss={fun:.6g}{self.extra}"

    def watch_evaluations(self, objective: Any) -> None:
        """For an objective evaluated on a pool (``evaluate=``): tick every step (each is
        slow) and show evaluations per second and the pool's occupancy after each batch."""
        if not hasattr(objective, "listener"):
            return
        self.every = 1

        def show(stats: Any) -> None:
            self.extra = (f", {stats.per_second:.3g} evals/s, pool {stats.occupancy:.0%}, "
                          f"{stats.cache_hits} cached")
            now = time.perf_counter()
            if now - self._noted >= 0.2:  # its own pace: step ticks still show
                self.bar.set_postfix_str(self._postfix(self.shown, self._fun), refresh=True)
                self._noted = now

        objective.listener = show
        self._watched = objective

    @staticmethod
    def check(setting: Any) -> None:
        """Refuse a ``progress=`` that is not True, False or None (draws nothing)."""
        if setting not in (None, True, False):
            raise InvalidArgumentError(f"'progress' must be True, False or None: {setting!r}")

    @classmethod
    def create(cls, setting: Any, total: float, desc: str, unit: str = "step",
               epochs: tuple[int, int] | None = None) -> Progress | None:
        """A bar per ``progress=``: None (on if stderr is a terminal and tqdm is
        installed), True (on; tqdm required) or False (off)."""
        cls.check(setting)
        if setting is False:
            return None
        if setting is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            return None  # (before the import: tqdm.auto takes about 45 ms to import)
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if setting:
                raise InvalidArgumentError(
                    "progress=True needs tqdm: pip install tqdm"
                ) from None
            return None
        total_arg = None if total == float("inf") else int(total)
        return cls(tqdm(total=total_arg, desc=desc, unit=unit, leave=True), epochs)

    def tick(self, k: int, fun: float, force: bool = False) -> None:
        """Show step ``k`` (or, ``unit="start"``, k starts done) and the best value so
        far, if a fifth of a second has passed (or ``force``)."""
        now = time.perf_counter()
        self._fun = fun
        if force or now - self.last >= 0.2:
            self.bar.update(k - self.shown)
            self.bar.set_postfix_str(self._postfix(k, fun), refresh=True)
            self.shown, self.last = k, now

    def close(self, k: int, fun: float, outcome: str = "") -> None:
        """The run is over at ``k``: a run that ended before its limit (every start
        converged at step 80 of 500) shows as done, 80/80, not as stopped at 16 %, and
        its ``outcome`` (how the starts ended: ``diverged``, ``converged 18, max_steps
        2``) beside its f, so that a bar at 100 % does not read as a success."""
        if self.bar.total is not None and k < self.bar.total:
            self.bar.total = k
        self.bar.update(k - self.shown)
        postfix = self._postfix(k, fun)
        self.bar.set_postfix_str(f"{postfix}, {outcome}" if outcome else postfix,
                                 refresh=False)
        self.bar.close()
        if self._watched is not None:
            self._watched.listener = None
