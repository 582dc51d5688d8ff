"""SIGTERM during a checkpointed run: handled like Ctrl-C, so the run saves and stops.

Batch schedulers and container runtimes stop a job with SIGTERM (and SIGKILL a little
later). While a Runner with a ``checkpoint`` folder runs in the main thread, SIGTERM
raises :class:`Terminated` (a KeyboardInterrupt) inside the loop: the run writes a
checkpoint of its last whole step and returns status ``interrupted``; the previous
handler is restored when the run ends.

Where acting at once would lose work (a checkpoint being saved, a stack's rows being
taken out, a run being set up or ending), Ctrl-C and SIGTERM wait (:func:`deferred`) and
act after. A Runner's run and a global search are :func:`watched`: SIGINT goes through
optiframe's handler for their length, so such a hold costs a counter.
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


#: how many holds (:func:`deferred`) are open in the main thread, and the signals that
#: came meanwhile to optiframe's own handlers (:func:`watched`'s and SIGTERM's)
_held = [0]
_came: list[int] = []
#: SIGINT's handler before :func:`watched` put optiframe's in (None: not watched)
_outer: list[Any] = [None]
#: the watches open in the main thread, innermost last (a run's end holds to its own)
_watches: list[watched] = []


def _raise_terminated(signum: int, frame: Any) -> None:
    if _held[0]:
        _came.append(signum)
        return
    raise Terminated(f"signal {signum} (SIGTERM)")


def _on_sigint(signum: int, frame: Any) -> None:
    """SIGINT while a run is watched: held, or handed to the handler that was in place."""
    if _held[0]:
        _came.append(signum)
        return
    _replay(_outer[0], signum, frame)


def _replay(handler: Any, signum: int, frame: Any = None) -> None:
    """Act on signal ``signum`` as ``handler`` would (a Python handler, or the default)."""
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:  # (the default action: the signal again, unhandled)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


_MAIN = threading.main_thread().ident


def _main_thread() -> bool:
    return threading.get_ident() == _MAIN


class watched:  # noqa: N801 (a context manager, named as the functions beside it)
    """Around a run: SIGINT goes through optiframe's handler, so that :func:`deferred`
    holds it at the cost of a counter (without, each hold swaps the handlers: four system
    calls, about 15 us). In the main thread, where SIGINT's handler is a Python one; a
    watch inside another leaves the handler to the outer one.

    The run's end is held (:func:`hold_to_the_end`, from the loop's end to the run-end
    observers, :func:`let_the_end_go`, and again from them to the watch's end): what came
    then is in :attr:`late` for the caller, once SIGINT's handler is back, to act on with
    the run's result (a Ctrl-C acted on anywhere in a run's ending lost the result).
    """

    __slots__ = ("base", "closed", "ending", "late", "mark", "previous")

    def __init__(self) -> None:
        self.previous: Any = None  # SIGINT's handler, where this watch put optiframe's in
        self.base, self.mark = -1, 0  # the holds open, and the signals held, at the start
        self.late: list[int] = []  # the signals its end held
        self.ending = False  # whether its end's hold is taken
        self.closed = False  # ended (off the list of watches, or about to be)

    def __enter__(self) -> watched:
        if not _main_thread() or not hasattr(signal, "SIGINT"):
            return self
        self.base, self.mark = _held[0], len(_came)
        _watches[:] = [w for w in _watches if not w.closed]  # (one whose exit was cut)
        _watches.append(self)
        try:  # (a Ctrl-C acted on within: this watch off the list, the handler put back)
            if _outer[0] is not None:  # inside another watch: its handler serves
                return self
            previous = signal.getsignal(signal.SIGINT)
            if previous is None:  # a handler not installed from Python: left alone
                return self
            _outer[0] = self.previous = previous
            signal.signal(signal.SIGINT, _on_sigint)
        except BaseException:
            _watches.remove(self)
            if self.previous is not None:
                self._put_back()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.base < 0:
            return
        self.closed = True  # (an attribute: no signal is acted on at it)
        if self.previous is not None:
            try:
                self._put_back()
            except KeyboardInterrupt:  # (one that came as the handler went back in)
                self.late.append(signal.SIGINT)
        if _held[0] > self.base:  # the end's hold (and any left open): closed, and what
            _held[0] = self.base  # it held is the caller's (no call from here on, so
            self.late += _came[self.mark:]  # nothing is acted on before it returns)
            del _came[self.mark:]
        self.ending = False
        if self in _watches:
            _watches.remove(self)

    def _put_back(self) -> None:
        try:
            signal.signal(signal.SIGINT, self.previous)
        finally:
            _outer[0] = self.previous = None


def hold_to_the_end() -> None:
    """At a watched run's end: from here Ctrl-C and SIGTERM wait until the watch ends, or
    :func:`let_the_end_go` (into :attr:`watched.late` of the innermost watch). Call it
    inside a :func:`deferred` block, or where a KeyboardInterrupt raised at the call is
    caught (a Ctrl-C acted on as the call begins, before the hold is taken); taken once
    (a second call does nothing); unwatched, it does nothing."""
    watch = _innermost()
    if watch is not None and _outer[0] is not None and not watch.ending:
        _held[0] += 1
        watch.ending = True


def _innermost() -> watched | None:
    """The innermost watch open in the main thread (None: none, or another thread)."""
    if not _main_thread():
        return None
    for watch in reversed(_watches):
        if not watch.closed:
            return watch
    return None


def let_the_end_go() -> None:
    """The hold of :func:`hold_to_the_end` let go, before code that Ctrl-C may stop (the
    run-end observers): what it held goes to the innermost watch's :attr:`~watched.late`.
    Call it outside every :func:`deferred` block of the watch (the signals held since the
    watch began and not taken by one are the end's), where a KeyboardInterrupt raised
    after it is caught."""
    watch = _innermost()
    if watch is not None and watch.ending:
        watch.ending = False
        _held[0] -= 1
        watch.late += _came[watch.mark:]
        del _came[watch.mark:]


@contextlib.contextmanager
def sigterm_interrupts(active: bool) -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (if ``active``, in the main
    thread, and where the platform has SIGTERM)."""
    if not (active and hasattr(signal, "SIGTERM") and _main_thread()):
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:  # (inside: a Ctrl-C as the call returns still puts the previous one back)
        signal.signal(signal.SIGTERM, _raise_terminated)
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class deferred:  # noqa: N801 (a context manager, named as the functions it stands beside)
    """Within the block, SIGINT and SIGTERM wait: one that arrives is handled as the block
    ends, by the handler that was in place (Ctrl-C's KeyboardInterrupt, a run's
    :class:`Terminated`); or, given a list ``came``, is added to it for the caller to
    handle. In the main thread only (elsewhere the block runs as is). A class, not a
    generator: a run opens several, and in a watched run each costs a counter."""

    __slots__ = ("came", "mark", "swap")

    def __init__(self, came: list[int] | None = None) -> None:
        self.came, self.mark = came, -1
        self.swap: Any = None

    def __enter__(self) -> None:
        if not _main_thread():
            return
        if _outer[0] is None:  # not a watched run: the handlers are swapped for the block
            swap = _swapped(self.came)
            swap.__enter__()
            self.swap = swap
            return
        _held[0] += 1
        self.mark = len(_came)

    def __exit__(self, *exc: object) -> None:
        if self.swap is not None:  # (each end once: a hold a run took by hand may be
            swap, self.swap = self.swap, None  # ended by a finally that runs anyway)
            swap.__exit__(*exc)
            return
        if self.mark < 0:
            return
        mark, self.mark = self.mark, -1
        _held[0] -= 1  # (no handler runs before the next call: nothing comes in between)
        got = _came[mark:]
        del _came[mark:]
        if self.came is not None:
            self.came.extend(got)
            return
        for number in dict.fromkeys(got):  # each kind once, in the order they came
            (_on_sigint if number == signal.SIGINT else _raise_terminated)(number, None)


@contextlib.contextmanager
def _swapped(came: list[int] | None) -> Iterator[None]:
    """:func:`deferred` outside a watched run: a recorder in SIGINT's and SIGTERM's place."""
    got: list[int] = []
    names = [n for n in ("SIGINT", "SIGTERM") if hasattr(signal, n)]
    previous = {getattr(signal, n): signal.getsignal(getattr(signal, n)) for n in names}
    if None in previous.values():  # a handler not installed from Python: left alone
        yield
        return
    try:  # (a signal acted on after a call to signal.signal raises at its return: the
        for number in previous:  # recorders go in and come out inside try/finally, so
            signal.signal(number, lambda signum, frame: got.append(signum))  # none is
        yield  # left in place to swallow every later Ctrl-C)
    finally:
        _restore(previous)
        if came is not None:
            came.extend(got)
        else:
            for number in dict.fromkeys(got):
                _replay(previous[number], number)


def _restore(previous: dict[int, Any]) -> None:
    """SIGTERM's handler, then SIGINT's, back in place: the second even where a Ctrl-C
    raises as the first is restored."""
    numbers = sorted(previous, reverse=True)  # (SIGTERM 15 before SIGINT 2)
    try:
        signal.signal(numbers[0], previous[numbers[0]])
    finally:
        if len(numbers) > 1:
            signal.signal(numbers[1], previous[numbers[1]])
