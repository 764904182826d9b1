"""bench_overhead.py runs (tiny workload) and prints its figures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_bench_overhead_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(PYTHON_DIR / "bench_overhead.py"), "--ops", "300", "--runs", "3",
         "--batch", "64"],
        capture_output=True, text=True, env=dict(os.environ), timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "python: " in out and "us/op" in out
    assert "ctypes: " in out
    assert "python submit_many: " in out
    if shutil.which("cc") and any(
        (d / "include" / "softadastra" / "sync.h").is_file() for d in PYTHON_DIR.parents
    ):
        assert "c:      " in out, out
        assert "ratio python/c: " in out
        assert "submit_many overhead python - c: " in out
