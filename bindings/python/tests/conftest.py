"""Shared fixtures. The tests import the package from this checkout (bindings/python), so
they run without installing it; the library is found the package's usual way (build it
first: ``cargo build`` at the crate root, or set ``SOFTADASTRA_SYNC_LIB``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))

import softadastra_sync as sa  # noqa: E402

#: A fixed wall-clock reading (ms) used by every manual clock of the tests.
NOW_MS = 1_700_000_000_000


@pytest.fixture
def clock() -> Iterator[sa.ManualClock]:
    with sa.ManualClock(NOW_MS) as c:
        yield c


@pytest.fixture
def store() -> Iterator[sa.Store]:
    with sa.Store.memory() as s:
        yield s


@pytest.fixture
def make_engine(clock: sa.ManualClock) -> Iterator[Callable[..., sa.SyncEngine]]:
    """Builds engines on fresh memory stores, on the shared manual clock:
    ``make_engine("node-a", preset="fast", **config_fields)``."""
    made = []

    def make(node: str = "node-a", preset: str = "fast", **fields: object) -> sa.SyncEngine:
        config = getattr(sa.SyncConfig, preset)(node)
        for name, value in fields.items():
            setattr(config, name, value)
        engine = sa.SyncEngine(sa.Store.memory(), config)
        engine.set_clock(clock)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.store.close()
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., sa.SyncEngine]) -> sa.SyncEngine:
    """node-a, durable preset (ACKs required), on a memory store and the manual clock."""
    return make_engine("node-a", preset="durable")
