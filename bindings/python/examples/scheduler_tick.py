#!/usr/bin/env python3
"""Scheduler tick: one deterministic sync step (retry expired operations, optionally prune
acknowledged ones, take the next batch). The Python version of the module doc's
scheduler_tick example."""

import sys
import tempfile
from pathlib import Path

try:
    import softadastra_sync  # noqa: F401
except ImportError:  # run from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softadastra_sync import ManualClock, Store, SyncConfig, SyncEngine


def main() -> int:
    print("== SYNC SCHEDULER TICK EXAMPLE ==")

    with tempfile.TemporaryDirectory() as tmp:
        wal_path = Path(tmp) / "scheduler_tick_store.wal"

        with Store.open(wal_path) as store, SyncEngine(
            store, SyncConfig.durable("node-a")
        ) as engine:
            # Ticks read the clock (ACK deadlines, retry back-off): a manual clock makes them
            # reproducible.
            engine.set_clock(ManualClock(1_700_000_000_000))

            engine.submit_put("task:1", b"sync-me")

            # prune=False: keep acknowledged operations in the outbox for inspection.
            tick = engine.tick(prune=False)

            print(f"Tick batch size: {tick.batch_size}")
            # A tick "has work" when it produced operations to send (printed as C++ does).
            print(f"Tick has work: {int(tick.has_work)}")

            for envelope in tick.batch:
                print(f"Transport should send: {envelope.operation.sync_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
