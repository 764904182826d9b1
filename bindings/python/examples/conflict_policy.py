#!/usr/bin/env python3
"""Conflict policy: decide whether a remote write replaces the local one. The decision is a
pure function of the two writes and the policy, so every node decides alike. The Python
version of the module doc's conflict_policy example."""

import sys
from pathlib import Path

try:
    import softadastra_sync  # noqa: F401
except ImportError:  # run from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softadastra_sync import ConflictPolicy, make_stamp, resolve_conflict


def main() -> int:
    print("== CONFLICT POLICY EXAMPLE ==")

    # A write is identified by its hybrid-clock stamp (wall ms << 16 | logical counter) and
    # its origin node. Here node-a holds doc:1 = "local" and node-b sends doc:1 = "remote",
    # both written in the same millisecond.
    written_at_ms = 1_700_000_000_000
    local_stamp = make_stamp(written_at_ms)
    remote_stamp = make_stamp(written_at_ms)

    # Last-write-wins orders writes by (stamp, origin): equal stamps are broken by node id,
    # so "node-b" > "node-a" and the remote write wins, on every node.
    resolution = resolve_conflict(
        ConflictPolicy.LAST_WRITE_WINS, local_stamp, "node-a", remote_stamp, "node-b"
    )

    # Printed as C++ prints bools.
    print(f"Conflict detected: {int(resolution.conflict_detected)}")
    print(f"Apply remote: {int(resolution.apply_remote)}")
    print(f"Keep local: {int(resolution.keep_local)}")

    # A usable decision chooses exactly one outcome.
    return 0 if resolution.is_valid() else 1


if __name__ == "__main__":
    sys.exit(main())
