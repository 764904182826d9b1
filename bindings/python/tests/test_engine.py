"""SyncEngine: local operations, queue, batches, ACKs, retries, pruning, ticks, state."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import pytest

import softadastra_sync as sa
from conftest import NOW_MS

MakeEngine = Callable[..., sa.SyncEngine]


def test_submit_put_returns_the_operation(engine: sa.SyncEngine) -> None:
    op = engine.submit_put("user:1", b"Gaspard")
    assert op == sa.SyncOperation(
        sync_id="node-a-1",
        origin="node-a",
        version=1,
        stamp=sa.make_stamp(NOW_MS),
        op_type=sa.OpType.PUT,
        key="user:1",
        value=b"Gaspard",
        replaces=None,
    )
    assert isinstance(op.op_type, sa.OpType)
    assert hash(op) == hash(dataclasses.replace(op))  # frozen, hashable
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.key = "other"  # type: ignore[misc]


def test_versions_and_stamps_increase(engine: sa.SyncEngine) -> None:
    ops = [engine.submit_put(f"k{i}", b"v") for i in range(5)]
    assert [op.version for op in ops] == [1, 2, 3, 4, 5]
    assert [op.sync_id for op in ops] == [f"node-a-{i}" for i in range(1, 6)]
    stamps = [op.stamp for op in ops]
    assert stamps == sorted(set(stamps))
    # Same millisecond on the manual clock: the logical counter moves.
    assert [sa.stamp_logical(s) for s in stamps] == [0, 1, 2, 3, 4]


def test_submit_delete(engine: sa.SyncEngine) -> None:
    engine.submit_put("k", b"v")
    op = engine.submit_delete("k")
    assert op.op_type == sa.OpType.DELETE
    assert op.value == b""
    assert op.sync_id == "node-a-2"
    assert engine.store.get("k") is None
    # Deleting an absent key is still an operation to propagate.
    assert engine.submit_delete("never-written").version == 3


def test_submit_accepts_bytes_like_values(engine: sa.SyncEngine) -> None:
    assert engine.submit_put("a", bytearray(b"xy")).value == b"xy"  # type: ignore[arg-type]
    assert engine.submit_put("b", memoryview(b"zz")).value == b"zz"  # type: ignore[arg-type]
    assert engine.store.get("a") == b"xy"


def test_submit_type_errors_come_before_c(engine: sa.SyncEngine) -> None:
    with pytest.raises(TypeError, match="value must be bytes"):
        engine.submit_put("k", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value must be bytes"):
        engine.submit_put("k", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be str"):
        engine.submit_put(b"k", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be str"):
        engine.submit_delete(1)  # type: ignore[arg-type]
    assert engine.state().outbox_size == 0


def test_invalid_keys_change_nothing(engine: sa.SyncEngine) -> None:
    with pytest.raises(sa.InvalidOperationError) as info:
        engine.submit_put("", b"v")
    assert info.value.message == "invalid key: key is empty"
    with pytest.raises(sa.InvalidOperationError, match="NUL"):
        engine.submit_put("a\x00b", b"v")
    with pytest.raises(sa.InvalidOperationError, match="NUL"):
        engine.submit_delete("\x00")
    with pytest.raises(sa.InvalidOperationError, match="UTF-8"):
        engine.submit_put("\ud800", b"v")
    with pytest.raises(sa.InvalidOperationError, match="exceeds the limit"):
        engine.submit_put("k" * 65_537, b"v")
    assert engine.state().outbox_size == 0
    assert engine.store.len == 0
    assert engine.submit_put("ok", b"v").version == 1  # no version was used up


def test_value_over_the_limit(engine: sa.SyncEngine) -> None:
    with pytest.raises(sa.InvalidOperationError, match="exceeds the limit"):
        engine.submit_put("big", b"\x00" * (64 * 1024 * 1024 + 1))
    assert engine.store.get("big") is None


def test_auto_queue_and_batch(engine: sa.SyncEngine) -> None:
    engine.submit_put("user:1", b"Gaspard")
    state = engine.state()
    assert (state.outbox_size, state.queued_count, state.pending_count) == (1, 1, 0)
    batch = engine.next_batch()
    assert len(batch) == 1
    envelope = batch[0]
    assert isinstance(envelope, sa.Envelope)
    assert envelope.status == sa.SyncStatus.IN_FLIGHT
    assert envelope.retry_count == 0
    assert envelope.sync_id == envelope.operation.sync_id == "node-a-1"
    assert envelope.operation.value == b"Gaspard"
    assert engine.state().in_flight_count == 1
    assert engine.next_batch() == []


def test_batch_without_ack_counts_as_acknowledged(make_engine: MakeEngine) -> None:
    engine = make_engine("node-a", preset="fast")
    engine.submit_put("k", b"v")
    [envelope] = engine.next_batch()
    assert envelope.status == sa.SyncStatus.ACKNOWLEDGED
    assert engine.state().acknowledged_count == 1


def test_batch_size_and_order(make_engine: MakeEngine) -> None:
    engine = make_engine(batch_size=2)
    for i in range(5):
        engine.submit_put(f"k{i}", b"v")
    sizes = []
    ids = []
    while True:
        batch = engine.next_batch()
        if not batch:
            break
        sizes.append(len(batch))
        ids += [e.sync_id for e in batch]
    assert sizes == [2, 2, 1]
    assert ids == [f"node-a-{i}" for i in range(1, 6)]


def test_manual_queue(make_engine: MakeEngine) -> None:
    engine = make_engine(preset="durable", auto_queue=False)
    op = engine.submit_put("manual:key", b"manual-value")
    assert engine.state().queued_count == 0
    assert engine.state().pending_count == 1
    assert engine.next_batch() == []
    engine.queue(op.sync_id)
    assert engine.state().queued_count == 1
    engine.queue(op.sync_id)  # a queued operation is left as is
    assert engine.state().queued_count == 1
    assert [e.sync_id for e in engine.next_batch()] == [op.sync_id]
    with pytest.raises(sa.QueueFailedError) as info:
        engine.queue(op.sync_id)  # in flight now
    assert op.sync_id in info.value.message


def test_unknown_sync_id(engine: sa.SyncEngine) -> None:
    for call in (engine.queue, engine.ack, engine.requeue_failed):
        with pytest.raises(sa.NotFoundError) as info:
            call("node-a-42")
        assert info.value.message == "sync operation not found: node-a-42"
        assert str(info.value) == "sync operation not found: node-a-42"
        assert info.value.status == sa.Status.NOT_FOUND
        assert info.value.code == 6
    with pytest.raises(sa.NotFoundError):
        engine.ack("")
    with pytest.raises(sa.NotFoundError, match="NUL"):
        engine.ack("node-a-1\x00")
    with pytest.raises(TypeError):
        engine.ack(1)  # type: ignore[arg-type]


def test_nul_in_a_sync_id_is_not_truncated(engine: sa.SyncEngine) -> None:
    engine.submit_put("k", b"v")
    # C would read "node-a-1" and acknowledge it; the bindings refuse instead.
    with pytest.raises(sa.NotFoundError):
        engine.ack("node-a-1\x00garbage")
    with pytest.raises(sa.NotFoundError):
        engine.queue("node-a-1\x00")
    assert engine.state().acknowledged_count == 0


def test_ack_outcomes(engine: sa.SyncEngine) -> None:
    engine.submit_put("k", b"v")
    engine.next_batch()
    assert engine.ack("node-a-1") is sa.AckOutcome.ACKNOWLEDGED
    assert engine.ack("node-a-1") is sa.AckOutcome.ALREADY_ACKNOWLEDGED
    state = engine.state()
    assert (state.in_flight_count, state.acknowledged_count) == (0, 1)
    assert state.unacknowledged_bytes == 0


def test_late_ack_of_a_queued_operation(engine: sa.SyncEngine) -> None:
    engine.submit_put("k", b"v")
    assert engine.ack("node-a-1") is sa.AckOutcome.ACKNOWLEDGED  # never sent: still proof
    assert engine.next_batch() == []


def test_prune_completed(engine: sa.SyncEngine) -> None:
    for i in range(3):
        engine.submit_put(f"k{i}", b"v")
    engine.next_batch()
    engine.ack("node-a-1")
    engine.ack("node-a-3")
    assert engine.prune_completed() == 2
    assert engine.prune_completed() == 0
    assert [e.sync_id for e in engine.outbox()] == ["node-a-2"]
    assert engine.store.len == 3  # pruning never touches the store


def retry_engine(make_engine: MakeEngine, max_retries: int = 2) -> sa.SyncEngine:
    return make_engine(
        preset="fast",
        require_ack=True,
        max_retries=max_retries,
        ack_timeout_ms=100,
        retry_interval_ms=10,
        retry_backoff_max_ms=40,
    )


def test_retry_expired_and_exhaustion(make_engine: MakeEngine, clock: sa.ManualClock) -> None:
    engine = retry_engine(make_engine, max_retries=2)
    engine.submit_put("retry:key", b"retry-value")
    assert len(engine.next_batch()) == 1

    assert engine.retry_expired() == 0  # deadline not reached
    clock.advance(99)
    assert engine.retry_expired() == 0
    clock.advance(1)  # the deadline is inclusive
    assert engine.retry_expired() == 1

    # Re-sent after the back-off (<= retry_interval * 2^(n-1), capped): never before.
    assert engine.outbox()[0].status == sa.SyncStatus.QUEUED
    clock.advance(40)
    [envelope] = engine.next_batch()
    assert envelope.retry_count == 1
    clock.advance(100)
    assert engine.retry_expired() == 1
    clock.advance(40)
    [envelope] = engine.next_batch()
    assert envelope.retry_count == 2

    # No retry left: failed, never dropped.
    clock.advance(100)
    assert engine.retry_expired() == 0
    state = engine.state()
    assert state.failed_count == 1
    assert state.total_retries == 2
    assert state.outbox_size == 1
    [entry] = engine.outbox()
    assert (entry.status, entry.retry_count) == (sa.SyncStatus.FAILED, 2)
    assert engine.store.get("retry:key") == b"retry-value"

    # A late ACK still counts.
    assert engine.ack(entry.sync_id) is sa.AckOutcome.ACKNOWLEDGED


def test_requeue_and_prune_failed(make_engine: MakeEngine, clock: sa.ManualClock) -> None:
    engine = retry_engine(make_engine, max_retries=0)
    engine.submit_put("a", b"1")
    engine.submit_put("b", b"2")
    engine.submit_put("c", b"3")
    engine.next_batch()
    clock.advance(100)
    assert engine.retry_expired() == 0
    assert engine.state().failed_count == 3

    engine.requeue_failed("node-a-1")
    [entry] = [e for e in engine.outbox() if e.sync_id == "node-a-1"]
    assert (entry.status, entry.retry_count) == (sa.SyncStatus.QUEUED, 0)
    with pytest.raises(sa.RetryFailedError) as info:
        engine.requeue_failed("node-a-1")
    assert "node-a-1" in info.value.message

    assert engine.requeue_all_failed() == 2
    assert engine.requeue_all_failed() == 0
    assert engine.state().queued_count == 3

    engine.next_batch()
    clock.advance(100)
    engine.retry_expired()
    assert engine.prune_failed() == 3
    assert engine.prune_failed() == 0
    assert engine.state().outbox_size == 0
    assert engine.store.len == 3  # local writes stay


def test_tick(make_engine: MakeEngine, clock: sa.ManualClock) -> None:
    engine = retry_engine(make_engine, max_retries=1)
    engine.submit_put("task:1", b"sync-me")
    tick = engine.tick()
    assert isinstance(tick, sa.TickResult)
    assert (tick.retried_count, tick.pruned_count, tick.batch_size, tick.has_work) == (
        0, 0, 1, True,
    )
    assert tick.batch[0].sync_id == "node-a-1"

    empty = engine.tick()
    assert (empty.batch, empty.has_work, empty.batch_size) == ([], False, 0)

    clock.advance(100)
    retried = engine.tick()  # retries the expired one; back-off keeps it out of this batch
    assert retried.retried_count == 1
    clock.advance(40)
    assert [e.retry_count for e in engine.tick().batch] == [1]

    engine.ack("node-a-1")
    pruned = engine.tick(prune=True)
    assert pruned.pruned_count == 1
    assert engine.state().outbox_size == 0
    with pytest.raises(TypeError):
        engine.tick(prune=1)  # type: ignore[arg-type]


def test_state_counts_everything(make_engine: MakeEngine, clock: sa.ManualClock) -> None:
    engine = make_engine(preset="durable", auto_queue=False)
    assert engine.state() == sa.SyncState(*([0] * len(dataclasses.fields(sa.SyncState))))
    engine.submit_put("a", b"12345")  # 1 + 5 bytes
    engine.submit_put("bb", b"123")  # 2 + 3 bytes
    engine.queue("node-a-2")
    clock.advance(250)
    state = engine.state()
    assert state.outbox_size == 2
    assert state.pending_count == 1
    assert state.queued_count == 1
    assert state.outbox_bytes == 11
    assert state.unacknowledged_bytes == 11
    assert state.oldest_unacknowledged_age_ms == 250
    assert state.last_submitted_version == 2
    engine.next_batch()
    assert engine.state().in_flight_count == 1
    engine.ack("node-a-2")
    state = engine.state()
    assert (state.acknowledged_count, state.unacknowledged_bytes) == (1, 6)


def test_outbox_lists_every_entry(make_engine: MakeEngine) -> None:
    engine = make_engine(preset="durable", auto_queue=False)
    engine.submit_put("a", b"1")
    engine.submit_put("b", b"2")
    engine.submit_delete("a")
    engine.queue("node-a-2")
    outbox = engine.outbox()
    assert [(e.sync_id, e.status) for e in outbox] == [
        ("node-a-1", sa.SyncStatus.PENDING),
        ("node-a-2", sa.SyncStatus.QUEUED),
        ("node-a-3", sa.SyncStatus.PENDING),
    ]
    assert outbox[2].operation.op_type == sa.OpType.DELETE
    # The delete replaced node-a's own write of "a": the outbox says so.
    assert outbox[2].operation.replaces == sa.ReplacedWrite(outbox[0].operation.stamp, "node-a")
    assert outbox[0].operation.replaces is None
    assert engine.outbox() == outbox  # inspection changes nothing


def test_capacity_in_operations(make_engine: MakeEngine) -> None:
    engine = make_engine(max_outbox_operations=2)
    engine.submit_put("a", b"1")
    engine.submit_put("b", b"2")
    with pytest.raises(sa.CapacityExceededError) as info:
        engine.submit_put("c", b"3")
    assert "max_outbox_operations = 2" in info.value.message
    assert info.value.status == sa.Status.CAPACITY_EXCEEDED
    assert engine.store.get("c") is None
    assert engine.state().outbox_size == 2
    engine.next_batch()  # fast preset: acknowledged
    assert engine.prune_completed() == 2
    engine.submit_put("c", b"3")


def test_capacity_in_bytes(make_engine: MakeEngine) -> None:
    engine = make_engine(max_outbox_bytes=10)
    engine.submit_put("k", b"123456789")  # exactly 10 bytes
    with pytest.raises(sa.CapacityExceededError, match="max_outbox_bytes = 10"):
        engine.submit_put("x", b"")
    assert engine.store.len == 1


def test_durable_reopen_recovers_the_outbox(tmp_path: Path) -> None:
    wal = tmp_path / "node-a.wal"
    config = sa.SyncConfig.durable("node-a")
    config.batch_size = 2
    with sa.Store.open(wal) as store, sa.SyncEngine(store, config) as engine:
        for i in range(4):
            engine.submit_put(f"k{i}", f"v{i}".encode())
        engine.next_batch()  # node-a-1, node-a-2 in flight
        engine.ack("node-a-1")
        before = engine.outbox()
    assert [e.status for e in before] == [
        sa.SyncStatus.ACKNOWLEDGED,
        sa.SyncStatus.IN_FLIGHT,
        sa.SyncStatus.QUEUED,
        sa.SyncStatus.QUEUED,
    ]

    with sa.Store.open(wal) as store, sa.SyncEngine(store, config) as engine:
        after = engine.outbox()
        assert [e.operation for e in after] == [e.operation for e in before]
        statuses = [e.status for e in after]
        assert statuses[0] == sa.SyncStatus.ACKNOWLEDGED  # not resent
        assert sa.SyncStatus.IN_FLIGHT not in statuses  # in flight is queued again
        state = engine.state()
        assert (state.outbox_size, state.acknowledged_count) == (4, 1)
        assert state.queued_count + state.pending_count == 3
        assert state.last_submitted_version == 4
        assert engine.submit_put("k9", b"v").sync_id == "node-a-5"  # ids never repeat
        assert [store.get(f"k{i}") for i in range(4)] == [b"v0", b"v1", b"v2", b"v3"]


def test_manual_queue_survives_reopen(tmp_path: Path) -> None:
    wal = tmp_path / "q.wal"
    config = sa.SyncConfig.durable("node-a")
    config.auto_queue = False
    with sa.Store.open(wal) as store, sa.SyncEngine(store, config) as engine:
        engine.submit_put("a", b"1")
        engine.submit_put("b", b"2")
        engine.queue("node-a-2")
    with sa.Store.open(wal) as store, sa.SyncEngine(store, config) as engine:
        assert [(e.sync_id, e.status) for e in engine.outbox()] == [
            ("node-a-1", sa.SyncStatus.PENDING),
            ("node-a-2", sa.SyncStatus.QUEUED),
        ]


def test_one_engine_per_store(store: sa.Store) -> None:
    first = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
    with pytest.raises(sa.InvalidContextError, match="already has a sync engine"):
        sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
    first.close()
    with sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as second:
        assert second.submit_put("k", b"v").version == 1


def test_engine_keeps_its_store_alive() -> None:
    store = sa.Store.memory()
    engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
    store.close()
    engine.submit_put("k", b"v")
    assert engine.state().outbox_size == 1
    assert engine.store is store
    with pytest.raises(sa.InvalidArgumentError, match="store is closed"):
        store.get("k")
    engine.close()


def test_repr(engine: sa.SyncEngine) -> None:
    assert repr(engine) == "SyncEngine('node-a')"
