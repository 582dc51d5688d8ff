"""What a stacked evaluation asked before it raised, given back when its rows are
evaluated again (optiframe.replay)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from optiframe.replay import Recording, point_by_point


def _asking(limit: float = 1.5):
    asked: list[float] = []

    def f(p):
        asked.append(float(p[0]))
        if p[0] > limit:
            raise ValueError(f"beyond {limit}")
        return float(p[0]) * 10.0

    return asked, f


def test_outside_a_recording_every_point_is_asked():
    asked, f = _asking()
    P = np.array([[1.0], [0.5]])
    assert point_by_point(f, P, "f").tolist() == [10.0, 5.0]  # floats
    assert point_by_point(f, P).tolist() == [10.0, 5.0]  # answers stacked
    assert asked == [1.0, 0.5, 1.0, 0.5]


def test_a_replay_answers_what_was_asked_and_raises_the_recorded_error_again():
    asked, f = _asking()
    P = np.array([[1.0], [2.0], [0.5]])
    with Recording() as record:
        with pytest.raises(ValueError) as first:
            point_by_point(f, P, "f")
        record.replay()
        assert point_by_point(f, P[:1]).tolist() == [10.0]  # from the record
        with pytest.raises(ValueError) as again:
            point_by_point(f, P[1:2])
        assert point_by_point(f, P[2:]).tolist() == [5.0]  # never reached: asked now
    assert again.value is first.value
    assert asked == [1.0, 2.0, 0.5]


def test_each_recorded_answer_is_given_once_and_repeated_points_in_order():
    calls = []

    def f(p):
        calls.append(float(p[0]))
        if len(calls) == 3:
            raise RuntimeError("third call")
        return float(len(calls))

    P = np.array([[1.0], [1.0], [2.0]])  # the same point twice: answers 1, then 2
    with Recording() as record:
        with pytest.raises(RuntimeError):
            point_by_point(f, P)
        record.replay()
        assert point_by_point(f, P[:2]).tolist() == [1.0, 2.0]
        assert point_by_point(f, P[:1]).tolist() == [4.0]  # the record is spent: asked
    assert calls == [1.0, 1.0, 2.0, 1.0]


def test_every_call_of_a_pass_is_kept_not_only_the_failing_one():
    # (Richardson differences: a coarse pass for every row, then a fine one that raises)
    asked, f = _asking()
    with Recording() as record:
        point_by_point(f, np.array([[0.1], [0.2]]))
        with pytest.raises(ValueError):
            point_by_point(f, np.array([[0.3], [1.6]]))
        record.replay()
        assert point_by_point(f, np.array([[0.2], [0.1], [0.3]])).tolist() == [2.0, 1.0, 3.0]
    assert asked == [0.1, 0.2, 0.3, 1.6]


def test_answers_without_a_conversion_are_stacked():
    P = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert point_by_point(lambda p: 2 * p, P).tolist() == [[2.0, 4.0], [6.0, 8.0]]
    with Recording():
        assert point_by_point(lambda p: 2 * p, P).tolist() == [[2.0, 4.0], [6.0, 8.0]]


def test_a_recording_ends_with_its_block():
    asked, f = _asking()
    with Recording() as record:
        with pytest.raises(ValueError):
            point_by_point(f, np.array([[0.1], [2.0]]))
        record.replay()
    assert point_by_point(f, np.array([[0.1]])).tolist() == [1.0]
    assert asked == [0.1, 2.0, 0.1]


def test_a_call_that_raises_notes_the_points_it_did_not_ask():
    from optiframe.replay import unasked

    P = np.array([[0.5], [2.0], [0.1], [0.2]])
    for recording in (False, True):
        asked, f = _asking()
        with Recording() if recording else contextlib.nullcontext(), pytest.raises(
                ValueError) as caught:
            point_by_point(f, P, "f")
        assert asked == [0.5, 2.0]
        assert unasked(caught.value) == 2
        assert unasked(caught.value) == 0  # taken off the exception once


def test_a_replayed_error_notes_what_its_row_did_not_ask():
    from optiframe.replay import unasked

    asked, f = _asking()
    P = np.array([[0.5], [2.0], [0.1], [0.2]])
    with Recording() as record:
        with pytest.raises(ValueError):
            point_by_point(f, P, "f")
        record.replay()
        with pytest.raises(ValueError) as again:
            point_by_point(f, P[:3], "f")  # the row: 0.5, 2.0 (raises), 0.1
    assert unasked(again.value) == 1 and asked == [0.5, 2.0]


def test_a_stochastic_draw_is_given_back_once_when_replaying():
    rng = np.random.default_rng(0)
    with Recording() as record:
        first = record.drawn(rng, lambda g: g.random(3))
        record.replay()
        assert record.drawn(rng, lambda g: g.random(3)).tolist() == first.tolist()
        assert record.drawn(rng, lambda g: g.random(3)).tolist() != first.tolist()

