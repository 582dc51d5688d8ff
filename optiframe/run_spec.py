"""What a kind of run reads of its Runner: the type at the boundary between
:mod:`optiframe.runner` and the modules that assemble and drive runs.

:mod:`optiframe.runs` and :mod:`optiframe.assembly` take a :class:`RunSpec` (a
:class:`~optiframe.Runner` is one) rather than the Runner class itself, which imports
them: mypy checks every read against this list, and a new setting a kind of run needs
is one property here.
"""

from __future__ import annotations

from typing import Any, Protocol

from .bounds import Box
from .checkpoint import Checkpoint, Checkpointer
from .checkpoint_config import Configured
from .linesearch import LineSearch


class RunSpec(Configured, Protocol):
    """The Runner's settings and services a run reads (see the module docstring): what
    a checkpoint's configuration reads (:class:`~optiframe.checkpoint_config.Configured`:
    the objective, optimizer, gradient, schedules, batching, stop rules and what is
    recorded) and the rest below."""

    @property
    def stop_given(self) -> dict[str, bool]: ...
    @property
    def line_search(self) -> LineSearch | None: ...
    @property
    def bounds(self) -> Any: ...
    @property
    def callbacks(self) -> tuple[Any, ...]: ...
    @property
    def epoch_callbacks(self) -> tuple[Any, ...]: ...
    @property
    def raise_errors(self) -> bool | None: ...
    @property
    def on_interrupt(self) -> str: ...
    @property
    def minima_tol(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def start_timeout(self) -> float | None: ...
    @property
    def progress(self) -> bool | None: ...
    @property
    def stream_history(self) -> Any: ...
    @property
    def checkpoint(self) -> Any: ...
    @property
    def checkpoint_every(self) -> int | None: ...
    @property
    def check_gradient(self) -> bool: ...

    def box(self, n: int) -> Box | None:
        """The run's bounds for points of ``n`` coordinates (None: no bounds)."""

    def started(self, n_starts: int, seed: int | None, resumed: bool = False) -> None:
        """Tell the ``on_run_start`` observers that the first evaluation comes next."""

    def checkpointer(self, kind: str, shape: tuple[int, ...], seed: int | None = None,
                     resumed: Checkpoint | None = None) -> Checkpointer | None:
        """The run's checkpoint writer (None: no ``checkpoint`` folder)."""
