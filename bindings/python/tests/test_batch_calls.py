"""Batch calls: SyncEngine.submit_many and SyncEngine.receive_acks (one C call each)."""

from __future__ import annotations

import ctypes
import dataclasses
import struct

import pytest

import softadastra_sync as sa
from softadastra_sync import _native as N


def test_packing_formats_match_the_ctypes_mirrors() -> None:
    for fmt, mirror in [(N.LOCAL_OP_FORMAT, N.sa_local_op), (N.SUBMITTED_FORMAT, N.sa_submitted)]:
        assert struct.calcsize(fmt) == ctypes.sizeof(mirror), mirror.__name__
    # Field offsets too: pack a recognisable element and read it through ctypes.
    packed = struct.pack(N.LOCAL_OP_FORMAT, 32, 2, 0x1000, 0x2000, 7)
    op = N.sa_local_op.from_buffer_copy(packed)
    assert (op.struct_size, op.op_type, op.value_len) == (32, 2, 7)
    submitted = N.sa_submitted()
    submitted.version, submitted.stamp, submitted.sync_id = 5, 6, b"n-5"
    submitted.has_replaces, submitted.replaces_stamp, submitted.replaces_origin = True, 9, b"o"
    fields = struct.unpack(N.SUBMITTED_FORMAT, bytes(submitted))
    assert fields[0] == ctypes.sizeof(N.sa_submitted) and fields[1:3] == (5, 6)
    assert fields[3].rstrip(b"\0") == b"n-5" and fields[4:6] == (True, 9)
    assert fields[6].rstrip(b"\0") == b"o"


def test_submit_many_returns_what_submit_would(engine: sa.SyncEngine) -> None:
    store = engine.store
    engine.submit_put("k", b"before")
    ops = engine.submit_many([("k", b"one"), ("j", b"x"), ("k", None), ("clé", b"\0bin")])
    assert [op.sync_id for op in ops] == ["node-a-2", "node-a-3", "node-a-4", "node-a-5"]
    assert [op.version for op in ops] == [2, 3, 4, 5]
    assert [op.op_type for op in ops] == [sa.OpType.PUT, sa.OpType.PUT, sa.OpType.DELETE,
                                          sa.OpType.PUT]
    assert ops[3].key == "clé" and ops[3].value == b"\0bin"
    assert ops[2].value == b""
    # The delete replaces the put of the same call; stamps increase.
    assert ops[2].replaces == sa.ReplacedWrite(ops[0].stamp, "node-a")
    assert ops[1].replaces is None
    assert [op.stamp for op in ops] == sorted(op.stamp for op in ops)
    assert store.get("j") == b"x" and store.get("k") is None
    assert [e.operation for e in engine.outbox()][1:] == ops
    # Any iterable; an empty one does nothing.
    assert engine.submit_many([]) == []
    more = engine.submit_many((f"g{i}", bytearray(b"v")) for i in range(3))
    assert [op.value for op in more] == [b"v"] * 3
    assert engine.state().outbox_size == 8


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (("", b"v"), sa.InvalidOperationError, "operation 1: "),
        (("a\0b", b"v"), sa.InvalidOperationError, "operation 1: key"),
        ((3, b"v"), TypeError, "operation 1: key must be str"),
        (("k", "text"), TypeError, "operation 1: value must be bytes"),
        (("k",), TypeError, "operation 1: expected a (key, value) pair"),
        (("k" * 70_000, b"v"), sa.InvalidOperationError, "operation 1: "),
    ],
)
def test_a_bad_operation_refuses_the_whole_call(
    engine: sa.SyncEngine, bad: tuple, error: type, message: str
) -> None:
    with pytest.raises(error) as caught:
        engine.submit_many([("ok", b"1"), bad, ("ok2", b"2")])
    assert message in str(caught.value)
    assert engine.state().outbox_size == 0
    assert engine.store.get("ok") is None


def test_receive_acks_counts_each_kind(engine: sa.SyncEngine) -> None:
    engine.submit_many([("a", b"1"), ("b", b"2"), ("c", b"3")])
    assert len(engine.next_batch()) == 3
    report = engine.receive_acks(["node-a-1", "node-a-2", "node-a-2", "node-a-99"])
    assert report == sa.AckReport(acknowledged=2, already_acknowledged=1, unknown=1)
    assert engine.state().acknowledged_count == 2
    assert engine.receive_acks([]) == sa.AckReport(0, 0, 0)
    with pytest.raises(sa.NotFoundError, match="operation 1: "):
        engine.receive_acks(["node-a-3", "x\0y"])
    with pytest.raises(TypeError, match="operation 0: "):
        engine.receive_acks([3])  # type: ignore[list-item]
    assert engine.state().in_flight_count == 1


def test_batch_calls_on_a_closed_engine_raise(engine: sa.SyncEngine) -> None:
    engine.close()
    with pytest.raises(sa.InvalidArgumentError, match="closed"):
        engine.submit_many([("k", b"v")])
    with pytest.raises(sa.InvalidArgumentError, match="closed"):
        engine.receive_acks(["node-a-1"])


def test_submit_many_packs_with_struct_where_an_element_is_not_four_words(
    engine: sa.SyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from softadastra_sync import core

    monkeypatch.setattr(core, "_LOCAL_OP_IS_FOUR_WORDS", False)
    ops = engine.submit_many([("k", b"one"), ("j", None)])
    assert [(op.key, op.value, op.op_type) for op in ops] == [
        ("k", b"one", sa.OpType.PUT), ("j", b"", sa.OpType.DELETE)]
    assert engine.store.get("k") == b"one"


def test_submit_many_reads_results_with_struct_where_fields_are_not_word_aligned(
    engine: sa.SyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from softadastra_sync import core

    engine.submit_put("k", b"before")
    monkeypatch.setattr(core, "_SUBMITTED_IN_WORDS", False)
    ops = engine.submit_many([("k", b"one"), ("j", None)])
    assert [(op.sync_id, op.version) for op in ops] == [("node-a-2", 2), ("node-a-3", 3)]
    assert ops[0].replaces is not None and ops[1].replaces is None
    assert [e.operation for e in engine.outbox()][1:] == ops


def test_submit_many_returns_ordinary_operations(engine: sa.SyncEngine) -> None:
    ops = engine.submit_many([("k", b"v"), ("k", b"w")])
    for op in ops:
        assert type(op) is sa.SyncOperation
        assert list(vars(op)) == [field.name for field in dataclasses.fields(op)]
        assert dataclasses.replace(op) == op and hash(dataclasses.replace(op)) == hash(op)
        with pytest.raises(dataclasses.FrozenInstanceError):
            op.key = "other"  # type: ignore[misc]
    assert ops[1].replaces == sa.ReplacedWrite(ops[0].stamp, "node-a")
