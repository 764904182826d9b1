"""ManualClock."""

from __future__ import annotations

import pytest

import softadastra_sync as sa


def test_set_advance_now() -> None:
    with sa.ManualClock(1_000) as clock:
        assert clock.now() == 1_000
        clock.advance(250)
        assert clock.now() == 1_250
        clock.set(10)  # may go backwards
        assert clock.now() == 10
        clock.set(2**64 - 1)
        assert clock.now() == 2**64 - 1
        assert "ManualClock" in repr(clock)


def test_default_reading_is_zero() -> None:
    with sa.ManualClock() as clock:
        assert clock.now() == 0


def test_out_of_range_and_wrong_types() -> None:
    with pytest.raises(sa.InvalidArgumentError, match="out of range"):
        sa.ManualClock(-1)
    with pytest.raises(sa.InvalidArgumentError, match="out of range"):
        sa.ManualClock(2**64)
    with sa.ManualClock(0) as clock:
        with pytest.raises(sa.InvalidArgumentError):
            clock.advance(-5)
        with pytest.raises(sa.InvalidArgumentError):
            clock.set(2**64)
        with pytest.raises(TypeError):
            clock.set(1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            clock.advance(True)
    with pytest.raises(TypeError):
        sa.ManualClock("0")  # type: ignore[arg-type]


def test_engine_keeps_a_closed_clock_alive(engine: sa.SyncEngine) -> None:
    clock = sa.ManualClock(42_000)
    engine.set_clock(clock)
    clock.close()
    op = engine.submit_put("k", b"v")
    assert sa.stamp_wall_ms(op.stamp) == 42_000
    with pytest.raises(sa.InvalidArgumentError, match="clock is closed"):
        engine.set_clock(clock)
