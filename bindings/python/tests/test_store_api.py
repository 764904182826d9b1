"""The store's own API: direct writes (local, never propagated) and prefix iteration."""

from __future__ import annotations

from pathlib import Path

import pytest

import softadastra_sync as sa


def test_direct_writes_report_what_they_did(store: sa.Store) -> None:
    created = store.put("user:1", b"Gaspard")
    assert created.created and not created.updated and not created.deleted
    assert created.version > 0 and created.stamp > 0
    assert store.get("user:1") == b"Gaspard"
    updated = store.apply(sa.OpType.PUT, "user:1", b"Ada")
    assert updated.updated and updated.version > created.version
    assert updated.stamp > created.stamp
    entry = store.entry("user:1")
    assert entry is not None and entry.origin == "" and entry.stamp == updated.stamp
    deleted = store.remove("user:1")
    assert deleted == sa.StoreWriteResult(
        version=deleted.version, stamp=deleted.stamp, created=False, updated=False, deleted=True
    )
    assert store.get("user:1") is None
    absent = store.remove("never")
    assert not absent.deleted and absent.version > deleted.version
    assert store.put("empty", b"").created
    assert store.get("empty") == b""
    assert store.put("buffer", bytearray(b"xy")).created


@pytest.mark.parametrize(
    "call, error, needle",
    [
        (lambda s: s.put("", b"v"), sa.InvalidOperationError, "key is empty"),
        (lambda s: s.put("a\x00b", b"v"), sa.InvalidOperationError, "NUL"),
        (lambda s: s.put("\ud800", b"v"), sa.InvalidOperationError, "UTF-8"),
        (lambda s: s.put("k" * (64 * 1024 + 1), b"v"), sa.InvalidOperationError, "65537 bytes"),
        (lambda s: s.apply(0, "keep"), sa.InvalidOperationError, "operation type 0"),
        (lambda s: s.apply(9, "keep"), sa.InvalidOperationError, "operation type 9"),
        (lambda s: s.apply(sa.OpType.DELETE, "keep", b"v"), sa.InvalidOperationError,
         "carries a 1-byte value"),
        (lambda s: s.apply(2**31, "keep"), sa.InvalidOperationError, "out of range"),
    ],
)
def test_refused_writes_change_nothing(store: sa.Store, call, error, needle) -> None:
    store.put("keep", b"v")
    with pytest.raises(error, match=needle):
        call(store)
    assert list(store.items()) == [("keep", b"v")]


def test_wrong_types_are_type_errors(store: sa.Store) -> None:
    with pytest.raises(TypeError):
        store.put(b"key", b"v")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("key", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.entries(1)  # type: ignore[arg-type]
    assert len(store) == 0


def test_oversized_value_is_refused(store: sa.Store) -> None:
    with pytest.raises(sa.InvalidOperationError, match="67108865 bytes"):
        store.put("big", bytes(64 * 1024 * 1024 + 1))
    assert store.get("big") is None


def test_iteration_is_sorted_filtered_and_skips_deleted_keys(store: sa.Store) -> None:
    for key in ["user:2", "order:1", "user:10", "user:1", "users", "use", "é:1"]:
        store.put(key, key.encode())
    store.remove("user:2")
    assert list(store.keys("user:")) == ["user:1", "user:10"]
    assert list(store) == ["order:1", "use", "user:1", "user:10", "users", "é:1"]
    assert dict(store.items("us")) == {k: k.encode() for k in ["use", "user:1", "user:10", "users"]}
    assert list(store.keys("zzz")) == []
    assert "order:1" in store and "user:2" not in store and 5 not in store
    entry = next(store.entries("order"))
    assert entry == sa.Entry(
        key="order:1", value=b"order:1", version=entry.version, stamp=entry.stamp, origin=""
    )
    with pytest.raises(sa.InvalidArgumentError, match="NUL"):
        store.entries("a\x00")


def test_iterator_protocol_and_lifetime(store: sa.Store) -> None:
    for i in range(200):
        store.put(f"k:{i:04}", b"v")
    it = store.entries("k:")
    assert iter(it) is it
    first = next(it)
    assert first.key == "k:0000"
    assert sum(1 for _ in it) == 199
    assert it.closed  # freed when exhausted
    with pytest.raises(StopIteration):
        next(it)
    with store.entries() as early:
        next(early)
    assert early.closed
    # The iterator keeps the store alive.
    survivor = store.entries("k:01")
    store.close()
    assert len(list(survivor)) == 100


def test_writes_while_iterating_are_safe(store: sa.Store) -> None:
    for i in range(300):
        store.put(f"n:{i * 2:05}", b"v")
    seen = []
    for step, key in enumerate(store.keys("n:")):
        seen.append(key)
        store.put(f"n:{step * 2 + 1:05}", b"new")
        store.remove(f"n:{598 - step:05}")
        store.put(key, b"updated")
    assert seen == sorted(set(seen))
    for i in range(150):
        assert f"n:{i * 2:05}" in seen


def test_direct_writes_are_local_and_survive_restart(tmp_path: Path) -> None:
    wal = tmp_path / "store.wal"
    store = sa.Store.open(wal)
    engine = sa.SyncEngine(store, sa.SyncConfig.durable("node-a"))
    direct = store.put("doc", b"local")
    assert engine.state().outbox_size == 0
    op = engine.submit_put("doc", b"synced")
    assert op.replaces == sa.ReplacedWrite(stamp=direct.stamp, origin="")
    engine.close()
    store.close()
    with sa.Store.open(wal) as again:
        assert again.get("doc") == b"synced"
        assert list(again.items()) == [("doc", b"synced")]
