"""A sync peer over TCP: one node with its own WAL, syncing with another peer on 127.0.0.1
through V2 frames.

    python3 peer.py --node node-a --wal a.wal --listen 7001 --peer 7002 --writes 60

Each peer listens for the other's operations frames (and answers each with the ACK frame) and
connects to the other to send its own batches (and reads the ACK frames back). It makes
``--writes`` writes, one per loop turn: keys ``<node>:<i>``, and every third write a key
``shared:<i % 4>`` that both peers write. After each write returns it prints
``OK <version> <key> <value>``; once every write is made and acknowledged it prints ``IDLE``.
It keeps serving until SIGTERM. Restarted on the same WAL, it continues with the next write it
does not find in its store: the WAL holds its data and its outbox.

A V2 frame is self-delimiting: 10 header bytes (magic, version, kind, u32 body length at offset
6), then the body.
"""

from __future__ import annotations

import argparse
import selectors
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Dict, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import softadastra_sync as sa  # noqa: E402

HEADER = 10


class FrameReader:
    """Accumulates bytes from a socket and yields complete V2 frames."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list:
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER:
            (body,) = struct.unpack_from("<I", self.buffer, 6)
            if len(self.buffer) < HEADER + body:
                break
            frames.append(bytes(self.buffer[: HEADER + body]))
            del self.buffer[: HEADER + body]
        return frames


def write_for(node: str, i: int) -> tuple:
    key = f"shared:{i % 4}" if i % 3 == 0 else f"{node}:{i}"
    return key, f"{node}#{i}".encode()


def writes_made(store: "sa.Store", node: str, limit: int) -> int:
    """How many of this node's writes the store holds: the highest ``i`` whose write is there.

    Sync ids are not a counter of writes (after a crash the engine skips the ids it may have
    reserved), so progress is read from the data itself. A shared write that the other node
    overwrote is not seen; it is simply made again, which is harmless.
    """
    done = 0
    for i in range(1, limit + 1):
        key, value = write_for(node, i)
        if store.get(key) == value:
            done = i
    return done


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--wal", required=True)
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--peer", type=int, required=True)
    parser.add_argument("--writes", type=int, default=60)
    args = parser.parse_args()

    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)

    config = sa.SyncConfig.durable(args.node)
    # Short ACK timeouts and unbounded retries: a dead peer only delays propagation.
    config.ack_timeout_ms = 300
    config.retry_interval_ms = 50
    config.retry_backoff_max_ms = 200
    config.max_retries = 2**32 - 1
    store = sa.Store.open(args.wal)
    engine = sa.SyncEngine(store, config)
    done = writes_made(store, args.node, args.writes)

    selector = selectors.DefaultSelector()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.listen))
    listener.listen()
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, "listen")
    inbound: Dict[socket.socket, FrameReader] = {}
    outbound: Optional[socket.socket] = None
    outbound_reader = FrameReader()
    next_connect = 0.0
    idle_reported = False

    def drop_outbound() -> None:
        nonlocal outbound
        if outbound is not None:
            selector.unregister(outbound)
            outbound.close()
            outbound = None

    while running:
        if done < args.writes:
            done += 1
            key, value = write_for(args.node, done)
            op = engine.submit_put(key, value)
            print(f"OK {op.version} {key} {value.decode()}", flush=True)
        if outbound is None and time.monotonic() >= next_connect:
            try:
                outbound = socket.create_connection(("127.0.0.1", args.peer), timeout=1)
                selector.register(outbound, selectors.EVENT_READ, "outbound")
                outbound_reader = FrameReader()
            except OSError:
                outbound = None
                next_connect = time.monotonic() + 0.05
        engine.retry_expired()
        if outbound is not None:
            with engine.next_batch() as batch:
                if batch:
                    try:
                        outbound.sendall(batch.encode())
                    except OSError:
                        drop_outbound()  # the batch stays in flight; retried after its timeout
        for key, _ in selector.select(timeout=0.005):
            if key.data == "listen":
                conn, _ = listener.accept()
                conn.setblocking(True)
                inbound[conn] = FrameReader()
                selector.register(conn, selectors.EVENT_READ, "inbound")
                continue
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if key.data == "outbound":
                if not data:
                    drop_outbound()
                    continue
                for frame in outbound_reader.feed(data):
                    engine.ack_frame(frame)
            else:
                if not data:
                    selector.unregister(sock)
                    inbound.pop(sock)
                    sock.close()
                    continue
                try:
                    for frame in inbound[sock].feed(data):
                        _, ack = engine.receive_frame(frame)
                        sock.sendall(ack)
                except (OSError, sa.MalformedFrameError):
                    selector.unregister(sock)
                    inbound.pop(sock)
                    sock.close()
        state = engine.state()
        idle = done >= args.writes and state.acknowledged_count == state.outbox_size
        if idle and not idle_reported:
            print("IDLE", flush=True)
        idle_reported = idle
        engine.prune_completed()

    engine.close()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
