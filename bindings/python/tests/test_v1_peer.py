"""V1 interop over TCP: this library's node against a stand-in C++ node
(examples/tcp/v1_cpp_peer.py, the C++ transport's dispatcher written from the spec without
this library): Hello, Ping/Pong, SyncBatch both ways with their Acks."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Callable, Tuple

import softadastra_sync as sa

PYTHON_DIR = Path(__file__).resolve().parents[1]
CPP_PEER = PYTHON_DIR / "examples" / "tcp" / "v1_cpp_peer.py"
WAIT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_frame(sock: socket.socket) -> bytes:
    def exact(n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            assert chunk, "the C++ peer closed the connection"
            out += chunk
        return out

    head = exact(4)
    return head + exact(struct.unpack("<I", head)[0])


def fields(frame: bytes) -> Tuple[int, str, str, str]:
    """Type, from, to, correlation id of a V1 frame."""
    pos, out = 5, []
    for _ in range(3):
        (n,) = struct.unpack_from("<I", frame, pos)
        out.append(frame[pos + 4:pos + 4 + n].decode())
        pos += 4 + n
    return frame[4], out[0], out[1], out[2]


def ping(correlation: str) -> bytes:
    def s(b: bytes) -> bytes:
        return struct.pack("<I", len(b)) + b

    body = bytes([4]) + s(b"node-a") + s(b"node-cpp") + s(correlation.encode()) + s(b"")
    return struct.pack("<I", len(body)) + body


def test_a_node_talks_v1_with_a_cpp_dispatcher(
    make_engine: Callable[..., sa.SyncEngine], clock: sa.ManualClock
) -> None:
    clock.set(1_700_000_001_000)
    engine = make_engine("node-a", preset="durable")
    port = free_port()
    peer = subprocess.Popen(
        [sys.executable, str(CPP_PEER), "--node", "node-cpp", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)),
    )
    try:
        assert peer.stdout is not None and peer.stdout.readline().strip() == "LISTEN"
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
            sock.sendall(sa.v1_hello_frame("node-a"))
            # The C++ node answers Hello with its own write: apply it and ACK it.
            incoming = read_frame(sock)
            assert fields(incoming)[0] == 2
            reply = engine.handle_v1_frame(incoming)
            assert fields(reply) == (3, "node-a", "node-cpp", "node-cpp-1")
            sock.sendall(reply)
            assert engine.store.get("cpp:1") == b"from C++"

            sock.sendall(ping("ping-7"))
            pong = read_frame(sock)
            assert fields(pong) == (5, "node-cpp", "node-a", "ping-7")
            assert engine.handle_v1_frame(pong) == b""

            engine.submit_put("user:1", b"Gaspard")
            engine.submit_put("user:2", b"Ada")
            engine.submit_delete("user:2")
            with engine.next_batch() as batch:
                frames = batch.v1_frames("node-cpp")
            for frame in frames:
                sock.sendall(frame)
                ack = read_frame(sock)
                assert fields(ack)[0] == 3
                assert engine.handle_v1_frame(ack) == b""
            assert engine.state().acknowledged_count == 3
        out, err = peer.communicate(timeout=WAIT_S)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    assert peer.returncode == 0, err
    seen = json.loads(out)
    assert seen == {"store": {"user:1": "Gaspard"}, "acked": ["node-cpp-1"]}
