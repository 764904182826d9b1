#!/usr/bin/env python3
"""ACK tracker: the standalone tracker of sync ids waiting for an acknowledgement, each with
a deadline. (The engine tracks its own in-flight operations; this is for applications that
track deliveries themselves.) The Python version of the module doc's ack_tracker example."""

import sys
from pathlib import Path

try:
    import softadastra_sync  # noqa: F401
except ImportError:  # run from a source checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softadastra_sync import AckTracker, ManualClock


def main() -> int:
    print("== ACK TRACKER EXAMPLE ==")

    # Deadlines are measured on this clock; a manual one never lets the 10 s timeout pass by
    # accident, so the run is reproducible. (No clock means the system clock.)
    with ManualClock(1_700_000_000_000) as clock, AckTracker(clock) as tracker:
        # Waiting for an ACK of node-a-1 for at most 10 seconds.
        tracker.track("node-a-1", 10_000)
        print(f"Tracked count: {tracker.size()}")

        print(f"Waiting: {int(tracker.is_waiting('node-a-1'))}")

        # The ACK arrives. The result tells whether the id was tracked at all.
        known = tracker.ack("node-a-1")
        print(f"Acknowledged: {int(tracker.acknowledged('node-a-1'))}")

        # Acknowledged ids are kept until pruned, so a late duplicate ACK is still recognised.
        removed = tracker.prune_received()
        print(f"Removed: {removed}")

        return 0 if known and tracker.empty() else 1


if __name__ == "__main__":
    sys.exit(main())
