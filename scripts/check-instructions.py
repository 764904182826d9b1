#!/usr/bin/env python3
"""Instruction-count regression check of the engine's calls (part of scripts/test-all.sh).

Builds the release library and benches/c/instructions.c, runs the program under
``valgrind --tool=callgrind``, and compares the instructions per operation of each call
(submit, submit_many, next_batch_ack, remote_apply, remote_frame; 1 000 operations at 10 000
pending, see the program) with benches/instructions.baseline. Instruction counts do not depend
on the machine's load, so a rise over 10 % is a real regression: the check fails.

After an intended change (an optimization, a refactor that costs more by design), re-bless:

    SA_BLESS_INSTRUCTIONS=1 python3 scripts/check-instructions.py

and commit benches/instructions.baseline. The counts depend on the compiler and the C library
too: re-bless after changing the Rust toolchain.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "benches" / "instructions.baseline"
PROGRAM = ROOT / "benches" / "c" / "instructions.c"
OPS = 1000  # operations per phase, as in the program
TOLERANCE = 0.10


def build(tmp: Path) -> Path:
    subprocess.run(
        ["cargo", "build", "--release", "--lib", "--quiet"], cwd=ROOT, check=True
    )
    libdir = ROOT / "target" / "release"
    soname = libdir / "libsoftadastra_sync.so.0"
    if not soname.exists():
        soname.symlink_to("libsoftadastra_sync.so")
    exe = tmp / "instructions"
    compiler = os.environ.get("CC") or "cc"
    subprocess.run(
        [compiler, "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'include'}",
         str(PROGRAM), f"-L{libdir}", "-lsoftadastra_sync", f"-Wl,-rpath,{libdir}", "-o",
         str(exe)],
        check=True,
    )
    return exe


def measure(exe: Path, tmp: Path) -> Dict[str, int]:
    """Instructions per operation of each phase (the program dumps one profile each)."""
    out = tmp / "callgrind.out"
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}",
         str(exe)],
        cwd=tmp, capture_output=True, text=True,
    )
    if run.returncode != 0:
        sys.exit(f"instructions program failed under valgrind:\n{run.stdout}{run.stderr}")
    counts: Dict[str, int] = {}
    for dump in sorted(tmp.glob("callgrind.out*")):
        text = dump.read_text()
        trigger = re.search(r"^desc: Trigger: Client Request: (\w+)", text, re.M)
        totals = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
        if trigger and totals:
            counts[trigger.group(1)] = round(int(totals.group(1)) / OPS)
    return counts


def read_baseline() -> Dict[str, int]:
    baseline = {}
    for line in BASELINE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, count = line.split()
            baseline[name] = int(count)
    return baseline


def write_baseline(counts: Dict[str, int]) -> None:
    lines = [
        "# Instructions per operation (callgrind, release library), checked by",
        "# scripts/check-instructions.py; re-bless: SA_BLESS_INSTRUCTIONS=1 python3 "
        "scripts/check-instructions.py",
    ]
    lines += [f"{name} {count}" for name, count in counts.items()]
    BASELINE.write_text("\n".join(lines) + "\n")


def main() -> int:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (scripts/ensure-tools.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="sa-instructions-") as name:
        tmp = Path(name)
        counts = measure(build(tmp), tmp)
    expected = ["submit", "submit_many", "next_batch_ack", "remote_apply", "remote_frame"]
    if sorted(counts) != sorted(expected):
        sys.exit(f"expected profiles {expected}, found {sorted(counts)}")
    counts = {name: counts[name] for name in expected}
    if os.environ.get("SA_BLESS_INSTRUCTIONS"):
        write_baseline(counts)
        print(f"blessed {BASELINE.relative_to(ROOT)}: {counts}")
        return 0
    baseline = read_baseline()
    failed = 0
    for name, count in counts.items():
        base = baseline.get(name)
        if base is None:
            print(f"{name:<16} {count:>8} instructions/op  (no baseline: re-bless)")
            failed += 1
            continue
        change = count / base - 1
        verdict = "ok"
        if change > TOLERANCE:
            verdict = f"REGRESSION (over +{TOLERANCE:.0%})"
            failed += 1
        elif change < -TOLERANCE:
            verdict = "faster: re-bless to keep the gain"
        print(f"{name:<16} {count:>8} instructions/op  baseline {base:>8}  {change:+6.1%}  "
              f"{verdict}")
    if failed:
        print("re-bless after an intended change: SA_BLESS_INSTRUCTIONS=1 python3 "
              "scripts/check-instructions.py")
    print(f"instruction counts: {len(counts) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
