"""Sync nodes as real processes over NATS JetStream (``python -m softadastra_sync.jetstream``),
everything on 127.0.0.1:

- five nodes write concurrently (some keys on every node, some deletes) to one server; one
  node is SIGKILLed and restarted on its WAL, and the server is restarted while the nodes keep
  writing;
- three nodes on a three-server cluster with a stream of three replicas; one server is
  SIGKILLed mid-run.

At quiescence every node holds the same entries (key, value, stamp, origin), each key holds
the last write made to it (last-writer-wins over every write that returned OK), and no outbox,
reopened from its WAL, holds an unacknowledged operation.

The workload is seeded; the timing of kills is tied to the number of writes made, not to the
clock. Every wait is bounded. Needs nats-server (Debian) and nats-py: skipped without them,
except under SA_REQUIRE_JETSTREAM=1 (the test command installs both and sets it).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

import softadastra_sync as sa
from jetstream_harness import (
    NatsServer,
    Node,
    NodeGone,
    cluster,
    free_ports,
    nats_server_path,
    unacknowledged,
    wait_until_quiescent,
)

STREAM = "SOFTADASTRA_SYNC"
CONVERGE_S = 90.0
SHARED_KEYS = 6


@pytest.fixture(autouse=True)
def jetstream_available() -> None:
    missing = [name for name, present in (
        ("nats-py", importlib.util.find_spec("nats") is not None),
        ("nats-server", nats_server_path() is not None),
    ) if not present]
    if missing:
        message = f"JetStream tests need {' and '.join(missing)}"
        if os.environ.get("SA_REQUIRE_JETSTREAM") == "1":
            pytest.fail(message)
        pytest.skip(message)


@dataclass(frozen=True)
class Write:
    node: str
    key: str
    value: Optional[str]  # None: a delete
    stamp: int  # 0 when unknown (the node died before answering)


def test_node_ids_map_one_to_one_to_plain_subject_tokens() -> None:
    from softadastra_sync.jetstream import consumer_name, escape_token, origin_subject

    ids = ["node-a", "node.a", "node~2Ea", "a*b", "a>b", "n\u00e9", "~", "~7E", "A_b-9"]
    tokens = [escape_token(node) for node in ids]
    assert len(set(tokens)) == len(ids)
    assert tokens[:3] == ["node-a", "node~2Ea", "node~7E2Ea"]
    for token in tokens:
        assert not set(token) & set(".*> \t") and token.isascii() and token.isprintable()
    assert origin_subject("app.sync", "node.a") == "app.sync.ops.node~2Ea"
    assert consumer_name("node.a") == "sync-node~2Ea"


def plan(node: str, count: int, rng: random.Random) -> List[Tuple[str, Optional[str]]]:
    """A node's writes: most to keys of its own, a third to keys every node writes, a few of
    those deletes."""
    writes: List[Tuple[str, Optional[str]]] = []
    for i in range(1, count + 1):
        if rng.random() < 0.35:
            key = f"shared:{rng.randrange(SHARED_KEYS)}"
            writes.append((key, None if rng.random() < 0.15 else f"{node}#{i}"))
        else:
            writes.append((f"{node}:{i}", f"{node}#{i}"))
    return writes


class Slot:
    """The current process of one node, replaced when the node is restarted."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.back = threading.Event()
        self.back.set()


class Writer(threading.Thread):
    """Makes one node's planned writes one after the other (a short seeded pause between
    them), recording each write that returned OK, and the one in flight when the node died."""

    def __init__(self, name: str, slot: Slot, count: int, seed: int, pause_s: float) -> None:
        super().__init__(daemon=True)
        self.name_ = name
        self.slot = slot
        self.rng = random.Random(seed)
        self.writes = plan(name, count, self.rng)
        self.pause_s = pause_s
        self.certain: List[Write] = []
        self.uncertain: List[Write] = []
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            for key, value in self.writes:
                command = f"put {key} {value}" if value is not None else f"del {key}"
                try:
                    answer = self.slot.node.request(command)
                except NodeGone:
                    self.uncertain.append(Write(self.name_, key, value, 0))
                    assert self.slot.back.wait(60), f"{self.name_} was not restarted"
                    continue
                ok, _sync_id, stamp, written = answer.split(" ", 3)
                assert ok == "OK" and written == key, answer
                self.certain.append(Write(self.name_, key, value, int(stamp)))
                time.sleep(self.rng.uniform(0, 2 * self.pause_s))
        except BaseException as exc:  # reported by the test
            self.error = exc


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def finish(writers: Sequence[Writer]) -> None:
    for writer in writers:
        writer.join(timeout=120)
        assert not writer.is_alive(), f"{writer.name_} did not finish its writes"
        if writer.error is not None:
            raise writer.error


def read_wal(path: Path) -> Dict[str, Tuple[bytes, int, str]]:
    with sa.Store.open(path) as store:
        return {e.key: (e.value, e.stamp, e.origin) for e in store.entries()}


def unacknowledged_in_wal(path: Path, node: str) -> int:
    """Operations the outbox recovered from the WAL still holds unacknowledged."""
    with sa.Store.open(path) as store, sa.SyncEngine(store, sa.SyncConfig.durable(node)) as e:
        s = e.state()
        return s.pending_count + s.queued_count + s.in_flight_count + s.failed_count


def check_end_state(wals: Dict[str, Path], writers: Sequence[Writer]) -> None:
    """Same data everywhere, the last write of each key kept, no unacknowledged operation."""
    data = {node: read_wal(path) for node, path in wals.items()}
    first = next(iter(data.values()))
    for node, entries in data.items():
        assert entries == first, f"{node} holds other data than {next(iter(data))}"

    certain: Dict[str, List[Write]] = {}
    uncertain: Dict[str, List[Write]] = {}
    for writer in writers:
        for w in writer.certain:
            certain.setdefault(w.key, []).append(w)
        for w in writer.uncertain:
            uncertain.setdefault(w.key, []).append(w)
    assert set(first) <= set(certain) | set(uncertain), "a key nobody wrote"
    for key, writes in certain.items():
        # Last-writer-wins: the greatest (stamp, origin) among the writes that returned OK.
        last = max(writes, key=lambda w: (w.stamp, w.node))
        held = first.get(key)
        if held is not None and (held[1], held[2]) == (last.stamp, last.node):
            assert last.value is not None and held[0] == last.value.encode(), key
            continue
        # Otherwise only a write whose outcome is unknown (its node was killed) may have won.
        maybe = uncertain.get(key, [])
        if held is None:
            assert last.value is None or any(w.value is None for w in maybe), (
                f"{key}: the last write ({last}) is lost")
        else:
            value, stamp, origin = held
            assert (stamp, origin) > (last.stamp, last.node) and any(
                w.node == origin and w.value is not None and w.value.encode() == value
                for w in maybe), f"{key} holds {held}, not the last write {last}"
    for node, path in wals.items():
        assert unacknowledged_in_wal(path, node) == 0, f"{node}'s outbox is not empty"


def total_oks(writers: Sequence[Writer]) -> int:
    return sum(len(w.certain) for w in writers)


def test_nodes_converge_through_node_kill_and_server_restart(tmp_path: Path) -> None:
    names = [f"node-{i}" for i in range(1, 6)]
    server = NatsServer("solo", free_ports(1)[0], tmp_path / "store", tmp_path / "server.log")
    wals = {name: tmp_path / f"{name}.wal" for name in names}
    extra = ["--ack-wait", "2", "--publish-timeout", "1"]

    def start(name: str) -> Node:
        return Node(name, wals[name], [server.url], tmp_path / f"{name}.log", extra)

    # The nodes start before the server: they accept writes before they ever reached it.
    slots = {name: Slot(start(name)) for name in names}
    writers = [Writer(name, slots[name], 100, seed, 0.025)
               for seed, name in enumerate(names, start=14)]
    try:
        for writer in writers:
            writer.start()
        wait_for(lambda: total_oks(writers) >= 20, "20 writes with no server")
        server.start()
        victim = writers[1]
        wait_for(lambda: len(victim.certain) >= 30, "the victim's 30th write")
        slots[victim.name_].back.clear()
        slots[victim.name_].node.kill()
        slots[victim.name_].node = start(victim.name_)
        slots[victim.name_].back.set()

        wait_for(lambda: total_oks(writers) >= 250, "250 writes")
        server.stop()
        before = total_oks(writers)
        time.sleep(1.0)  # the nodes keep writing with no server
        # The stuck-queue figures show it: operations wait, and the oldest one ages.
        cut_off = slots[names[0]].node.state()
        written_while_down = total_oks(writers) - before
        server.start()
        finish(writers)
        states = wait_until_quiescent([s.node for s in slots.values()], CONVERGE_S)
        for slot in slots.values():
            assert slot.node.stop() == 0, slot.node.log_tail()
    finally:
        for slot in slots.values():
            slot.node.ensure_dead()
        server.stop()

    check_end_state(wals, writers)
    assert written_while_down > 0, "no write was made while the server was down"
    assert not cut_off["connected"] and cut_off["consumer"] is None
    assert unacknowledged(cut_off) > 0
    assert cut_off["engine"]["oldest_unacknowledged_age_ms"] >= 500
    assert all(s["engine"]["remote_applied_count"] > 0 for s in states)
    # Publishes failed while the server was away: the engine's retries resent them.
    assert sum(s["engine"]["total_retries"] for s in states) > 0


async def stream_replicas(url: str) -> int:
    import nats

    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        info = await nc.jetstream(timeout=5).stream_info(STREAM)
        return int(info.config.num_replicas)
    finally:
        await nc.close()


def test_nodes_converge_on_a_cluster_losing_a_server(tmp_path: Path) -> None:
    servers = cluster(tmp_path, 3)
    names = [f"node-{i}" for i in range(1, 4)]
    wals = {name: tmp_path / f"{name}.wal" for name in names}
    slots: Dict[str, Slot] = {}
    try:
        for server in servers:
            server.start()
        for i, name in enumerate(names):
            # Each node lists every server, starting from a different one.
            urls = [s.url for s in servers[i:] + servers[:i]]
            slots[name] = Slot(Node(name, wals[name], urls, tmp_path / f"{name}.log",
                                    ["--replicas", "3", "--ack-wait", "2"]))
        writers = [Writer(name, slots[name], 60, seed, 0.03)
                   for seed, name in enumerate(names, start=41)]
        for writer in writers:
            writer.start()
        wait_for(lambda: total_oks(writers) >= 80, "80 writes")
        servers[0].stop(signal.SIGKILL)
        finish(writers)
        nodes = [slot.node for slot in slots.values()]
        wait_until_quiescent(nodes, CONVERGE_S)
        replicas = asyncio.run(asyncio.wait_for(stream_replicas(servers[1].url), 20))
        for node in nodes:
            assert node.stop() == 0, node.log_tail()
    finally:
        for slot in slots.values():
            slot.node.ensure_dead()
        for server in servers:
            server.stop()

    assert replicas == 3
    assert all(len(w.certain) == 60 for w in writers)
    check_end_state(wals, writers)
