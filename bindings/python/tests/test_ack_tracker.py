"""AckTracker: tracking, ACKs, timeouts, pruning, errors."""

from __future__ import annotations

import pytest

import softadastra_sync as sa


def test_doc_flow(clock: sa.ManualClock) -> None:
    with sa.AckTracker(clock) as tracker:
        tracker.track("node-a-1", 10_000)
        assert tracker.size() == 1
        assert len(tracker) == 1
        assert tracker.is_waiting("node-a-1")
        assert tracker.ack("node-a-1") is True
        assert tracker.acknowledged("node-a-1")
        assert not tracker.is_waiting("node-a-1")
        assert tracker.prune_received() == 1
        assert tracker.empty()
        assert not tracker.acknowledged("node-a-1")


def test_unknown_ids(clock: sa.ManualClock) -> None:
    with sa.AckTracker(clock) as tracker:
        assert tracker.ack("nope") is False
        assert tracker.erase("nope") is False
        assert tracker.is_waiting("nope") is False
        assert tracker.acknowledged("nope") is False
        assert tracker.ack("") is False


def test_timeouts_on_the_manual_clock(clock: sa.ManualClock) -> None:
    with sa.AckTracker(clock) as tracker:
        tracker.track("a", 100)
        tracker.track("b", 200)
        clock.advance(99)
        assert tracker.collect_expired() == 0
        clock.advance(1)
        assert tracker.collect_expired() == 1  # "a": deadline reached (inclusive)
        assert not tracker.is_waiting("a")
        assert tracker.is_waiting("b")
        assert tracker.size() == 2  # timed out ids stay tracked
        assert tracker.collect_expired() == 0
        # A late ACK of a timed-out id is still known.
        assert tracker.ack("a") is True


def test_track_again_replaces_erase_and_clear(clock: sa.ManualClock) -> None:
    with sa.AckTracker(clock) as tracker:
        tracker.track("a", 10)
        tracker.track("a", 1_000)  # replaces: new deadline
        clock.advance(500)
        assert tracker.collect_expired() == 0
        assert tracker.size() == 1
        tracker.track("b", 1)
        assert tracker.erase("b") is True
        assert tracker.size() == 1
        tracker.track("c", 1)
        tracker.clear()
        assert tracker.empty()


def test_system_clock_tracker() -> None:
    with sa.AckTracker() as tracker:
        tracker.track("x", 60_000)
        assert tracker.is_waiting("x")
        assert tracker.collect_expired() == 0
        tracker.track("y", 0)
        assert tracker.collect_expired() == 1
        assert "size=2" in repr(tracker)


def test_errors(clock: sa.ManualClock) -> None:
    with sa.AckTracker(clock) as tracker:
        with pytest.raises(sa.AckTrackingError) as info:
            tracker.track("", 10)
        assert info.value.message == "ACK tracking failed: empty sync id"
        assert info.value.status == sa.Status.ACK_TRACKING
        with pytest.raises(sa.AckTrackingError, match="NUL"):
            tracker.track("a\x00b", 10)
        with pytest.raises(sa.AckTrackingError, match="NUL"):
            tracker.ack("a\x00b")
        with pytest.raises(sa.AckTrackingError, match="UTF-8"):
            tracker.is_waiting("\udcff")
        with pytest.raises(sa.InvalidArgumentError, match="out of range"):
            tracker.track("a", -1)
        with pytest.raises(TypeError):
            tracker.track("a", "10")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            tracker.erase(None)  # type: ignore[arg-type]
        assert tracker.empty()
    with pytest.raises(TypeError):
        sa.AckTracker("clock")  # type: ignore[arg-type]


def test_tracker_keeps_a_closed_clock_alive() -> None:
    clock = sa.ManualClock(0)
    tracker = sa.AckTracker(clock)
    tracker.track("a", 10)
    clock.advance(10)
    clock.close()
    assert tracker.collect_expired() == 1
    tracker.close()
    with pytest.raises(sa.InvalidArgumentError, match="clock is closed"):
        sa.AckTracker(clock)
