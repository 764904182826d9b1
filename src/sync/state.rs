//! The observable state of a sync engine.

use serde::Serialize;

/// Counters of a sync engine, maintained as operations move (never recounted).
///
/// The outbox counters always describe the outbox; the remote counters, `total_retries` and
/// `conflict_count` count since the engine was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncState {
    /// Operations the outbox tracks, in every status.
    pub outbox_size: u64,
    pub pending_count: u64,
    pub queued_count: u64,
    pub in_flight_count: u64,
    pub acknowledged_count: u64,
    pub failed_count: u64,
    /// Key + value bytes of the operations in the outbox.
    pub outbox_bytes: u64,
    /// Key + value bytes of the operations not acknowledged yet.
    pub unacknowledged_bytes: u64,
    /// How long ago the oldest operation not acknowledged yet was submitted (0 when none):
    /// a value that keeps growing means propagation is stuck.
    pub oldest_unacknowledged_age_ms: u64,
    /// Version of the last local operation submitted (0 if none ever was).
    pub last_submitted_version: u64,
    /// Origin version of the last remote operation applied.
    pub last_applied_remote_version: u64,
    /// Re-sends scheduled by `retry_expired`.
    pub total_retries: u64,
    pub remote_applied_count: u64,
    /// Remote operations evaluated and not applied (older, or lost a conflict).
    pub remote_ignored_count: u64,
    /// Remote operations received again after they were already handled.
    pub remote_duplicate_count: u64,
    /// Remote operations that were concurrent with the local write.
    pub conflict_count: u64,
}
