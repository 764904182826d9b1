#!/usr/bin/env python3
"""Per-call overhead of the Python bindings over C, measured on submit.

Workload, identical on both sides: a memory-only store, an engine with the fast preset, OPS
puts of keys ``k0``..``k<OPS-1>`` (made before timing) with a 32-byte value, all left in the
outbox; a fresh store and engine per run; the median of RUNS runs, in µs per submit. Times are
the thread's CPU time on both sides (``time.thread_time``, ``CLOCK_THREAD_CPUTIME_ID``): the
calls never wait, and on a shared machine the time the thread was not scheduled is left out.

Prints these figures:

* ``python``: ``SyncEngine.submit_put`` (the public API: argument checks, UTF-8 encoding, the
  handle guard, the ctypes call, building the returned ``SyncOperation``);
* ``ctypes``: ``sa_sync_submit`` called through ctypes directly, keys encoded beforehand (the
  floor of any ctypes binding);
* ``c``: ``bench_submit.c`` compiled with ``cc`` against the same library file, if a C
  compiler is available; then the ratio python / c;
* ``python submit_many`` and ``c submit_many``: the same operations BATCH at a time
  (``SyncEngine.submit_many`` against ``sa_sync_submit_many`` from C, results wanted on both
  sides); then the per-operation overhead of Python over C (target: at most 1.5 µs).

    python3 bindings/python/bench_overhead.py [--ops 20000] [--runs 7] [--batch 1000]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import softadastra_sync as sa  # noqa: E402
from softadastra_sync import _native as native  # noqa: E402

VALUE = b"v" * 32


def _median_us(run_once: Callable[[], float], runs: int) -> float:
    samples = []
    for _ in range(runs):
        gc.collect()
        samples.append(run_once())
    return statistics.median(samples)


def bench_python(ops: int, runs: int) -> float:
    """Median µs per ``SyncEngine.submit_put``."""
    keys = [f"k{i}" for i in range(ops)]
    config = sa.SyncConfig.fast("bench")

    def run_once() -> float:
        with sa.Store.memory() as store, sa.SyncEngine(store, config) as engine:
            submit = engine.submit_put
            value = VALUE
            start = time.thread_time()
            for key in keys:
                submit(key, value)
            elapsed = time.thread_time() - start
        return elapsed * 1e6 / ops

    return _median_us(run_once, runs)


def bench_python_many(ops: int, runs: int, batch: int) -> float:
    """Median µs per operation of ``SyncEngine.submit_many``, ``batch`` operations a call."""
    pairs = [(f"k{i}", VALUE) for i in range(ops)]
    chunks = [pairs[i:i + batch] for i in range(0, ops, batch)]
    config = sa.SyncConfig.fast("bench")

    def run_once() -> float:
        with sa.Store.memory() as store, sa.SyncEngine(store, config) as engine:
            submit_many = engine.submit_many
            start = time.thread_time()
            for chunk in chunks:
                submit_many(chunk)
            elapsed = time.thread_time() - start
        return elapsed * 1e6 / ops

    return _median_us(run_once, runs)


def bench_raw_ctypes(ops: int, runs: int) -> float:
    """Median µs per ``sa_sync_submit`` through ctypes, no wrapper (keys pre-encoded)."""
    lib = native.load()
    keys = [f"k{i}".encode() for i in range(ops)]
    config = sa.SyncConfig.fast("bench")._to_c()

    def run_once() -> float:
        store = ctypes.POINTER(native.sa_store)()
        engine = ctypes.POINTER(native.sa_sync)()
        assert lib.sa_store_open(None, native.SA_FAST, ctypes.byref(store)) == 0
        assert lib.sa_sync_new(store, ctypes.byref(config), ctypes.byref(engine)) == 0
        submit = lib.sa_sync_submit
        out = native.sa_submitted()
        out_ref = ctypes.byref(out)
        value, size, put = VALUE, len(VALUE), native.SA_OP_PUT
        start = time.thread_time()
        for key in keys:
            if submit(engine, put, key, value, size, out_ref):
                raise RuntimeError(lib.sa_last_error_message())
        elapsed = time.thread_time() - start
        lib.sa_sync_free(engine)
        lib.sa_store_free(store)
        return elapsed * 1e6 / ops

    return _median_us(run_once, runs)


def _include_dir() -> Optional[Path]:
    for directory in [HERE, *HERE.parents]:
        if (directory / "include" / "softadastra" / "sync.h").is_file():
            return directory / "include"
    return None


def bench_c(ops: int, runs: int, batch: int) -> Optional[Dict[str, float]]:
    """Median µs per ``sa_sync_submit`` and per operation of ``sa_sync_submit_many`` from C
    (``{"c_submit_us_per_op": ..., "c_submit_many_us_per_op": ...}``), or None when the
    program cannot be built."""
    compiler = os.environ.get("CC") or shutil.which("cc")
    include = _include_dir()
    if compiler is None:
        print("c: skipped (no C compiler: cc not found)")
        return None
    if include is None:
        print("c: skipped (include/softadastra/sync.h not found above this script)")
        return None
    library = Path(sa.library_path())
    with tempfile.TemporaryDirectory(prefix="sa-bench-") as tmp:
        libdir = Path(tmp)
        # Link and run against the very file the Python side loaded, whatever its soname.
        for name in (library.name, "libsoftadastra_sync.so", "libsoftadastra_sync.so.0"):
            link = libdir / name
            if not link.exists():
                link.symlink_to(library)
        program = libdir / "bench_submit"
        command = [
            compiler,
            "-O2",
            "-std=c11",
            f"-I{include}",
            str(HERE / "bench_submit.c"),
            f"-L{libdir}",
            "-lsoftadastra_sync",
            f"-Wl,-rpath,{libdir}",
            "-o",
            str(program),
        ]
        built = subprocess.run(command, capture_output=True, text=True)
        if built.returncode != 0:
            print(f"c: skipped (compiling failed: {built.stderr.strip()})")
            return None
        env = dict(os.environ, LD_LIBRARY_PATH=str(libdir))
        ran = subprocess.run(
            [str(program), str(ops), str(runs), str(batch)], capture_output=True, text=True,
            env=env,
        )
        if ran.returncode != 0:
            print(f"c: failed ({ran.stderr.strip()})")
            return None
        results = {
            name: float(value)
            for name, value in (line.split() for line in ran.stdout.splitlines())
        }
    if "c_submit_us_per_op" not in results or "c_submit_many_us_per_op" not in results:
        print("c: no result line in the program's output")
        return None
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=20_000, help="submits per run")
    parser.add_argument("--runs", type=int, default=7, help="runs (the median is reported)")
    parser.add_argument("--batch", type=int, default=1000, help="operations per submit_many")
    parser.add_argument("--no-c", action="store_true", help="skip the C program")
    args = parser.parse_args(argv)

    print(f"library: {sa.library_path()} (version {sa.library_version()})")
    print(f"workload: {args.ops} submits into a memory store, 32-byte values, median of "
          f"{args.runs} runs")
    python_us = bench_python(args.ops, args.runs)
    print(f"python: {python_us:.3f} us/op  (SyncEngine.submit_put)")
    raw_us = bench_raw_ctypes(args.ops, args.runs)
    print(f"ctypes: {raw_us:.3f} us/op  (sa_sync_submit through ctypes, no wrapper)")
    many_us = bench_python_many(args.ops, args.runs, args.batch)
    print(f"python submit_many: {many_us:.3f} us/op  ({args.batch} operations a call)")
    if args.no_c:
        return 0
    c = bench_c(args.ops, args.runs, args.batch)
    if c is not None:
        c_us, c_many_us = c["c_submit_us_per_op"], c["c_submit_many_us_per_op"]
        print(f"c:      {c_us:.3f} us/op  (sa_sync_submit from C, bench_submit.c)")
        print(f"ratio python/c: {python_us / c_us:.2f}x  "
              f"(overhead {python_us - c_us:.3f} us per call)")
        print(f"ratio ctypes/c: {raw_us / c_us:.2f}x")
        print(f"c submit_many: {c_many_us:.3f} us/op  (sa_sync_submit_many from C)")
        print(f"submit_many overhead python - c: {many_us - c_many_us:.3f} us per operation "
              f"(target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
