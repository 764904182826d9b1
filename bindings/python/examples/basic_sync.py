#!/usr/bin/env python3
"""Basic sync: a local write becomes a sync operation, which is queued and handed out in a
batch for a transport to send. The Python version of the module doc's basic_sync example."""

import sys
import tempfile
from pathlib import Path

try:
    import softadastra_sync  # noqa: F401
except ImportError:  # run from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softadastra_sync import ManualClock, Store, SyncConfig, SyncEngine


def main() -> int:
    print("== BASIC SYNC EXAMPLE ==")

    # Start from an empty log: a WAL left by an earlier run would be replayed.
    with tempfile.TemporaryDirectory() as tmp:
        wal_path = Path(tmp) / "basic_sync_store.wal"

        # The durable preset: writes are on disk before they return, and sent operations
        # wait for an ACK. The node id is the origin of every operation and the prefix of its
        # ids. Building the engine validates the store and config (the C++ SyncContext step).
        with Store.open(wal_path) as store, SyncEngine(
            store, SyncConfig.durable("node-a")
        ) as engine:
            # A manual clock makes stamps (and so every run) reproducible.
            engine.set_clock(ManualClock(1_700_000_000_000))

            # The local write is applied to the store first, then tracked for propagation.
            submitted = engine.submit_put("user:1", b"Gaspard")
            print(f"Submitted sync id: {submitted.sync_id}")

            # auto_queue is on, so the operation is already queued: the batch holds it.
            batch = engine.next_batch()
            print(f"Batch size: {len(batch)}")

            for envelope in batch:
                # A transport would send envelope.operation here.
                print(
                    f"Ready to send: {envelope.operation.sync_id} "
                    f"version={envelope.operation.version}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
