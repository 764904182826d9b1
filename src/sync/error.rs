//! Errors of the sync engine: one enum with the module doc's error kinds.

use crate::node::InvalidNodeId;
use crate::store::StoreError;

/// The kind of a [`SyncError`], stable across versions (the C ABI maps it to `sa_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidContext,
    InvalidNodeId,
    InvalidLocalOperation,
    InvalidRemoteOperation,
    NotFound,
    QueueFailed,
    RetryFailed,
    ConflictResolutionFailed,
    StoreApplyFailed,
    AckTrackingFailed,
    CapacityExceeded,
    Io,
    Corrupt,
    /// The store's WAL is held by another handle.
    InUse,
}

/// Everything the sync engine can report. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The context cannot run an engine (bad config field, store already attached, ...).
    #[error("invalid sync context: {0}")]
    InvalidContext(String),
    #[error(transparent)]
    InvalidNodeId(#[from] InvalidNodeId),
    /// A local operation that must not enter the outbox.
    #[error("invalid local operation: {0}")]
    InvalidLocalOperation(String),
    /// A remote operation that must not touch the store.
    #[error("invalid remote operation: {0}")]
    InvalidRemoteOperation(String),
    /// A sync id the outbox does not hold.
    #[error("sync operation not found: {0}")]
    NotFound(String),
    /// The operation exists but cannot be queued in its current state.
    #[error("queue failed: {0}")]
    QueueFailed(String),
    /// The operation exists but cannot be retried in its current state.
    #[error("retry failed: {0}")]
    RetryFailed(String),
    /// The inputs do not allow a safe decision.
    #[error("conflict resolution failed: {0}")]
    ConflictResolutionFailed(String),
    /// The store rejected or failed a write; `context` says which sync step it was.
    #[error("{context} failed: {source}")]
    Store {
        context: &'static str,
        source: StoreError,
    },
    #[error("ACK tracking failed: {0}")]
    AckTrackingFailed(String),
    /// The WAL holds sync records that cannot be decoded.
    #[error("corrupt sync journal: {0}")]
    CorruptJournal(String),
    /// The outbox is at its configured limit; the write was not made.
    #[error("outbox capacity exceeded: {0}")]
    CapacityExceeded(String),
}

impl SyncError {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SyncError::InvalidContext(_) => ErrorKind::InvalidContext,
            SyncError::InvalidNodeId(_) => ErrorKind::InvalidNodeId,
            SyncError::InvalidLocalOperation(_) => ErrorKind::InvalidLocalOperation,
            SyncError::InvalidRemoteOperation(_) => ErrorKind::InvalidRemoteOperation,
            SyncError::NotFound(_) => ErrorKind::NotFound,
            SyncError::QueueFailed(_) => ErrorKind::QueueFailed,
            SyncError::RetryFailed(_) => ErrorKind::RetryFailed,
            SyncError::ConflictResolutionFailed(_) => ErrorKind::ConflictResolutionFailed,
            SyncError::Store { source, .. } => match source {
                StoreError::Io { .. }
                | StoreError::Poisoned { .. }
                | StoreError::ReadOnly { .. }
                | StoreError::Closed => ErrorKind::Io,
                StoreError::Corrupt { .. } => ErrorKind::Corrupt,
                StoreError::InUse { .. } => ErrorKind::InUse,
                // The same rule as the C ABI's: an invalid key or value is the operation being
                // refused, whichever path it comes through.
                StoreError::InvalidKey(_) | StoreError::InvalidValue(_) => {
                    ErrorKind::InvalidLocalOperation
                }
                StoreError::ClockExhausted(_) => ErrorKind::StoreApplyFailed,
            },
            SyncError::AckTrackingFailed(_) => ErrorKind::AckTrackingFailed,
            SyncError::CorruptJournal(_) => ErrorKind::Corrupt,
            SyncError::CapacityExceeded(_) => ErrorKind::CapacityExceeded,
        }
    }

    pub(crate) fn store(context: &'static str) -> impl FnOnce(StoreError) -> SyncError {
        move |source| SyncError::Store { context, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_context_and_kind() {
        let err = SyncError::Store {
            context: "remote apply",
            source: StoreError::InvalidKey("key is empty".into()),
        };
        assert_eq!(
            err.to_string(),
            "remote apply failed: invalid key: key is empty"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidLocalOperation);
        assert_eq!(
            SyncError::NotFound("node-a-42".into()).to_string(),
            "sync operation not found: node-a-42"
        );
    }
}
