"""Two real processes syncing over TCP on 127.0.0.1 with V2 frames
(examples/tcp/peer.py): both write (some keys on both sides), one is SIGKILLed mid-stream and
restarted on its WAL; both must end with identical data and no write that returned OK lost.

Waits are bounded (a hung peer fails the test after WAIT_S) but nothing asserts on timing.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import softadastra_sync as sa

PYTHON_DIR = Path(__file__).resolve().parents[1]
PEER = PYTHON_DIR / "examples" / "tcp" / "peer.py"
WRITES = 60
KILL_AFTER = 20
WAIT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Peer:
    """A peer process and the lines it printed, read by a thread."""

    def __init__(self, node: str, wal: Path, listen: int, peer: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR))
        self.process = subprocess.Popen(
            [sys.executable, str(PEER), "--node", node, "--wal", str(wal),
             "--listen", str(listen), "--peer", str(peer), "--writes", str(WRITES)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("EOF")

    def wait_for(self, predicate: Callable[[str], bool], oks: List[Tuple[str, str]]) -> None:
        """Reads lines (recording OK writes) until one satisfies ``predicate``."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT_S)
            except queue.Empty:
                raise AssertionError(f"peer printed nothing for {WAIT_S} s") from None
            if line == "EOF":
                err = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"peer exited early: {err}")
            if line.startswith("OK "):
                _, _version, key, value = line.split(" ", 3)
                oks.append((key, value))
            if predicate(line):
                return


def test_two_peers_converge_after_a_sigkill(tmp_path: Path) -> None:
    port_a, port_b = free_port(), free_port()
    wal_a, wal_b = tmp_path / "a.wal", tmp_path / "b.wal"
    oks_a: List[Tuple[str, str]] = []
    oks_b: List[Tuple[str, str]] = []
    a = Peer("node-a", wal_a, port_a, port_b)
    b = Peer("node-b", wal_b, port_b, port_a)
    try:
        count = [0]

        def kth_ok(line: str) -> bool:
            count[0] += line.startswith("OK ")
            return count[0] >= KILL_AFTER

        a.wait_for(kth_ok, oks_a)
        a.process.kill()  # SIGKILL, mid-stream
        a.process.wait(timeout=WAIT_S)
        a = Peer("node-a", wal_a, port_a, port_b)
        a.wait_for(lambda line: line == "IDLE", oks_a)
        b.wait_for(lambda line: line == "IDLE", oks_b)
    finally:
        for p in (a, b):
            if p.process.poll() is None:
                p.process.kill()
                p.process.wait()
    assert len(oks_a) > KILL_AFTER and len(oks_b) == WRITES

    keys = {key for key, _ in oks_a + oks_b} | {f"node-a:{i}" for i in range(1, WRITES + 1)}
    data: List[Dict[str, object]] = []
    for wal in (wal_a, wal_b):
        with sa.Store.open(wal) as store:
            data.append({key: store.get(key) for key in sorted(keys)})
    assert data[0] == data[1], "the two nodes hold different data"
    final = data[0]
    # Every OK write survives: a key written by one node once holds exactly that value; a
    # shared key holds one of the values written to it.
    for key, value in oks_a + oks_b:
        if key.startswith("shared:"):
            holder = final[key]
            assert isinstance(holder, bytes) and holder.split(b"#")[0] in (b"node-a", b"node-b")
        else:
            assert final[key] == value.encode(), key
