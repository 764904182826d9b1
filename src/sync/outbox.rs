//! The outbox: every local operation sync tracks, its status, and indexes so that every
//! transition and every count is O(log n) at worst.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::ack::AckTracker;
use super::envelope::{SyncEnvelope, SyncStatus};
use super::operation::{sync_id, Direction, SyncOperation};
use super::seq_set::SeqSet;
use crate::clock::SystemClock;
use crate::node::NodeId;
use crate::store::{Operation, WriteId};

/// One tracked operation. Key and value are shared with the store, not copied.
#[derive(Clone, Debug)]
pub(crate) struct OutboxEntry {
    pub op: Operation,
    pub origin: NodeId,
    pub replaces: Option<WriteId>,
    pub status: SyncStatus,
    pub retry_count: u32,
    pub submitted_at: u64,
    pub last_attempt_at: Option<u64>,
    /// Queued after a retry: not sent before this time.
    pub not_before: Option<u64>,
}

impl OutboxEntry {
    /// An entry that was never sent.
    pub fn new(
        op: Operation,
        origin: NodeId,
        replaces: Option<WriteId>,
        status: SyncStatus,
        submitted_at: u64,
    ) -> OutboxEntry {
        OutboxEntry {
            op,
            origin,
            replaces,
            status,
            retry_count: 0,
            submitted_at,
            last_attempt_at: None,
            not_before: None,
        }
    }
}

/// Counts per status plus bytes, kept in step with every transition.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OutboxCounts {
    pub pending: u64,
    pub queued: u64,
    pub in_flight: u64,
    pub acknowledged: u64,
    pub failed: u64,
    pub bytes: u64,
    /// Key + value bytes of the operations not acknowledged yet.
    pub unacknowledged_bytes: u64,
}

impl OutboxCounts {
    fn slot(&mut self, status: SyncStatus) -> &mut u64 {
        match status {
            SyncStatus::Pending => &mut self.pending,
            SyncStatus::Queued => &mut self.queued,
            SyncStatus::InFlight => &mut self.in_flight,
            SyncStatus::Acknowledged => &mut self.acknowledged,
            SyncStatus::Failed => &mut self.failed,
        }
    }
}

/// Where each status lives, so that selection, expiry and pruning never scan the outbox.
#[derive(Debug)]
struct Indexes {
    /// Queued and sendable now, oldest first.
    ready: SeqSet,
    /// Queued but waiting for their retry time: (not before, seq).
    backoff: BTreeSet<(u64, u64)>,
    /// In flight, with ACK deadlines.
    in_flight: AckTracker<u64>,
    acknowledged: SeqSet,
    failed: SeqSet,
    /// Every operation not acknowledged yet, oldest first: the head is the oldest pending work.
    unacknowledged: SeqSet,
    counts: OutboxCounts,
}

impl Indexes {
    fn add(&mut self, seq: u64, entry: &OutboxEntry, ack_deadline: Option<u64>) {
        *self.counts.slot(entry.status) += 1;
        if entry.status != SyncStatus::Acknowledged {
            self.unacknowledged.insert(seq);
            self.counts.unacknowledged_bytes += entry.op.payload_bytes();
        }
        match entry.status {
            SyncStatus::Pending => {}
            SyncStatus::Queued => match entry.not_before {
                Some(t) => {
                    self.backoff.insert((t, seq));
                }
                None => {
                    self.ready.insert(seq);
                }
            },
            SyncStatus::InFlight => {
                let deadline = ack_deadline.expect("in-flight entries carry an ACK deadline");
                self.in_flight.track_until(seq, deadline);
            }
            SyncStatus::Acknowledged => {
                self.acknowledged.insert(seq);
            }
            SyncStatus::Failed => {
                self.failed.insert(seq);
            }
        }
    }

    fn remove(&mut self, seq: u64, entry: &OutboxEntry) {
        *self.counts.slot(entry.status) -= 1;
        if entry.status != SyncStatus::Acknowledged {
            self.unacknowledged.remove(seq);
            self.counts.unacknowledged_bytes -= entry.op.payload_bytes();
        }
        match entry.status {
            SyncStatus::Pending => {}
            SyncStatus::Queued => match entry.not_before {
                Some(t) => {
                    self.backoff.remove(&(t, seq));
                }
                None => {
                    self.ready.remove(seq);
                }
            },
            SyncStatus::InFlight => {
                self.in_flight.erase(&seq);
            }
            SyncStatus::Acknowledged => {
                self.acknowledged.remove(seq);
            }
            SyncStatus::Failed => {
                self.failed.remove(seq);
            }
        }
    }
}

/// The outbox.
#[derive(Debug)]
pub(crate) struct Outbox {
    entries: BTreeMap<u64, OutboxEntry>,
    index: Indexes,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::from_entries(BTreeMap::new())
    }
}

impl Outbox {
    /// An outbox holding `entries` (none may be in flight: nothing is in flight after a restart).
    pub fn from_entries(entries: BTreeMap<u64, OutboxEntry>) -> Outbox {
        // Sequences come in order: each index is built in bulk from a sorted list (linear), not
        // by one tree insert per entry, which is most of a restart with a large outbox.
        let mut counts = OutboxCounts::default();
        let (mut ready, mut backoff, mut acknowledged, mut failed, mut unacknowledged) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (&seq, entry) in &entries {
            debug_assert_ne!(entry.status, SyncStatus::InFlight);
            *counts.slot(entry.status) += 1;
            counts.bytes += entry.op.payload_bytes();
            if entry.status != SyncStatus::Acknowledged {
                unacknowledged.push(seq);
                counts.unacknowledged_bytes += entry.op.payload_bytes();
            }
            match (entry.status, entry.not_before) {
                (SyncStatus::Queued, Some(t)) => backoff.push((t, seq)),
                (SyncStatus::Queued, None) => ready.push(seq),
                (SyncStatus::Acknowledged, _) => acknowledged.push(seq),
                (SyncStatus::Failed, _) => failed.push(seq),
                _ => {}
            }
        }
        let index = Indexes {
            ready: ready.into_iter().collect(),
            backoff: backoff.into_iter().collect(),
            // Deadlines are always given explicitly; this clock is never read.
            in_flight: AckTracker::with_clock(Arc::new(SystemClock)),
            acknowledged: acknowledged.into_iter().collect(),
            failed: failed.into_iter().collect(),
            unacknowledged: unacknowledged.into_iter().collect(),
            counts,
        };
        Outbox { entries, index }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn counts(&self) -> OutboxCounts {
        self.index.counts
    }

    pub fn get(&self, seq: u64) -> Option<&OutboxEntry> {
        self.entries.get(&seq)
    }

    pub fn insert(&mut self, seq: u64, entry: OutboxEntry) {
        self.index.add(seq, &entry, None);
        self.index.counts.bytes += entry.op.payload_bytes();
        if let Some(old) = self.entries.insert(seq, entry) {
            // Sequences are never reused; undo the double count if a caller ever did.
            debug_assert!(false, "outbox sequence {seq} reused");
            self.index.remove(seq, &old);
            self.index.counts.bytes -= old.op.payload_bytes();
        }
    }

    /// Moves `seq` to `status`, updating indexes; `edit` adjusts the entry on the way.
    fn transition(
        &mut self,
        seq: u64,
        status: SyncStatus,
        ack_deadline: Option<u64>,
        edit: impl FnOnce(&mut OutboxEntry),
    ) {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return;
        };
        self.index.remove(seq, entry);
        entry.status = status;
        entry.not_before = None;
        edit(entry);
        self.index.add(seq, entry, ack_deadline);
    }

    /// Pending → queued, sendable now.
    pub fn queue(&mut self, seq: u64) {
        self.transition(seq, SyncStatus::Queued, None, |_| {});
    }

    /// Up to `limit` queued operations sendable at `now`, oldest first. Retried operations
    /// whose time has come are moved to the ready set first.
    pub fn select_batch(&mut self, now: u64, limit: usize) -> Vec<u64> {
        while let Some(&(t, seq)) = self.index.backoff.first() {
            if t > now {
                break;
            }
            self.index.backoff.remove(&(t, seq));
            self.index.ready.insert(seq);
            if let Some(entry) = self.entries.get_mut(&seq) {
                entry.not_before = None;
            }
        }
        self.index.ready.iter().take(limit).collect()
    }

    /// Queued → in flight until `deadline`.
    pub fn mark_in_flight(&mut self, seq: u64, now: u64, deadline: u64) {
        self.transition(seq, SyncStatus::InFlight, Some(deadline), |e| {
            e.last_attempt_at = Some(now);
        });
    }

    /// Any status → acknowledged; `sent_at` records a send that needs no ACK.
    pub fn mark_acknowledged(&mut self, seq: u64, sent_at: Option<u64>) {
        self.transition(seq, SyncStatus::Acknowledged, None, |e| {
            if sent_at.is_some() {
                e.last_attempt_at = sent_at;
            }
        });
    }

    /// In-flight operations whose ACK deadline is at or before `now`, earliest first.
    pub fn expired(&self, now: u64) -> Vec<u64> {
        self.index.in_flight.expired_at(now)
    }

    /// In flight → queued again, not sent before `not_before`; counts one retry.
    pub fn schedule_retry(&mut self, seq: u64, not_before: u64) {
        self.transition(seq, SyncStatus::Queued, None, |e| {
            e.retry_count += 1;
            e.not_before = Some(not_before);
        });
    }

    pub fn mark_failed(&mut self, seq: u64) {
        self.transition(seq, SyncStatus::Failed, None, |_| {});
    }

    /// Failed → queued, sendable now, with a fresh retry budget.
    pub fn requeue_failed(&mut self, seq: u64) {
        self.transition(seq, SyncStatus::Queued, None, |e| e.retry_count = 0);
    }

    /// When the oldest operation not acknowledged yet was submitted.
    pub fn oldest_unacknowledged_at(&self) -> Option<u64> {
        let seq = self.index.unacknowledged.first()?;
        self.entries.get(&seq).map(|e| e.submitted_at)
    }

    /// Acknowledged sequences, oldest first.
    pub fn acknowledged(&self) -> Vec<u64> {
        self.index.acknowledged.iter().collect()
    }

    /// Failed sequences, oldest first.
    pub fn failed(&self) -> Vec<u64> {
        self.index.failed.iter().collect()
    }

    pub fn remove(&mut self, seq: u64) {
        if let Some(entry) = self.entries.remove(&seq) {
            self.index.remove(seq, &entry);
            self.index.counts.bytes -= entry.op.payload_bytes();
        }
    }

    /// The entry as an envelope: materialises the sync id.
    pub fn envelope(&self, seq: u64) -> Option<SyncEnvelope> {
        let entry = self.entries.get(&seq)?;
        let next_retry_at = match entry.status {
            SyncStatus::InFlight => self.index.in_flight.deadline(&seq),
            _ => entry.not_before,
        };
        Some(SyncEnvelope {
            operation: SyncOperation {
                sync_id: sync_id(entry.origin.as_str(), seq),
                origin_node_id: entry.origin.to_string(),
                version: seq,
                operation: entry.op.clone(),
                replaces: entry.replaces.clone(),
                direction: Direction::LocalToRemote,
            },
            status: entry.status,
            retry_count: entry.retry_count,
            submitted_at: entry.submitted_at,
            last_attempt_at: entry.last_attempt_at,
            next_retry_at,
        })
    }

    /// All sequences, oldest first.
    pub fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.keys().copied()
    }

    /// All entries with their sequences, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &OutboxEntry)> + '_ {
        self.entries.iter().map(|(&seq, entry)| (seq, entry))
    }
}
