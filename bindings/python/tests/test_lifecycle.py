"""Handles: context managers, close, use after close, garbage collection, threads."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from typing import Callable, List

import pytest

import softadastra_sync as sa


def test_context_managers_close() -> None:
    with sa.Store.memory() as store:
        with sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as engine:
            assert not engine.closed
        assert engine.closed
        assert not store.closed
    assert store.closed
    with sa.ManualClock(1) as clock:
        pass
    assert clock.closed
    with sa.AckTracker() as tracker:
        pass
    assert tracker.closed


def test_context_manager_closes_on_error() -> None:
    with pytest.raises(RuntimeError):
        with sa.Store.memory() as store:
            raise RuntimeError("boom")
    assert store.closed


def test_close_twice_is_fine() -> None:
    store = sa.Store.memory()
    engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
    clock = sa.ManualClock(0)
    tracker = sa.AckTracker(clock)
    for obj in (engine, store, clock, tracker):
        obj.close()
        obj.close()
        assert obj.closed


def test_entering_a_closed_object_raises() -> None:
    store = sa.Store.memory()
    store.close()
    with pytest.raises(sa.InvalidArgumentError, match="store is closed"):
        with store:
            pass


def closed_engine_calls(engine: sa.SyncEngine, clock: sa.ManualClock) -> List[Callable[[], object]]:
    op = sa.SyncOperation.put("node-b-1", "node-b", 1, "k", b"v", sa.make_stamp(1))
    return [
        lambda: engine.submit_put("k", b"v"),
        lambda: engine.submit_delete("k"),
        lambda: engine.queue("node-a-1"),
        lambda: engine.next_batch(),
        lambda: engine.outbox(),
        lambda: engine.ack("node-a-1"),
        lambda: engine.retry_expired(),
        lambda: engine.requeue_failed("node-a-1"),
        lambda: engine.requeue_all_failed(),
        lambda: engine.prune_completed(),
        lambda: engine.prune_failed(),
        lambda: engine.receive_remote(op),
        lambda: engine.state(),
        lambda: engine.tick(),
        lambda: engine.tick(prune=True),
        lambda: engine.set_clock(clock),
    ]


def test_every_engine_method_after_close(clock: sa.ManualClock) -> None:
    store = sa.Store.memory()
    engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
    engine.close()
    for call in closed_engine_calls(engine, clock):
        with pytest.raises(sa.InvalidArgumentError) as info:
            call()
        assert info.value.message == "sync engine is closed"
    assert "closed" in repr(engine)
    # The store is still usable, and can serve a new engine.
    with sa.SyncEngine(store, sa.SyncConfig.fast("node-a")) as again:
        again.submit_put("k", b"v")
    store.close()


def test_every_store_method_after_close(clock: sa.ManualClock) -> None:
    store = sa.Store.memory()
    store.close()
    calls = [
        lambda: store.get("k"),
        lambda: store.entry("k"),
        lambda: store.len,
        lambda: len(store),
        lambda: store.replay_report(),
        lambda: store.set_clock(clock),
        lambda: sa.SyncEngine(store, sa.SyncConfig.fast("node-a")),
    ]
    for call in calls:
        with pytest.raises(sa.InvalidArgumentError, match="store is closed"):
            call()
    assert "closed" in repr(store)


def test_every_clock_and_tracker_method_after_close() -> None:
    clock = sa.ManualClock(0)
    clock.close()
    for call in (lambda: clock.now(), lambda: clock.set(1), lambda: clock.advance(1)):
        with pytest.raises(sa.InvalidArgumentError, match="clock is closed"):
            call()
    assert repr(clock) == "ManualClock(closed)"
    tracker = sa.AckTracker()
    tracker.close()
    calls = [
        lambda: tracker.track("a", 1),
        lambda: tracker.ack("a"),
        lambda: tracker.is_waiting("a"),
        lambda: tracker.acknowledged("a"),
        lambda: tracker.erase("a"),
        lambda: tracker.collect_expired(),
        lambda: tracker.prune_received(),
        lambda: tracker.clear(),
        lambda: tracker.size(),
        lambda: tracker.empty(),
        lambda: len(tracker),
    ]
    for call in calls:
        with pytest.raises(sa.InvalidArgumentError, match="ACK tracker is closed"):
            call()
    assert repr(tracker) == "AckTracker(closed)"


def test_closing_in_any_order() -> None:
    for order in ("store-first", "engine-first", "clock-first"):
        clock = sa.ManualClock(1_000)
        store = sa.Store.memory()
        engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
        engine.set_clock(clock)
        objs = {"store-first": [store, clock, engine], "engine-first": [engine, store, clock],
                "clock-first": [clock, engine, store]}[order]
        for obj in objs:
            if obj is not engine and not engine.closed:
                engine.submit_put("k", b"v")  # still works with the others closed
            obj.close()


def test_garbage_collection_frees_handles() -> None:
    def make() -> tuple:
        store = sa.Store.memory()
        engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
        clock = sa.ManualClock(0)
        engine.set_clock(clock)
        tracker = sa.AckTracker(clock)
        engine.submit_put("k", b"v")
        handles = (store._h, engine._h, clock._h, tracker._h)
        refs = tuple(weakref.ref(o) for o in (store, engine, clock, tracker))
        return handles, refs

    handles, refs = make()
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert all(h.closed for h in handles)


def test_many_unclosed_objects_are_collected() -> None:
    for i in range(500):
        store = sa.Store.memory()
        engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
        engine.submit_put(f"k{i}", b"v" * 100)
        engine.next_batch()
        del engine, store
    gc.collect()


def test_reference_cycles_are_collected() -> None:
    store = sa.Store.memory()
    engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
    engine.cycle = engine  # type: ignore[attr-defined]
    handle = engine._h
    ref = weakref.ref(engine)
    del engine
    gc.collect()
    assert ref() is None
    assert handle.closed
    store.close()


def test_close_while_other_threads_call() -> None:
    """Closing under running calls never frees a handle a call is using: every call either
    completes or raises InvalidArgumentError."""
    for round in range(20):
        store = sa.Store.memory()
        engine = sa.SyncEngine(store, sa.SyncConfig.fast("node-a"))
        errors: List[BaseException] = []
        started = threading.Barrier(5)

        def worker(n: int) -> None:
            started.wait()
            try:
                for i in range(2_000):
                    engine.submit_put(f"t{n}-{i}", b"v")
                    if i % 50 == 0:
                        engine.state()
                        engine.next_batch()
            except sa.InvalidArgumentError as error:
                if error.message != "sync engine is closed":
                    errors.append(error)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        started.wait()
        time.sleep(0.001 * (round % 4))  # close while calls are running
        engine.close()
        store.close()
        for t in threads:
            t.join()
        assert errors == []
        assert engine._h._busy == []
        assert engine._h._doomed is None


def test_threads_share_an_engine(make_engine) -> None:
    engine = make_engine("node-a")

    def worker(n: int) -> None:
        for i in range(250):
            engine.submit_put(f"t{n}-{i}", b"v")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = engine.state()
    assert state.outbox_size == 1_000
    assert state.last_submitted_version == 1_000
    assert engine.store.len == 1_000
