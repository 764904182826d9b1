"""Wire formats from Python: V2 frames (Batch.encode, receive_frame, ack_frame), V1 frames of
the C++ transport, JSON views, against the shared vectors in tests/vectors/wire.txt."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Callable, Dict, Optional

import pytest

import softadastra_sync as sa


def _vectors_file() -> Optional[Path]:
    for directory in Path(__file__).resolve().parents:
        candidate = directory / "tests" / "vectors" / "wire.txt"
        if candidate.is_file():
            return candidate
    return None


VECTORS_FILE = _vectors_file()
needs_vectors = pytest.mark.skipif(VECTORS_FILE is None, reason="not in a source checkout")


def load_vectors() -> Dict[str, Dict[str, str]]:
    """``[name]`` then ``field = value`` lines; ``#`` starts a comment line."""
    vectors: Dict[str, Dict[str, str]] = {}
    current: Dict[str, str] = {}
    for line in VECTORS_FILE.read_text(encoding="utf-8").splitlines():  # type: ignore[union-attr]
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = vectors.setdefault(line[1:-1], {})
        else:
            name, value = line.split(" = ", 1)
            current[name] = value
    return vectors


@pytest.fixture(scope="module")
def vectors() -> Dict[str, Dict[str, str]]:
    return load_vectors()


Make = Callable[..., sa.SyncEngine]


@needs_vectors
def test_v1_spec_example_byte_for_byte(
    make_engine: Make, vectors: Dict[str, Dict[str, str]]
) -> None:
    a = make_engine("node-a", preset="durable")
    b = make_engine("node-b", preset="durable")
    v = vectors["v1_sync_batch"]
    a.submit_put(v["key"], v["value"].encode())
    with a.next_batch() as batch:
        frames = batch.v1_frames(v["to"])
    assert len(frames[0]) == 87
    assert frames[0].hex() == v["hex"]
    reply = b.handle_v1_frame(frames[0])
    assert reply.hex() == vectors["v1_ack"]["hex"]
    assert b.store.get("user:1") == b"Gaspard"
    assert a.handle_v1_frame(reply) == b""
    assert a.state().acknowledged_count == 1
    assert sa.v1_hello_frame("node-a").hex() == vectors["v1_hello"]["hex"]
    assert b.handle_v1_frame(bytes.fromhex(vectors["v1_hello"]["hex"])) == b""


@needs_vectors
def test_v2_vectors_are_received_and_acknowledged(
    make_engine: Make, vectors: Dict[str, Dict[str, str]]
) -> None:
    b = make_engine("node-b", preset="durable")
    v = vectors["v2_put"]
    report, ack = b.receive_frame(bytes.fromhex(v["hex"]))
    assert report == sa.ReceiveReport(applied=1, ignored=0, duplicate=0, invalid=0, errors=[])
    assert b.store.get(v["key"]) == v["value"].encode()
    assert ack[:4] == b"SASY" and ack[4] == 2
    a = make_engine("node-a", preset="durable")
    a.submit_put("user:1", b"Gaspard")
    assert a.ack_frame(bytes.fromhex(vectors["v2_ack"]["hex"])) == 1  # node-c-7 is not ours


def test_batches_cross_engines_as_frames(make_engine: Make) -> None:
    a = make_engine("node-a", preset="durable")
    b = make_engine("node-b", preset="durable")
    a.submit_put("user:1", b"Gaspard")
    a.submit_delete("user:1")
    a.submit_put("bin", bytes(range(256)))
    batch = a.next_batch()
    assert isinstance(batch, list) and len(batch) == 3
    frame = batch.encode()
    batch.close()
    report, ack = b.receive_frame(frame)
    assert (report.applied, report.duplicate, report.invalid) == (3, 0, 0)
    assert b.store.get("user:1") is None
    assert b.store.get("bin") == bytes(range(256))
    assert a.ack_frame(ack) == 3
    assert a.ack_frame(ack) == 0
    report, ack_again = b.receive_frame(frame)
    assert (report.applied, report.duplicate) == (0, 3)
    assert ack_again == ack


def test_invalid_operations_are_reported_one_by_one(make_engine: Make) -> None:
    b = make_engine("node-b", preset="durable")
    a = make_engine("node-a", preset="durable")
    a.submit_put("user:1", b"Gaspard")
    frame = bytearray(a.next_batch().encode())
    # The version (u64 after header, count, sync id "node-a-1", origin "node-a") set to 0.
    at = sa.core.N.SA_WIRE_HEADER_BYTES + 4 + (4 + 8) + (4 + 6)
    assert struct.unpack_from("<Q", frame, at)[0] == 1
    struct.pack_into("<Q", frame, at, 0)
    report, ack = b.receive_frame(bytes(frame))
    assert (report.applied, report.invalid) == (0, 1)
    assert report.errors[0].index == 0
    assert report.errors[0].sync_id == "node-a-1"
    assert "version 0" in report.errors[0].message
    assert len(ack) == sa.core.N.SA_WIRE_HEADER_BYTES + 4  # an empty ACK list


def test_a_node_with_the_senders_id_refuses_its_operations(make_engine: Make) -> None:
    a = make_engine("node-a", preset="durable")
    twin = make_engine("node-a", preset="durable")
    a.submit_put("user:1", b"Gaspard")
    with a.next_batch() as batch:
        frame = batch.encode()
        v1 = batch.v1_frames("node-a")[0]
    report, ack = twin.receive_frame(frame)
    assert (report.applied, report.duplicate, report.invalid) == (0, 0, 1)
    assert "origin node-a is this node's own id" in report.errors[0].message
    assert len(ack) == sa.core.N.SA_WIRE_HEADER_BYTES + 4
    with pytest.raises(sa.InvalidRemoteOperationError, match="this node's own id"):
        twin.handle_v1_frame(v1)
    assert twin.store.get("user:1") is None


def test_malformed_frames_raise_and_change_nothing(make_engine: Make) -> None:
    a = make_engine("node-a", preset="durable")
    b = make_engine("node-b", preset="durable")
    a.submit_put("user:1", b"Gaspard")
    frame = a.next_batch().encode()
    for cut in (0, 3, 10, len(frame) - 1):
        with pytest.raises(sa.MalformedFrameError):
            b.receive_frame(frame[:cut])
    with pytest.raises(sa.MalformedFrameError, match="trailing bytes"):
        b.receive_frame(frame + b"\0")
    with pytest.raises(sa.MalformedFrameError, match="unsupported wire format version 7"):
        b.receive_frame(frame[:4] + b"\x07" + frame[5:])
    with pytest.raises(sa.MalformedFrameError, match="ack frame"):
        a.ack_frame(frame)
    with pytest.raises(sa.MalformedFrameError):
        b.handle_v1_frame(b"\xff\xff\xff\xff\x02")
    with pytest.raises(TypeError):
        b.receive_frame("not bytes")  # type: ignore[arg-type]
    assert len(b.store) == 0


def test_json_views(make_engine: Make) -> None:
    a = make_engine("node-a", preset="durable")
    a.submit_put("user:1", b"Gaspard")
    a.submit_put("user:1", b"Ada")
    state = json.loads(a.state_json())
    assert state["outbox_size"] == 2 and state["queued_count"] == 2
    assert set(state) == {name for name, *_ in sa.core.N.sa_sync_state_info._fields_[1:]}
    outbox = json.loads(a.outbox_json())
    assert [e["sync_id"] for e in outbox] == ["node-a-1", "node-a-2"]
    assert bytes.fromhex(outbox[0]["value_hex"]) == b"Gaspard"
    assert outbox[0]["replaces"] is None
    assert outbox[1]["replaces"]["origin"] == "node-a"
    second = outbox[1]
    assert second["stamp"] == sa.make_stamp(second["stamp_wall_ms"], second["stamp_logical"])
    with a.next_batch() as batch:
        assert [e["status"] for e in json.loads(batch.json())] == ["in_flight", "in_flight"]
    with pytest.raises(sa.InvalidArgumentError, match="batch is closed"):
        batch.encode()


def _readme() -> Optional[Path]:
    for directory in Path(__file__).resolve().parents:
        if (directory / "README.md").is_file() and (directory / "Cargo.toml").is_file():
            return directory / "README.md"
    return None


@pytest.mark.skipif(_readme() is None, reason="not in a source checkout")
def test_the_readme_socket_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _readme().read_text(encoding="utf-8")  # type: ignore[union-attr]
    start = text.index("```python\nimport socket, struct\n") + len("```python\n")
    code = text[start:text.index("```", start)]
    monkeypatch.chdir(tmp_path)
    scope: Dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102
    report = scope["report"]
    assert isinstance(report, sa.ReceiveReport) and report.applied == 1
    a, b = scope["a"], scope["b"]
    assert isinstance(a, sa.SyncEngine) and isinstance(b, sa.SyncEngine)
    assert b.store.get("user:1") == b"Gaspard"
    assert a.state().acknowledged_count == 1
    for engine in (a, b):
        engine.close()
        engine.store.close()
