#!/usr/bin/env python3
"""Draws the chart of BENCHMARKS.md: per-operation cost against pending operations, through
the C ABI (memory store, 32-byte values), beside the C++ module's figures quoted in issue 11.

Reads the TSV written by benches/c/bench_calls.c (scripts/bench-all.sh), writes an SVG with
log-log axes: one line per call (median, with a min-max bar), hollow markers for the C++
module. Standard library only.

    python3 scripts/bench_chart.py bench-results/c_abi.tsv docs/benchmarks-per-op.svg
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Dict, List, Tuple

# The C++ module, as measured on this machine in 2026-11 (issue 11's table): ns per
# operation at 10 000 pending, memory store unless said.
CPP_MODULE = [
    ("submit", 528_000.0),
    ("next_batch + ack", 15_600.0 + 43_800.0),
    ("remote apply", 248.0),
]

# (label, colour, calls summed for one operation)
SERIES = [
    ("submit", "#1f77b4", ["submit"]),
    ("submit_many", "#17becf", ["submit_many"]),
    ("next_batch + ack", "#d62728", ["next_batch", "ack"]),
    ("next_batch + ack_many", "#ff9896", ["next_batch", "ack_many"]),
    ("remote apply", "#2ca02c", ["remote_apply"]),
    ("remote apply, frame", "#98df8a", ["remote_apply_frame"]),
]

WIDTH, HEIGHT = 820, 500
LEFT, RIGHT, TOP, BOTTOM = 70, 230, 40, 60
X_RANGE = (5e3, 2e6)
Y_RANGE = (10.0, 1e6)

Figures = Dict[Tuple[str, int], Tuple[float, float, float]]


def read(path: Path, store: str = "memory", value_bytes: int = 32) -> Figures:
    """(call, pending) -> (median, min, max) ns for one store and value size."""
    figures: Figures = {}
    with path.open() as f:
        for row in csv.DictReader((line for line in f if not line.startswith("#")),
                                  delimiter="\t"):
            if row["store"] == store and int(row["value_bytes"]) == value_bytes:
                figures[(row["call"], int(row["pending"]))] = (
                    float(row["median_ns"]), float(row["min_ns"]), float(row["max_ns"]))
    return figures


def x_of(pending: float) -> float:
    lo, hi = (math.log10(v) for v in X_RANGE)
    return LEFT + (math.log10(pending) - lo) / (hi - lo) * (WIDTH - LEFT - RIGHT)


def y_of(ns: float) -> float:
    lo, hi = (math.log10(v) for v in Y_RANGE)
    ns = min(max(ns, Y_RANGE[0]), Y_RANGE[1])
    return HEIGHT - BOTTOM - (math.log10(ns) - lo) / (hi - lo) * (HEIGHT - TOP - BOTTOM)


def duration(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    return f"{ns / 1000:.3g} µs" if ns >= 1000 else f"{ns:.3g} ns"


def axes() -> List[str]:
    parts = []
    for exp in range(1, 7):
        y = y_of(10.0 ** exp)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{duration(10.0 ** exp)}</text>')
    for pending, label in [(1e4, "10 k"), (1e5, "100 k"), (1e6, "1 M")]:
        x = x_of(pending)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                     f'{label}</text>')
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 15}" '
                 'text-anchor="middle">pending operations</text>')
    parts.append(f'<text x="18" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 18 {(TOP + HEIGHT - BOTTOM) / 2})">'
                 'time per operation (log)</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
                 f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#888"/>')
    return parts


def series(figures: Figures) -> List[str]:
    parts = []
    legend_y = TOP + 10
    for label, colour, calls in SERIES:
        points = []
        for pending in sorted({p for (_, p) in figures}):
            found = [figures.get((call, pending)) for call in calls]
            if all(found):
                points.append((pending, *(sum(f[i] for f in found) for i in range(3))))
        if not points:
            continue
        path = " ".join(f"{x_of(p):.1f},{y_of(m):.1f}" for p, m, _, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        for pending, median, low, high in points:
            x = x_of(pending)
            parts.append(f'<line x1="{x:.1f}" y1="{y_of(low):.1f}" x2="{x:.1f}" '
                         f'y2="{y_of(high):.1f}" stroke="{colour}"/>')
            parts.append(f'<circle cx="{x:.1f}" cy="{y_of(median):.1f}" r="3.5" '
                         f'fill="{colour}"><title>{label} at {pending}: median '
                         f'{duration(median)} (min {duration(low)}, max {duration(high)})'
                         '</title></circle>')
        parts.append(f'<line x1="{WIDTH - RIGHT + 15}" y1="{legend_y}" '
                     f'x2="{WIDTH - RIGHT + 35}" y2="{legend_y}" stroke="{colour}" '
                     'stroke-width="2"/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 40}" y="{legend_y + 4}">{label}</text>')
        legend_y += 20
    legend_y += 10
    parts.append(f'<text x="{WIDTH - RIGHT + 15}" y="{legend_y}">C++ module, 10 k pending</text>')
    parts.append(f'<text x="{WIDTH - RIGHT + 15}" y="{legend_y + 16}">(issue 11, 2026-11):</text>')
    legend_y += 36
    colours = {label: colour for label, colour, _ in SERIES}
    for label, ns in CPP_MODULE:
        x, y = x_of(1e4), y_of(ns)
        parts.append(f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" '
                     f'fill="none" stroke="{colours[label]}" stroke-width="2"><title>C++ '
                     f'module, {label}: {duration(ns)}</title></rect>')
        parts.append(f'<rect x="{WIDTH - RIGHT + 20}" y="{legend_y - 9}" width="10" '
                     f'height="10" fill="none" stroke="{colours[label]}" stroke-width="2"/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 40}" y="{legend_y}">{label} '
                     f'{duration(ns)}</text>')
        legend_y += 20
    return parts


def main(argv: List[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    figures = read(Path(argv[1]))
    if not figures:
        print(f"{argv[1]}: no memory-store, 32-byte figures", file=sys.stderr)
        return 1
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14">Per-operation cost through the C ABI '
        '(memory store, 32-byte values; median, bar = min-max)</text>',
        *axes(),
        *series(figures),
        "</svg>",
    ]
    Path(argv[2]).parent.mkdir(parents=True, exist_ok=True)
    Path(argv[2]).write_text("\n".join(svg) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
