//! The scheduler: one deterministic sync step.

use super::engine::SyncEngine;
use super::envelope::SyncEnvelope;
use super::error::SyncError;

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickResult {
    /// Expired operations re-queued.
    pub retried_count: usize,
    /// Acknowledged operations pruned (only when the tick was asked to prune).
    pub pruned_count: usize,
    /// Operations for the transport to send.
    pub batch: Vec<SyncEnvelope>,
}

impl TickResult {
    pub fn batch_size(&self) -> usize {
        self.batch.len()
    }

    /// True when the tick produced operations to send.
    pub fn has_work(&self) -> bool {
        !self.batch.is_empty()
    }
}

/// Runs sync ticks on an engine.
pub struct SyncScheduler<'a> {
    engine: &'a SyncEngine,
}

impl<'a> SyncScheduler<'a> {
    pub fn new(engine: &'a SyncEngine) -> SyncScheduler<'a> {
        SyncScheduler { engine }
    }

    /// Retries expired operations, prunes acknowledged ones if `prune`, then selects the next
    /// batch.
    pub fn tick(&self, prune: bool) -> Result<TickResult, SyncError> {
        let retried_count = self.engine.retry_expired()?;
        let pruned_count = if prune {
            self.engine.prune_completed()?
        } else {
            0
        };
        Ok(TickResult {
            retried_count,
            pruned_count,
            batch: self.engine.next_batch()?,
        })
    }
}
