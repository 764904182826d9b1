"""The runnable node's command interface: one command a line on standard input, one answer a
line on standard output. For trying a node by hand, and for scripts and tests that drive
nodes as processes.

    put KEY VALUE   ->  OK <sync id> <stamp> KEY        (after the write is durable)
    del KEY         ->  OK <sync id> <stamp> KEY
    get KEY         ->  VALUE KEY <value>  |  NONE KEY
    state           ->  STATE <json: engine counters, connection, consumer backlog>
    digest          ->  DIGEST <sha256 of every live entry> <live keys>
    quit            ->  BYE, and the node stops
    anything else   ->  ERR <message>

Values are text (UTF-8); a value is the rest of the line after the key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import sys
import threading
from typing import Callable, TextIO

from ..core import Store, SyncEngine
from ..errors import SyncError
from .node import JetStreamNode

__all__ = ["Console", "store_digest"]


def store_digest(store: Store) -> "tuple[str, int]":
    """A SHA-256 over every live entry (key, value, stamp, origin, in key order) and the
    number of live keys: two stores with the same digest hold the same data."""
    digest = hashlib.sha256()
    count = 0
    for entry in store.entries():
        for part in (entry.key.encode(), entry.value, str(entry.stamp).encode(),
                     entry.origin.encode()):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
        count += 1
    return digest.hexdigest(), count


class Console:
    """Reads commands from ``source`` in a thread of its own and answers on ``sink``.

    Writes go straight to the engine (thread-safe), so they are accepted whatever the state
    of the connection; the node is only told to publish. ``stop`` is called on ``quit``.
    """

    def __init__(
        self,
        engine: SyncEngine,
        node: JetStreamNode,
        loop: asyncio.AbstractEventLoop,
        stop: Callable[[], None],
        source: TextIO = sys.stdin,
        sink: TextIO = sys.stdout,
    ) -> None:
        self._engine = engine
        self._node = node
        self._loop = loop
        self._stop = stop
        self._source = source
        self._sink = sink

    def start(self) -> None:
        threading.Thread(target=self._serve, name="console", daemon=True).start()

    def _say(self, line: str) -> None:
        self._sink.write(line + "\n")
        self._sink.flush()

    def _serve(self) -> None:
        for line in self._source:
            words = line.rstrip("\n").split(" ", 2)
            try:
                answer = self._answer(words)
            except (SyncError, ValueError, concurrent.futures.TimeoutError) as exc:
                answer = f"ERR {exc}"
            self._say(answer)
            if words[0] == "quit":
                return

    def _answer(self, words: "list[str]") -> str:
        command, args = words[0], words[1:]
        engine = self._engine
        if command == "put" and len(args) == 2:
            op = engine.submit_put(args[0], args[1].encode("utf-8"))
        elif command == "del" and len(args) == 1:
            op = engine.submit_delete(args[0])
        elif command == "get" and len(args) == 1:
            value = engine.store.get(args[0])
            if value is None:
                return f"NONE {args[0]}"
            return f"VALUE {args[0]} {value.decode('utf-8', 'replace')}"
        elif command == "state" and not args:
            status = asyncio.run_coroutine_threadsafe(self._node.status(), self._loop)
            return "STATE " + json.dumps(status.result(timeout=10))
        elif command == "digest" and not args:
            digest, count = store_digest(engine.store)
            return f"DIGEST {digest} {count}"
        elif command == "quit" and not args:
            self._loop.call_soon_threadsafe(self._stop)
            return "BYE"
        else:
            return f"ERR unknown command or wrong arguments: {' '.join(words)!r}"
        self._node.notify_write()
        return f"OK {op.sync_id} {op.stamp} {op.key}"
