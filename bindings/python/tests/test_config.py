"""SyncConfig: the presets come from C; every field reaches C; bad fields are refused."""

from __future__ import annotations

import ctypes
import dataclasses

import pytest

import softadastra_sync as sa

FIELDS = [
    "node_id",
    "durability",
    "auto_queue",
    "require_ack",
    "ack_timeout_ms",
    "retry_interval_ms",
    "max_retries",
    "conflict_policy",
    "batch_size",
    "max_outbox_operations",
    "max_outbox_bytes",
    "max_clock_skew_ms",
    "retry_backoff_max_ms",
]


def test_every_c_field_is_a_dataclass_field() -> None:
    from softadastra_sync import _native

    names = [f.name for f in dataclasses.fields(sa.SyncConfig)]
    assert names == FIELDS
    c_names = [name for name, _ in _native.sa_sync_config._fields_]
    assert c_names == ["struct_size"] + FIELDS


def c_preset(function: str, node_id: str) -> "_native.sa_sync_config":
    """The C struct the library fills for a preset, read directly through ctypes."""
    from softadastra_sync import _native

    out = _native.sa_sync_config(struct_size=ctypes.sizeof(_native.sa_sync_config))
    assert getattr(_native.load(), function)(node_id.encode(), ctypes.byref(out)) == 0
    return out


def c_fields(c: object) -> dict:
    from softadastra_sync import _native

    values = {name: getattr(c, name) for name, _ in _native.sa_sync_config._fields_}
    values["node_id"] = values["node_id"].decode()
    del values["struct_size"]
    return values


@pytest.mark.parametrize("preset", ["durable", "fast"])
def test_presets_are_the_librarys(preset: str) -> None:
    """Every value of a preset is the C struct's: the numbers live in the library only."""
    config = getattr(sa.SyncConfig, preset)("node-a")
    assert dataclasses.asdict(config) == c_fields(c_preset(f"sa_sync_config_{preset}", "node-a"))
    assert isinstance(config.durability, sa.Durability)
    assert isinstance(config.conflict_policy, sa.ConflictPolicy)


def test_defaults_are_the_durable_preset() -> None:
    """A field left out takes the durable preset's value, read from the library (no default
    number is written in the bindings)."""
    for field in dataclasses.fields(sa.SyncConfig):
        assert field.default is dataclasses.MISSING, field.name
    assert sa.SyncConfig("node-a") == sa.SyncConfig.durable("node-a")
    config = sa.SyncConfig("node-b", batch_size=3)
    assert config == dataclasses.replace(sa.SyncConfig.durable("node-b"), batch_size=3)


def test_fast_preset() -> None:
    config = sa.SyncConfig.fast("node-b")
    durable = sa.SyncConfig.durable("node-b")
    assert config.node_id == "node-b"
    assert config.durability == sa.Durability.FAST
    assert config.require_ack is False
    assert config.batch_size > durable.batch_size
    assert dataclasses.replace(
        config, durability=sa.Durability.DURABLE, require_ack=True, batch_size=durable.batch_size
    ) == durable


def test_round_trip_through_the_c_struct() -> None:
    config = sa.SyncConfig(
        node_id="n" * 256,
        durability=sa.Durability.FAST,
        auto_queue=False,
        require_ack=True,
        ack_timeout_ms=2**64 - 1,
        retry_interval_ms=7,
        max_retries=2**32 - 1,
        conflict_policy=sa.ConflictPolicy.KEEP_REMOTE,
        batch_size=65_536,
        max_outbox_operations=3,
        max_outbox_bytes=4,
        max_clock_skew_ms=5,
        retry_backoff_max_ms=6,
    )
    assert sa.SyncConfig._from_c(config._to_c()) == config


def test_engine_copies_its_config(store: sa.Store) -> None:
    config = sa.SyncConfig.fast("node-a")
    config.batch_size = 3
    with sa.SyncEngine(store, config) as engine:
        config.batch_size = 99  # later changes do not reach the engine
        assert engine.config.batch_size == 3
        assert engine.node_id == "node-a"
        for i in range(5):
            engine.submit_put(f"k{i}", b"v")
        assert len(engine.next_batch()) == 3


@pytest.mark.parametrize(
    "node_id, reason",
    [
        ("", "node id is empty"),
        ("node a", "whitespace or a control character"),
        ("node\tb", "whitespace or a control character"),
        ("x" * 257, "longer than 256 bytes"),
        ("é" * 129, "longer than 256 bytes"),  # 258 bytes of UTF-8
    ],
)
def test_invalid_node_ids(node_id: str, reason: str) -> None:
    for preset in (sa.SyncConfig.durable, sa.SyncConfig.fast):
        with pytest.raises(sa.InvalidNodeIdError) as info:
            preset(node_id)
        assert reason in info.value.message
        assert info.value.status == sa.Status.INVALID_NODE_ID


def test_node_id_with_nul_or_surrogate() -> None:
    with pytest.raises(sa.InvalidNodeIdError, match="control character"):
        sa.SyncConfig.durable("node\x00a")
    with pytest.raises(sa.InvalidNodeIdError, match="UTF-8"):
        sa.SyncConfig.durable("node\udc80")
    with pytest.raises(TypeError):
        sa.SyncConfig.durable(b"node-a")  # type: ignore[arg-type]


def test_invalid_node_id_set_on_the_dataclass(store: sa.Store) -> None:
    config = sa.SyncConfig.fast("node-a")
    for bad in ("", "a b", "x" * 257, "a\x00b"):
        config.node_id = bad
        with pytest.raises(sa.InvalidNodeIdError):
            sa.SyncEngine(store, config)
    config.node_id = "n" * 256  # the longest valid id fits the C buffer
    with sa.SyncEngine(store, config) as engine:
        assert engine.submit_put("k", b"v").sync_id == "n" * 256 + "-1"


@pytest.mark.parametrize(
    "field, value, error, text",
    [
        ("batch_size", 0, sa.InvalidContextError, "batch_size"),
        ("batch_size", 65_537, sa.InvalidContextError, "batch_size"),
        ("batch_size", 2**32, sa.InvalidContextError, "batch_size"),
        ("batch_size", -1, sa.InvalidContextError, "batch_size"),
        ("max_retries", 2**32, sa.InvalidContextError, "max_retries"),
        ("ack_timeout_ms", 2**64, sa.InvalidContextError, "ack_timeout_ms"),
        ("retry_interval_ms", -5, sa.InvalidContextError, "retry_interval_ms"),
        ("max_outbox_operations", 0, sa.InvalidContextError, "max_outbox_operations"),
        ("max_outbox_bytes", 2**64, sa.InvalidContextError, "max_outbox_bytes"),
        ("max_clock_skew_ms", -1, sa.InvalidContextError, "max_clock_skew_ms"),
        ("retry_backoff_max_ms", 2**70, sa.InvalidContextError, "retry_backoff_max_ms"),
        ("conflict_policy", 9, sa.InvalidContextError, "conflict_policy"),
        ("conflict_policy", 2**31, sa.InvalidContextError, "conflict_policy"),
        ("durability", 7, sa.SyncError, "durability 7"),
    ],
)
def test_bad_fields_are_refused(
    store: sa.Store, field: str, value: int, error: type, text: str
) -> None:
    config = dataclasses.replace(sa.SyncConfig.fast("node-a"), **{field: value})
    with pytest.raises(error) as info:
        sa.SyncEngine(store, config)
    assert text in info.value.message
    # Nothing was attached: a good config still works on the same store.
    sa.SyncEngine(store, sa.SyncConfig.fast("node-a")).close()


@pytest.mark.parametrize(
    "field, value",
    [
        ("auto_queue", 1),
        ("require_ack", None),
        ("batch_size", 1.0),
        ("batch_size", True),
        ("max_retries", "3"),
        ("conflict_policy", "lww"),
    ],
)
def test_wrong_field_types_are_type_errors(store: sa.Store, field: str, value: object) -> None:
    config = dataclasses.replace(sa.SyncConfig.fast("node-a"), **{field: value})
    with pytest.raises(TypeError, match=field):
        sa.SyncEngine(store, config)


def test_engine_constructor_type_errors(store: sa.Store) -> None:
    with pytest.raises(TypeError):
        sa.SyncEngine(object(), sa.SyncConfig.fast("n"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sa.SyncEngine(store, {"node_id": "n"})  # type: ignore[arg-type]


def test_validate_checks_every_field_like_the_engine() -> None:
    config = sa.SyncConfig.durable("node-a")
    config.validate()
    assert config.is_valid()
    config.batch_size = 0
    assert not config.is_valid()
    with pytest.raises(sa.InvalidContextError, match="batch_size"):
        config.validate()
    config = sa.SyncConfig.durable("node-a")
    config.max_clock_skew_ms = 400 * 24 * 3600 * 1000
    with pytest.raises(sa.InvalidContextError, match="max_clock_skew"):
        config.validate()
    config = sa.SyncConfig.durable("node-a")
    config.node_id = "bad node"
    with pytest.raises(sa.InvalidNodeIdError):
        config.validate()


def test_a_smaller_config_struct_is_read_and_written_only_up_to_its_size() -> None:
    """The struct_size scheme from ctypes: a caller built against an older, shorter struct."""
    from softadastra_sync import _native

    lib = _native.load()
    cut = _native.sa_sync_config.retry_backoff_max_ms.offset
    out = _native.sa_sync_config(struct_size=cut, retry_backoff_max_ms=12345)
    assert lib.sa_sync_config_fast(b"node-a", ctypes.byref(out)) == 0
    assert out.struct_size == cut and out.retry_backoff_max_ms == 12345  # not written
    assert out.node_id == b"node-a"
    assert lib.sa_sync_config_validate(ctypes.byref(out)) == 0
    out.struct_size = cut + 4  # inside the last field
    assert lib.sa_sync_config_validate(ctypes.byref(out)) == sa.Status.INVALID_ARGUMENT
