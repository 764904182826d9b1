"""``python -m softadastra_sync.jetstream --node ID --wal PATH --server URL [...]``: a sync
node on its own WAL whose transport is NATS JetStream, driven by commands on standard input
(see :mod:`softadastra_sync.jetstream.console`). Prints ``READY <node>`` once it accepts
writes (before it has reached a server); stops on ``quit``, SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import List, Optional

from ..core import Store, SyncEngine
from .console import Console
from .node import JetStreamNode, JetStreamOptions, node_sync_config


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    defaults = JetStreamOptions()
    parser = argparse.ArgumentParser(
        prog="python -m softadastra_sync.jetstream",
        description="A softadastra-sync node syncing through a NATS JetStream stream.",
    )
    parser.add_argument("--node", required=True, help="this node's id")
    parser.add_argument("--wal", required=True, help="the node's write-ahead log file")
    parser.add_argument(
        "--server", action="append", required=True, metavar="URL",
        help="a NATS server URL, e.g. nats://127.0.0.1:4222 (repeat for a cluster)",
    )
    parser.add_argument("--stream", default=defaults.stream)
    parser.add_argument("--subject-prefix", default=defaults.subject_prefix)
    parser.add_argument(
        "--replicas", type=int, default=defaults.replicas,
        help="stream replicas if this node creates the stream (default %(default)s)",
    )
    parser.add_argument(
        "--publish-timeout", type=float, default=defaults.publish_timeout_s, metavar="S",
        help="seconds a publish waits for the stream's acknowledgement",
    )
    parser.add_argument(
        "--ack-wait", type=float, default=defaults.ack_wait_s, metavar="S",
        help="seconds before JetStream redelivers a frame this node did not acknowledge "
        "(set when the node's durable consumer is created)",
    )
    return parser.parse_args(argv)


async def serve(engine: SyncEngine, options: JetStreamOptions) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    node = JetStreamNode(engine, options)
    Console(engine, node, loop, stop.set).start()
    print(f"READY {engine.node_id}", flush=True)
    await node.run(stop)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    options = JetStreamOptions(
        servers=args.server,
        stream=args.stream,
        subject_prefix=args.subject_prefix,
        replicas=args.replicas,
        publish_timeout_s=args.publish_timeout,
        ack_wait_s=args.ack_wait,
    )
    with Store.open(args.wal) as store:
        with SyncEngine(store, node_sync_config(args.node, options.publish_timeout_s)) as engine:
            asyncio.run(serve(engine, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
