//! Envelopes: a sync operation with its outbox status, as handed out in batches and listings.

use super::operation::{sync_id, Direction, SyncOperation};
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Key, Operation, OperationKind, Value, WriteId};

/// Where an operation is in its propagation. Numbered for the C ABI (0 is "unknown" in C++).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SyncStatus {
    /// Submitted with auto_queue off; waits for `queue_operation`.
    Pending = 1,
    /// Ready for a batch (possibly waiting for its retry time).
    Queued = 2,
    /// Handed out in a batch, waiting for its ACK.
    InFlight = 3,
    /// Acknowledged (or handed out, when ACKs are not required); can be pruned.
    Acknowledged = 4,
    /// Retries exhausted: propagation failed. The local write stays in the store.
    Failed = 5,
}

/// A sync operation and its outbox bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncEnvelope {
    pub operation: SyncOperation,
    pub status: SyncStatus,
    /// Re-sends after the first send.
    pub retry_count: u32,
    /// When the operation was submitted (ms since the Unix epoch, physical clock).
    pub submitted_at: u64,
    /// When it was last handed out in a batch.
    pub last_attempt_at: Option<u64>,
    /// In flight: its ACK deadline. Queued after a retry: the earliest time it is sent again.
    pub next_retry_at: Option<u64>,
}

/// An outbox entry's operation, borrowed from the outbox (which stores its fields apart, so
/// that they pack with its own): the fields of an [`Operation`]. A put's value is in the key's
/// allocation (see `Operation::joined`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct OperationRef<'a> {
    pub kind: OperationKind,
    pub key: &'a Key,
    pub timestamp: Stamp,
}

impl OperationRef<'_> {
    /// The value, sharing the key's allocation (no copy).
    pub fn value(self) -> Value {
        match self.kind {
            OperationKind::Put => self.key.joined_value(),
            OperationKind::Delete => Value::default(),
        }
    }

    pub fn to_operation(self) -> Operation {
        Operation {
            kind: self.kind,
            key: self.key.clone(),
            value: self.value(),
            timestamp: self.timestamp,
        }
    }
}

/// The write an outbox entry replaced, borrowed from the outbox.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReplacedRef<'a> {
    pub stamp: Stamp,
    pub origin: Option<&'a NodeId>,
}

impl ReplacedRef<'_> {
    pub fn to_write_id(self) -> WriteId {
        WriteId {
            stamp: self.stamp,
            origin: self.origin.cloned(),
        }
    }
}

/// An outbox entry as an envelope, borrowed from the outbox: what an envelope holds, without
/// making its strings (the C ABI copies what it needs straight into its batch).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EnvelopeRef<'a> {
    /// The version, and the number in the sync id `<origin>-<seq>`.
    pub seq: u64,
    pub op: OperationRef<'a>,
    pub origin: &'a NodeId,
    pub replaces: Option<ReplacedRef<'a>>,
    pub status: SyncStatus,
    pub retry_count: u32,
    pub submitted_at: u64,
    pub last_attempt_at: Option<u64>,
    pub next_retry_at: Option<u64>,
}

impl EnvelopeRef<'_> {
    pub fn to_envelope(self) -> SyncEnvelope {
        SyncEnvelope {
            operation: SyncOperation {
                sync_id: sync_id(self.origin.as_str(), self.seq),
                origin_node_id: self.origin.as_str().to_owned(),
                version: self.seq,
                operation: self.op.to_operation(),
                replaces: self.replaces.map(ReplacedRef::to_write_id),
                direction: Direction::LocalToRemote,
            },
            status: self.status,
            retry_count: self.retry_count,
            submitted_at: self.submitted_at,
            last_attempt_at: self.last_attempt_at,
            next_retry_at: self.next_retry_at,
        }
    }
}
