"""The outcome of a run: the :class:`Status` vocabulary and the frozen :class:`Result`."""

from __future__ import annotations

import enum
from typing import Any, cast

import attrs
import numpy as np

from .history import History


class Status(str, enum.Enum):
    """How a run ended. Compares equal to its string value: ``status == "converged"``."""

    CONVERGED = "converged"
    MAX_STEPS = "max_steps"
    DIVERGED = "diverged"
    NAN = "nan"
    STALLED = "stalled"
    CALLBACK_STOP = "callback_stop"
    INTERRUPTED = "interrupted"
    FAILED = "failed"

    def __repr__(self) -> str:
        return repr(self.value)

    def __str__(self) -> str:
        return self.value


#: One message per status; a run appends the specific reason.
MESSAGES: dict[Status, str] = {
    Status.CONVERGED: "Converged",
    Status.MAX_STEPS: "Stopped after the maximum number of steps",
    Status.DIVERGED: "Diverged: the objective grew without bound or overflowed "
                     "(try a smaller learning rate); x is the best finite point seen",
    Status.NAN: "Stopped on a NaN or infinite value or gradient; "
                "x is the best finite point seen",
    Status.STALLED: "Stalled: the step no longer changes x",
    Status.CALLBACK_STOP: "A callback raised StopIteration",
    Status.INTERRUPTED: "Interrupted (KeyboardInterrupt); the history up to here is kept",
    Status.FAILED: "Failed: user code raised an exception; the history up to here is kept",
}


def _readonly(x: np.ndarray) -> np.ndarray:
    """A read-only copy; an array that is already read-only and owns its data is shared."""
    if isinstance(x, np.ndarray) and not x.flags.writeable and x.base is None:
        return x
    x = np.array(x, copy=True)
    x.flags.writeable = False
    return x


@attrs.frozen(eq=False)
class Result:
    """What a run found, in scipy.optimize's vocabulary, plus its :class:`History`.

    ``success`` is True only for ``converged``. For ``diverged`` and ``nan``, ``x`` and
    ``fun`` are the best finite point seen; otherwise they are the last iterate.
    """

    x: np.ndarray = attrs.field(converter=_readonly)
    fun: float
    status: Status
    message: str
    nit: int
    nfev: int
    njev: int
    history: History

    @property
    def epochs(self) -> int:
        """How many full epochs a minibatch run completed (0 for other runs)."""
        return len(getattr(self.history, "epoch_log", ()))

    @property
    def success(self) -> bool:
        """True when the run converged."""
        return self.status is Status.CONVERGED

    def __repr__(self) -> str:
        lines = [
            f"  status: {self.status.value}",
            f" success: {self.success}",
            f" message: {self.message}",
            f"       x: {np.array2string(self.x, precision=8, threshold=8)}",
            f"     fun: {self.fun!r}",
            f"     nit: {self.nit}",
            f"    nfev: {self.nfev}",
            f"    njev: {self.njev}",
            f" history: {self.history!r}",
        ]
        return "Result(\n" + "\n".join(lines) + "\n)"


@attrs.frozen(eq=False)
class StartOutcome:
    """How one start of a multi-start run ended."""

    index: int
    x0: np.ndarray = attrs.field(converter=_readonly)
    x: np.ndarray = attrs.field(converter=_readonly)
    fun: float
    status: Status
    message: str
    nit: int
    nfev: int
    njev: int

    @property
    def success(self) -> bool:
        return self.status is Status.CONVERGED


@attrs.frozen(eq=False)
class Minimum:
    """A distinct minimum: the best point of a group of final points closer than a tolerance."""

    x: np.ndarray = attrs.field(converter=_readonly)
    fun: float
    count: int
    starts: tuple[int, ...]


@attrs.frozen(eq=False)
class MultiStartResult(Result):
    """A multi-start run: the best start as ``x``/``fun``, plus every start and the minima.

    ``status`` and ``message`` are the best start's; ``nit`` is the most steps any start
    took, ``nfev``/``njev`` the totals; ``history`` is a :class:`StartsHistory`.
    """

    starts: tuple[StartOutcome, ...] = ()
    minima_tol: float = 1e-3
    _minima: Any = attrs.field(default=None, init=False, repr=False)

    @property
    def minima(self) -> tuple[Minimum, ...]:
        """The distinct minima: final points closer than ``minima_tol`` grouped (computed
        on first use)."""
        if self._minima is None:
            from .minima import distinct_minima

            object.__setattr__(self, "_minima", distinct_minima(self.starts, self.minima_tol))
        return cast(tuple[Minimum, ...], self._minima)

    def statuses(self) -> dict[str, int]:
        """How many starts ended with each status."""
        counts: dict[str, int] = {}
        for s in self.starts:
            counts[s.status.value] = counts.get(s.status.value, 0) + 1
        return counts

    def __repr__(self) -> str:
        text = super().__repr__().rstrip(")\n")
        minima = ", ".join(f"{np.array2string(m.x, precision=6)} x{m.count}" for m in self.minima)
        return (f"{text}\n  starts: {len(self.starts)} {self.statuses()}\n"
                f"  minima: {minima}\n)")
