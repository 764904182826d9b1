"""Store: opening, reading, the replay report, the clock, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import softadastra_sync as sa
from conftest import NOW_MS


def test_memory_store_starts_empty(store: sa.Store) -> None:
    assert store.len == 0
    assert len(store) == 0
    assert store.get("missing") is None
    assert store.entry("missing") is None
    assert store.path is None
    assert store.replay_report() == sa.ReplayReport(records=0, dropped_bytes=0)
    assert bool(store)  # truthy even when empty
    assert "memory" in repr(store)


def test_get_and_entry_after_submit(engine: sa.SyncEngine) -> None:
    store = engine.store
    op = engine.submit_put("user:1", b"Gaspard")
    assert store.get("user:1") == b"Gaspard"
    entry = store.entry("user:1")
    assert entry == sa.Entry(
        key="user:1", value=b"Gaspard", version=entry.version, stamp=op.stamp, origin="node-a"
    )
    assert entry.version >= 1
    assert sa.stamp_wall_ms(entry.stamp) == NOW_MS
    assert store.len == 1


def test_values_are_bytes_with_any_content(engine: sa.SyncEngine) -> None:
    binary = bytes(range(256)) + b"\x00\x00"
    engine.submit_put("bin", binary)
    engine.submit_put("empty", b"")
    assert engine.store.get("bin") == binary
    assert engine.store.get("empty") == b""
    assert engine.store.len == 2


def test_deleted_key_reads_as_absent(engine: sa.SyncEngine) -> None:
    engine.submit_put("k", b"v")
    engine.submit_delete("k")
    assert engine.store.get("k") is None
    assert engine.store.entry("k") is None
    assert engine.store.len == 0


def test_non_ascii_keys(engine: sa.SyncEngine) -> None:
    engine.submit_put("clé:été:日本", b"x")
    assert engine.store.get("clé:été:日本") == b"x"


def test_invalid_keys(store: sa.Store) -> None:
    with pytest.raises(sa.InvalidOperationError) as info:
        store.get("")
    assert info.value.message == "invalid key: key is empty"
    assert info.value.status == sa.Status.INVALID_OPERATION
    with pytest.raises(sa.InvalidOperationError, match="NUL"):
        store.get("a\x00b")
    with pytest.raises(sa.InvalidOperationError, match="UTF-8"):
        store.get("\ud800")
    with pytest.raises(TypeError):
        store.get(b"bytes-key")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.get(None)  # type: ignore[arg-type]


def test_open_creates_and_replays_a_wal(tmp_path: Path) -> None:
    wal = tmp_path / "node.wal"
    with sa.Store.open(wal) as store, sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as e:
        e.submit_put("a", b"1")
        e.submit_put("b", b"2")
        assert store.path == str(wal)
    assert wal.exists()
    with sa.Store.open(str(wal)) as store:
        assert store.get("a") == b"1"
        assert store.get("b") == b"2"
        report = store.replay_report()
        assert report.records >= 2
        assert report.dropped_bytes == 0


def test_open_accepts_bytes_and_pathlike(tmp_path: Path) -> None:
    with sa.Store.open(bytes(tmp_path / "b.wal")) as store:
        assert store.path == str(tmp_path / "b.wal")
    with sa.Store.open(tmp_path / "p.wal", sa.Durability.FAST) as store:
        assert store.len == 0


def test_torn_tail_is_cut_and_reported(tmp_path: Path) -> None:
    wal = tmp_path / "torn.wal"
    with sa.Store.open(wal) as store, sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as e:
        e.submit_put("a", b"1")
    with open(wal, "ab") as f:
        f.write(b"\x07\x00")  # half a record header: a torn write
    with sa.Store.open(wal) as store:
        assert store.get("a") == b"1"
        assert store.replay_report().dropped_bytes == 2


def test_corruption_is_an_error_and_nothing_is_truncated(tmp_path: Path) -> None:
    wal = tmp_path / "corrupt.wal"
    with sa.Store.open(wal) as store, sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as e:
        for i in range(3):
            e.submit_put(f"k{i}", b"v" * 16)
    data = bytearray(wal.read_bytes())
    data[12] ^= 0xFF  # inside the first record's payload: its CRC fails, more records follow
    wal.write_bytes(bytes(data))
    with pytest.raises(sa.CorruptError) as info:
        sa.Store.open(wal)
    assert str(wal) in info.value.message or "corrupt" in info.value.message.lower()
    assert wal.read_bytes() == bytes(data)


def test_a_second_handle_on_one_wal_is_refused(tmp_path: Path) -> None:
    wal = tmp_path / "one.wal"
    with sa.Store.open(wal):
        with pytest.raises(sa.InUseError) as info:
            sa.Store.open(wal)
        assert str(wal) in info.value.message and "in use" in info.value.message
    with sa.Store.open(wal) as store:  # released on close
        assert store.len == 0


def test_damaged_length_in_the_middle_is_corruption(tmp_path: Path) -> None:
    wal = tmp_path / "len.wal"
    with sa.Store.open(wal) as store, sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as e:
        for i in range(3):
            e.submit_put(f"k{i}", b"v")
    data = bytearray(wal.read_bytes())
    data[24 + 3] ^= 0xFF  # the high byte of the first record's length (after the segment header)
    wal.write_bytes(bytes(data))
    with pytest.raises(sa.CorruptError, match="valid record follows"):
        sa.Store.open(wal)
    assert wal.read_bytes() == bytes(data)


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(sa.SyncIOError) as info:
        sa.Store.open(tmp_path / "no" / "such" / "dir.wal")
    assert "No such file" in info.value.message
    with pytest.raises(sa.InvalidArgumentError, match="durability 7"):
        sa.Store.open(tmp_path / "x.wal", 7)  # type: ignore[arg-type]
    with pytest.raises(sa.InvalidArgumentError, match="NUL"):
        sa.Store.open(str(tmp_path / "a\x00b.wal"))
    with pytest.raises(sa.InvalidArgumentError, match="NUL"):
        sa.Store.open(b"a\x00b.wal")
    with pytest.raises(sa.InvalidArgumentError):
        sa.Store.open(str(tmp_path / "\udcff.wal"))  # not UTF-8
    with pytest.raises(TypeError):
        sa.Store.open(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sa.Store.open(tmp_path / "x.wal", "fast")  # type: ignore[arg-type]


def test_store_clock_sets_stamps(store: sa.Store) -> None:
    with sa.ManualClock(5_000) as clock:
        store.set_clock(clock)
        with sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as engine:
            op = engine.submit_put("k", b"v")
            assert sa.stamp_wall_ms(op.stamp) == 5_000
            clock.advance(10)
            assert sa.stamp_wall_ms(engine.submit_put("k", b"w").stamp) == 5_010
    with pytest.raises(TypeError):
        store.set_clock(object())  # type: ignore[arg-type]
