//! Sync: tracks local operations until other nodes have them, and applies theirs.

pub mod ack;
mod backoff;
pub mod config;
pub mod conflict;
pub mod context;
mod dedup;
pub mod engine;
pub mod envelope;
pub mod error;
mod group_commit;
mod journal;
pub mod operation;
mod outbox;
pub mod scheduler;
mod seq_set;
mod snapshot;
pub mod state;

pub use ack::{AckStatus, AckTracker};
pub use config::{ConflictPolicy, SyncConfig, MAX_BATCH_SIZE};
pub use conflict::{ConflictResolver, Resolution, ResolutionReason};
pub use context::SyncContext;
pub use engine::{AckOutcome, AckReport, RemoteApplyResult, RemoteOutcome, SyncEngine};
pub use envelope::{SyncEnvelope, SyncStatus};
pub use error::{ErrorKind, SyncError};
pub use operation::{Direction, RemoteOperation, Submitted, SyncOperation};
pub use scheduler::{SyncScheduler, TickResult};
pub use state::SyncState;
