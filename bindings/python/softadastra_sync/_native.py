"""Finding and loading the shared library, and the ctypes mirror of ``softadastra/sync.h``.

Private: nothing defined here is part of the public API, and no ctypes object leaves the
package. Every structure below mirrors the header field by field (same order, same C types),
and every function gets its exact ``argtypes``/``restype`` before it is called.

The library is loaded lazily, on first use, so ``import softadastra_sync`` works (for type
checking, documentation, ...) even where the library is not built yet.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import subprocess
import sys
import threading
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
)
from pathlib import Path
from typing import Any, Iterator, List, NamedTuple, Optional, Tuple

# --------------------------------------------------------------------------------------------
# Constants of the header (the integer values the C functions take and return).

SA_OP_PUT = 1
SA_OP_DELETE = 2
SA_DURABLE = 1
SA_FAST = 2
SA_POLICY_LAST_WRITE_WINS = 1
SA_POLICY_KEEP_LOCAL = 2
SA_POLICY_KEEP_REMOTE = 3
SA_STATUS_PENDING = 1
SA_STATUS_QUEUED = 2
SA_STATUS_IN_FLIGHT = 3
SA_STATUS_ACKNOWLEDGED = 4
SA_STATUS_FAILED = 5
SA_APPLIED = 1
SA_IGNORED = 2
SA_DUPLICATE = 3
SA_ACK_ACKNOWLEDGED = 1
SA_ACK_ALREADY_ACKNOWLEDGED = 2
SA_NODE_ID_MAX = 256
SA_NODE_ID_BUFFER = 257
SA_SYNC_ID_MAX = 280
SA_SYNC_VERSION_MAJOR = 0
SA_SYNC_VERSION_MINOR = 2
SA_SYNC_VERSION_PATCH = 0
SA_REASON_NO_LOCAL_ENTRY = 1
SA_REASON_SAME_WRITE = 2
SA_REASON_CAUSAL_SUCCESSOR = 3
SA_REASON_SAME_ORIGIN_NEWER = 4
SA_REASON_SAME_ORIGIN_OLDER = 5
SA_REASON_REMOTE_WINS = 6
SA_REASON_LOCAL_WINS = 7
SA_REASON_POLICY_KEEP_LOCAL = 8
SA_REASON_POLICY_KEEP_REMOTE = 9

SA_OK = 0
SA_ERR_INVALID_ARGUMENT = 1
SA_ERR_INVALID_CONTEXT = 2
SA_ERR_INVALID_NODE_ID = 3
SA_ERR_INVALID_OPERATION = 4
SA_ERR_INVALID_REMOTE_OPERATION = 5
SA_ERR_NOT_FOUND = 6
SA_ERR_QUEUE_FAILED = 7
SA_ERR_RETRY_FAILED = 8
SA_ERR_CONFLICT = 9
SA_ERR_STORE_APPLY = 10
SA_ERR_ACK_TRACKING = 11
SA_ERR_CAPACITY_EXCEEDED = 12
SA_ERR_IO = 13
SA_ERR_CORRUPT = 14
SA_ERR_INTERNAL = 15
SA_ERR_IN_USE = 16
SA_ERR_MALFORMED_FRAME = 17

SA_WIRE_FORMAT_VERSION = 2
SA_WIRE_HEADER_BYTES = 10
SA_WIRE_MAX_BODY_BYTES = 268_435_456
SA_V1_MAX_FRAME_BYTES = 1_048_576

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
# size_t on this platform.
SIZE_MAX = 2 ** (8 * ctypes.sizeof(c_size_t)) - 1

# --------------------------------------------------------------------------------------------
# Opaque handles: distinct pointer types, so ctypes refuses to pass one kind for another.


class sa_ack_tracker(Structure):
    """Opaque ``struct sa_ack_tracker``."""


class sa_batch(Structure):
    """Opaque ``struct sa_batch``."""


class sa_clock(Structure):
    """Opaque ``struct sa_clock``."""


class sa_entry(Structure):
    """Opaque ``struct sa_entry``."""


class sa_store(Structure):
    """Opaque ``struct sa_store``."""


class sa_store_iter(Structure):
    """Opaque ``struct sa_store_iter``."""


class sa_sync(Structure):
    """Opaque ``struct sa_sync``."""


sa_status = c_int32

# --------------------------------------------------------------------------------------------
# Structures, field by field as in the header.


class sa_str(Structure):
    """``struct sa_str``: a borrowed, NUL-terminated UTF-8 string of ``len`` bytes."""

    _fields_ = [("ptr", c_char_p), ("len", c_size_t)]


class sa_bytes(Structure):
    """``struct sa_bytes``: ``len`` borrowed bytes at ``ptr`` (never NULL)."""

    _fields_ = [("ptr", POINTER(c_uint8)), ("len", c_size_t)]


class _Sized(Structure):
    """A struct that can grow: ``struct_size`` (its first field) is set to the size these
    bindings know, so the library writes no more than that (see the header's top comment)."""

    def __init__(self, *args: Any, **fields: Any) -> None:
        super().__init__(*args, **fields)
        self.struct_size = ctypes.sizeof(self)


class sa_envelope_view(_Sized):
    """``struct sa_envelope_view``: one envelope of a batch, borrowed from it."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("sync_id", sa_str),
        ("origin", sa_str),
        ("version", c_uint64),
        ("stamp", c_uint64),
        ("op_type", c_int32),
        ("key", sa_str),
        ("value", sa_bytes),
        ("status", c_int32),
        ("retry_count", c_uint32),
        ("has_replaces", c_bool),
        ("replaces_stamp", c_uint64),
        ("replaces_origin", sa_str),
    ]


class sa_sync_config(Structure):
    """``struct sa_sync_config``; ``struct_size`` is set to ``sizeof(sa_sync_config)``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("node_id", c_char * SA_NODE_ID_BUFFER),
        ("durability", c_int32),
        ("auto_queue", c_bool),
        ("require_ack", c_bool),
        ("ack_timeout_ms", c_uint64),
        ("retry_interval_ms", c_uint64),
        ("max_retries", c_uint32),
        ("conflict_policy", c_int32),
        ("batch_size", c_uint32),
        ("max_outbox_operations", c_uint64),
        ("max_outbox_bytes", c_uint64),
        ("max_clock_skew_ms", c_uint64),
        ("retry_backoff_max_ms", c_uint64),
    ]


class sa_resolution(_Sized):
    """``struct sa_resolution``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("conflict_detected", c_bool),
        ("apply_remote", c_bool),
        ("keep_local", c_bool),
        ("reason", c_int32),
    ]


class sa_submitted(_Sized):
    """``struct sa_submitted``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("version", c_uint64),
        ("stamp", c_uint64),
        ("sync_id", c_char * SA_SYNC_ID_MAX),
        ("has_replaces", c_bool),
        ("replaces_stamp", c_uint64),
        ("replaces_origin", c_char * SA_NODE_ID_BUFFER),
    ]


class sa_local_op(_Sized):
    """``struct sa_local_op``: one operation of ``sa_sync_submit_many``, borrowed for the call.
    ``SyncEngine.submit_many`` packs arrays of it with ``struct`` (see ``LOCAL_OP_FORMAT``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("op_type", c_int32),
        ("key", c_char_p),
        ("value", POINTER(c_uint8)),
        ("value_len", c_size_t),
    ]


class sa_ack_report(_Sized):
    """``struct sa_ack_report``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("acknowledged", c_size_t),
        ("already_acknowledged", c_size_t),
        ("unknown", c_size_t),
    ]


#: ``struct`` formats with the native layout of ``sa_local_op`` and ``sa_submitted``, so that
#: arrays of them are packed and read in one C-speed pass instead of one ctypes attribute
#: access per field (checked against the ctypes mirrors on import).
LOCAL_OP_FORMAT = "@IiPPN"
SUBMITTED_FORMAT = f"@IQQ{SA_SYNC_ID_MAX}s?Q{SA_NODE_ID_BUFFER}s0Q"  # 0Q: trailing padding


class sa_remote_op(_Sized):
    """``struct sa_remote_op``: strings borrowed for the duration of the call."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("sync_id", c_char_p),
        ("origin", c_char_p),
        ("version", c_uint64),
        ("stamp", c_uint64),
        ("op_type", c_int32),
        ("key", c_char_p),
        ("value", POINTER(c_uint8)),
        ("value_len", c_size_t),
        ("has_replaces", c_bool),
        ("replaces_stamp", c_uint64),
        ("replaces_origin", c_char_p),
    ]


class sa_apply_result(_Sized):
    """``struct sa_apply_result``."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("outcome", c_int32),
        ("conflict_detected", c_bool),
        ("reason", c_int32),
        ("store_version", c_uint64),
    ]


class sa_sync_state_info(_Sized):
    """``struct sa_sync_state_info`` (filled by ``sa_sync_state``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("outbox_size", c_uint64),
        ("pending_count", c_uint64),
        ("queued_count", c_uint64),
        ("in_flight_count", c_uint64),
        ("acknowledged_count", c_uint64),
        ("failed_count", c_uint64),
        ("outbox_bytes", c_uint64),
        ("last_submitted_version", c_uint64),
        ("last_applied_remote_version", c_uint64),
        ("total_retries", c_uint64),
        ("remote_applied_count", c_uint64),
        ("remote_ignored_count", c_uint64),
        ("remote_duplicate_count", c_uint64),
        ("conflict_count", c_uint64),
        ("unacknowledged_bytes", c_uint64),
        ("oldest_unacknowledged_age_ms", c_uint64),
    ]


class sa_tick_result(_Sized):
    """``struct sa_tick_result``; ``batch`` is owned by the caller."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("retried_count", c_uint64),
        ("pruned_count", c_uint64),
        ("batch", POINTER(sa_batch)),
    ]


class sa_replay_report(_Sized):
    """``struct sa_replay_report``."""

    _fields_ = [("struct_size", c_uint32), ("records", c_uint64), ("dropped_bytes", c_uint64)]


class sa_store_config(_Sized):
    """``struct sa_store_config`` (filled by ``sa_store_config_default``; the path is
    borrowed for the call)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("wal_path", c_char_p),
        ("durability", c_int32),
        ("read_only", c_bool),
        ("compact_threshold_bytes", c_uint64),
        ("tombstone_retention_ms", c_uint64),
    ]


class sa_compaction_report(_Sized):
    """``struct sa_compaction_report`` (filled by ``sa_store_compact`` / ``sa_sync_compact``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("bytes_before", c_uint64),
        ("bytes_after", c_uint64),
        ("checkpoint_bytes", c_uint64),
        ("records_folded", c_uint64),
        ("tombstones_collected", c_uint64),
        ("rotation_pause_us", c_uint64),
        ("duration_us", c_uint64),
    ]


class sa_compaction_stats(_Sized):
    """``struct sa_compaction_stats`` (filled by ``sa_store_compaction_stats``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("runs", c_uint64),
        ("failures", c_uint64),
        ("last_failed", c_bool),
    ]


class sa_store_write_result(_Sized):
    """``struct sa_store_write_result`` (filled by ``sa_store_put/remove/apply``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("version", c_uint64),
        ("stamp", c_uint64),
        ("created", c_bool),
        ("updated", c_bool),
        ("deleted", c_bool),
    ]


class sa_entry_view(_Sized):
    """``struct sa_entry_view``: one entry of a store iteration, borrowed from the iterator."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("key", sa_str),
        ("value", sa_bytes),
        ("version", c_uint64),
        ("stamp", c_uint64),
        ("origin", sa_str),
    ]


class sa_buf(Structure):
    """``struct sa_buf``: bytes owned by the caller, freed with ``sa_buf_free``."""

    _fields_ = [("ptr", POINTER(c_uint8)), ("len", c_size_t)]


class sa_receive_report(_Sized):
    """``struct sa_receive_report`` (filled by ``sa_sync_receive_frame``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("applied", c_size_t),
        ("ignored", c_size_t),
        ("duplicate", c_size_t),
        ("invalid", c_size_t),
    ]


class sa_operation_error(_Sized):
    """``struct sa_operation_error`` (filled by ``sa_last_receive_error``)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("index", c_size_t),
        ("sync_id", sa_str),
        ("message", sa_str),
    ]


class _TakesBytes:
    """Mixin for a pointer argument type that also takes a ``bytes`` object directly: ctypes
    passes it as a pointer to its buffer (valid for the call), without a copy or a cast."""

    @classmethod
    def from_param(cls, obj: Any) -> Any:
        if obj.__class__ is bytes or obj is None:
            return obj
        return super().from_param(obj)  # type: ignore[misc]


class _ConstU8Ptr(_TakesBytes, POINTER(c_uint8)):  # type: ignore[misc]
    """``const uint8_t *`` argument that also takes ``bytes`` (the hot path of
    ``sa_sync_submit``); the C type is unchanged."""


class _LocalOps(_TakesBytes, POINTER(sa_local_op)):  # type: ignore[misc]
    """``const sa_local_op *`` argument that also takes an array packed as ``bytes`` with
    ``LOCAL_OP_FORMAT``; the C type is unchanged."""


_P = POINTER

# Every function of the header: name -> (restype, argtypes).
_PROTOTYPES: "dict[str, Tuple[Any, List[Any]]]" = {
    # ACK tracker
    "sa_ack_tracker_new": (sa_status, [_P(sa_clock), _P(_P(sa_ack_tracker))]),
    "sa_ack_tracker_track": (sa_status, [_P(sa_ack_tracker), c_char_p, c_uint64]),
    "sa_ack_tracker_ack": (sa_status, [_P(sa_ack_tracker), c_char_p, _P(c_bool)]),
    "sa_ack_tracker_is_waiting": (sa_status, [_P(sa_ack_tracker), c_char_p, _P(c_bool)]),
    "sa_ack_tracker_acknowledged": (sa_status, [_P(sa_ack_tracker), c_char_p, _P(c_bool)]),
    "sa_ack_tracker_erase": (sa_status, [_P(sa_ack_tracker), c_char_p, _P(c_bool)]),
    "sa_ack_tracker_collect_expired": (sa_status, [_P(sa_ack_tracker), _P(c_size_t)]),
    "sa_ack_tracker_prune_received": (sa_status, [_P(sa_ack_tracker), _P(c_size_t)]),
    "sa_ack_tracker_clear": (sa_status, [_P(sa_ack_tracker)]),
    "sa_ack_tracker_size": (c_size_t, [_P(sa_ack_tracker)]),
    "sa_ack_tracker_free": (None, [_P(sa_ack_tracker)]),
    # Batches
    "sa_batch_len": (c_size_t, [_P(sa_batch)]),
    "sa_batch_get": (sa_status, [_P(sa_batch), c_size_t, _P(sa_envelope_view)]),
    "sa_batch_free": (None, [_P(sa_batch)]),
    # Clock
    "sa_clock_new_manual": (sa_status, [c_uint64, _P(_P(sa_clock))]),
    "sa_clock_set": (sa_status, [_P(sa_clock), c_uint64]),
    "sa_clock_advance": (sa_status, [_P(sa_clock), c_uint64]),
    "sa_clock_now": (c_uint64, [_P(sa_clock)]),
    "sa_clock_free": (None, [_P(sa_clock)]),
    # Config and conflicts
    "sa_sync_config_durable": (sa_status, [c_char_p, _P(sa_sync_config)]),
    "sa_sync_config_fast": (sa_status, [c_char_p, _P(sa_sync_config)]),
    "sa_sync_config_validate": (sa_status, [_P(sa_sync_config)]),
    "sa_conflict_resolve": (
        sa_status,
        [c_int32, c_bool, c_uint64, c_char_p, c_uint64, c_char_p, _P(sa_resolution)],
    ),
    # Engine
    "sa_sync_new": (sa_status, [_P(sa_store), _P(sa_sync_config), _P(_P(sa_sync))]),
    "sa_sync_submit": (
        sa_status,
        [_P(sa_sync), c_int32, c_char_p, _ConstU8Ptr, c_size_t, _P(sa_submitted)],
    ),
    "sa_sync_submit_many": (
        sa_status,
        [_P(sa_sync), _LocalOps, c_size_t, _P(sa_submitted)],
    ),
    "sa_sync_ack_many": (
        sa_status,
        [_P(sa_sync), _P(c_char_p), c_size_t, _P(sa_ack_report)],
    ),
    "sa_sync_queue": (sa_status, [_P(sa_sync), c_char_p]),
    "sa_sync_next_batch": (sa_status, [_P(sa_sync), _P(_P(sa_batch))]),
    "sa_sync_outbox": (sa_status, [_P(sa_sync), _P(_P(sa_batch))]),
    "sa_sync_ack": (sa_status, [_P(sa_sync), c_char_p, _P(c_int32)]),
    "sa_sync_retry_expired": (sa_status, [_P(sa_sync), _P(c_size_t)]),
    "sa_sync_requeue_failed": (sa_status, [_P(sa_sync), c_char_p]),
    "sa_sync_requeue_all_failed": (sa_status, [_P(sa_sync), _P(c_size_t)]),
    "sa_sync_prune_completed": (sa_status, [_P(sa_sync), _P(c_size_t)]),
    "sa_sync_prune_failed": (sa_status, [_P(sa_sync), _P(c_size_t)]),
    "sa_remote_op_from_view": (sa_status, [_P(sa_envelope_view), _P(sa_remote_op)]),
    "sa_sync_receive_remote": (
        sa_status,
        [_P(sa_sync), _P(sa_remote_op), _P(sa_apply_result)],
    ),
    "sa_sync_state": (sa_status, [_P(sa_sync), _P(sa_sync_state_info)]),
    "sa_sync_tick": (sa_status, [_P(sa_sync), c_bool, _P(sa_tick_result)]),
    "sa_sync_set_clock": (sa_status, [_P(sa_sync), _P(sa_clock)]),
    "sa_sync_free": (None, [_P(sa_sync)]),
    # Meta
    "sa_status_str": (c_char_p, [c_int32]),
    "sa_last_error_message": (c_char_p, []),
    "sa_version": (c_char_p, []),
    # Store
    "sa_store_open": (sa_status, [c_char_p, c_int32, _P(_P(sa_store))]),
    "sa_store_get": (sa_status, [_P(sa_store), c_char_p, _P(_P(sa_entry))]),
    "sa_entry_value": (sa_bytes, [_P(sa_entry)]),
    "sa_entry_version": (c_uint64, [_P(sa_entry)]),
    "sa_entry_stamp": (c_uint64, [_P(sa_entry)]),
    "sa_entry_origin": (sa_str, [_P(sa_entry)]),
    "sa_entry_free": (None, [_P(sa_entry)]),
    "sa_store_len": (sa_status, [_P(sa_store), _P(c_size_t)]),
    "sa_store_replay_report": (sa_status, [_P(sa_store), _P(sa_replay_report)]),
    "sa_store_set_clock": (sa_status, [_P(sa_store), _P(sa_clock)]),
    "sa_store_free": (None, [_P(sa_store)]),
    "sa_store_apply": (
        sa_status,
        [_P(sa_store), c_int32, c_char_p, _ConstU8Ptr, c_size_t, _P(sa_store_write_result)],
    ),
    "sa_store_put": (
        sa_status,
        [_P(sa_store), c_char_p, _ConstU8Ptr, c_size_t, _P(sa_store_write_result)],
    ),
    "sa_store_remove": (sa_status, [_P(sa_store), c_char_p, _P(sa_store_write_result)]),
    "sa_store_iter_new": (sa_status, [_P(sa_store), c_char_p, _P(_P(sa_store_iter))]),
    "sa_store_iter_next": (sa_status, [_P(sa_store_iter), _P(sa_entry_view), _P(c_bool)]),
    "sa_store_iter_free": (None, [_P(sa_store_iter)]),
}

# Wire formats and JSON views.
_PROTOTYPES.update(
    {
        "sa_buf_free": (None, [_P(sa_buf)]),
        "sa_batch_encode": (sa_status, [_P(sa_batch), _P(sa_buf)]),
        "sa_sync_receive_frame": (
            sa_status,
            [_P(sa_sync), _ConstU8Ptr, c_size_t, _P(sa_receive_report), _P(sa_buf)],
        ),
        "sa_last_receive_error": (sa_status, [c_size_t, _P(sa_operation_error)]),
        "sa_sync_ack_frame": (sa_status, [_P(sa_sync), _ConstU8Ptr, c_size_t, _P(c_size_t)]),
        "sa_v1_hello_frame": (sa_status, [c_char_p, _P(sa_buf)]),
        "sa_v1_frame_for_envelope": (sa_status, [_P(sa_envelope_view), c_char_p, _P(sa_buf)]),
        "sa_sync_handle_v1_frame": (sa_status, [_P(sa_sync), _ConstU8Ptr, c_size_t, _P(sa_buf)]),
        "sa_sync_state_json": (sa_status, [_P(sa_sync), _P(sa_buf)]),
        "sa_sync_outbox_json": (sa_status, [_P(sa_sync), _P(sa_buf)]),
        "sa_batch_json": (sa_status, [_P(sa_batch), _P(sa_buf)]),
    }
)

# Store config and compaction.
_PROTOTYPES.update(
    {
        "sa_store_config_default": (sa_status, [_P(sa_store_config)]),
        "sa_store_open_with": (sa_status, [_P(sa_store_config), _P(_P(sa_store))]),
        "sa_store_compact": (sa_status, [_P(sa_store), _P(sa_compaction_report)]),
        "sa_sync_compact": (sa_status, [_P(sa_sync), _P(sa_compaction_report)]),
        "sa_store_compaction_stats": (
            sa_status,
            [_P(sa_store), _P(sa_compaction_stats), _P(sa_buf)],
        ),
    }
)

# --------------------------------------------------------------------------------------------
# Discovery.

ENV_VAR = "SOFTADASTRA_SYNC_LIB"
CRATE_NAME = "softadastra-sync"


def library_file_name() -> str:
    """The platform's file name of the shared library built by cargo."""
    if sys.platform == "win32":
        return "softadastra_sync.dll"
    if sys.platform == "darwin":
        return "libsoftadastra_sync.dylib"
    return "libsoftadastra_sync.so"


_CRATE_NAME_RE = re.compile(r'^\s*name\s*=\s*"softadastra-sync"\s*$', re.MULTILINE)


def find_checkout(start: Path) -> Optional[Path]:
    """The nearest directory at or above ``start`` holding the crate's ``Cargo.toml``."""
    for directory in [start, *start.parents]:
        manifest = directory / "Cargo.toml"
        try:
            text = manifest.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if _CRATE_NAME_RE.search(text):
            return directory
    return None


class LibraryNotFoundError(OSError):
    """The shared library could not be found or loaded.

    ``tried`` lists every place looked at, in order, each with why it was not used.
    """

    def __init__(self, message: str, tried: List[str]) -> None:
        super().__init__(message)
        self.tried = tried


class Place(NamedTuple):
    """One place the library may be: ``location`` (None when the place cannot hold it, and
    ``description`` says why), and whether the location is a file path or a name the system's
    dynamic loader resolves (what ``ctypes.util.find_library`` returns on Linux)."""

    location: Optional[str]
    description: str
    loader_name: bool = False


PKG_CONFIG_MODULE = "softadastra-sync"
# pkg-config answers in milliseconds; a hung one must not hang the first call.
PKG_CONFIG_TIMEOUT_S = 10


def pkg_config_libdir() -> Tuple[Optional[str], str]:
    """``pkg-config --variable=libdir softadastra-sync``: (libdir, "") or (None, why not)."""
    try:
        result = subprocess.run(
            ["pkg-config", "--variable=libdir", PKG_CONFIG_MODULE],
            capture_output=True, text=True, timeout=PKG_CONFIG_TIMEOUT_S, check=False,
        )
    except FileNotFoundError:
        return None, "pkg-config is not installed"
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"pkg-config failed: {error}"
    libdir = result.stdout.strip()
    if result.returncode != 0 or not libdir:
        return None, f"no {PKG_CONFIG_MODULE}.pc on the pkg-config search path"
    return libdir, ""


def system_places() -> Iterator[Place]:
    """A system install: the libdir of the pkg-config module, then the dynamic loader's
    search (``ctypes.util.find_library``: ldconfig's cache, the compiler's and
    ``LD_LIBRARY_PATH``'s directories on Linux). Lazily: each search runs only when the
    place before did not have the library."""
    libdir, why = pkg_config_libdir()
    if libdir is None:
        yield Place(None, f"pkg-config {PKG_CONFIG_MODULE} ({why})")
    else:
        path = str(Path(libdir) / library_file_name())
        yield Place(path, f"{path} (libdir of pkg-config {PKG_CONFIG_MODULE})")
    found = ctypes.util.find_library("softadastra_sync")
    lookup = "ctypes.util.find_library('softadastra_sync')"
    if found is None:
        yield Place(None, f"{lookup} (not found)")
    else:
        yield Place(found, f"{found} ({lookup})", loader_name=os.sep not in found)


def local_places(package_dir: Optional[Path] = None) -> List[Place]:
    """The places to look for the library before a system install, in order.

    1. ``$SOFTADASTRA_SYNC_LIB`` (an explicit path: when set, it is the only place);
    2. the copy inside the package directory (bundled by the wheel build);
    3. ``target/release`` then ``target/debug`` of the source checkout found by walking up
       from the package directory to a ``Cargo.toml`` of ``softadastra-sync``.
    """
    package_dir = package_dir if package_dir is not None else Path(__file__).resolve().parent
    name = library_file_name()
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return [Place(explicit, f"${ENV_VAR}={explicit}")]
    places = [Place(None, f"${ENV_VAR} (not set)")]
    places.append(Place(str(package_dir / name), str(package_dir / name)))
    checkout = find_checkout(package_dir)
    if checkout is None:
        places.append(
            Place(
                None,
                f"target/release and target/debug of a source checkout (no Cargo.toml of "
                f"{CRATE_NAME} found at or above {package_dir})",
            )
        )
    else:
        for profile in ("release", "debug"):
            path = checkout / "target" / profile / name
            places.append(Place(str(path), str(path)))
    return places


def _places_in_order(package_dir: Optional[Path]) -> Iterator[Place]:
    """:func:`local_places`, then (4.) :func:`system_places` unless ``$SOFTADASTRA_SYNC_LIB``
    is set; lazily, so pkg-config and the loader's search run only when needed."""
    yield from local_places(package_dir)
    if not os.environ.get(ENV_VAR):
        yield from system_places()


def find_library(package_dir: Optional[Path] = None) -> str:
    """The path of the shared library to load (or, for a library found by the system's
    loader, the name it loads); raises :class:`LibraryNotFoundError` naming every place
    tried, in order. The first place that has the library wins: the later ones are not
    searched (pkg-config and the loader's search only run when nothing before has it)."""
    tried = []
    for place in _places_in_order(package_dir):
        if place.location is None:
            tried.append(place.description)
        elif place.loader_name or os.path.isfile(place.location):
            return place.location
        else:
            tried.append(f"{place.description} (no such file)")
    raise LibraryNotFoundError(
        "softadastra_sync: cannot find the shared library "
        f"{library_file_name()}; tried, in order:\n  - "
        + "\n  - ".join(tried)
        + f"\nBuild it (cargo build --release in the crate), install it (scripts/install.sh), "
        f"install this package from a checkout (pip install bindings/python bundles it), or "
        f"set {ENV_VAR} to its path.",
        tried,
    )


def _declare(cdll: ctypes.CDLL, path: str) -> None:
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            function = getattr(cdll, name)
        except AttributeError:
            raise LibraryNotFoundError(
                f"softadastra_sync: {path} does not export {name}: not a compatible "
                f"softadastra-sync library (expected version "
                f"{SA_SYNC_VERSION_MAJOR}.{SA_SYNC_VERSION_MINOR}.x)",
                [path],
            ) from None
        function.restype = restype
        function.argtypes = argtypes


def _check_abi(cdll: Any, path: str) -> None:
    raw = cdll.sa_version()
    version = raw.decode("utf-8", "replace") if raw else ""
    parts = version.split(".")
    expected = f"{SA_SYNC_VERSION_MAJOR}.{SA_SYNC_VERSION_MINOR}"
    # The header's ABI rules: a library of the same major version and the same or a later
    # minor version serves bindings built against this one.
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        major, minor = -1, -1
    if major != SA_SYNC_VERSION_MAJOR or minor < SA_SYNC_VERSION_MINOR:
        raise LibraryNotFoundError(
            f"softadastra_sync: {path} is version {version!r}, these bindings need "
            f"{expected} or a later {SA_SYNC_VERSION_MAJOR}.x",
            [path],
        )
    # A library older than these bindings refuses their larger struct_size.
    config = sa_sync_config(struct_size=ctypes.sizeof(sa_sync_config))
    if cdll.sa_sync_config_durable(b"abi-check", ctypes.byref(config)) != SA_OK:
        message = cdll.sa_last_error_message()
        raise LibraryNotFoundError(
            f"softadastra_sync: {path}: sa_sync_config_durable failed during the ABI check "
            f"(header and library differ?): {message.decode('utf-8', 'replace') if message else ''}",
            [path],
        )


_loaded: Optional[Any] = None
_loaded_path: Optional[str] = None
_load_lock = threading.Lock()


def load(path: Optional[str] = None) -> Any:
    """Loads (once) and returns the library with every prototype declared.

    ``path`` forces a file (it must then be the first load); otherwise :func:`find_library`.
    """
    global _loaded, _loaded_path
    if _loaded is not None and path is None:
        return _loaded
    with _load_lock:
        if _loaded is not None:
            if path is not None and os.path.abspath(path) != _loaded_path:
                raise LibraryNotFoundError(
                    f"softadastra_sync: {_loaded_path} is already loaded; cannot load {path}",
                    [path],
                )
            return _loaded
        chosen = path if path is not None else find_library()
        try:
            cdll = ctypes.CDLL(chosen)
        except OSError as error:
            raise LibraryNotFoundError(
                f"softadastra_sync: cannot load {chosen}: {error}", [chosen]
            ) from error
        _declare(cdll, chosen)
        _check_abi(cdll, chosen)
        _loaded = cdll
        # A bare name (found by the system's loader) stays a name: the loader resolved it.
        _loaded_path = os.path.abspath(chosen) if os.sep in chosen else chosen
        return cdll


def loaded_path() -> Optional[str]:
    """The path of the loaded library (or the name the system's loader resolved), or None
    before the first use."""
    return _loaded_path
