#!/usr/bin/env python3
"""Prints the tables of BENCHMARKS.md (Markdown) from the figures scripts/bench-all.sh wrote:
the C-ABI program's TSV and criterion's per-case results (target/criterion/<group>/<case>/
<size>/new/: the median of the per-iteration times of the samples, and their min and max).
Standard library only.

    python3 scripts/bench_tables.py bench-results/c_abi.tsv [target/criterion]
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Tuple

SIZES = [10_000, 100_000, 1_000_000]
SIZE_NAMES = {10_000: "10 k", 100_000: "100 k", 1_000_000: "1 M"}
C_CALLS = ["submit", "submit_many", "next_batch", "ack", "ack_many", "remote_apply",
           "remote_apply_frame"]
# criterion group -> operations per iteration
CRITERION_GROUPS = {"submit": 1, "next_batch_ack": 1000, "remote_apply": 1}


def duration(ns: float) -> str:
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.0f} ns"


def cell(median: float, low: float, high: float) -> str:
    return f"{duration(median)} ({duration(low)}–{duration(high)})"


def c_tables(path: Path) -> None:
    rows: Dict[Tuple[str, str, int, int], Tuple[float, float, float]] = {}
    with path.open() as f:
        for row in csv.DictReader((line for line in f if not line.startswith("#")),
                                  delimiter="\t"):
            key = (row["call"], row["store"], int(row["value_bytes"]), int(row["pending"]))
            rows[key] = (float(row["median_ns"]), float(row["min_ns"]), float(row["max_ns"]))
    sizes = [s for s in SIZES if any(k[3] == s for k in rows)]
    for store in ["memory", "fast_wal"]:
        for value in [32, 1024]:
            print(f"\n**{store.replace('_', ' ')}, {value}-byte values** — median per operation "
                  "(min–max over the samples)\n")
            print("| call | " + " | ".join(SIZE_NAMES[s] for s in sizes) + " |")
            print("|---|" + "---|" * len(sizes))
            for call in C_CALLS:
                cells = [rows.get((call, store, value, s)) for s in sizes]
                if any(cells):
                    print(f"| {call} | " + " | ".join(cell(*c) if c else "—" for c in cells)
                          + " |")
            memory = [rows.get(("memory_bytes_per_pending_op", store, value, s)) for s in sizes]
            if any(memory):
                print("| resident memory per pending op | "
                      + " | ".join(f"{m[0]:.0f} B" if m else "—" for m in memory) + " |")


def criterion_table(root: Path) -> None:
    print("\n**Rust calls (criterion)** — median per operation (min–max over the samples)\n")
    cases = sorted({p.parents[2].name for p in root.glob("*/*/*/new/sample.json")})
    sizes = sorted({int(p.parents[1].name) for p in root.glob("*/*/*/new/sample.json")})
    print("| call | case | " + " | ".join(SIZE_NAMES.get(s, str(s)) for s in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for group, per_iteration in CRITERION_GROUPS.items():
        for case in cases:
            cells: List[str] = []
            for size in sizes:
                sample = root / group / case / str(size) / "new" / "sample.json"
                if not sample.is_file():
                    cells.append("—")
                    continue
                data = json.loads(sample.read_text())
                per_op = [t / i / per_iteration for t, i in zip(data["times"], data["iters"])]
                cells.append(cell(statistics.median(per_op), min(per_op), max(per_op)))
            if any(c != "—" for c in cells):
                print(f"| {group} | {case} | " + " | ".join(cells) + " |")


def main(argv: List[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    c_tables(Path(argv[1]))
    criterion_table(Path(argv[2]) if len(argv) == 3 else Path("target/criterion"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
