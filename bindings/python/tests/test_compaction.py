"""Compaction from Python: store settings, Store.compact / SyncEngine.compact, statistics."""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

import pytest

import softadastra_sync as sa
from softadastra_sync import _native as N


def test_defaults_are_the_librarys() -> None:
    c = N.sa_store_config()
    assert N.load().sa_store_config_default(ctypes.byref(c)) == 0
    defaults = sa.store_defaults()
    assert defaults.compact_threshold_bytes == c.compact_threshold_bytes > 0
    assert defaults.tombstone_retention_ms == c.tombstone_retention_ms > 0


def fill(engine: sa.SyncEngine) -> None:
    for i in range(40):
        engine.submit_put("hot", f"v{i}".encode())
    engine.submit_put("gone", b"soon")
    engine.submit_delete("gone")
    assert len(engine.next_batch()) == 42  # fast preset: handed out counts as acknowledged


def test_compaction_folds_the_log_keeps_a_recent_tombstone_and_collects_an_old_one(
    tmp_path: Path, clock: sa.ManualClock
) -> None:
    wal = tmp_path / "node.wal"
    with sa.Store.open(
        wal, sa.Durability.FAST, compact_threshold_bytes=0, tombstone_retention_ms=1000
    ) as store:
        store.set_clock(clock)
        with sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as engine:
            fill(engine)
            first = engine.compact()
            assert first.records_folded >= 42
            assert first.checkpoint_bytes == (tmp_path / "node.wal.ckpt").stat().st_size > 0
            assert first.bytes_after < first.bytes_before
            assert first.tombstones_collected == 0  # within its retention
            assert first.duration_us >= first.rotation_pause_us >= 0
            clock.advance(5000)
            assert engine.compact().tombstones_collected == 1
            assert store.compact().records_folded == 0
            stats = store.compaction_stats()
            assert (stats.runs, stats.failures, stats.last_error) == (3, 0, None)
    with sa.Store.open(wal, read_only=True) as store:
        assert store.get("hot") == b"v39"
        assert store.get("gone") is None
        assert len(store) == 1


def test_a_read_only_store_refuses_and_the_failure_shows_in_the_stats(tmp_path: Path) -> None:
    wal = tmp_path / "node.wal"
    with sa.Store.open(wal, sa.Durability.FAST) as store:
        store.put("k", b"v")
    size = wal.stat().st_size
    with sa.Store.open(wal, read_only=True) as store:
        with pytest.raises(sa.SyncIOError, match="read-only") as raised:
            store.compact()
        assert str(wal) in str(raised.value)
        stats = store.compaction_stats()
        assert (stats.runs, stats.failures) == (1, 1)
        assert stats.last_error is not None and "read-only" in stats.last_error
        with pytest.raises(sa.SyncIOError, match="read-only"):
            store.put("x", b"y")
    assert wal.stat().st_size == size
    assert not (tmp_path / "node.wal.ckpt").exists()


def test_an_automatic_compaction_shows_in_the_stats(tmp_path: Path) -> None:
    wal = tmp_path / "auto.wal"
    with sa.Store.open(wal, sa.Durability.FAST, compact_threshold_bytes=512) as store:
        with sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as engine:
            for _ in range(200):
                engine.submit_put("key", b"a value of some length")
            # Bounded wait for the background thread (not a speed check).
            deadline = time.monotonic() + 20
            while store.compaction_stats().runs == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            stats = store.compaction_stats()
            assert stats.runs >= 1 and stats.failures == 0 and stats.last_error is None


@pytest.mark.parametrize(
    "fields, error, needle",
    [
        ({"compact_threshold_bytes": -1}, sa.InvalidArgumentError, "compact_threshold_bytes"),
        ({"tombstone_retention_ms": 2**64}, sa.InvalidArgumentError, "tombstone_retention_ms"),
        ({"durability": 7}, sa.InvalidArgumentError, "durability 7"),
    ],
)
def test_bad_settings_are_refused_and_create_nothing(
    tmp_path: Path, fields: dict, error: type, needle: str
) -> None:
    wal = tmp_path / "bad.wal"
    with pytest.raises(error, match=needle):
        sa.Store.open(wal, **fields)
    assert list(tmp_path.iterdir()) == []


def test_wrong_types_are_type_errors(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        sa.Store.open(tmp_path / "x.wal", compact_threshold_bytes="big")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sa.Store.open(tmp_path / "x.wal", read_only=1)  # type: ignore[arg-type]


def test_a_memory_store_has_nothing_to_compact_and_closed_handles_refuse() -> None:
    store = sa.Store.memory()
    engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
    assert store.compact().records_folded == 0
    assert engine.compact().checkpoint_bytes == 0
    engine.close()
    store.close()
    with pytest.raises(sa.SyncError):
        store.compact()
    with pytest.raises(sa.SyncError):
        engine.compact()
    with pytest.raises(sa.SyncError):
        store.compaction_stats()
