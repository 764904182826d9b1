"""Plain data: the enums and immutable result types of the API (no library call here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import List, Optional

__all__ = [
    "OpType",
    "Durability",
    "ConflictPolicy",
    "SyncStatus",
    "Outcome",
    "AckOutcome",
    "Reason",
    "ReplacedWrite",
    "SyncOperation",
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
    "OperationError",
    "ReceiveReport",
    "make_stamp",
    "stamp_wall_ms",
    "stamp_logical",
]

#: Bits of a hybrid-clock stamp holding the logical counter (below the wall-clock ms).
STAMP_LOGICAL_BITS = 16


class OpType(IntEnum):
    """Store operation types (``SA_OP_*``)."""

    PUT = 1
    DELETE = 2


class Durability(IntEnum):
    """When a write returns (``SA_DURABLE``: on disk; ``SA_FAST``: handed to the OS)."""

    DURABLE = 1
    FAST = 2


class ConflictPolicy(IntEnum):
    """How a conflict between a local and a remote write is decided (``SA_POLICY_*``)."""

    LAST_WRITE_WINS = 1
    KEEP_LOCAL = 2
    KEEP_REMOTE = 3


class SyncStatus(IntEnum):
    """Outbox status of an operation (``SA_STATUS_*``)."""

    PENDING = 1
    QUEUED = 2
    IN_FLIGHT = 3
    ACKNOWLEDGED = 4
    FAILED = 5


class Outcome(IntEnum):
    """What receiving a remote operation did (``SA_APPLIED``, ``SA_IGNORED``, ``SA_DUPLICATE``)."""

    APPLIED = 1
    IGNORED = 2
    DUPLICATE = 3


class AckOutcome(IntEnum):
    """What an ACK did (``SA_ACK_ACKNOWLEDGED``, ``SA_ACK_ALREADY_ACKNOWLEDGED``)."""

    ACKNOWLEDGED = 1
    ALREADY_ACKNOWLEDGED = 2


class Reason(IntEnum):
    """Why a conflict resolution came out as it did (``SA_REASON_*``)."""

    NO_LOCAL_ENTRY = 1
    SAME_WRITE = 2
    CAUSAL_SUCCESSOR = 3
    SAME_ORIGIN_NEWER = 4
    SAME_ORIGIN_OLDER = 5
    REMOTE_WINS = 6
    LOCAL_WINS = 7
    POLICY_KEEP_LOCAL = 8
    POLICY_KEEP_REMOTE = 9


def make_stamp(wall_ms: int, logical: int = 0) -> int:
    """A hybrid-clock stamp: ``wall_ms << 16 | logical``."""
    if not 0 <= logical < (1 << STAMP_LOGICAL_BITS):
        raise ValueError(f"logical counter {logical} does not fit in 16 bits")
    if not 0 <= wall_ms < (1 << (64 - STAMP_LOGICAL_BITS)):
        raise ValueError(f"wall clock {wall_ms} ms does not fit in 48 bits")
    return (wall_ms << STAMP_LOGICAL_BITS) | logical


def stamp_wall_ms(stamp: int) -> int:
    """The wall-clock milliseconds of a stamp."""
    return stamp >> STAMP_LOGICAL_BITS


def stamp_logical(stamp: int) -> int:
    """The logical counter of a stamp."""
    return stamp & ((1 << STAMP_LOGICAL_BITS) - 1)


@dataclass(frozen=True)
class ReplacedWrite:
    """The write an operation replaced at its origin: its stamp, and its origin node id
    (``""`` for a direct store write). Lets a receiver tell a causal successor from a
    conflict."""

    stamp: int
    origin: str = ""


@dataclass(frozen=True)
class SyncOperation:
    """The propagation unit: a store operation with its sync metadata.

    An operation taken from one engine's batch (``Envelope.operation``) can be handed as is
    to another engine's :meth:`SyncEngine.receive_remote`: it carries everything the C
    ``sa_remote_op`` needs.

    Attributes:
        sync_id: ``<origin>-<version>`` for operations made by this library.
        origin: node id of the node that made the write.
        version: the origin's version of the operation (from 1).
        stamp: hybrid-clock stamp (``wall_ms << 16 | logical``), see :func:`make_stamp`.
        op_type: :class:`OpType`.
        key: the key (non-empty UTF-8, up to 64 KiB).
        value: the value (``b""`` for a delete).
        replaces: the write this one replaced at its origin, or None (the key was unknown).
    """

    sync_id: str
    origin: str
    version: int
    stamp: int
    op_type: OpType
    key: str
    value: bytes = b""
    replaces: Optional[ReplacedWrite] = None

    @classmethod
    def put(
        cls,
        sync_id: str,
        origin: str,
        version: int,
        key: str,
        value: bytes,
        stamp: int,
        replaces: Optional[ReplacedWrite] = None,
    ) -> "SyncOperation":
        """A put operation, e.g. one received from a peer that does not use this library."""
        return cls(sync_id, origin, version, stamp, OpType.PUT, key, value, replaces)

    @classmethod
    def delete(
        cls,
        sync_id: str,
        origin: str,
        version: int,
        key: str,
        stamp: int,
        replaces: Optional[ReplacedWrite] = None,
    ) -> "SyncOperation":
        """A delete operation."""
        return cls(sync_id, origin, version, stamp, OpType.DELETE, key, b"", replaces)


@dataclass(frozen=True)
class Envelope:
    """An outbox entry as handed out in a batch: the operation, its status at the time the
    batch was made, and how many times it was re-sent after the first send."""

    operation: SyncOperation
    status: SyncStatus
    retry_count: int

    @property
    def sync_id(self) -> str:
        """Shortcut for ``operation.sync_id``."""
        return self.operation.sync_id


@dataclass(frozen=True)
class ApplyResult:
    """What :meth:`SyncEngine.receive_remote` did.

    ``reason`` is None for a duplicate caught by deduplication; ``store_version`` is 0 when
    nothing was applied.
    """

    outcome: Outcome
    conflict_detected: bool
    reason: Optional[Reason]
    store_version: int

    @property
    def applied(self) -> bool:
        """The remote write was applied to the store."""
        return self.outcome == Outcome.APPLIED

    @property
    def ignored(self) -> bool:
        """The remote write was evaluated and not applied (older, or lost a conflict)."""
        return self.outcome == Outcome.IGNORED

    @property
    def duplicate(self) -> bool:
        """The operation had been handled before; nothing changed."""
        return self.outcome == Outcome.DUPLICATE


@dataclass(frozen=True)
class SyncState:
    """Every counter of an engine (``sa_sync_state``, a ``sa_sync_state_info``).

    Outbox counters describe the outbox; the remote counters, ``total_retries`` and
    ``conflict_count`` count since the engine was created. ``unacknowledged_bytes`` is the
    key + value bytes not acknowledged yet; ``oldest_unacknowledged_age_ms`` how long ago the
    oldest unacknowledged operation was submitted (0 when none): a value that keeps growing
    means propagation is stuck.
    """

    outbox_size: int
    pending_count: int
    queued_count: int
    in_flight_count: int
    acknowledged_count: int
    failed_count: int
    outbox_bytes: int
    last_submitted_version: int
    last_applied_remote_version: int
    total_retries: int
    remote_applied_count: int
    remote_ignored_count: int
    remote_duplicate_count: int
    conflict_count: int
    unacknowledged_bytes: int
    oldest_unacknowledged_age_ms: int


@dataclass(frozen=True)
class TickResult:
    """What one scheduler tick did: re-queued, pruned, and the batch to send."""

    retried_count: int
    pruned_count: int
    batch: List[Envelope] = field(default_factory=list)

    @property
    def batch_size(self) -> int:
        """Number of envelopes in the batch."""
        return len(self.batch)

    @property
    def has_work(self) -> bool:
        """True when the tick produced operations to send."""
        return bool(self.batch)


@dataclass(frozen=True)
class Resolution:
    """A conflict decision: exactly one of ``apply_remote`` and ``keep_local`` is true."""

    conflict_detected: bool
    apply_remote: bool
    keep_local: bool
    reason: Reason

    def is_valid(self) -> bool:
        """True when exactly one outcome is chosen."""
        return self.apply_remote != self.keep_local


@dataclass(frozen=True)
class Entry:
    """One key's value in the store, with the write that produced it.

    ``origin`` is ``""`` for a direct store write.
    """

    key: str
    value: bytes
    version: int
    stamp: int
    origin: str


@dataclass(frozen=True)
class StoreWriteResult:
    """What a direct store write (:meth:`Store.put`, :meth:`Store.remove`,
    :meth:`Store.apply`) did."""

    #: The store's sequence number for the write.
    version: int
    #: The hybrid-clock stamp the store gave the write.
    stamp: int
    #: The key had no live value before and has one now.
    created: bool
    #: The key had a live value before and has one now.
    updated: bool
    #: The key had a live value before and is deleted now.
    deleted: bool


@dataclass(frozen=True)
class ReplayReport:
    """What opening a WAL found: records replayed, torn-tail bytes cut off."""

    records: int
    dropped_bytes: int


@dataclass(frozen=True)
class CompactionReport:
    """What one compaction did (:meth:`Store.compact`, :meth:`SyncEngine.compact`)."""

    #: Bytes of the store's files (checkpoint and log segments) before and after.
    bytes_before: int
    bytes_after: int
    #: Size of the new checkpoint file (``<wal>.ckpt``).
    checkpoint_bytes: int
    #: Log records folded into the checkpoint.
    records_folded: int
    #: Tombstones collected (past their retention and no longer needed by sync).
    tombstones_collected: int
    #: How long writers were held (the rotation, under the store's lock), in microseconds.
    rotation_pause_us: int
    #: How long the whole compaction took, in microseconds.
    duration_us: int


@dataclass(frozen=True)
class CompactionStats:
    """Compactions of a store since it was opened, automatic ones included
    (:meth:`Store.compaction_stats`)."""

    runs: int
    failures: int
    #: The latest compaction's error message if it failed (``None`` if it succeeded or none
    #: ran): where a failed automatic compaction shows.
    last_error: Optional[str]


@dataclass(frozen=True)
class StoreDefaults:
    """The library's store defaults (``sa_store_config_default``), used by :meth:`Store.open`
    for the settings it is not given."""

    #: Automatic compaction starts when the log written since the last checkpoint exceeds
    #: max(this, 2 x the checkpoint's size); 0 turns it off.
    compact_threshold_bytes: int
    #: How long a tombstone is kept at least, in milliseconds.
    tombstone_retention_ms: int


@dataclass(frozen=True)
class OperationError:
    """One operation of a received frame that was refused (not applied, not acknowledged)."""

    #: Its position in the frame (0-based).
    index: int
    sync_id: str
    #: The library's message, naming the offending value.
    message: str


@dataclass(frozen=True)
class AckReport:
    """What :meth:`SyncEngine.receive_acks` did with a list of sync ids."""

    #: Operations that became acknowledged.
    acknowledged: int
    #: Operations that already were (a redelivered ACK, or an id listed twice).
    already_acknowledged: int
    #: Ids the outbox does not hold (pruned since, or never this node's).
    unknown: int


@dataclass(frozen=True)
class ReceiveReport:
    """What :meth:`SyncEngine.receive_frame` did with the operations of one V2 frame."""

    applied: int
    ignored: int
    duplicate: int
    invalid: int
    errors: List[OperationError] = field(default_factory=list)
