"""Processes for the JetStream tests and benchmark: nats-server instances (one, or a cluster)
on 127.0.0.1 with temporary store directories, and sync nodes run as
``python -m softadastra_sync.jetstream`` and driven through their command lines.

Every wait is bounded: a server or node that does not answer fails fast instead of hanging.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

PYTHON_DIR = Path(__file__).resolve().parents[1]
#: The longest any single step may take (a start, an answer, a stop).
STEP_TIMEOUT_S = 30.0


def free_ports(count: int) -> List[int]:
    """``count`` distinct ports free on 127.0.0.1 now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def nats_server_path() -> Optional[str]:
    """nats-server on PATH, or where Debian installs it (/usr/sbin may not be on PATH)."""
    found = shutil.which("nats-server")
    if found:
        return found
    return "/usr/sbin/nats-server" if os.access("/usr/sbin/nats-server", os.X_OK) else None


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nats-server on port {port} exited ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nats-server did not listen on port {port} within {timeout} s")


class NatsServer:
    """One nats-server with JetStream, on 127.0.0.1, storing under ``store_dir``; optionally
    a member of a cluster (``cluster_port`` and ``routes``, the other members' cluster ports)."""

    def __init__(
        self,
        name: str,
        port: int,
        store_dir: Path,
        log_path: Path,
        cluster_port: Optional[int] = None,
        routes: Sequence[int] = (),
    ) -> None:
        binary = nats_server_path()
        if binary is None:
            raise AssertionError("nats-server is not installed (Debian: apt-get install nats-server)")
        self.name = name
        self.port = port
        self.url = f"nats://127.0.0.1:{port}"
        self.command = [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store_dir),
                        "-n", name]
        if cluster_port is not None:
            self.command += ["--cluster_name", "sa-test", "--cluster",
                             f"nats://127.0.0.1:{cluster_port}"]
            if routes:
                self.command += ["--routes",
                                 ",".join(f"nats://127.0.0.1:{p}" for p in routes)]
        self.log_path = log_path
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "NatsServer":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for_port(self.port, self.process, STEP_TIMEOUT_S)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stops the server (SIGTERM: a clean shutdown; SIGKILL: a crash) and waits for it."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STEP_TIMEOUT_S)


def cluster(tmp: Path, size: int = 3) -> List[NatsServer]:
    """``size`` servers forming one JetStream cluster on loopback ports (not started)."""
    ports = free_ports(2 * size)
    client, routes = ports[:size], ports[size:]
    return [
        NatsServer(f"s{i}", client[i], tmp / f"store-s{i}", tmp / f"server-s{i}.log",
                   cluster_port=routes[i], routes=[p for j, p in enumerate(routes) if j != i])
        for i in range(size)
    ]


class NodeGone(Exception):
    """The node process ended (killed, or crashed) before it answered."""


class Node:
    """A sync node process: ``request`` sends one command line and returns its answer."""

    def __init__(self, node: str, wal: Path, servers: Sequence[str], log_path: Path,
                 extra: Sequence[str] = ()) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PYTHON_DIR), env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "softadastra_sync.jetstream", "--node", node,
                   "--wal", str(wal)]
        for url in servers:
            command += ["--server", url]
        self.node = node
        self.log_path = log_path
        log = open(log_path, "ab")
        self.process = subprocess.Popen(
            command + list(extra), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            text=True, env=env,
        )
        log.close()
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._next_line(STEP_TIMEOUT_S)
        if ready != f"READY {node}":
            raise AssertionError(f"{node} did not start: {ready!r}; log:\n{self.log_tail()}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _next_line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.node} did not answer within {timeout} s") from None
        if line is None:
            raise NodeGone(self.node)
        return line

    def request(self, command: str, timeout: float = STEP_TIMEOUT_S) -> str:
        with self._lock:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(command + "\n")
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                raise NodeGone(self.node) from None
            return self._next_line(timeout)

    def state(self) -> Dict[str, Any]:
        answer = self.request("state")
        assert answer.startswith("STATE "), answer
        return dict(json.loads(answer[len("STATE "):]))

    def digest(self) -> str:
        answer = self.request("digest")
        assert answer.startswith("DIGEST "), answer
        return answer.split(" ", 1)[1]

    def kill(self) -> None:
        """SIGKILL: the node dies wherever it is."""
        self.process.kill()
        self.process.wait(timeout=STEP_TIMEOUT_S)

    def stop(self) -> int:
        """Asks the node to stop (``quit``) and returns its exit status."""
        try:
            self.request("quit")
        except NodeGone:
            pass
        try:
            return self.process.wait(timeout=STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STEP_TIMEOUT_S)
            raise AssertionError(f"{self.node} did not stop; log:\n{self.log_tail()}") from None

    def ensure_dead(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STEP_TIMEOUT_S)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def unacknowledged(state: Dict[str, Any]) -> int:
    """Operations of a node's outbox not acknowledged yet (the log lacks them, or their ACK
    was not taken yet)."""
    engine = state["engine"]
    return int(engine["outbox_size"]) - int(engine["acknowledged_count"])


def wait_until_quiescent(nodes: Sequence[Node], timeout: float) -> List[Dict[str, Any]]:
    """Polls every node until all are connected with empty outboxes, consumers with nothing
    pending or unacknowledged, and the same digest; returns their final states. Raises
    (with every node's state and log) if that does not happen within ``timeout``."""
    deadline = time.monotonic() + timeout
    states: List[Dict[str, Any]] = []
    digests: List[str] = []
    while time.monotonic() < deadline:
        states = [node.state() for node in nodes]
        digests = [node.digest() for node in nodes]
        settled = all(
            s["connected"] and unacknowledged(s) == 0 and s["consumer"] is not None
            and s["consumer"]["num_pending"] == 0 and s["consumer"]["num_ack_pending"] == 0
            for s in states
        )
        if settled and len(set(digests)) == 1:
            return states
        time.sleep(0.2)
    report = "\n".join(
        f"{node.node}: {digest} {json.dumps(state)}\n{node.log_tail(10)}"
        for node, state, digest in zip(nodes, states, digests)
    )
    raise AssertionError(f"nodes did not converge within {timeout} s:\n{report}")
