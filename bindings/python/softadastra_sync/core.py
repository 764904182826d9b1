"""The objects of the API over the C library: stores, engines, clocks, ACK trackers.

Every object owns one C handle and frees it exactly once: on :meth:`close` (closing again is a
no-op), at the end of a ``with`` block, or when it is garbage-collected. A closed object raises
:class:`~softadastra_sync.errors.InvalidArgumentError` (``"<what> is closed"``) instead of
passing NULL to C. A handle being used by another thread when it is closed is freed when that
call returns, so closing never frees memory under a running call.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import os
import struct
import sys
import threading
import weakref
from ctypes import byref
from array import array
from collections import deque
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple, Type, Union

from . import _native as N
from .errors import (
    AckTrackingError,
    InvalidArgumentError,
    InvalidContextError,
    InvalidNodeIdError,
    InvalidOperationError,
    InvalidRemoteOperationError,
    NotFoundError,
    SyncError,
    error_for,
    make,
)
from .model import (
    AckOutcome,
    ApplyResult,
    ConflictPolicy,
    Durability,
    Entry,
    Envelope,
    OpType,
    Outcome,
    Reason,
    ReplacedWrite,
    ReplayReport,
    CompactionReport,
    CompactionStats,
    StoreDefaults,
    Resolution,
    StoreWriteResult,
    SyncOperation,
    SyncState,
    SyncStatus,
    TickResult,
)
from .model import AckReport, OperationError, ReceiveReport

__all__ = [
    "ManualClock",
    "Store",
    "SyncConfig",
    "SyncEngine",
    "AckTracker",
    "resolve_conflict",
    "library_version",
    "library_path",
    "status_name",
    "Batch",
    "v1_hello_frame",
    "v1_frame_for_envelope",
]

#: A filesystem path argument.
PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# --------------------------------------------------------------------------------------------
# Helpers: errors, argument conversion, handle lifetime.


def _lib() -> Any:
    return N._loaded if N._loaded is not None else N.load()


def _error(lib: Any, status: int) -> SyncError:
    """The exception for a failed call; call right after it (the message is per thread and
    replaced by the next ``sa_`` call)."""
    raw = lib.sa_last_error_message()
    return error_for(status, raw.decode("utf-8", "replace") if raw else "")


def _type_name(value: object) -> str:
    return type(value).__name__


def _encode(text: object, what: str, error: Type[SyncError]) -> bytes:
    """``text`` as NUL-terminable UTF-8; a NUL inside or a lone surrogate raises ``error``."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, not {_type_name(text)}")
    if "\x00" in text:
        raise make(error, f"{what} {text!r} contains a NUL character")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise make(error, f"{what} {text!r} is not encodable as UTF-8: {exc.reason}") from None


def _node_id(text: object, what: str = "node_id") -> bytes:
    """A node id for C: NUL-free UTF-8 (the library checks the rest)."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be str, not {_type_name(text)}")
    if "\x00" in text:
        raise make(
            InvalidNodeIdError,
            f"invalid node id {text[:64]!r}: node id contains whitespace or a control character",
        )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise make(
            InvalidNodeIdError, f"invalid node id {text[:64]!r}: node id is not valid UTF-8"
        ) from None


def _bytes(value: object, what: str) -> bytes:
    """A bytes-like value as ``bytes`` (str and other types are a TypeError)."""
    if value.__class__ is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {_type_name(value)}")


def _uint(value: object, what: str, maximum: int, error: Type[SyncError]) -> int:
    """An integer argument checked against its C type (ctypes would silently wrap it)."""
    if value.__class__ is bool or not isinstance(value, int):
        raise TypeError(f"{what} must be int, not {_type_name(value)}")
    if not 0 <= value <= maximum:
        raise make(error, f"{what} {value} is out of range (0..{maximum})")
    return int(value)


def _int32(value: object, what: str, error: Type[SyncError]) -> int:
    """An ``int32_t`` enum argument (an IntEnum member or a plain int, passed on as is)."""
    if value.__class__ is bool or not isinstance(value, int):
        raise TypeError(f"{what} must be int, not {_type_name(value)}")
    if not -(2**31) <= value < 2**31:
        raise make(error, f"{what} {value} is out of range for int32_t")
    return int(value)


def _bool(value: object, what: str) -> bool:
    if value.__class__ is not bool:
        raise TypeError(f"{what} must be bool, not {_type_name(value)}")
    return value


def _replaced(results: bytearray, index: int, stamp: int) -> ReplacedWrite:
    """The write replaced by element ``index`` of an ``sa_submitted`` array: its origin is read
    only here, where there is one (the field is 257 bytes, mostly NULs)."""
    start = index * _SUBMITTED_SIZE + _REPLACED_ORIGIN
    origin = results[start:start + N.SA_NODE_ID_BUFFER].partition(b"\x00")[0]
    return ReplacedWrite(stamp, origin.decode())


def _submitted_columns(results: bytearray) -> Tuple[Any, Any, Any, Any]:
    """The versions, stamps, has_replaces flags and replaced stamps of a filled
    ``sa_submitted`` array, each as a sequence in element order."""
    if _SUBMITTED_IN_WORDS:
        words = memoryview(results).cast("Q")
        version, stamp, replaces_stamp = (offset // 8 for offset in _SUBMITTED_WORD_FIELDS)
        return (
            words[version::_SUBMITTED_WORDS].tolist(),
            words[stamp::_SUBMITTED_WORDS].tolist(),
            results[_SUBMITTED_HAS_REPLACES::_SUBMITTED_SIZE],
            words[replaces_stamp::_SUBMITTED_WORDS].tolist(),
        )
    _, versions, stamps, has_replaces, replaces_stamps = zip(
        *_SUBMITTED_NUMBERS.iter_unpack(results)
    )
    return versions, stamps, has_replaces, replaces_stamps


def _submitted_operations(
    results: bytearray, node: str, types: Iterable[int], keys: List[str], values: List[bytes]
) -> List[SyncOperation]:
    """The operations of ``submit_many`` from its filled ``sa_submitted`` array: the objects
    :func:`_operation` makes, built a column at a time so that no Python function runs per
    operation. The columns are read, and the sync ids cut at their NUL, in C-speed passes; each
    ``__dict__`` is a copy of one template with the varying fields as keywords (measured
    cheaper than a dict display)."""
    versions, stamps, has_replaces, replaces_stamps = _submitted_columns(results)
    raw_ids = map(_first, _SUBMITTED_SYNC_ID.iter_unpack(results))
    sync_ids = map(bytes.decode, map(_first, map(bytes.partition, raw_ids, repeat(b"\x00"))))
    replaces: Iterable[Optional[ReplacedWrite]] = (
        [
            _replaced(results, index, stamp) if has else None
            for index, (has, stamp) in enumerate(zip(has_replaces, replaces_stamps))
        ]
        if any(has_replaces)
        else repeat(None)
    )
    template = dict.fromkeys(_OPERATION_FIELDS)
    template["origin"] = node
    fields = [
        dict(template, sync_id=sync_id, version=version, stamp=stamp, op_type=op_type, key=key,
             value=value, replaces=replaced)
        for sync_id, version, stamp, op_type, key, value, replaced in zip(
            sync_ids, versions, stamps, types, keys, values, replaces
        )
    ]
    operations = list(map(_new, repeat(SyncOperation, len(fields))))
    deque(map(_set, operations, repeat("__dict__"), fields), maxlen=0)
    return operations


def _plain_puts(ops: List[Any]) -> Optional[Tuple[List[str], List[bytes], bytes]]:
    """The common case of ``submit_many``, checked in bulk: every operation a ``(str, bytes)``
    put with a NUL-free ASCII key. Returns the keys, the values and the keys joined by NULs
    (their UTF-8), or None when the per-operation path must check (and name) each one."""
    try:
        keys = [key for key, _ in ops]
        values = [value for _, value in ops]
        joined = "\x00".join(keys)
    except (TypeError, ValueError):
        return None
    if not joined.isascii() or joined.count("\x00") != len(keys) - 1:
        return None
    if not all(value.__class__ is bytes for value in values):
        return None
    return keys, values, joined.encode()


def _checked_operations(
    ops: List[Any],
) -> Tuple[List[str], List[bytes], List[int], List[bytes]]:
    """Keys, values (``b""`` for a delete), operation types and UTF-8 keys of ``submit_many``'s
    operations, each checked; the first bad one raises, named by its index."""
    keys: List[str] = []
    values: List[bytes] = []
    types: List[int] = []
    c_keys: List[bytes] = []
    for index, pair in enumerate(ops):
        try:
            key, value = pair
            c_key = _encode(key, "key", InvalidOperationError)
            if value is None:
                value, op_type = b"", _DELETE
            else:
                value, op_type = _bytes(value, "value"), _PUT
        except (TypeError, ValueError, SyncError) as exc:
            raise _at_operation(index, exc) from None
        keys.append(key)
        values.append(value)
        types.append(op_type)
        c_keys.append(c_key)
    return keys, values, types, c_keys


def _at_operation(index: int, exc: Exception) -> Exception:
    """``exc`` about operation ``index`` of a batch call, named as the library names it."""
    if isinstance(exc, SyncError):
        return make(type(exc), f"operation {index}: {exc}")
    if isinstance(exc, ValueError):  # a pair that is not (key, value)
        return TypeError(f"operation {index}: expected a (key, value) pair: {exc}")
    return type(exc)(f"operation {index}: {exc}")


_PUT = OpType.PUT
_DELETE = OpType.DELETE
_Submitted = N.sa_submitted
_LOCAL_OP = struct.Struct(N.LOCAL_OP_FORMAT)
_LOCAL_OP_SIZE = _LOCAL_OP.size
_SUBMITTED = struct.Struct(N.SUBMITTED_FORMAT)
_SUBMITTED_SIZE = _SUBMITTED.size
# submit_many reads an sa_submitted array by column. Its 64-bit fields are strided slices of
# the array seen as words where they are word-aligned (64-bit platforms), else a struct pass
# unpacks them; the sync id, the one string wanted for every element, is unpacked alone.
_SUBMITTED_WORDS = _SUBMITTED_SIZE // 8
_SUBMITTED_WORD_FIELDS = tuple(
    getattr(N.sa_submitted, name).offset for name in ("version", "stamp", "replaces_stamp")
)
_SUBMITTED_IN_WORDS = _SUBMITTED_SIZE % 8 == 0 and all(
    offset % 8 == 0 for offset in _SUBMITTED_WORD_FIELDS
)
_SUBMITTED_HAS_REPLACES = N.sa_submitted.has_replaces.offset
# sa_submitted with its strings skipped as padding: struct_size, version, stamp, has_replaces,
# replaces_stamp.
_SUBMITTED_NUMBERS = struct.Struct(
    N.SUBMITTED_FORMAT.replace(f"{N.SA_SYNC_ID_MAX}s", f"{N.SA_SYNC_ID_MAX}x").replace(
        f"{N.SA_NODE_ID_BUFFER}s", f"{N.SA_NODE_ID_BUFFER}x"
    )
)
_SYNC_ID_OFFSET = N.sa_submitted.sync_id.offset
_SUBMITTED_SYNC_ID = struct.Struct(
    f"@{_SYNC_ID_OFFSET}x{N.SA_SYNC_ID_MAX}s"
    f"{_SUBMITTED_SIZE - _SYNC_ID_OFFSET - N.SA_SYNC_ID_MAX}x"
)
_REPLACED_ORIGIN = N.sa_submitted.replaces_origin.offset
# On 64-bit platforms an sa_local_op is four 64-bit words, the first holding struct_size and
# op_type (its value by operation type below), so submit_many builds arrays of words.
_LOCAL_OP_IS_FOUR_WORDS = _LOCAL_OP_SIZE == 32 and struct.calcsize("P") == 8
_LOCAL_OP_HEAD = {
    op_type: int.from_bytes(_LOCAL_OP.pack(_LOCAL_OP_SIZE, op_type, 0, 0, 0)[:8], sys.byteorder)
    for op_type in (_PUT, _DELETE)
}
_new = object.__new__
_set = object.__setattr__
_first = itemgetter(0)
# The fields of a SyncOperation in declaration order, the order of its __dict__'s keys.
_OPERATION_FIELDS = tuple(field.name for field in dataclasses.fields(SyncOperation))


def _operation(
    sync_id: str,
    origin: str,
    version: int,
    stamp: int,
    op_type: OpType,
    key: str,
    value: bytes,
    replaces: Optional[ReplacedWrite],
) -> SyncOperation:
    """``SyncOperation(...)`` without the frozen dataclass ``__init__`` (one ``setattr`` per
    field): the same object, built in half the time, for the submit hot path."""
    op = _new(SyncOperation)
    _set(
        op,
        "__dict__",
        {
            "sync_id": sync_id,
            "origin": origin,
            "version": version,
            "stamp": stamp,
            "op_type": op_type,
            "key": key,
            "value": value,
            "replaces": replaces,
        },
    )
    return op


def _text(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8") if raw else ""


class _Handle:
    """One C handle: freed once, never while a call on it is running.

    ``acquire`` returns the pointer for one call (raising when closed) and must be paired with
    ``release``; ``close`` frees at once, or when the last running call releases.

    The in-flight calls are counted in a list (``append``/``pop`` are atomic), so the common
    path takes no lock: ``acquire`` registers before it reads the pointer, ``close`` clears the
    pointer before it looks at the calls, so one of them always sees the other. Only freeing
    takes the lock.
    """

    __slots__ = ("_ptr", "_free", "_what", "_lock", "_busy", "_doomed")

    def __init__(self, ptr: Any, free: Callable[[Any], None], what: str) -> None:
        self._ptr: Any = ptr
        self._free = free
        self._what = what
        self._lock = threading.Lock()
        self._busy: List[None] = []
        self._doomed: Any = None

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def acquire(self) -> Any:
        self._busy.append(None)
        ptr = self._ptr
        if ptr is None:
            self.release()
            raise make(InvalidArgumentError, f"{self._what} is closed")
        return ptr

    def release(self) -> None:
        busy = self._busy
        busy.pop()
        if self._doomed is not None and not busy:
            self._free_doomed()

    def _free_doomed(self) -> None:
        with self._lock:
            doomed = self._doomed
            if doomed is None or self._busy:
                return
            self._doomed = None
        self._free(doomed)

    def close(self) -> None:
        with self._lock:
            ptr, self._ptr = self._ptr, None
            if ptr is None:
                return
            if self._busy:
                # A call is running: the last one to return frees (or this, if it just did).
                self._doomed = ptr
                ptr = None
        if ptr is not None:
            self._free(ptr)
        elif not self._busy:
            self._free_doomed()


class _Owner:
    """Base of the objects owning a handle: close, context manager, finalizer."""

    _h: _Handle
    _lib: Any
    _what = "object"

    def _call(self, function: Any, *args: Any) -> None:
        """Calls ``function(handle, *args)`` on the open handle; raises on a non-OK status."""
        ptr = self._h.acquire()
        try:
            status = function(ptr, *args)
            if status:
                raise _error(self._lib, status)
        finally:
            self._h.release()

    def _own(self, ptr: Any, free: Callable[[Any], None]) -> None:
        self._h = _Handle(ptr, free, self._what)
        # Holds the handle, not self: runs when self is collected (or at exit), at most once.
        self._finalizer = weakref.finalize(self, self._h.close)

    def close(self) -> None:
        """Frees the C handle. Closing again is a no-op; using the object afterwards raises
        :class:`InvalidArgumentError`."""
        h = getattr(self, "_h", None)
        if h is not None:
            h.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        h = getattr(self, "_h", None)
        return h is None or h.closed

    def __enter__(self) -> Any:
        self._h.acquire()
        self._h.release()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Clock


class ManualClock(_Owner):
    """A physical clock (ms since the Unix epoch) that moves only when told to.

    Give it to an engine (:meth:`SyncEngine.set_clock`), a store (:meth:`Store.set_clock`) or
    an :class:`AckTracker` for deterministic runs; they keep their own reference, so the clock
    may be closed in any order.
    """

    _what = "clock"

    def __init__(self, now_ms: int = 0) -> None:
        now_ms = _uint(now_ms, "now_ms", N.U64_MAX, InvalidArgumentError)
        lib = _lib()
        out = ctypes.POINTER(N.sa_clock)()
        status = lib.sa_clock_new_manual(now_ms, byref(out))
        if status:
            raise _error(lib, status)
        self._lib = lib
        self._own(out, lib.sa_clock_free)

    def set(self, now_ms: int) -> None:
        """Sets the reading (it may go backwards; stamps stay monotonic)."""
        now_ms = _uint(now_ms, "now_ms", N.U64_MAX, InvalidArgumentError)
        self._call(self._lib.sa_clock_set, now_ms)

    def advance(self, ms: int) -> None:
        """Moves the clock forward by ``ms``."""
        ms = _uint(ms, "ms", N.U64_MAX, InvalidArgumentError)
        self._call(self._lib.sa_clock_advance, ms)

    def now(self) -> int:
        """The reading in milliseconds."""
        ptr = self._h.acquire()
        try:
            return int(self._lib.sa_clock_now(ptr))
        finally:
            self._h.release()

    def __repr__(self) -> str:
        return "ManualClock(closed)" if self.closed else f"ManualClock({self.now()})"


# --------------------------------------------------------------------------------------------
# Store


class Store(_Owner):
    """The local key-value store, with its write-ahead log (or memory only).

    Open with :meth:`open` (a WAL file, created if missing, replayed if present) or
    :meth:`memory`. One store serves one :class:`SyncEngine` at a time; the engine keeps the
    store alive, so the two may be closed in any order.
    """

    _what = "store"

    def __init__(
        self,
        path: Optional[PathArg] = None,
        durability: Durability = Durability.DURABLE,
        *,
        read_only: bool = False,
        compact_threshold_bytes: Optional[int] = None,
        tombstone_retention_ms: Optional[int] = None,
    ) -> None:
        """Prefer :meth:`open` and :meth:`memory`. ``path=None`` is a memory-only store."""
        config = _store_config()
        config.durability = _int32(durability, "durability", InvalidArgumentError)
        config.read_only = _bool(read_only, "read_only")
        if compact_threshold_bytes is not None:
            config.compact_threshold_bytes = _uint(
                compact_threshold_bytes, "compact_threshold_bytes", _U64_MAX, InvalidArgumentError
            )
        if tombstone_retention_ms is not None:
            config.tombstone_retention_ms = _uint(
                tombstone_retention_ms, "tombstone_retention_ms", _U64_MAX, InvalidArgumentError
            )
        if path is not None:
            raw = os.fspath(path)
            if isinstance(raw, str):
                config.wal_path = _encode(raw, "wal_path", InvalidArgumentError)
            else:
                if b"\x00" in raw:
                    raise make(InvalidArgumentError, f"wal_path {raw!r} contains a NUL byte")
                config.wal_path = raw
        lib = _lib()
        out = ctypes.POINTER(N.sa_store)()
        status = lib.sa_store_open_with(byref(config), byref(out))
        if status:
            raise _error(lib, status)
        self._lib = lib
        self.path: Optional[str] = None if path is None else os.fsdecode(os.fspath(path))
        self._own(out, lib.sa_store_free)

    @classmethod
    def open(
        cls,
        path: PathArg,
        durability: Durability = Durability.DURABLE,
        *,
        read_only: bool = False,
        compact_threshold_bytes: Optional[int] = None,
        tombstone_retention_ms: Optional[int] = None,
    ) -> "Store":
        """Opens the store logged in the WAL at ``path``.

        ``durability`` applies to direct store writes (sync writes follow the sync config).
        ``read_only`` opens an existing WAL for inspection: nothing is created, repaired or
        written, and writes and :meth:`compact` raise :class:`SyncIOError`.
        ``compact_threshold_bytes``: automatic compaction starts, on a background thread, when
        the log written since the last checkpoint exceeds max(this, 2 x the checkpoint's size);
        0 turns it off. ``tombstone_retention_ms``: how long a tombstone is kept at least
        (collected after that once its delete is acknowledged; keep it above the longest time
        a node may stay offline). ``None`` takes the library's default (:func:`store_defaults`).
        Raises :class:`InvalidArgumentError` (bad durability, path not UTF-8, a value out of
        range), :class:`SyncIOError`, :class:`CorruptError`, :class:`InUseError`.
        """
        if path is None:
            raise TypeError("path must be a path, not None (use Store.memory())")
        return cls(
            path,
            durability,
            read_only=read_only,
            compact_threshold_bytes=compact_threshold_bytes,
            tombstone_retention_ms=tombstone_retention_ms,
        )

    @classmethod
    def memory(cls) -> "Store":
        """A memory-only store (nothing survives the process)."""
        return cls(None, Durability.FAST)

    def entry(self, key: str) -> Optional[Entry]:
        """The live entry of ``key`` (value, version, stamp, origin), or None if absent or
        deleted. Raises :class:`InvalidOperationError` for an invalid key."""
        c_key = _encode(key, "key", InvalidOperationError)
        lib = self._lib
        out = ctypes.POINTER(N.sa_entry)()
        self._call(lib.sa_store_get, c_key, byref(out))
        if not out:
            return None
        try:
            view = lib.sa_entry_value(out)
            value = ctypes.string_at(view.ptr, view.len)
            origin = lib.sa_entry_origin(out)
            return Entry(
                key=key,
                value=value,
                version=int(lib.sa_entry_version(out)),
                stamp=int(lib.sa_entry_stamp(out)),
                origin=_text(origin.ptr),
            )
        finally:
            lib.sa_entry_free(out)

    def get(self, key: str) -> Optional[bytes]:
        """The value of ``key``, or None if absent or deleted."""
        entry = self.entry(key)
        return None if entry is None else entry.value

    def put(self, key: str, value: bytes) -> StoreWriteResult:
        """Writes ``key = value`` directly to the store, stamped by the store's clock.

        A direct write is LOCAL: logged and durable, but never propagated by a
        :class:`SyncEngine` (a later :meth:`SyncEngine.submit_put` of the key propagates, and
        carries this write as the one it replaced). Raises :class:`TypeError`,
        :class:`InvalidOperationError` (empty key, NUL in the key, key over 64 KiB, value over
        64 MiB), :class:`SyncIOError`; on error nothing changed.
        """
        return self.apply(_PUT, key, value)

    def remove(self, key: str) -> StoreWriteResult:
        """Deletes ``key`` directly (a LOCAL write, as :meth:`put`), leaving a tombstone.
        Deleting an absent key succeeds with ``deleted`` False."""
        return self.apply(_DELETE, key)

    def apply(self, op_type: OpType, key: str, value: bytes = b"") -> StoreWriteResult:
        """Applies a put or a delete directly (a LOCAL write, as :meth:`put`). Raises
        :class:`InvalidOperationError` also for an unknown type or a delete with a value."""
        kind = _int32(op_type, "op_type", InvalidOperationError)
        c_key = _encode(key, "key", InvalidOperationError)
        value = _bytes(value, "value")
        out = N.sa_store_write_result()
        self._call(self._lib.sa_store_apply, kind, c_key, value, len(value), byref(out))
        return StoreWriteResult(
            version=int(out.version),
            stamp=int(out.stamp),
            created=bool(out.created),
            updated=bool(out.updated),
            deleted=bool(out.deleted),
        )

    def entries(self, prefix: str = "") -> "StoreIterator":
        """The live entries whose key starts with ``prefix`` (``""``: all), in ascending byte
        order of the UTF-8 key, as an iterator (see :class:`StoreIterator` for writes made
        while iterating). Raises :class:`InvalidArgumentError` (NUL in the prefix)."""
        return StoreIterator(self, prefix)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """The live keys under ``prefix``, in ascending order (an iterator)."""
        return (entry.key for entry in self.entries(prefix))

    def items(self, prefix: str = "") -> Iterator[Tuple[str, bytes]]:
        """``(key, value)`` of the live keys under ``prefix``, in ascending key order."""
        return ((entry.key, entry.value) for entry in self.entries(prefix))

    def __iter__(self) -> Iterator[str]:
        """Every live key, in ascending order."""
        return self.keys()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.entry(key) is not None

    @property
    def len(self) -> int:
        """Number of live keys."""
        out = ctypes.c_size_t()
        self._call(self._lib.sa_store_len, byref(out))
        return int(out.value)

    def __len__(self) -> int:
        return self.len

    def __bool__(self) -> bool:
        return True

    def replay_report(self) -> ReplayReport:
        """What opening the WAL found (records replayed, torn-tail bytes cut off)."""
        out = N.sa_replay_report()
        self._call(self._lib.sa_store_replay_report, byref(out))
        return ReplayReport(records=int(out.records), dropped_bytes=int(out.dropped_bytes))

    def set_clock(self, clock: ManualClock) -> None:
        """Makes the store (and the engine on it) read physical time from ``clock``."""
        _set_clock(self, clock, self._lib.sa_store_set_clock)

    def compact(self) -> CompactionReport:
        """Compacts the store's log now (``sa_store_compact``): the log written since the last
        checkpoint is folded into a new checkpoint and removed; writers on other threads keep
        going. A store under a :class:`SyncEngine` is compacted with
        :meth:`SyncEngine.compact`. On error the previous state stands, the failure is counted
        in :meth:`compaction_stats`, and the next compaction folds the same log again. Raises
        :class:`SyncIOError` (disk error, read-only store), :class:`CorruptError`."""
        out = N.sa_compaction_report()
        self._call(self._lib.sa_store_compact, byref(out))
        return _compaction_report(out)

    def compaction_stats(self) -> CompactionStats:
        """Compactions since the store was opened, automatic ones included, with the latest
        failure's message (``sa_store_compaction_stats``): where a failed automatic compaction
        shows."""
        out = N.sa_compaction_stats()
        message = N.sa_buf()
        self._call(self._lib.sa_store_compaction_stats, byref(out), byref(message))
        text = _take_buf(self._lib, message).decode("utf-8", "replace")
        return CompactionStats(
            runs=int(out.runs),
            failures=int(out.failures),
            last_error=text if out.last_failed else None,
        )

    def __repr__(self) -> str:
        where = "memory" if self.path is None else repr(self.path)
        return f"Store({where}{', closed' if self.closed else ''})"


_U64_MAX = 2**64 - 1


def _store_config() -> Any:
    """A C store config holding the library's defaults."""
    config = N.sa_store_config()
    lib = _lib()
    status = lib.sa_store_config_default(byref(config))
    if status:
        raise _error(lib, status)
    return config


def store_defaults() -> StoreDefaults:
    """The library's default compaction threshold and tombstone retention
    (``sa_store_config_default``)."""
    config = _store_config()
    return StoreDefaults(
        compact_threshold_bytes=int(config.compact_threshold_bytes),
        tombstone_retention_ms=int(config.tombstone_retention_ms),
    )


def _compaction_report(c: Any) -> CompactionReport:
    return CompactionReport(
        bytes_before=int(c.bytes_before),
        bytes_after=int(c.bytes_after),
        checkpoint_bytes=int(c.checkpoint_bytes),
        records_folded=int(c.records_folded),
        tombstones_collected=int(c.tombstones_collected),
        rotation_pause_us=int(c.rotation_pause_us),
        duration_us=int(c.duration_us),
    )


class StoreIterator(_Owner):
    """An iteration over a store's live entries under a prefix (:meth:`Store.entries`), in
    ascending key order; yields :class:`Entry`.

    Not a snapshot: it reads the store in small chunks and resumes after the last key, so
    writes made while iterating are safe; a key live for the whole iteration is yielded once,
    a key written or deleted meanwhile may or may not be. It keeps the store alive. Close it
    (or use ``with``) to free it early; it is also freed when exhausted or collected.
    """

    _what = "store iterator"

    def __init__(self, store: Store, prefix: str = "") -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be Store, not {_type_name(store)}")
        c_prefix = _encode(prefix, "prefix", InvalidArgumentError)
        lib = store._lib
        out = ctypes.POINTER(N.sa_store_iter)()
        store._call(lib.sa_store_iter_new, c_prefix, byref(out))
        self._lib = lib
        self._own(out, lib.sa_store_iter_free)
        self._view = N.sa_entry_view()
        self._has = ctypes.c_bool()

    def __iter__(self) -> "StoreIterator":
        return self

    def __next__(self) -> Entry:
        if self.closed:
            raise StopIteration
        view = self._view
        self._call(self._lib.sa_store_iter_next, byref(view), byref(self._has))
        if not self._has.value:
            self.close()
            raise StopIteration
        return Entry(
            key=ctypes.string_at(view.key.ptr, view.key.len).decode("utf-8"),
            value=ctypes.string_at(view.value.ptr, view.value.len),
            version=int(view.version),
            stamp=int(view.stamp),
            origin=_text(view.origin.ptr),
        )

    def __repr__(self) -> str:
        return f"StoreIterator({'closed' if self.closed else 'open'})"


def _set_clock(owner: _Owner, clock: ManualClock, function: Any) -> None:
    if not isinstance(clock, ManualClock):
        raise TypeError(f"clock must be ManualClock, not {_type_name(clock)}")
    lib = _lib()
    ptr = owner._h.acquire()
    try:
        clock_ptr = clock._h.acquire()
        try:
            status = function(ptr, clock_ptr)
            if status:
                raise _error(lib, status)
        finally:
            clock._h.release()
    finally:
        owner._h.release()


# --------------------------------------------------------------------------------------------
# Configuration


def _durable_default(name: str) -> Any:
    """A field whose default is the library's durable preset value (``sa_sync_config_durable``,
    read when a ``SyncConfig`` is made without it): the numbers live in the library only."""
    return dataclasses.field(default_factory=lambda: getattr(_durable_preset(), name))


@functools.lru_cache(maxsize=1)
def _durable_preset() -> "SyncConfig":
    """The durable preset, read from the library once per process (only its immutable field
    values are handed out)."""
    return SyncConfig.durable("node-1")


@dataclass
class SyncConfig:
    """Sync settings (``sa_sync_config``). Start from :meth:`durable` or :meth:`fast`, then
    change fields. Durations are milliseconds. A field left out of ``SyncConfig(node_id,
    ...)`` takes the library's durable preset value (no number is written in these bindings).

    Attributes:
        node_id: this node's id (1-256 bytes of UTF-8, no whitespace or control characters).
        durability: when a submitted write returns (:class:`Durability`).
        auto_queue: queue operations as they are submitted.
        require_ack: keep sent operations in flight until acknowledged.
        ack_timeout_ms: how long a sent operation waits for its ACK.
        retry_interval_ms: wait before the first re-send; each later re-send waits twice as
            long, up to ``retry_backoff_max_ms``, the upper half jittered (deterministically).
        max_retries: re-sends allowed after the first send.
        conflict_policy: :class:`ConflictPolicy`.
        batch_size: most operations per batch (1-65536).
        max_outbox_operations: outbox cap in operations.
        max_outbox_bytes: outbox cap in key + value bytes.
        max_clock_skew_ms: remote stamps further ahead of the local clock are rejected.
        retry_backoff_max_ms: the longest wait between two re-sends.
    """

    node_id: str
    durability: Durability = _durable_default("durability")
    auto_queue: bool = _durable_default("auto_queue")
    require_ack: bool = _durable_default("require_ack")
    ack_timeout_ms: int = _durable_default("ack_timeout_ms")
    retry_interval_ms: int = _durable_default("retry_interval_ms")
    max_retries: int = _durable_default("max_retries")
    conflict_policy: ConflictPolicy = _durable_default("conflict_policy")
    batch_size: int = _durable_default("batch_size")
    max_outbox_operations: int = _durable_default("max_outbox_operations")
    max_outbox_bytes: int = _durable_default("max_outbox_bytes")
    max_clock_skew_ms: int = _durable_default("max_clock_skew_ms")
    retry_backoff_max_ms: int = _durable_default("retry_backoff_max_ms")

    @classmethod
    def durable(cls, node_id: str) -> "SyncConfig":
        """The durable preset (from ``sa_sync_config_durable``): writes on disk before they
        return, ACKs required. Raises :class:`InvalidNodeIdError`."""
        return cls._preset(node_id, "sa_sync_config_durable")

    @classmethod
    def fast(cls, node_id: str) -> "SyncConfig":
        """The fast preset (from ``sa_sync_config_fast``): writes return once handed to the
        OS, ACKs not required, larger batches. Raises :class:`InvalidNodeIdError`."""
        return cls._preset(node_id, "sa_sync_config_fast")

    def validate(self) -> None:
        """Checks every field as the engine will (``sa_sync_config_validate``). Raises
        :class:`InvalidNodeIdError` or :class:`InvalidContextError` naming the bad field."""
        c = self._to_c()
        lib = _lib()
        status = lib.sa_sync_config_validate(byref(c))
        if status:
            raise _error(lib, status)

    def is_valid(self) -> bool:
        """True when :meth:`validate` would not raise."""
        try:
            self.validate()
        except SyncError:
            return False
        return True

    @classmethod
    def _preset(cls, node_id: str, function: str) -> "SyncConfig":
        c_node = _node_id(node_id)
        lib = _lib()
        out = N.sa_sync_config(struct_size=ctypes.sizeof(N.sa_sync_config))
        status = getattr(lib, function)(c_node, byref(out))
        if status:
            raise _error(lib, status)
        return cls._from_c(out)

    @classmethod
    def _from_c(cls, c: Any) -> "SyncConfig":
        return cls(
            node_id=c.node_id.decode("utf-8"),
            durability=Durability(c.durability),
            auto_queue=bool(c.auto_queue),
            require_ack=bool(c.require_ack),
            ack_timeout_ms=int(c.ack_timeout_ms),
            retry_interval_ms=int(c.retry_interval_ms),
            max_retries=int(c.max_retries),
            conflict_policy=ConflictPolicy(c.conflict_policy),
            batch_size=int(c.batch_size),
            max_outbox_operations=int(c.max_outbox_operations),
            max_outbox_bytes=int(c.max_outbox_bytes),
            max_clock_skew_ms=int(c.max_clock_skew_ms),
            retry_backoff_max_ms=int(c.retry_backoff_max_ms),
        )

    def _to_c(self) -> Any:
        """The C struct; a field that cannot be represented raises before any C call."""
        c = N.sa_sync_config()
        c.struct_size = ctypes.sizeof(N.sa_sync_config)
        node = _node_id(self.node_id, "config node_id")
        if len(node) > N.SA_NODE_ID_MAX:
            raise make(
                InvalidNodeIdError,
                f"invalid node id {self.node_id[:64]!r}: node id is longer than "
                f"{N.SA_NODE_ID_MAX} bytes",
            )
        c.node_id = node
        ctx = InvalidContextError
        c.durability = _int32(self.durability, "config field durability", ctx)
        c.auto_queue = _bool(self.auto_queue, "config field auto_queue")
        c.require_ack = _bool(self.require_ack, "config field require_ack")
        c.ack_timeout_ms = _uint(self.ack_timeout_ms, "config field ack_timeout_ms", N.U64_MAX, ctx)
        c.retry_interval_ms = _uint(
            self.retry_interval_ms, "config field retry_interval_ms", N.U64_MAX, ctx
        )
        c.max_retries = _uint(self.max_retries, "config field max_retries", N.U32_MAX, ctx)
        c.conflict_policy = _int32(self.conflict_policy, "config field conflict_policy", ctx)
        c.batch_size = _uint(self.batch_size, "config field batch_size", N.U32_MAX, ctx)
        c.max_outbox_operations = _uint(
            self.max_outbox_operations, "config field max_outbox_operations", N.U64_MAX, ctx
        )
        c.max_outbox_bytes = _uint(
            self.max_outbox_bytes, "config field max_outbox_bytes", N.U64_MAX, ctx
        )
        c.max_clock_skew_ms = _uint(
            self.max_clock_skew_ms, "config field max_clock_skew_ms", N.U64_MAX, ctx
        )
        c.retry_backoff_max_ms = _uint(
            self.retry_backoff_max_ms, "config field retry_backoff_max_ms", N.U64_MAX, ctx
        )
        return c


# --------------------------------------------------------------------------------------------
# Engine


def _read_batch(lib: Any, batch: Any) -> "Batch":
    """Copies every envelope of a C batch into a :class:`Batch`, which then owns the handle
    (for :meth:`Batch.encode` and :meth:`Batch.json`)."""
    try:
        count = lib.sa_batch_len(batch)
        view = N.sa_envelope_view()
        envelopes = []
        for index in range(count):
            status = lib.sa_batch_get(batch, index, byref(view))
            if status:
                raise _error(lib, status)
            replaces = (
                ReplacedWrite(int(view.replaces_stamp), _text(view.replaces_origin.ptr))
                if view.has_replaces
                else None
            )
            operation = _operation(
                _text(view.sync_id.ptr),
                _text(view.origin.ptr),
                int(view.version),
                int(view.stamp),
                OpType(view.op_type),
                _text(view.key.ptr),
                ctypes.string_at(view.value.ptr, view.value.len),
                replaces,
            )
            envelopes.append(
                Envelope(operation, SyncStatus(view.status), int(view.retry_count))
            )
    except BaseException:
        lib.sa_batch_free(batch)
        raise
    return Batch(lib, batch, envelopes)


class SyncEngine(_Owner):
    """The sync engine over a :class:`Store`: submits local writes, tracks them in a durable
    outbox, hands them out in batches, tracks ACKs and retries, applies remote operations.

    Building it recovers the outbox from the store's WAL. Thread-safe: each call is atomic.
    Raises :class:`InvalidNodeIdError`, :class:`InvalidContextError` (a bad config field, or
    the store already serves an engine), :class:`CorruptError`.
    """

    _what = "sync engine"

    def __init__(self, store: Store, config: SyncConfig) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be Store, not {_type_name(store)}")
        if not isinstance(config, SyncConfig):
            raise TypeError(f"config must be SyncConfig, not {_type_name(config)}")
        c_config = config._to_c()
        lib = _lib()
        out = ctypes.POINTER(N.sa_sync)()
        store_ptr = store._h.acquire()
        try:
            status = lib.sa_sync_new(store_ptr, byref(c_config), byref(out))
            if status:
                raise _error(lib, status)
        finally:
            store._h.release()
        self._lib = lib
        self._store = store
        self._config = dataclasses.replace(config)
        self._node = config.node_id
        self._c_submit = lib.sa_sync_submit
        self._c_submit_many = lib.sa_sync_submit_many
        self._own(out, lib.sa_sync_free)

    @property
    def store(self) -> Store:
        """The store this engine was built on (the engine keeps it alive even if closed)."""
        return self._store

    @property
    def config(self) -> SyncConfig:
        """A copy of the configuration the engine was built with."""
        return dataclasses.replace(self._config)

    @property
    def node_id(self) -> str:
        """This node's id, the origin of every local operation."""
        return self._node

    # -- local operations --------------------------------------------------------------------

    def _submit(self, op_type: OpType, key: str, c_key: bytes, value: bytes) -> SyncOperation:
        out = _Submitted()
        h = self._h
        h._busy.append(None)  # h.acquire(), inlined: this is the hot path
        try:
            ptr = h._ptr
            if ptr is None:
                raise make(InvalidArgumentError, f"{h._what} is closed")
            status = self._c_submit(ptr, op_type, c_key, value, len(value), byref(out))
            if status:
                raise _error(self._lib, status)
        finally:
            h.release()
        replaces = (
            ReplacedWrite(int(out.replaces_stamp), out.replaces_origin.decode("utf-8"))
            if out.has_replaces
            else None
        )
        return _operation(
            out.sync_id.decode("utf-8"), self._node, out.version, out.stamp, op_type, key, value,
            replaces,
        )

    def submit_put(self, key: str, value: bytes) -> SyncOperation:
        """Writes ``key = value`` to the store and tracks it for propagation.

        Returns the operation (sync id, version, stamp, and the write it replaced, so that it
        can be handed to another engine's :meth:`receive_remote` as is). Raises :class:`TypeError` (key not str, value not bytes),
        :class:`InvalidOperationError` (empty key, NUL in the key, key over 64 KiB, value over
        64 MiB), :class:`CapacityExceededError`, :class:`SyncIOError`.
        """
        if key.__class__ is str and "\x00" not in key and key.isascii():
            c_key = key.encode()
        else:
            c_key = _encode(key, "key", InvalidOperationError)
        if value.__class__ is not bytes:
            value = _bytes(value, "value")
        return self._submit(_PUT, key, c_key, value)

    def submit_delete(self, key: str) -> SyncOperation:
        """Deletes ``key`` (a tombstone keeps its stamp) and tracks it for propagation."""
        c_key = _encode(key, "key", InvalidOperationError)
        return self._submit(_DELETE, key, c_key, b"")

    def submit_many(self, operations: Iterable[Tuple[str, Optional[bytes]]]) -> List[SyncOperation]:
        """Submits ``(key, value)`` pairs in one call, in order (``value`` None deletes the
        key): one engine lock and one WAL record, so after a crash all of them are there or
        none (one fdatasync in durable mode). Returns the operations in the same order, as
        :meth:`submit_put` would; a later operation on a key replaces an earlier one of the
        same call.

        Any bad operation refuses the whole call and changes nothing; the message names it
        (``"operation 3: ..."``). Raises :class:`TypeError`, :class:`InvalidOperationError`,
        :class:`CapacityExceededError`, :class:`SyncIOError`.
        """
        ops = operations if operations.__class__ is list else list(operations)
        count = len(ops)
        if count == 0:
            return []
        fast = _plain_puts(ops)
        if fast is not None:
            keys, values, key_blob = fast
            types = [_PUT] * count
            heads = array("Q", [_LOCAL_OP_HEAD[_PUT]]) * count
            key_sizes = map(len, keys)  # ASCII: one byte a character
        else:
            keys, values, types, c_keys = _checked_operations(ops)
            heads = array("Q", [_LOCAL_OP_HEAD[op_type] for op_type in types])
            key_blob = b"\x00".join(c_keys)
            key_sizes = map(len, c_keys)
        key_blob += b"\x00"
        value_blob = b"".join(values)
        value_lens = list(map(len, values))
        # Each element points into the two blobs (NUL-terminated keys, values back to back).
        key_addrs = list(
            accumulate(
                map((1).__add__, key_sizes),
                initial=ctypes.cast(key_blob, ctypes.c_void_p).value,
            )
        )[:count]
        value_addrs = list(
            accumulate(value_lens, initial=ctypes.cast(value_blob, ctypes.c_void_p).value or 0)
        )[:count]
        if _LOCAL_OP_IS_FOUR_WORDS:
            # The array as 64-bit words, faster than one struct.pack per element: the
            # struct_size and op_type pair, the key address, the value address, its length,
            # each column filled from a typed array (no intermediate list of every word).
            words = array("Q", [0]) * (4 * count)
            words[0::4] = heads
            words[1::4] = array("Q", key_addrs)
            words[2::4] = array("Q", value_addrs)
            words[3::4] = array("Q", value_lens)
            packed = words.tobytes()
        else:
            packed = b"".join(
                map(_LOCAL_OP.pack, repeat(_LOCAL_OP_SIZE, count), types, key_addrs,
                    value_addrs, value_lens)
            )
        # The sa_submitted array: zeroed, then each element's struct_size set.
        results = bytearray(_SUBMITTED_SIZE * count)
        memoryview(results).cast("I")[0 :: _SUBMITTED_SIZE // 4] = array(
            "I", [_SUBMITTED_SIZE]
        ) * count
        self._call(
            self._c_submit_many, packed, count, (_Submitted * count).from_buffer(results)
        )
        return _submitted_operations(results, self._node, types, keys, values)

    def receive_acks(self, sync_ids: Iterable[str]) -> AckReport:
        """Acknowledges every id of ``sync_ids`` in one call (one engine lock, one logged
        transition). Ids the outbox does not hold are counted as unknown, not refused; an id
        listed twice is acknowledged once. Raises :class:`TypeError`, :class:`NotFoundError`
        (an id with a NUL character: the whole call is refused, naming it)."""
        c_ids = []
        for index, sync_id in enumerate(sync_ids):
            try:
                c_ids.append(self._sync_id(sync_id))
            except (TypeError, SyncError) as exc:
                raise _at_operation(index, exc) from None
        report = N.sa_ack_report()
        count = len(c_ids)
        self._call(self._lib.sa_sync_ack_many, (ctypes.c_char_p * count)(*c_ids), count,
                   byref(report))
        return AckReport(
            int(report.acknowledged), int(report.already_acknowledged), int(report.unknown)
        )

    def _count(self, function: Any) -> int:
        out = ctypes.c_size_t()
        self._call(function, byref(out))
        return int(out.value)

    def _sync_id(self, sync_id: str) -> bytes:
        return _encode(sync_id, "sync_id", NotFoundError)

    def queue(self, sync_id: str) -> None:
        """Queues a pending operation (submitted with ``auto_queue`` off); a queued one is left
        as is. Raises :class:`NotFoundError`, :class:`QueueFailedError` (in flight,
        acknowledged or failed), :class:`SyncIOError`."""
        c_id = self._sync_id(sync_id)
        self._call(self._lib.sa_sync_queue, c_id)

    def _batch(self, function: Any) -> "Batch":
        out = ctypes.POINTER(N.sa_batch)()
        self._call(function, byref(out))
        return _read_batch(self._lib, out)

    def next_batch(self) -> "Batch":
        """Up to ``batch_size`` queued operations, oldest first (possibly none), as a
        :class:`Batch` (a list of envelopes that can :meth:`~Batch.encode` itself). With
        ``require_ack`` they are in flight until acknowledged; without, acknowledged."""
        return self._batch(self._lib.sa_sync_next_batch)

    def outbox(self) -> "Batch":
        """Every outbox entry, oldest first, with its current status and retry count. For
        inspection: O(outbox size), changes nothing."""
        return self._batch(self._lib.sa_sync_outbox)

    def ack(self, sync_id: str) -> AckOutcome:
        """Marks ``sync_id`` acknowledged (in any status: a late ACK still proves delivery).
        Raises :class:`NotFoundError` (``"sync operation not found: <id>"``)."""
        c_id = self._sync_id(sync_id)
        out = ctypes.c_int32()
        self._call(self._lib.sa_sync_ack, c_id, byref(out))
        return AckOutcome(out.value)

    def retry_expired(self) -> int:
        """Re-queues in-flight operations whose ACK timeout passed while retries remain (the
        others become failed); returns how many were re-queued."""
        return self._count(self._lib.sa_sync_retry_expired)

    def requeue_failed(self, sync_id: str) -> None:
        """Queues a failed operation again, with a fresh retry budget. Raises
        :class:`NotFoundError`, :class:`RetryFailedError` (the operation is not failed)."""
        c_id = self._sync_id(sync_id)
        self._call(self._lib.sa_sync_requeue_failed, c_id)

    def requeue_all_failed(self) -> int:
        """Queues every failed operation again; returns how many."""
        return self._count(self._lib.sa_sync_requeue_all_failed)

    def prune_completed(self) -> int:
        """Removes acknowledged operations from the outbox; returns how many."""
        return self._count(self._lib.sa_sync_prune_completed)

    def prune_failed(self) -> int:
        """Removes failed operations from the outbox (their writes stay in the store)."""
        return self._count(self._lib.sa_sync_prune_failed)

    # -- remote operations -------------------------------------------------------------------

    def receive_remote(self, op: SyncOperation) -> ApplyResult:
        """Validates and applies an operation from another node, deciding conflicts with the
        configured policy. A redelivery is :attr:`Outcome.DUPLICATE` and changes nothing.

        Raises :class:`TypeError` (not a SyncOperation, wrong field types) and
        :class:`InvalidRemoteOperationError` (empty sync id, bad origin, version 0, stamp too
        far ahead, bad key/value/type; the store is untouched).
        """
        if not isinstance(op, SyncOperation):
            raise TypeError(f"op must be SyncOperation, not {_type_name(op)}")
        bad = InvalidRemoteOperationError
        c = N.sa_remote_op()
        sync_id = _encode(op.sync_id, "sync_id", bad)
        origin = _encode(op.origin, "origin", bad)
        key = _encode(op.key, "key", bad)
        value = _bytes(op.value, "value")
        c.sync_id = sync_id
        c.origin = origin
        c.version = _uint(op.version, "version", N.U64_MAX, bad)
        c.stamp = _uint(op.stamp, "stamp", N.U64_MAX, bad)
        c.op_type = _int32(op.op_type, "op_type", bad)
        c.key = key
        if value:
            c.value = ctypes.cast(ctypes.c_char_p(value), ctypes.POINTER(ctypes.c_uint8))
        c.value_len = len(value)
        replaces_origin = b""
        if op.replaces is not None:
            if not isinstance(op.replaces, ReplacedWrite):
                raise TypeError(
                    f"replaces must be ReplacedWrite or None, not {_type_name(op.replaces)}"
                )
            replaces_origin = _encode(op.replaces.origin, "replaces origin", bad)
            c.has_replaces = True
            c.replaces_stamp = _uint(op.replaces.stamp, "replaces stamp", N.U64_MAX, bad)
            c.replaces_origin = replaces_origin
        out = N.sa_apply_result()
        self._call(self._lib.sa_sync_receive_remote, byref(c), byref(out))
        # The buffers c points into must outlive the call.
        del sync_id, origin, key, value, replaces_origin
        return ApplyResult(
            outcome=Outcome(out.outcome),
            conflict_detected=bool(out.conflict_detected),
            reason=Reason(out.reason) if out.reason else None,
            store_version=int(out.store_version),
        )

    # -- state and scheduling ----------------------------------------------------------------

    def state(self) -> SyncState:
        """Every counter of the engine, in O(1)."""
        out = N.sa_sync_state_info()
        self._call(self._lib.sa_sync_state, byref(out))
        return SyncState(
            *(int(getattr(out, name)) for name, *_ in N.sa_sync_state_info._fields_[1:])
        )

    def tick(self, prune: bool = False) -> TickResult:
        """One scheduler tick: retry expired operations, prune acknowledged ones if ``prune``,
        then take the next batch."""
        prune = _bool(prune, "prune")
        out = N.sa_tick_result()
        self._call(self._lib.sa_sync_tick, prune, byref(out))
        batch = _read_batch(self._lib, out.batch)
        return TickResult(int(out.retried_count), int(out.pruned_count), batch)

    def set_clock(self, clock: ManualClock) -> None:
        """Makes the engine (and its store) read physical time from ``clock``."""
        _set_clock(self, clock, self._lib.sa_sync_set_clock)

    # -- wire formats and JSON views ---------------------------------------------------------

    def receive_frame(self, data: bytes) -> "tuple[ReceiveReport, bytes]":
        """Applies every valid operation of a V2 operations frame received from another node;
        returns the report and the V2 ACK frame to send back (listing applied, ignored and
        duplicate ids). Refused operations are in ``report.errors`` and not acknowledged.
        Raises :class:`MalformedFrameError` (nothing applied), :class:`SyncIOError`."""
        data = _bytes(data, "data")
        report = N.sa_receive_report()
        ack = N.sa_buf()
        ptr = self._h.acquire()
        try:
            status = self._lib.sa_sync_receive_frame(
                ptr, data, len(data), byref(report), byref(ack)
            )
            if status:
                raise _error(self._lib, status)
            errors = []
            error = N.sa_operation_error()
            for index in range(report.invalid):
                status = self._lib.sa_last_receive_error(index, byref(error))
                if status:
                    raise _error(self._lib, status)
                errors.append(
                    OperationError(
                        int(error.index), _text(error.sync_id.ptr), _text(error.message.ptr)
                    )
                )
        finally:
            self._h.release()
        frame = _take_buf(self._lib, ack)
        result = ReceiveReport(
            int(report.applied), int(report.ignored), int(report.duplicate),
            int(report.invalid), errors,
        )
        return result, frame

    def ack_frame(self, data: bytes) -> int:
        """Acknowledges every sync id of a V2 ACK frame; returns how many operations became
        acknowledged (ids already acknowledged or no longer in the outbox are skipped).
        Raises :class:`MalformedFrameError` (nothing acknowledged)."""
        data = _bytes(data, "data")
        out = ctypes.c_size_t()
        self._call(self._lib.sa_sync_ack_frame, data, len(data), byref(out))
        return int(out.value)

    def handle_v1_frame(self, data: bytes) -> bytes:
        """Handles one complete V1 frame of the C++ transport like its dispatcher; returns the
        reply frame (``b""`` when none is due). Raises :class:`MalformedFrameError`,
        :class:`InvalidRemoteOperationError` (nothing applied, no ACK)."""
        data = _bytes(data, "data")
        out = N.sa_buf()
        self._call(self._lib.sa_sync_handle_v1_frame, data, len(data), byref(out))
        return _take_buf(self._lib, out)

    def compact(self) -> CompactionReport:
        """Compacts the log of the engine's store (``sa_sync_compact``): the outbox that is
        not pruned, dedup ranges and versions go into the checkpoint; a tombstone is collected
        once its delete is acknowledged and it is older than the store's
        ``tombstone_retention_ms``. Writers keep going. On error the previous state stands and
        the failure is counted in the store's :meth:`Store.compaction_stats`. Raises
        :class:`SyncIOError`, :class:`CorruptError`."""
        out = N.sa_compaction_report()
        self._call(self._lib.sa_sync_compact, byref(out))
        return _compaction_report(out)

    def state_json(self) -> str:
        """The engine's counters as a JSON object (``sa_sync_state_json``)."""
        out = N.sa_buf()
        self._call(self._lib.sa_sync_state_json, byref(out))
        return _take_buf(self._lib, out).decode("utf-8")

    def outbox_json(self) -> str:
        """Every outbox entry as a JSON array (``sa_sync_outbox_json``; values in hex)."""
        out = N.sa_buf()
        self._call(self._lib.sa_sync_outbox_json, byref(out))
        return _take_buf(self._lib, out).decode("utf-8")

    def __repr__(self) -> str:
        return f"SyncEngine({self._node!r}{', closed' if self.closed else ''})"


# --------------------------------------------------------------------------------------------
# ACK tracker


class AckTracker(_Owner):
    """Tracks sync ids waiting for an ACK, each with a deadline (``clock``: a
    :class:`ManualClock`, or None for the system clock). Thread-safe."""

    _what = "ACK tracker"

    def __init__(self, clock: Optional[ManualClock] = None) -> None:
        if clock is not None and not isinstance(clock, ManualClock):
            raise TypeError(f"clock must be ManualClock or None, not {_type_name(clock)}")
        lib = _lib()
        out = ctypes.POINTER(N.sa_ack_tracker)()
        if clock is None:
            status = lib.sa_ack_tracker_new(None, byref(out))
        else:
            clock_ptr = clock._h.acquire()
            try:
                status = lib.sa_ack_tracker_new(clock_ptr, byref(out))
            finally:
                clock._h.release()
        if status:
            raise _error(lib, status)
        self._lib = lib
        self._own(out, lib.sa_ack_tracker_free)

    def _id(self, sync_id: str) -> bytes:
        return _encode(sync_id, "sync_id", AckTrackingError)

    def track(self, sync_id: str, timeout_ms: int) -> None:
        """Tracks ``sync_id`` for ``timeout_ms`` from now (again: replaces its entry).
        Raises :class:`AckTrackingError` for an empty id."""
        c_id = self._id(sync_id)
        timeout_ms = _uint(timeout_ms, "timeout_ms", N.U64_MAX, InvalidArgumentError)
        self._call(self._lib.sa_ack_tracker_track, c_id, timeout_ms)

    def _flag(self, function: Any, sync_id: str) -> bool:
        c_id = self._id(sync_id)
        out = ctypes.c_bool()
        self._call(function, c_id, byref(out))
        return bool(out.value)

    def ack(self, sync_id: str) -> bool:
        """Marks ``sync_id`` acknowledged; False if it was not tracked."""
        return self._flag(self._lib.sa_ack_tracker_ack, sync_id)

    def is_waiting(self, sync_id: str) -> bool:
        """``sync_id`` is tracked and neither acknowledged nor timed out."""
        return self._flag(self._lib.sa_ack_tracker_is_waiting, sync_id)

    def acknowledged(self, sync_id: str) -> bool:
        """``sync_id`` was acknowledged and not pruned yet."""
        return self._flag(self._lib.sa_ack_tracker_acknowledged, sync_id)

    def erase(self, sync_id: str) -> bool:
        """Stops tracking ``sync_id``; False if it was not tracked."""
        return self._flag(self._lib.sa_ack_tracker_erase, sync_id)

    def _count(self, function: Any) -> int:
        out = ctypes.c_size_t()
        self._call(function, byref(out))
        return int(out.value)

    def collect_expired(self) -> int:
        """Marks every waiting id whose deadline passed as timed out; returns how many."""
        return self._count(self._lib.sa_ack_tracker_collect_expired)

    def prune_received(self) -> int:
        """Forgets acknowledged ids; returns how many."""
        return self._count(self._lib.sa_ack_tracker_prune_received)

    def clear(self) -> None:
        """Forgets every id."""
        self._call(self._lib.sa_ack_tracker_clear)

    def size(self) -> int:
        """Number of tracked ids, in every status."""
        ptr = self._h.acquire()
        try:
            return int(self._lib.sa_ack_tracker_size(ptr))
        finally:
            self._h.release()

    def empty(self) -> bool:
        """True when no id is tracked."""
        return self.size() == 0

    def __len__(self) -> int:
        return self.size()

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "AckTracker(closed)" if self.closed else f"AckTracker(size={self.size()})"


# --------------------------------------------------------------------------------------------
# Free functions


def resolve_conflict(
    policy: ConflictPolicy,
    local_stamp: Optional[int],
    local_node: Optional[str],
    remote_stamp: int,
    remote_node: str,
) -> Resolution:
    """Decides whether a remote write (``remote_stamp`` by ``remote_node``) replaces the local
    one (``local_stamp`` by ``local_node``; ``local_stamp`` None when the key is unknown
    locally, and then ``local_node`` is ignored and may be None) under ``policy``.
    Deterministic. Raises :class:`InvalidArgumentError` (unknown policy) and
    :class:`InvalidNodeIdError`."""
    c_policy = _int32(policy, "policy", InvalidArgumentError)
    has_local = local_stamp is not None
    c_local_stamp = (
        _uint(local_stamp, "local_stamp", N.U64_MAX, InvalidArgumentError) if has_local else 0
    )
    c_remote_stamp = _uint(remote_stamp, "remote_stamp", N.U64_MAX, InvalidArgumentError)
    c_local = _node_id(local_node, "local_node") if has_local else None
    c_remote = _node_id(remote_node, "remote_node")
    lib = _lib()
    out = N.sa_resolution()
    status = lib.sa_conflict_resolve(
        c_policy, has_local, c_local_stamp, c_local, c_remote_stamp, c_remote, byref(out)
    )
    if status:
        raise _error(lib, status)
    return Resolution(
        conflict_detected=bool(out.conflict_detected),
        apply_remote=bool(out.apply_remote),
        keep_local=bool(out.keep_local),
        reason=Reason(out.reason),
    )


def library_version() -> str:
    """The loaded library's version (``sa_version()``), e.g. ``"0.2.0"``."""
    return _text(_lib().sa_version())


def library_path() -> str:
    """The path of the loaded library (loading it if needed); for a library found by the
    system's loader (``ctypes.util.find_library``), the name the loader resolved."""
    _lib()
    path = N.loaded_path()
    assert path is not None
    return path


def status_name(status: int) -> str:
    """The C name of a status code (``sa_status_str``), e.g. ``"SA_ERR_NOT_FOUND"``."""
    code = _int32(status, "status", InvalidArgumentError)
    return _text(_lib().sa_status_str(code))


# --------------------------------------------------------------------------------------------
# Wire formats


def _take_buf(lib: Any, buf: Any) -> bytes:
    """Copies an ``sa_buf`` filled by the library into ``bytes`` and frees it."""
    try:
        return ctypes.string_at(buf.ptr, buf.len) if buf.len else b""
    finally:
        lib.sa_buf_free(byref(buf))


class Batch(List[Envelope], _Owner):
    """A batch of envelopes (a ``list``), still holding the library's batch so it can be put
    on the wire: :meth:`encode` gives the V2 operations frame, :meth:`json` a JSON view. The C
    batch is freed on :meth:`close`, at the end of a ``with`` block, or when collected."""

    _what = "batch"

    def __init__(self, lib: Any, handle: Any, envelopes: List[Envelope]) -> None:
        super().__init__(envelopes)
        self._lib = lib
        self._own(handle, lib.sa_batch_free)

    def _buf(self, function: Any) -> bytes:
        out = N.sa_buf()
        self._call(function, byref(out))
        return _take_buf(self._lib, out)

    def encode(self) -> bytes:
        """The V2 operations frame carrying every envelope (``sa_batch_encode``), for
        :meth:`SyncEngine.receive_frame` on another node."""
        return self._buf(self._lib.sa_batch_encode)

    def json(self) -> str:
        """The envelopes as a JSON array (``sa_batch_json``; values in ``value_hex``)."""
        return self._buf(self._lib.sa_batch_json).decode("utf-8")

    def v1_frames(self, to_node_id: str) -> List[bytes]:
        """One V1 SyncBatch frame per envelope, for the C++ node ``to_node_id``."""
        return [v1_frame_for_envelope(envelope, to_node_id) for envelope in self]

    __hash__ = None  # type: ignore[assignment]


def v1_hello_frame(node_id: str) -> bytes:
    """The V1 Hello frame a node sends after connecting to a C++ node."""
    c_node = _node_id(node_id)
    lib = _lib()
    out = N.sa_buf()
    status = lib.sa_v1_hello_frame(c_node, byref(out))
    if status:
        raise _error(lib, status)
    return _take_buf(lib, out)


def _view_str(raw: bytes) -> Any:
    return N.sa_str(raw, len(raw))


def v1_frame_for_envelope(envelope: Envelope, to_node_id: str) -> bytes:
    """The V1 SyncBatch frame carrying ``envelope`` to the C++ node ``to_node_id``, byte for
    byte as the C++ transport writes it (stamp milliseconds only, no replaced write)."""
    if not isinstance(envelope, Envelope):
        raise TypeError(f"envelope must be Envelope, not {_type_name(envelope)}")
    op = envelope.operation
    bad = InvalidArgumentError
    sync_id = _encode(op.sync_id, "sync_id", bad)
    origin = _encode(op.origin, "origin", bad)
    key = _encode(op.key, "key", bad)
    value = _bytes(op.value, "value")
    to = _node_id(to_node_id, "to_node_id")
    view = N.sa_envelope_view()
    view.sync_id = _view_str(sync_id)
    view.origin = _view_str(origin)
    view.version = _uint(op.version, "version", N.U64_MAX, bad)
    view.stamp = _uint(op.stamp, "stamp", N.U64_MAX, bad)
    view.op_type = _int32(op.op_type, "op_type", bad)
    view.key = _view_str(key)
    buffer = (ctypes.c_uint8 * max(len(value), 1)).from_buffer_copy(value or b"\0")
    view.value = N.sa_bytes(buffer, len(value))
    view.replaces_origin = _view_str(b"")
    lib = _lib()
    out = N.sa_buf()
    status = lib.sa_v1_frame_for_envelope(byref(view), to, byref(out))
    # The buffers the view points into must outlive the call.
    del sync_id, origin, key, buffer
    if status:
        raise _error(lib, status)
    return _take_buf(lib, out)
