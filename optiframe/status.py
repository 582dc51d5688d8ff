"""How a run ends: the :class:`Status` vocabulary and one message per status."""

from __future__ import annotations

import enum


class Status(str, enum.Enum):
    """How a run ended. Compares equal to its string value: ``status == "converged"``."""

    CONVERGED = "converged"
    COMPLETED = "completed"
    MAX_STEPS = "max_steps"
    MAX_NFEV = "max_nfev"
    MAX_TIME = "max_time"
    DIVERGED = "diverged"
    NAN = "nan"
    STALLED = "stalled"
    LINE_SEARCH = "line_search"
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
    Status.COMPLETED: "Completed: the training ran every epoch asked of it",
    Status.MAX_STEPS: "Stopped after the maximum number of steps",
    Status.MAX_NFEV: "Stopped: the evaluation budget (max_nfev) is spent",
    Status.MAX_TIME: "Stopped: the time limit (max_time) is reached",
    Status.DIVERGED: "Diverged: the objective grew or fell without bound, or overflowed",
    Status.NAN: "Stopped on a NaN or infinite value or gradient",
    Status.STALLED: "Stalled: the steps no longer change x, or too little to show a minimum",
    Status.LINE_SEARCH: "Stopped: the line search found no step along the direction that "
                        "decreases f enough",
    Status.CALLBACK_STOP: "A callback raised StopIteration",
    Status.INTERRUPTED: "Interrupted (KeyboardInterrupt); the history up to here is kept",
    Status.FAILED: "Failed: user code raised an exception; the history up to here is kept",
}


#: what a fixed step that diverged should try (the verdict of a run without a line search)
FIXED_STEP_ADVICE = ("a fixed step too long: try a smaller learning rate, or a line search, "
                     "line_search='armijo', which shortens each step until f decreases")

#: statuses that are a success: a convergence shown, or a training run's epochs all run
SUCCESS = frozenset({Status.CONVERGED, Status.COMPLETED})


def message(status: Status, detail: str) -> str:
    """The message of a run that ended with ``status`` for the reason ``detail``."""
    return f"{MESSAGES[status]}: {detail}." if detail else f"{MESSAGES[status]}."
