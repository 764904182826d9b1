//! Sync settings.

use std::time::Duration;

use super::error::SyncError;
use crate::node::NodeId;
use crate::store::Durability;

/// The largest max_clock_skew accepted.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(365 * 24 * 3600);

/// The largest batch_size accepted.
pub const MAX_BATCH_SIZE: usize = 65_536;

/// How a conflict (a remote write concurrent with the local one) is decided. Numbered as in the
/// C++ module (0 is "unknown" there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConflictPolicy {
    /// The greater (stamp, origin node id) wins: every node reaches the same value.
    LastWriteWins = 1,
    /// The local value is kept.
    KeepLocal = 2,
    /// The remote value is applied.
    KeepRemote = 3,
}

/// Sync settings; every field is public, presets are [`SyncConfig::durable`] and
/// [`SyncConfig::fast`]. [`SyncConfig::validate`] names the first bad field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// This node's id: the origin of its operations and the prefix of its sync ids.
    pub node_id: String,
    /// When a submitted write (and its sync operation) is reported done.
    pub durability: Durability,
    /// Queue operations as they are submitted; otherwise call `queue_operation`.
    pub auto_queue: bool,
    /// Keep sent operations in flight until acknowledged; otherwise they count as
    /// acknowledged once handed out in a batch.
    pub require_ack: bool,
    /// How long a sent operation waits for its ACK before it is a retry candidate.
    pub ack_timeout: Duration,
    /// How long an operation waits before its first re-send; each later re-send waits twice
    /// as long, up to `retry_backoff_max`, half of it jittered.
    pub retry_interval: Duration,
    /// The longest wait between two re-sends.
    pub retry_backoff_max: Duration,
    /// Re-sends allowed after the first send; past that an expired operation is failed.
    pub max_retries: u32,
    pub conflict_policy: ConflictPolicy,
    /// Most operations in one batch.
    pub batch_size: usize,
    /// Most operations the outbox holds (acknowledged ones count until pruned).
    pub max_outbox_operations: usize,
    /// Most key + value bytes the outbox holds.
    pub max_outbox_bytes: u64,
    /// How far ahead of the local clock a remote stamp may be before it is rejected.
    pub max_clock_skew: Duration,
}

impl SyncConfig {
    /// Writes synced to disk before they return, ACKs required.
    pub fn durable(node_id: &str) -> SyncConfig {
        SyncConfig {
            node_id: node_id.to_string(),
            durability: Durability::Durable,
            auto_queue: true,
            require_ack: true,
            ack_timeout: Duration::from_secs(10),
            retry_interval: Duration::from_secs(5),
            retry_backoff_max: Duration::from_secs(300),
            max_retries: 5,
            conflict_policy: ConflictPolicy::LastWriteWins,
            batch_size: 64,
            max_outbox_operations: 1_000_000,
            max_outbox_bytes: 1 << 30,
            max_clock_skew: Duration::from_secs(60),
        }
    }

    /// Writes handed to the OS before they return (survive a crash, not a power cut), no ACKs
    /// required: best-effort delivery, in batches of 128 (the C++ module's fast preset).
    pub fn fast(node_id: &str) -> SyncConfig {
        SyncConfig {
            durability: Durability::Fast,
            require_ack: false,
            batch_size: 128,
            ..SyncConfig::durable(node_id)
        }
    }

    /// Checks every field; returns the validated node id.
    pub fn validate(&self) -> Result<NodeId, SyncError> {
        let node = NodeId::new(&self.node_id)?;
        let bad = |field: &str, why: &str| {
            Err(SyncError::InvalidContext(format!(
                "config field {field} {why}"
            )))
        };
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.batch_size > MAX_BATCH_SIZE {
            return bad("batch_size", "must be at most 65536");
        }
        if self.require_ack && self.ack_timeout.is_zero() {
            return bad("ack_timeout", "must be positive when require_ack is set");
        }
        if self.max_outbox_operations == 0 {
            return bad("max_outbox_operations", "must be at least 1");
        }
        if self.max_outbox_bytes == 0 {
            return bad("max_outbox_bytes", "must be at least 1");
        }
        // Bounded so that an accepted remote stamp stays far below the largest stamp: the
        // hybrid clock must always be able to issue a greater one.
        if self.max_clock_skew > MAX_CLOCK_SKEW {
            return bad("max_clock_skew", "must be at most 365 days");
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_differ_in_durability_acks_and_batch_size() {
        let d = SyncConfig::durable("node-a");
        let f = SyncConfig::fast("node-a");
        assert_eq!(d.durability, Durability::Durable);
        assert!(d.require_ack);
        assert_eq!(f.durability, Durability::Fast);
        assert!(!f.require_ack);
        assert_eq!(d.batch_size, 64);
        assert_eq!(f.batch_size, 128);
        assert_eq!(d.max_retries, 5);
        assert_eq!(d.validate().unwrap().as_str(), "node-a");
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut c = SyncConfig::durable("node-a");
        c.batch_size = 0;
        assert!(c.validate().unwrap_err().to_string().contains("batch_size"));
        let mut c = SyncConfig::durable("node-a");
        c.ack_timeout = Duration::ZERO;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("ack_timeout"));
        c.require_ack = false;
        assert!(c.validate().is_ok());
        c.max_clock_skew = Duration::from_secs(u64::MAX / 4);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_clock_skew"));
        let c = SyncConfig::durable("");
        let err = c.validate().unwrap_err();
        assert_eq!(err.kind(), super::super::error::ErrorKind::InvalidNodeId);
        assert!(err.to_string().contains("node id is empty"), "{err}");
    }
}
