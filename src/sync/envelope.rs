//! Envelopes: a sync operation with its outbox status, as handed out in batches and listings.

use super::operation::SyncOperation;

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
