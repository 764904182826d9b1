"""The exception hierarchy and how messages are captured."""

from __future__ import annotations

import threading
from typing import Dict, List

import pytest

import softadastra_sync as sa
from softadastra_sync import errors

CLASSES = {
    sa.Status.INVALID_ARGUMENT: sa.InvalidArgumentError,
    sa.Status.INVALID_CONTEXT: sa.InvalidContextError,
    sa.Status.INVALID_NODE_ID: sa.InvalidNodeIdError,
    sa.Status.INVALID_OPERATION: sa.InvalidOperationError,
    sa.Status.INVALID_REMOTE_OPERATION: sa.InvalidRemoteOperationError,
    sa.Status.NOT_FOUND: sa.NotFoundError,
    sa.Status.QUEUE_FAILED: sa.QueueFailedError,
    sa.Status.RETRY_FAILED: sa.RetryFailedError,
    sa.Status.CONFLICT: sa.ConflictError,
    sa.Status.STORE_APPLY: sa.StoreApplyError,
    sa.Status.ACK_TRACKING: sa.AckTrackingError,
    sa.Status.CAPACITY_EXCEEDED: sa.CapacityExceededError,
    sa.Status.IO: sa.SyncIOError,
    sa.Status.CORRUPT: sa.CorruptError,
    sa.Status.INTERNAL: sa.InternalError,
    sa.Status.IN_USE: sa.InUseError,
    sa.Status.MALFORMED_FRAME: sa.MalformedFrameError,
}


def test_one_class_per_status() -> None:
    assert set(CLASSES) == set(sa.Status) - {sa.Status.OK}
    for status, cls in CLASSES.items():
        assert issubclass(cls, sa.SyncError)
        assert cls.STATUS == status
        error = errors.error_for(int(status), "boom")
        assert type(error) is cls
        assert error.status is status
        assert error.code == int(status)
        assert error.message == "boom" == str(error)
        assert repr(error) == f"{cls.__name__}({status.c_name}, 'boom')"
    assert len(set(CLASSES.values())) == len(CLASSES)


def test_io_error_does_not_shadow_the_builtin() -> None:
    assert sa.SyncIOError is not IOError
    assert not issubclass(sa.SyncIOError, OSError)
    assert not hasattr(sa, "IoError")


def test_unknown_status_is_the_base_class() -> None:
    error = errors.error_for(99, "odd")
    assert type(error) is sa.SyncError
    assert error.status == 99
    assert "99" in repr(error)


def test_status_names_match_the_library() -> None:
    for status in sa.Status:
        assert sa.status_name(status) == status.c_name
    assert sa.status_name(0) == "SA_OK"
    assert sa.status_name(99) == "SA_UNKNOWN_STATUS"
    assert sa.status_name(-1) == "SA_UNKNOWN_STATUS"
    # Every code the library names is one of ours: none was added without the bindings.
    named = {code for code in range(256) if sa.status_name(code) != "SA_UNKNOWN_STATUS"}
    assert named == {int(status) for status in sa.Status}


def test_library_version() -> None:
    from softadastra_sync import _native

    header = (
        f"{_native.SA_SYNC_VERSION_MAJOR}.{_native.SA_SYNC_VERSION_MINOR}."
        f"{_native.SA_SYNC_VERSION_PATCH}"
    )
    assert sa.library_version() == sa.__version__ == header


def test_message_is_captured_right_after_the_failing_call(engine: sa.SyncEngine) -> None:
    with pytest.raises(sa.NotFoundError) as info:
        engine.ack("node-a-42")
    engine.submit_put("k", b"v")  # a later successful call clears the C message...
    assert info.value.message == "sync operation not found: node-a-42"  # ...not this one


def test_messages_are_per_thread(make_engine) -> None:
    engine = make_engine("node-a")
    results: Dict[int, List[str]] = {}
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        messages = []
        for _ in range(200):
            try:
                engine.ack(f"node-a-{1000 + n}")
            except sa.NotFoundError as error:
                messages.append(error.message)
        results[n] = messages

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, messages in results.items():
        assert messages == [f"sync operation not found: node-a-{1000 + n}"] * 200


def test_catching_the_base_class(engine: sa.SyncEngine) -> None:
    with pytest.raises(sa.SyncError):
        engine.queue("missing")
    with pytest.raises(Exception):
        engine.queue("missing")


class _FakeLibrary:
    """Answers the two calls of the ABI check as a library of `version` would."""

    def __init__(self, version: bytes) -> None:
        self.version = version

    def sa_version(self) -> bytes:
        return self.version

    def sa_sync_config_durable(self, node, config) -> int:
        return 0


def _abi_cases():
    from softadastra_sync import _native

    major, minor = _native.SA_SYNC_VERSION_MAJOR, _native.SA_SYNC_VERSION_MINOR
    accepted = [f"{major}.{minor}.0", f"{major}.{minor}.7", f"{major}.{minor + 1}.0"]
    refused = [f"{major + 1}.{minor}.0", "garbage"]
    if minor > 0:
        refused.append(f"{major}.{minor - 1}.9")
    return [(v.encode(), True) for v in accepted] + [(v.encode(), False) for v in refused]


@pytest.mark.parametrize("version, accepted", _abi_cases())
def test_the_abi_check_takes_the_same_or_a_later_minor_of_the_same_major(version, accepted):
    from softadastra_sync import _native

    if accepted:
        _native._check_abi(_FakeLibrary(version), "libfake.so")
    else:
        with pytest.raises(_native.LibraryNotFoundError, match="these bindings need"):
            _native._check_abi(_FakeLibrary(version), "libfake.so")
