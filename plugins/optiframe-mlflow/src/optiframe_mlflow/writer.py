"""One background thread per callback that sends its calls to MLflow in order, so the
optimization never waits on the tracking server while it runs."""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

#: Writers with work still queued when the interpreter exits: drained first (bounded).
_LIVE: weakref.WeakSet[Writer] = weakref.WeakSet()
EXIT_TIMEOUT = 30.0


class Writer:
    """Runs submitted calls one after another on a daemon thread. The first call that
    raises is kept in :attr:`error`, and the calls after it are dropped (a tracking
    server that is down is not asked again and again)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], Any] | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="optiframe-mlflow",
                                        daemon=True)
        self._thread.start()
        _LIVE.add(self)

    def submit(self, call: Callable[[], Any]) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put(call)

    def close(self) -> None:
        """End the thread once the calls submitted so far have run."""
        self._queue.put(None)

    def drain(self, timeout: float | None) -> bool:
        """Wait until every submitted call ran (or was dropped); False on timeout."""
        return self._idle.wait(timeout)

    def _work(self) -> None:
        while True:
            call = self._queue.get()
            if call is None:
                return
            try:
                if self.error is None:
                    call()
            except BaseException as exc:
                self.error = exc
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()


@atexit.register
def _drain_at_exit() -> None:
    for writer in list(_LIVE):
        writer.drain(EXIT_TIMEOUT)
