"""SIGTERM during a checkpointed run: handled like Ctrl-C, so the run saves and stops.

Batch schedulers and container runtimes stop a job with SIGTERM (and SIGKILL a little
later). While a Runner with a ``checkpoint`` folder runs in the main thread, SIGTERM
raises :class:`Terminated` (a KeyboardInterrupt) inside the loop: the run writes a
checkpoint of its last whole step and returns status ``interrupted``; the previous
handler is restored when the run ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives during a checkpointed run."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum} (SIGTERM)")


@contextlib.contextmanager
def sigterm_interrupts(active: bool) -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (if ``active``, in the main
    thread, and where the platform has SIGTERM)."""
    if not (active and hasattr(signal, "SIGTERM")
            and threading.current_thread() is threading.main_thread()):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
