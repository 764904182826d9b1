"""The doc's seven flows, as scripts: each prints the lines of the doc's C++ example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
EXAMPLES = PYTHON_DIR / "examples"

EXPECTED = {
    "basic_sync": """\
== BASIC SYNC EXAMPLE ==
Submitted sync id: node-a-1
Batch size: 1
Ready to send: node-a-1 version=1
""",
    "manual_queue": """\
== MANUAL QUEUE EXAMPLE ==
Queued before manual queue: 0
Queued after manual queue: 1
Batch size: 1
""",
    "scheduler_tick": """\
== SYNC SCHEDULER TICK EXAMPLE ==
Tick batch size: 1
Tick has work: 1
Transport should send: node-a-1
""",
    "ack_tracker": """\
== ACK TRACKER EXAMPLE ==
Tracked count: 1
Waiting: 1
Acknowledged: 1
Removed: 1
""",
    "retry": """\
== SYNC RETRY EXAMPLE ==
Initial batch size: 1
Retried count: 1
Outbox size: 1
""",
    "conflict_policy": """\
== CONFLICT POLICY EXAMPLE ==
Conflict detected: 1
Apply remote: 1
Keep local: 0
""",
    "remote_apply": """\
== REMOTE APPLY EXAMPLE ==
Remote operation applied
Stored value: Remote value
""",
}


def test_the_seven_flows_are_there() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_output(name: str, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED[name]
    assert result.stderr == ""
    assert list(tmp_path.iterdir()) == []  # no WAL left behind


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_same_output_as_the_c_example(name: str) -> None:
    """When the C examples' expected output is in the checkout, it is the same text."""
    for directory in PYTHON_DIR.parents:
        expected = directory / "examples-c" / "expected" / f"{name}.out"
        if expected.is_file():
            assert expected.read_text() == EXPECTED[name]
            return
    pytest.skip("examples-c/expected not found")
