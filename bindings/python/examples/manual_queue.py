#!/usr/bin/env python3
"""Manual queue: with auto_queue off, a submitted operation stays pending (tracked in the
outbox, not sent) until the application queues it. The Python version of the module doc's
manual_queue example."""

import sys
import tempfile
from pathlib import Path

try:
    import softadastra_sync  # noqa: F401
except ImportError:  # run from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softadastra_sync import ManualClock, Store, SyncConfig, SyncEngine


def main() -> int:
    print("== MANUAL QUEUE EXAMPLE ==")

    with tempfile.TemporaryDirectory() as tmp:
        wal_path = Path(tmp) / "manual_queue_store.wal"

        config = SyncConfig.durable("node-a")
        # The application decides when an operation may leave (e.g. after a user confirms).
        config.auto_queue = False

        with Store.open(wal_path) as store, SyncEngine(store, config) as engine:
            # A manual clock makes stamps (and so every run) reproducible.
            engine.set_clock(ManualClock(1_700_000_000_000))

            submitted = engine.submit_put("manual:key", b"manual-value")

            # The write is in the store and the outbox, but pending: not queued yet.
            print(f"Queued before manual queue: {engine.state().queued_count}")

            # Queue it by its sync id (this is logged, so it survives a restart).
            engine.queue(submitted.sync_id)
            print(f"Queued after manual queue: {engine.state().queued_count}")

            batch = engine.next_batch()
            print(f"Batch size: {len(batch)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
