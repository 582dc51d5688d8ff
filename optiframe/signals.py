"""SIGTERM during a checkpointed run: handled like Ctrl-C, so the run saves and stops.

Batch schedulers and container runtimes stop a job with SIGTERM (and SIGKILL a little
later). While a Runner with a ``checkpoint`` folder runs in the main thread, SIGTERM
raises :class:`Terminated` (a KeyboardInterrupt) inside the loop: the run writes a
checkpoint of its last whole step and returns status ``interrupted``; the previous
handler is restored when the run ends.

While a file is written whole (a checkpoint, a journal: :func:`deferred`), Ctrl-C and
SIGTERM wait until it is: they would cut a write that takes milliseconds, leaving
numpy's zip writer half closed.
"""

from __future__ import annotations

import contextlib
import os
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


@contextlib.contextmanager
def deferred(came: list[int] | None = None) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM wait: one that arrives is handled as the block
    ends, by the handler that was in place (Ctrl-C's KeyboardInterrupt, a run's
    :class:`Terminated`); or, given a list ``came``, is added to it for the caller to
    handle. In the main thread only (elsewhere the block runs as is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    names = [n for n in ("SIGINT", "SIGTERM") if hasattr(signal, n)]
    previous = {getattr(signal, n): signal.getsignal(getattr(signal, n)) for n in names}
    if None in previous.values():  # a handler not installed from Python: left alone
        yield
        return
    for number in previous:
        signal.signal(number, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if came is not None:
            came.extend(got)
        else:
            for number in dict.fromkeys(got):  # each kind once, in the order they came
                handler = previous[number]
                if callable(handler):
                    handler(number, None)
                elif handler == signal.SIG_DFL:  # (the default action: the signal again)
                    os.kill(os.getpid(), number)
