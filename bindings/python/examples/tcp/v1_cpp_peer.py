"""A stand-in for an existing C++ node: the C++ transport's V1 framing and dispatcher, written
from the reference spec in plain Python (it does not use softadastra_sync), so a node built on
this library can be tested against an independent implementation.

    python3 v1_cpp_peer.py --node node-cpp --port 7100

It accepts one connection on 127.0.0.1. Hello → it sends back its own write (one SyncBatch,
sync id ``<node>-1``, put ``cpp:1`` = ``from C++``); Ping → Pong with the same correlation id;
SyncBatch → applies it to a dict and replies with an Ack; Ack → records the acknowledged id.
Frames over 1 MiB are rejected. When the connection closes it prints one JSON object:
``{"store": {key: value}, "acked": [ids]}``.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
from typing import Dict, List, Tuple

HELLO, SYNC_BATCH, ACK, PING, PONG = 1, 2, 3, 4, 5
MAX_FRAME = 1024 * 1024


def string(b: bytes) -> bytes:
    return struct.pack("<I", len(b)) + b


def message(kind: int, sender: str, to: str, correlation: str, payload: bytes) -> bytes:
    body = (bytes([kind]) + string(sender.encode()) + string(to.encode())
            + string(correlation.encode()) + string(payload))
    return struct.pack("<I", len(body)) + body


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def bytes_(self) -> bytes:
        return self.take(self.u32())

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ValueError("trailing bytes")


def recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    store: Dict[str, str] = {}
    acked: List[str] = []
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(1)
    print("LISTEN", flush=True)
    conn, _ = listener.accept()
    try:
        while True:
            (length,) = struct.unpack("<I", recv_exact(conn, 4))
            if length > MAX_FRAME:
                break
            r = Reader(recv_exact(conn, length))
            kind = r.u8()
            sender, to, correlation = (r.bytes_().decode() for _ in range(3))
            payload = r.bytes_()
            r.end()
            me = to or "local"
            if kind == HELLO:
                op = struct.pack("<QQ", 1, 1_700_000_000_500) + bytes([1]) + string(b"cpp:1")
                op += string(b"from C++") + struct.pack("<Q", 1_700_000_000_500)
                conn.sendall(message(SYNC_BATCH, args.node, sender, f"{args.node}-1", op))
            elif kind == PING:
                conn.sendall(message(PONG, me, sender, correlation, b""))
            elif kind == SYNC_BATCH:
                p = Reader(payload)
                p.u64(), p.u64()
                op_type = p.u8()
                key, value = p.bytes_().decode(), p.bytes_().decode()
                p.u64()
                p.end()
                if op_type == 1:
                    store[key] = value
                else:
                    store.pop(key, None)
                ack = string(correlation.encode()) + string(me.encode())
                ack += string(correlation.encode())
                conn.sendall(message(ACK, me, sender, correlation, ack))
            elif kind == ACK:
                p = Reader(payload)
                sync_id = p.bytes_().decode()
                p.bytes_(), p.bytes_()
                p.end()
                acked.append(sync_id)
    except EOFError:
        pass
    print(json.dumps({"store": store, "acked": acked}), flush=True)


if __name__ == "__main__":
    main()
