"""End-to-end figures of the JetStream transport: nodes as separate processes, each on its own
durable WAL, one nats-server with JetStream on 127.0.0.1 (a temporary store).

    python3 bench_jetstream.py [--nodes 3] [--burst 2000] [--rate 100] [--seconds 10]

Two runs, every node writing distinct keys at the same time:

- burst: each node submits ``--burst`` writes as fast as it can. Throughput = all the writes
  divided by the time from the first submit to the moment the last node holds every write
  (writes/s made visible on every node).
- paced: each node writes ``--rate`` writes/s for ``--seconds`` s, a load the nodes keep up
  with, so the latency is the transport's, not a queue's.

Latency of a write: from its submit on its node to its apply on the last other node, read on
the machine's one clock. A write is matched to its frame by the stream sequence number the
publish acknowledgement gives and the consumers see, so nothing decodes frames here.
Needs nats-server and nats-py (``bash scripts/jetstream-venv.sh`` makes a Python that has it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "tests"))

import softadastra_sync as sa  # noqa: E402
from softadastra_sync.jetstream import (  # noqa: E402
    JetStreamNode,
    JetStreamOptions,
    node_sync_config,
)

WORKER_TIMEOUT_S = 300


# --------------------------------------------------------------------------------------------
# One node (a worker process)


def worker(args: argparse.Namespace) -> None:
    """Runs one node: says READY once its consumer is up, writes after the parent's ``go``
    line, and prints what it saw as JSON once it holds every other node's writes."""
    submits: Dict[str, int] = {}
    published: Dict[int, List[str]] = {}
    applied: Dict[int, int] = {}
    expected_remote = args.writes * args.peers
    handled = [0]

    def on_published(seq: int, batch: Any) -> None:
        published[seq] = [envelope.sync_id for envelope in batch]

    def on_applied(seq: int, report: sa.ReceiveReport) -> None:
        if seq in applied:
            return  # a redelivery
        applied[seq] = time.time_ns()
        handled[0] += report.applied + report.ignored

    with sa.Store.open(args.wal) as store, \
            sa.SyncEngine(store, node_sync_config(args.node)) as engine:
        node = JetStreamNode(engine, JetStreamOptions(servers=[args.server]),
                             on_published=on_published, on_applied=on_applied)

        def write() -> None:
            while asyncio.run_coroutine_threadsafe(node.status(), loop).result(10)[
                    "consumer"] is None:
                time.sleep(0.05)
            print("READY", flush=True)
            sys.stdin.readline()  # "go"
            value = b"v" * 16
            start = time.monotonic()
            for i in range(args.writes):
                if args.rate:
                    delay = start + i / args.rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                t = time.time_ns()
                op = engine.submit_put(f"{args.node}:{i}", value)
                submits[op.sync_id] = t
                node.notify_write()

        async def main() -> None:
            stop = asyncio.Event()
            runner = asyncio.ensure_future(node.run(stop))
            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            while True:
                state = engine.state()
                if (handled[0] >= expected_remote and not writer.is_alive()
                        and state.outbox_size == state.acknowledged_count):
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await runner

        loop = asyncio.new_event_loop()
        loop.run_until_complete(asyncio.wait_for(main(), WORKER_TIMEOUT_S))
        loop.close()
    print(json.dumps({"node": args.node, "submits": submits, "published": published,
                      "applied": applied}), flush=True)


# --------------------------------------------------------------------------------------------
# The parent


def run(nodes: int, writes: int, rate: float, work: Path, label: str) -> Dict[str, float]:
    from jetstream_harness import NatsServer, free_ports

    server = NatsServer("bench", free_ports(1)[0], work / f"{label}-store",
                        work / f"{label}-server.log").start()
    procs = []
    try:
        for i in range(nodes):
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "--worker", "--node", f"node-{i}",
                 "--wal", str(work / f"{label}-node-{i}.wal"), "--server", server.url,
                 "--writes", str(writes), "--peers", str(nodes - 1), "--rate", str(rate)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=WORKER_TIMEOUT_S)
            assert proc.returncode == 0, f"a worker failed ({proc.returncode})"
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        server.stop()
    return figures(results, nodes * writes)


def figures(results: List[Dict[str, Any]], total: int) -> Dict[str, float]:
    latencies = []
    for origin in results:
        others = [r for r in results if r is not origin]
        first_seq: Dict[str, int] = {}
        for seq, ids in sorted(origin["published"].items(), key=lambda kv: int(kv[0])):
            for sync_id in ids:
                first_seq.setdefault(sync_id, int(seq))
        for sync_id, submitted in origin["submits"].items():
            seq = str(first_seq[sync_id])
            arrived = max(other["applied"][seq] for other in others)
            latencies.append((arrived - submitted) / 1e6)
    assert len(latencies) == total
    start = min(t for r in results for t in r["submits"].values())
    end = max(t for r in results for t in r["applied"].values())
    latencies.sort()
    return {
        "writes": total,
        "seconds": (end - start) / 1e9,
        "throughput": total / ((end - start) / 1e9),
        "median_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--node")
    parser.add_argument("--wal")
    parser.add_argument("--server")
    parser.add_argument("--writes", type=int)
    parser.add_argument("--peers", type=int)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--burst", type=int, default=2000, help="writes per node, burst run")
    parser.add_argument("--rate", type=float, default=100.0, help="writes/s per node, paced")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced run")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"library: {sa.library_path()}")
    with tempfile.TemporaryDirectory() as tmp:
        burst = run(args.nodes, args.burst, 0, Path(tmp), "burst")
        paced = run(args.nodes, int(args.rate * args.seconds), args.rate, Path(tmp), "paced")
    print(f"| run ({args.nodes} nodes) | writes | writes/s visible on every node "
          "| write → last node, median | p99 |")
    print("|---|---|---|---|---|")
    for name, f in ((f"burst ({args.burst} per node)", burst),
                    (f"paced ({args.rate:g}/s per node)", paced)):
        print(f"| {name} | {f['writes']} | {f['throughput']:.0f} | {f['median_ms']:.1f} ms "
              f"| {f['p99_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
