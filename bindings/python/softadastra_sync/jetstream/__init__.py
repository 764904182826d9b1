"""NATS JetStream as the transport between sync nodes: every node publishes the V2 frames of
its batches to one stream (a subject per origin) and reads the other origins' frames through
a durable consumer. Needs nats-py (``pip install 'softadastra-sync[jetstream]'``).

    engine = SyncEngine(Store.open("a.wal"), node_sync_config("node-a"))
    node = JetStreamNode(engine, JetStreamOptions(servers=["nats://127.0.0.1:4222"]))
    await node.run(stop)           # an asyncio.Event; engine.submit_put(...) from anywhere,
                                   # then node.notify_write()

A runnable node: ``python -m softadastra_sync.jetstream --node ID --wal PATH --server URL``.
"""

from __future__ import annotations

from .naming import all_origins_subject, consumer_name, escape_token, origin_subject
from .node import JetStreamNode, JetStreamOptions, node_sync_config

__all__ = [
    "JetStreamNode",
    "JetStreamOptions",
    "node_sync_config",
    "origin_subject",
    "all_origins_subject",
    "consumer_name",
    "escape_token",
]
