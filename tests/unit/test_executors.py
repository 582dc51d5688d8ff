"""optiframe.executors: a process pool that Ctrl-C stops leaves no worker running, and
its workers take SIGINT and SIGTERM as a plain process does (the parent handles Ctrl-C)."""

from __future__ import annotations

import os
import signal

import pytest

from optiframe import executors, signals
from optiframe.executors import ProcessExecutor


def _handlers(job):
    """A job that answers with its worker's SIGINT and SIGTERM handlers."""
    return (signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
            signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)


def test_ctrl_c_as_a_worker_process_starts_leaves_no_worker_running(monkeypatch):
    # a Ctrl-C acted on as a worker's process had started (in its __init__, or in the
    # fork's own hooks: "Exception ignored in _releaseLock", the Ctrl-C lost) left that
    # worker out of the pool's list, so nothing stopped it (bench_ctrl_c.py, two
    # processes: workers alive until the interpreter's exit)
    real, started = executors._Worker.__init__, []

    def start_then_ctrl_c(self, *args):
        real(self, *args)
        self.pid = self.process.pid
        started.append(self)
        if len(started) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(executors._Worker, "__init__", start_then_ctrl_c)
    try:
        with pytest.raises(KeyboardInterrupt):
            ProcessExecutor(2).run_jobs(_handlers, [0, 1, 2], 0, None, lambda i, v: None)
        assert started
        for w in started:  # stopped and reaped: no such process
            with pytest.raises(ProcessLookupError):
                os.kill(w.pid, 0)
    finally:
        for w in started:
            if not w.conn.closed:
                w.stop()


def test_workers_take_ctrl_c_and_sigterm_as_a_plain_process(tmp_path):
    # a worker forked while a checkpointed run turned SIGTERM into Terminated kept that
    # handler: SIGTERM (multiprocessing stops daemon workers with it at exit) printed a
    # Terminated traceback from the worker instead of ending it quietly
    answers = {}
    with signals.sigterm_interrupts(True):
        ProcessExecutor(1).run_jobs(_handlers, [0], 0, None, answers.__setitem__)
    assert answers == {0: (True, True)}
