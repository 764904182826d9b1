#!/usr/bin/env python3
"""Retry: an operation sent without an ACK before its timeout is re-queued (while retries
remain) to be sent again; past max_retries it is marked failed, never dropped. The Python
version of the module doc's retry example."""

import sys
import tempfile
from pathlib import Path

try:
    import softadastra_sync  # noqa: F401
except ImportError:  # run from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softadastra_sync import ManualClock, Store, SyncConfig, SyncEngine


def main() -> int:
    print("== SYNC RETRY EXAMPLE ==")

    with tempfile.TemporaryDirectory() as tmp:
        wal_path = Path(tmp) / "retry_store.wal"

        # The fast preset does not wait for ACKs; turn them on, with a tiny timeout so that
        # the example does not wait.
        config = SyncConfig.fast("node-a")
        config.require_ack = True
        config.max_retries = 3
        config.ack_timeout_ms = 1
        config.retry_interval_ms = 1

        with Store.open(wal_path) as store, SyncEngine(store, config) as engine:
            # Timeouts are measured on the engine's clock: a manual clock lets the example
            # decide exactly when the ACK timeout has passed, instead of sleeping.
            clock = ManualClock(1_700_000_000_000)
            engine.set_clock(clock)

            engine.submit_put("retry:key", b"retry-value")

            # Sending makes the operation in flight until its ACK, or until 1 ms passes.
            batch = engine.next_batch()
            print(f"Initial batch size: {len(batch)}")

            # No ACK comes back: let the timeout pass.
            clock.advance(1)
            retried = engine.retry_expired()
            print(f"Retried count: {retried}")

            # Still tracked (queued again): failed delivery is never hidden.
            print(f"Outbox size: {engine.state().outbox_size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
