"""softadastra_sync: Python bindings (ctypes, no compiler needed) of softadastra-sync, the
local-first sync engine of Softadastra Engine.

    from softadastra_sync import Store, SyncConfig, SyncEngine

    with Store.memory() as store, SyncEngine(store, SyncConfig.durable("node-a")) as engine:
        op = engine.submit_put("user:1", b"Gaspard")        # node-a-1
        for envelope in engine.next_batch():
            ...                                             # hand envelope.operation to a transport
            engine.ack(envelope.operation.sync_id)          # when the peer's ACK comes back

The shared library is found, on first use, at ``$SOFTADASTRA_SYNC_LIB``, else in this package's
directory (where installing from a checkout bundles it), else in ``target/release`` then
``target/debug`` of the source checkout holding this package, else in a system install (the
libdir of pkg-config's ``softadastra-sync``, then ``ctypes.util.find_library``).
:func:`find_library` tells which file that is, or raises :class:`LibraryNotFoundError` naming
every place tried.
"""

from __future__ import annotations

from ._native import (
    SA_SYNC_VERSION_MAJOR,
    SA_SYNC_VERSION_MINOR,
    SA_SYNC_VERSION_PATCH,
    LibraryNotFoundError,
    find_library,
)
from .core import (
    AckTracker,
    Batch,
    ManualClock,
    Store,
    StoreIterator,
    SyncConfig,
    SyncEngine,
    library_path,
    library_version,
    resolve_conflict,
    status_name,
    store_defaults,
    v1_frame_for_envelope,
    v1_hello_frame,
)
from .errors import (
    AckTrackingError,
    CapacityExceededError,
    ConflictError,
    CorruptError,
    InternalError,
    InUseError,
    InvalidArgumentError,
    InvalidContextError,
    InvalidNodeIdError,
    InvalidOperationError,
    InvalidRemoteOperationError,
    MalformedFrameError,
    NotFoundError,
    QueueFailedError,
    RetryFailedError,
    Status,
    StoreApplyError,
    SyncError,
    SyncIOError,
)
from .model import (
    AckOutcome,
    AckReport,
    ApplyResult,
    CompactionReport,
    CompactionStats,
    ConflictPolicy,
    Durability,
    Entry,
    Envelope,
    OpType,
    OperationError,
    Outcome,
    Reason,
    ReplacedWrite,
    ReceiveReport,
    ReplayReport,
    Resolution,
    StoreDefaults,
    StoreWriteResult,
    SyncOperation,
    SyncState,
    SyncStatus,
    TickResult,
    make_stamp,
    stamp_logical,
    stamp_wall_ms,
)

# The header's version (checked against it by the drift test), not a copy.
__version__ = f"{SA_SYNC_VERSION_MAJOR}.{SA_SYNC_VERSION_MINOR}.{SA_SYNC_VERSION_PATCH}"

__all__ = [
    # objects
    "Store",
    "StoreIterator",
    "SyncConfig",
    "SyncEngine",
    "AckTracker",
    "ManualClock",
    "resolve_conflict",
    "Batch",
    "v1_hello_frame",
    "v1_frame_for_envelope",
    # data
    "SyncOperation",
    "ReplacedWrite",
    "Envelope",
    "ApplyResult",
    "SyncState",
    "TickResult",
    "Resolution",
    "Entry",
    "StoreWriteResult",
    "ReplayReport",
    "CompactionReport",
    "CompactionStats",
    "StoreDefaults",
    "ReceiveReport",
    "AckReport",
    "OperationError",
    "make_stamp",
    "stamp_wall_ms",
    "stamp_logical",
    # enums
    "OpType",
    "Durability",
    "ConflictPolicy",
    "SyncStatus",
    "Outcome",
    "AckOutcome",
    "Reason",
    "Status",
    # errors
    "SyncError",
    "InvalidArgumentError",
    "InvalidContextError",
    "InvalidNodeIdError",
    "InvalidOperationError",
    "InvalidRemoteOperationError",
    "NotFoundError",
    "QueueFailedError",
    "RetryFailedError",
    "ConflictError",
    "StoreApplyError",
    "AckTrackingError",
    "CapacityExceededError",
    "SyncIOError",
    "CorruptError",
    "InternalError",
    "InUseError",
    "MalformedFrameError",
    "LibraryNotFoundError",
    # library
    "find_library",
    "library_path",
    "library_version",
    "status_name",
    "store_defaults",
    "__version__",
]
