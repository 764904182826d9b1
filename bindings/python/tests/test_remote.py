"""Remote apply: exchange between engines, deduplication, conflicts, validation."""

from __future__ import annotations

import dataclasses
from typing import Callable, Tuple

import pytest

import softadastra_sync as sa
from conftest import NOW_MS

MakeEngine = Callable[..., sa.SyncEngine]


def remote_put(version: int = 1, key: str = "remote:user:1", value: bytes = b"Remote value",
               stamp: int = sa.make_stamp(NOW_MS)) -> sa.SyncOperation:
    return sa.SyncOperation.put(
        sync_id=f"node-remote-{version}", origin="node-remote", version=version,
        key=key, value=value, stamp=stamp,
    )


def test_receive_a_remote_put(make_engine: MakeEngine) -> None:
    engine = make_engine("node-local", preset="durable")
    result = engine.receive_remote(remote_put())
    assert result == sa.ApplyResult(
        outcome=sa.Outcome.APPLIED,
        conflict_detected=False,
        reason=sa.Reason.NO_LOCAL_ENTRY,
        store_version=result.store_version,
    )
    assert result.applied and not result.ignored and not result.duplicate
    assert result.store_version >= 1
    entry = engine.store.entry("remote:user:1")
    assert entry is not None
    assert (entry.value, entry.origin, entry.stamp) == (
        b"Remote value", "node-remote", sa.make_stamp(NOW_MS)
    )
    state = engine.state()
    assert (state.remote_applied_count, state.last_applied_remote_version) == (1, 1)
    assert state.outbox_size == 0  # remote operations are not propagated again


def test_redelivery_is_a_duplicate(make_engine: MakeEngine) -> None:
    engine = make_engine("node-local")
    op = remote_put()
    assert engine.receive_remote(op).applied
    again = engine.receive_remote(op)
    assert again == sa.ApplyResult(sa.Outcome.DUPLICATE, False, None, 0)
    assert again.duplicate
    assert engine.state().remote_duplicate_count == 1


def test_an_operation_with_this_nodes_own_id_is_refused(make_engine: MakeEngine) -> None:
    engine = make_engine("node-local")
    own = engine.submit_put("mine", b"m")
    for op in (own, dataclasses.replace(remote_put(), origin="node-local")):
        with pytest.raises(sa.InvalidRemoteOperationError) as info:
            engine.receive_remote(op)
        assert "origin node-local is this node's own id" in info.value.message
    assert engine.store.get("remote:user:1") is None
    assert engine.state().remote_duplicate_count == 0


def test_remote_delete(make_engine: MakeEngine) -> None:
    engine = make_engine("node-local")
    engine.receive_remote(remote_put(1))
    delete = sa.SyncOperation.delete(
        "node-remote-2", "node-remote", 2, "remote:user:1", sa.make_stamp(NOW_MS, 1)
    )
    assert engine.receive_remote(delete).applied
    assert engine.store.get("remote:user:1") is None


def pair(make_engine: MakeEngine, policy: sa.ConflictPolicy) -> Tuple[sa.SyncEngine, sa.SyncEngine]:
    a = make_engine("node-a", conflict_policy=policy)
    b = make_engine("node-b", conflict_policy=policy)
    return a, b


def test_batches_flow_between_engines(make_engine: MakeEngine) -> None:
    a, b = pair(make_engine, sa.ConflictPolicy.LAST_WRITE_WINS)
    a.submit_put("user:1", b"Gaspard")
    a.submit_put("doc:1", b"draft")
    a.submit_delete("doc:1")
    for envelope in a.next_batch():
        assert b.receive_remote(envelope.operation).applied
    assert b.store.get("user:1") == b"Gaspard"
    assert b.store.get("doc:1") is None
    assert b.state().remote_applied_count == 3


def test_submitted_operation_is_accepted_too(make_engine: MakeEngine) -> None:
    a, b = pair(make_engine, sa.ConflictPolicy.LAST_WRITE_WINS)
    op = a.submit_put("k", b"v")
    assert op.replaces is None  # the key was unknown
    assert b.receive_remote(op).applied
    assert b.store.get("k") == b"v"


def test_submitted_operation_carries_the_replaced_write(make_engine: MakeEngine) -> None:
    # Forwarded straight from submit, an update is a causal successor on the peer, so even
    # keep-local applies it and no conflict is counted.
    a, b = pair(make_engine, sa.ConflictPolicy.KEEP_LOCAL)
    first = a.submit_put("k", b"v1")
    assert b.receive_remote(first).applied
    second = a.submit_put("k", b"v2")
    assert second.replaces == sa.ReplacedWrite(first.stamp, "node-a")
    result = b.receive_remote(second)
    assert result.applied and not result.conflict_detected
    assert b.store.get("k") == b"v2"


@pytest.mark.parametrize(
    "policy, remote_newer, applied, reason",
    [
        (sa.ConflictPolicy.LAST_WRITE_WINS, True, True, sa.Reason.REMOTE_WINS),
        (sa.ConflictPolicy.LAST_WRITE_WINS, False, False, sa.Reason.LOCAL_WINS),
        (sa.ConflictPolicy.KEEP_LOCAL, True, False, sa.Reason.POLICY_KEEP_LOCAL),
        (sa.ConflictPolicy.KEEP_LOCAL, False, False, sa.Reason.POLICY_KEEP_LOCAL),
        (sa.ConflictPolicy.KEEP_REMOTE, True, True, sa.Reason.POLICY_KEEP_REMOTE),
        (sa.ConflictPolicy.KEEP_REMOTE, False, True, sa.Reason.POLICY_KEEP_REMOTE),
    ],
)
def test_conflicts_under_each_policy(
    make_engine: MakeEngine,
    clock: sa.ManualClock,
    policy: sa.ConflictPolicy,
    remote_newer: bool,
    applied: bool,
    reason: sa.Reason,
) -> None:
    a, b = pair(make_engine, policy)
    # Both write doc:1 concurrently (neither saw the other's write).
    if remote_newer:
        a.submit_put("doc:1", b"from A")
        clock.advance(1_000)
        remote = b.submit_put("doc:1", b"from B")
    else:
        remote = b.submit_put("doc:1", b"from B")
        clock.advance(1_000)
        a.submit_put("doc:1", b"from A")
    [envelope] = [e for e in b.next_batch() if e.sync_id == remote.sync_id]
    result = a.receive_remote(envelope.operation)
    assert result.conflict_detected
    assert result.reason == reason
    assert result.applied is applied
    assert result.ignored is (not applied)
    assert a.store.get("doc:1") == (b"from B" if applied else b"from A")
    state = a.state()
    assert state.conflict_count == 1
    assert (state.remote_applied_count, state.remote_ignored_count) == (
        (1, 0) if applied else (0, 1)
    )


def test_causal_successor_applies_under_keep_local(make_engine: MakeEngine) -> None:
    a, b = pair(make_engine, sa.ConflictPolicy.KEEP_LOCAL)
    a.submit_put("doc:1", b"v1")
    [first] = a.next_batch()
    assert b.receive_remote(first.operation).applied
    b.submit_put("doc:1", b"v2 edited on B")  # replaces A's write, which B has seen
    [second] = b.next_batch()
    assert second.operation.replaces == sa.ReplacedWrite(first.operation.stamp, "node-a")
    result = a.receive_remote(second.operation)
    assert (result.applied, result.conflict_detected, result.reason) == (
        True, False, sa.Reason.CAUSAL_SUCCESSOR,
    )
    assert a.store.get("doc:1") == b"v2 edited on B"
    # Without the replaces field, the same write is a conflict that KEEP_LOCAL refuses.
    c = make_engine("node-c", conflict_policy=sa.ConflictPolicy.KEEP_LOCAL)
    c.receive_remote(first.operation)
    c.submit_put("doc:1", b"local on C")
    stripped = dataclasses.replace(second.operation, replaces=None)
    assert c.receive_remote(stripped).reason == sa.Reason.POLICY_KEEP_LOCAL


def test_same_origin_updates(make_engine: MakeEngine) -> None:
    a = make_engine("node-a")
    newer = remote_put(2, key="k", value=b"new", stamp=sa.make_stamp(NOW_MS, 5))
    older = remote_put(1, key="k", value=b"old", stamp=sa.make_stamp(NOW_MS, 1))
    assert a.receive_remote(newer).applied
    late = a.receive_remote(older)
    assert (late.ignored, late.reason, late.conflict_detected) == (
        True, sa.Reason.SAME_ORIGIN_OLDER, False,
    )
    assert a.store.get("k") == b"new"


@pytest.mark.parametrize(
    "changes, text",
    [
        ({"sync_id": ""}, "empty sync id"),
        ({"origin": ""}, "node id is empty"),
        ({"origin": "bad origin"}, "whitespace"),
        ({"version": 0}, "version 0"),
        ({"stamp": sa.make_stamp(NOW_MS + 120_000)}, "ahead of the local clock"),
        ({"key": ""}, "key is empty"),
        ({"key": "a\x00b"}, "NUL"),
        ({"sync_id": "x\x00"}, "NUL"),
        ({"origin": "\ud800"}, "UTF-8"),
        ({"op_type": 7}, "operation type 7"),
        ({"op_type": sa.OpType.DELETE}, "carries a value"),
        ({"version": -1}, "out of range"),
        ({"stamp": 2**64}, "out of range"),
        ({"op_type": 2**40}, "out of range"),
        ({"replaces": sa.ReplacedWrite(5, "bad origin")}, "whitespace"),
        ({"replaces": sa.ReplacedWrite(-5, "node-a")}, "out of range"),
    ],
)
def test_invalid_remote_operations_leave_the_store_untouched(
    make_engine: MakeEngine, changes: dict, text: str
) -> None:
    engine = make_engine("node-local")
    bad = dataclasses.replace(remote_put(), **changes)
    with pytest.raises(sa.InvalidRemoteOperationError) as info:
        engine.receive_remote(bad)
    assert text in info.value.message
    assert info.value.status == sa.Status.INVALID_REMOTE_OPERATION
    assert engine.store.len == 0
    assert engine.state().remote_applied_count == 0


@pytest.mark.parametrize(
    "changes",
    [{"value": "text"}, {"key": 5}, {"version": "1"}, {"stamp": 1.5}, {"replaces": (1, "a")}],
)
def test_remote_type_errors(make_engine: MakeEngine, changes: dict) -> None:
    engine = make_engine("node-local")
    with pytest.raises(TypeError):
        engine.receive_remote(dataclasses.replace(remote_put(), **changes))


def test_receive_requires_a_sync_operation(make_engine: MakeEngine) -> None:
    engine = make_engine("node-local")
    with pytest.raises(TypeError, match="SyncOperation"):
        engine.receive_remote({"sync_id": "x"})  # type: ignore[arg-type]


def test_replaces_with_empty_origin_is_a_direct_store_write(make_engine: MakeEngine) -> None:
    engine = make_engine("node-local")
    op = dataclasses.replace(remote_put(), replaces=sa.ReplacedWrite(sa.make_stamp(1)))
    assert engine.receive_remote(op).applied


def test_view_conversion_matches_sa_remote_op_from_view(make_engine: MakeEngine) -> None:
    """The bindings build sa_remote_op themselves; check it equals the library's own
    conversion of the same envelope (sa_remote_op_from_view)."""
    import ctypes

    from softadastra_sync import _native as N

    lib = N.load()
    a = make_engine("node-a", preset="durable")
    a.submit_put("doc:1", b"v1")
    a.submit_put("doc:1", b"\x00v2")
    ptr = a._h.acquire()
    try:
        batch = ctypes.POINTER(N.sa_batch)()
        assert lib.sa_sync_next_batch(ptr, ctypes.byref(batch)) == 0
    finally:
        a._h.release()
    try:
        for index in range(lib.sa_batch_len(batch)):
            view = N.sa_envelope_view()
            assert lib.sa_batch_get(batch, index, ctypes.byref(view)) == 0
            op = N.sa_remote_op()
            assert lib.sa_remote_op_from_view(ctypes.byref(view), ctypes.byref(op)) == 0
            mine = a.outbox()[index].operation
            assert op.sync_id.decode() == mine.sync_id
            assert op.origin.decode() == mine.origin
            assert (op.version, op.stamp, op.op_type) == (mine.version, mine.stamp, mine.op_type)
            assert op.key.decode() == mine.key
            assert ctypes.string_at(op.value, op.value_len) == mine.value
            assert op.has_replaces == (mine.replaces is not None)
            if mine.replaces is not None:
                assert op.replaces_stamp == mine.replaces.stamp
                assert op.replaces_origin.decode() == mine.replaces.origin
        assert lib.sa_batch_get(batch, 99, ctypes.byref(N.sa_envelope_view())) == (
            N.SA_ERR_INVALID_ARGUMENT
        )
        assert b"out of range for a batch of 2" in lib.sa_last_error_message()
    finally:
        lib.sa_batch_free(batch)
