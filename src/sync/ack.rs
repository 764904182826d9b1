//! ACK tracking: which sent operations wait for an acknowledgement, and until when.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use super::error::SyncError;
use crate::clock::{millis, Clock, SystemClock};

/// Where a tracked id stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AckStatus {
    Waiting = 1,
    Received = 2,
    TimedOut = 3,
}

#[derive(Clone, Copy, Debug)]
struct Tracked {
    deadline_ms: u64,
    status: AckStatus,
}

/// Tracks ids waiting for an ACK, each with a deadline. Every operation is O(log n) except the
/// ones that return many ids, which are O(k log n) in what they return.
///
/// Standalone users key it by sync id (the C ABI's `sa_ack_tracker`); the sync engine keeps its
/// own deadlines with its outbox entries.
#[derive(Debug)]
pub struct AckTracker<K = String> {
    /// foldhash: hashed on every track and ACK, where SipHash cost more than the rest.
    entries: HashMap<K, Tracked, foldhash::fast::RandomState>,
    /// Waiting ids ordered by deadline, so expiry never scans everything.
    waiting: BTreeSet<(u64, K)>,
    received: BTreeSet<K>,
    clock: Arc<dyn Clock>,
}

impl<K: Clone + Eq + Hash + Ord> AckTracker<K> {
    /// An empty tracker whose relative timeouts use `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> AckTracker<K> {
        AckTracker {
            entries: HashMap::default(),
            waiting: BTreeSet::new(),
            received: BTreeSet::new(),
            clock,
        }
    }

    /// Tracks `id` until `deadline_ms`; tracking an id again replaces its entry.
    pub fn track_until(&mut self, id: K, deadline_ms: u64) {
        self.erase(&id);
        self.waiting.insert((deadline_ms, id.clone()));
        self.entries.insert(
            id,
            Tracked {
                deadline_ms,
                status: AckStatus::Waiting,
            },
        );
    }

    /// Marks `id` acknowledged; false if it is not tracked.
    pub fn ack(&mut self, id: &K) -> bool {
        let Some(entry) = self.entries.get_mut(id) else {
            return false;
        };
        if entry.status == AckStatus::Waiting {
            self.waiting.remove(&(entry.deadline_ms, id.clone()));
        }
        entry.status = AckStatus::Received;
        self.received.insert(id.clone());
        true
    }

    pub fn status(&self, id: &K) -> Option<AckStatus> {
        self.entries.get(id).map(|e| e.status)
    }

    /// The deadline `id` was tracked with.
    pub fn deadline(&self, id: &K) -> Option<u64> {
        self.entries.get(id).map(|e| e.deadline_ms)
    }

    pub fn is_waiting(&self, id: &K) -> bool {
        self.status(id) == Some(AckStatus::Waiting)
    }

    pub fn acknowledged(&self, id: &K) -> bool {
        self.status(id) == Some(AckStatus::Received)
    }

    /// Stops tracking `id`; false if it was not tracked.
    pub fn erase(&mut self, id: &K) -> bool {
        let Some(entry) = self.entries.remove(id) else {
            return false;
        };
        match entry.status {
            AckStatus::Waiting => {
                self.waiting.remove(&(entry.deadline_ms, id.clone()));
            }
            AckStatus::Received => {
                self.received.remove(id);
            }
            AckStatus::TimedOut => {}
        }
        true
    }

    /// Waiting ids whose deadline is at or before `now_ms`, earliest first; changes nothing.
    pub fn expired_at(&self, now_ms: u64) -> Vec<K> {
        self.waiting
            .iter()
            .take_while(|(deadline, _)| *deadline <= now_ms)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Marks the waiting ids expired at `now_ms` as timed out and returns them.
    pub fn collect_expired_at(&mut self, now_ms: u64) -> Vec<K> {
        let expired = self.expired_at(now_ms);
        for id in &expired {
            if let Some(entry) = self.entries.get_mut(id) {
                self.waiting.remove(&(entry.deadline_ms, id.clone()));
                entry.status = AckStatus::TimedOut;
            }
        }
        expired
    }

    /// Forgets every acknowledged id; returns how many.
    pub fn prune_received(&mut self) -> usize {
        let received = std::mem::take(&mut self.received);
        for id in &received {
            self.entries.remove(id);
        }
        received.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.waiting.clear();
        self.received.clear();
    }

    /// Tracked ids in every status.
    pub fn size(&self) -> usize {
        self.entries.len()
    }

    pub fn empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}

impl AckTracker<String> {
    /// An empty tracker on the system clock.
    pub fn new() -> AckTracker<String> {
        AckTracker::with_clock(Arc::new(SystemClock))
    }

    /// Tracks `sync_id` for `timeout` from now.
    pub fn track(&mut self, sync_id: &str, timeout: Duration) -> Result<(), SyncError> {
        if sync_id.is_empty() {
            return Err(SyncError::AckTrackingFailed("empty sync id".into()));
        }
        let deadline = self.now_ms().saturating_add(millis(timeout));
        self.track_until(sync_id.to_string(), deadline);
        Ok(())
    }

    /// Marks the ids whose deadline has passed as timed out and returns them.
    pub fn collect_expired(&mut self) -> Vec<String> {
        let now = self.now_ms();
        self.collect_expired_at(now)
    }
}

impl Default for AckTracker<String> {
    fn default() -> Self {
        AckTracker::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn tracker() -> (Arc<ManualClock>, AckTracker) {
        let clock = Arc::new(ManualClock::new(1_000));
        (clock.clone(), AckTracker::with_clock(clock))
    }

    #[test]
    fn empty_by_default() {
        let t = AckTracker::new();
        assert!(t.empty());
        assert_eq!(t.size(), 0);
    }

    #[test]
    fn track_ack_prune() {
        let (_, mut t) = tracker();
        t.track("node-a-1", Duration::from_secs(10)).unwrap();
        assert_eq!(t.size(), 1);
        assert!(t.is_waiting(&"node-a-1".to_string()));
        assert!(t.ack(&"node-a-1".to_string()));
        assert!(t.acknowledged(&"node-a-1".to_string()));
        assert!(!t.ack(&"missing".to_string()));
        assert_eq!(t.prune_received(), 1);
        assert!(t.empty());
    }

    #[test]
    fn collect_expired_returns_only_expired_waiting_entries() {
        let (clock, mut t) = tracker();
        t.track("a", Duration::from_millis(5)).unwrap();
        t.track("b", Duration::from_millis(50)).unwrap();
        t.track("c", Duration::from_millis(5)).unwrap();
        t.ack(&"c".to_string());
        clock.advance(Duration::from_millis(5));
        assert_eq!(t.collect_expired(), vec!["a".to_string()]);
        assert_eq!(t.status(&"a".to_string()), Some(AckStatus::TimedOut));
        assert!(
            t.collect_expired().is_empty(),
            "a timed-out id is reported once"
        );
        clock.advance(Duration::from_millis(100));
        assert_eq!(t.collect_expired(), vec!["b".to_string()]);
    }

    #[test]
    fn prune_received_removes_only_acknowledged_entries() {
        let (_, mut t) = tracker();
        t.track("a", Duration::from_secs(1)).unwrap();
        t.track("b", Duration::from_secs(1)).unwrap();
        t.ack(&"a".to_string());
        assert_eq!(t.prune_received(), 1);
        assert_eq!(t.size(), 1);
        assert!(t.is_waiting(&"b".to_string()));
    }

    #[test]
    fn tracking_again_replaces_and_erase_and_clear_work() {
        let (clock, mut t) = tracker();
        t.track("a", Duration::from_millis(1)).unwrap();
        t.ack(&"a".to_string());
        t.track("a", Duration::from_millis(100)).unwrap();
        assert_eq!(t.size(), 1);
        assert!(t.is_waiting(&"a".to_string()));
        assert_eq!(t.deadline(&"a".to_string()), Some(1_100));
        clock.advance(Duration::from_millis(10));
        assert!(t.collect_expired().is_empty());
        assert!(t.erase(&"a".to_string()));
        assert!(!t.erase(&"a".to_string()));
        t.track("x", Duration::from_millis(1)).unwrap();
        t.clear();
        assert!(t.empty());
        assert_eq!(
            t.track("", Duration::from_secs(1)).unwrap_err().to_string(),
            "ACK tracking failed: empty sync id"
        );
    }
}
