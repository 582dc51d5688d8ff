"""optiframe.signals: a Ctrl-C that lands as a handler is put in or back leaves every
handler where it was and no watch behind (bench_ctrl_c.py, seed 12: a stale watch made
every later run's holds hold nothing)."""

from __future__ import annotations

import contextlib
import signal as real_signal

import pytest

from optiframe import signals


class _CtrlCAfter:
    """signal as the module has it, whose ``signal()`` raises KeyboardInterrupt after the
    call that ``when`` picks (a Ctrl-C acted on as the call returns)."""

    def __init__(self, when):
        self.when, self.calls = when, []

    def __getattr__(self, name):
        return getattr(real_signal, name)

    def signal(self, number, handler):
        out = real_signal.signal(number, handler)
        self.calls.append((number, handler))
        if self.when(number, handler, len(self.calls)):
            raise KeyboardInterrupt
        return out


@pytest.fixture
def handlers():
    saved = {n: real_signal.getsignal(n) for n in (real_signal.SIGINT, real_signal.SIGTERM)}
    yield saved
    for number, handler in saved.items():
        real_signal.signal(number, handler)
    signals._outer[0] = None
    signals._watches.clear()


@pytest.mark.parametrize("at", ["put in", "put back"])
def test_ctrl_c_as_a_watch_puts_its_handler_in_or_back_leaves_no_watch(at, handlers,
                                                                       monkeypatch):
    before = handlers[real_signal.SIGINT]
    fake = _CtrlCAfter(lambda n, h, k: (h is signals._on_sigint) if at == "put in"
                       else (h is before))
    monkeypatch.setattr(signals, "signal", fake)
    watch = signals.watched()
    if at == "put in":  # the run has not begun: the Ctrl-C stops it there
        with pytest.raises(KeyboardInterrupt), watch:
            pass
    else:  # the run is over: the Ctrl-C is the caller's, with the run's result
        with watch:
            pass
        assert watch.late == [real_signal.SIGINT]
    assert signals._outer[0] is None
    assert real_signal.getsignal(real_signal.SIGINT) is before


@pytest.mark.parametrize("call", [1, 3], ids=["first recorder in", "first handler back"])
def test_ctrl_c_as_a_hold_swaps_the_handlers_puts_both_back(call, handlers, monkeypatch):
    # outside a watched run a hold swaps SIGINT's and SIGTERM's handlers for recorders:
    # one left in place would swallow every later Ctrl-C
    fake = _CtrlCAfter(lambda n, h, k: k == call)
    monkeypatch.setattr(signals, "signal", fake)
    with pytest.raises(KeyboardInterrupt), signals.deferred():
        pass
    for number, handler in handlers.items():
        assert real_signal.getsignal(number) is handler


def test_a_ctrl_c_held_then_replayed_once():
    with signals.watched():
        with pytest.raises(KeyboardInterrupt), signals.deferred():
            real_signal.raise_signal(real_signal.SIGINT)
            real_signal.raise_signal(real_signal.SIGINT)
            held = True  # (reached: the Ctrl-Cs waited)
        assert held and signals._came == [] and signals._held == [0]


def test_ctrl_c_as_sigterms_handler_is_put_in_puts_the_previous_back(handlers, monkeypatch):
    fake = _CtrlCAfter(lambda n, h, k: h is signals._raise_terminated)
    monkeypatch.setattr(signals, "signal", fake)
    with pytest.raises(KeyboardInterrupt), signals.sigterm_interrupts(True):
        pass
    assert real_signal.getsignal(real_signal.SIGTERM) is handlers[real_signal.SIGTERM]


def test_the_end_of_a_watched_run_holds_ctrl_c_until_the_handler_is_back(handlers):
    before = handlers[real_signal.SIGINT]
    watch = signals.watched()
    with watch:
        with signals.deferred([]):
            signals.hold_to_the_end()
        real_signal.raise_signal(real_signal.SIGINT)  # (held: the run's end)
        reached = True
    assert reached and watch.late == [real_signal.SIGINT]
    assert signals._held == [0] and signals._came == [] and signals._outer[0] is None
    assert real_signal.getsignal(real_signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):  # (after the watch: Ctrl-C as it was)
        real_signal.raise_signal(real_signal.SIGINT)


def test_a_watch_inside_another_leaves_the_handler_and_closes_its_own_end():
    with signals.watched() as outer:
        with signals.watched() as inner:
            assert inner.previous is None and signals._outer[0] is outer.previous
            with signals.deferred([]):
                signals.hold_to_the_end()
            real_signal.raise_signal(real_signal.SIGINT)
        assert inner.late == [real_signal.SIGINT] and signals._held == [0]
        assert real_signal.getsignal(real_signal.SIGINT) is signals._on_sigint


def test_the_ends_hold_let_go_for_the_run_end_observers_and_taken_again(handlers):
    # a run's end is held from the loop's end (Watch.ended) to its run-end observers, let
    # go for them (their code is the user's: Ctrl-C may stop it), and held again to the
    # watch's end; what each hold held is the watch's late
    watch = signals.watched()
    with watch:
        with signals.deferred([]):
            signals.hold_to_the_end()
            signals.hold_to_the_end()  # (taken once)
        real_signal.raise_signal(real_signal.SIGINT)  # (held: the run is ending)
        assert signals._held == [1] and watch.ending
        signals.let_the_end_go()
        assert watch.late == [real_signal.SIGINT] and signals._held == [0]
        assert signals._came == [] and not watch.ending
        with pytest.raises(KeyboardInterrupt):  # (an observer's Ctrl-C acts at once)
            real_signal.raise_signal(real_signal.SIGINT)
        signals.let_the_end_go()  # (nothing held: nothing to let go)
        assert signals._held == [0]
        signals.hold_to_the_end()
        real_signal.raise_signal(real_signal.SIGINT)
    assert watch.late == [real_signal.SIGINT] * 2 and signals._held == [0]
    assert signals._watches == [] and signals._came == []


def test_the_end_held_is_the_innermost_open_watchs(handlers):
    with signals.watched() as outer:
        with signals.watched() as inner:
            with signals.deferred([]):
                signals.hold_to_the_end()
            assert inner.ending and not outer.ending
            real_signal.raise_signal(real_signal.SIGINT)
            signals.let_the_end_go()
        assert inner.late == [real_signal.SIGINT] and outer.late == []
        assert signals._watches == [outer]
        stale = signals.watched()  # (a watch whose exit was cut after it closed)
        stale.__enter__()
        stale.closed = True
        with signals.deferred([]):
            signals.hold_to_the_end()
        assert outer.ending and not stale.ending
        with signals.watched():
            assert stale not in signals._watches
    assert signals._held == [0] and signals._watches == []


@pytest.mark.parametrize("watched", [True, False], ids=["watched", "swapped"])
def test_a_hold_ended_twice_ends_once(watched, handlers):
    # a run takes its set-up hold by hand (as f at x0 returns) and ends it in a finally
    # that runs whether or not it was taken: a second end must not end another hold
    with signals.watched() if watched else contextlib.nullcontext():
        with signals.deferred():
            hold = signals.deferred([])
            hold.__exit__(None, None, None)  # (never taken: nothing to end)
            hold.__enter__()
            hold.__exit__(None, None, None)
            hold.__exit__(None, None, None)
            assert signals._held == [1 if watched else 0]  # (the outer hold's)
        assert signals._held == [0]
    assert real_signal.getsignal(real_signal.SIGINT) is handlers[real_signal.SIGINT]
