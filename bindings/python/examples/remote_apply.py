#!/usr/bin/env python3
"""Remote apply: an operation received from another node is validated, checked for conflicts
with the configured policy, and applied to the local store when accepted. The Python version
of the module doc's remote_apply example."""

import sys
import tempfile
from pathlib import Path

try:
    import softadastra_sync  # noqa: F401
except ImportError:  # run from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softadastra_sync import (
    ManualClock,
    Store,
    SyncConfig,
    SyncEngine,
    SyncError,
    SyncOperation,
    make_stamp,
)


def main() -> int:
    print("== REMOTE APPLY EXAMPLE ==")

    with tempfile.TemporaryDirectory() as tmp:
        wal_path = Path(tmp) / "remote_apply_store.wal"

        with Store.open(wal_path) as store, SyncEngine(
            store, SyncConfig.durable("node-local")
        ) as engine:
            # Remote stamps are checked against the local clock (max_clock_skew_ms): a manual
            # clock keeps the example reproducible.
            now_ms = 1_700_000_000_000
            engine.set_clock(ManualClock(now_ms))

            # What a transport would deliver: version 1 of node-remote, a put of
            # remote:user:1, written on node-remote "now". In a real exchange this is the
            # `operation` of an envelope from the sender's next_batch().
            remote_sync_operation = SyncOperation.put(
                sync_id="node-remote-1",
                origin="node-remote",
                version=1,
                key="remote:user:1",
                value=b"Remote value",
                stamp=make_stamp(now_ms),
            )

            # An invalid operation would raise here, and leave the store untouched.
            try:
                result = engine.receive_remote(remote_sync_operation)
            except SyncError as error:
                print(f"remote apply failed: {error.message}", file=sys.stderr)
                return 1

            if result.applied:
                print("Remote operation applied")

            # The store now holds the remote value; an absent key would give None.
            value = store.get("remote:user:1")
            if value is not None:
                print(f"Stored value: {value.decode()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
