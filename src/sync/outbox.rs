//! The outbox: every local operation sync tracks, its status, and indexes so that every
//! transition and every count is O(log n) at worst, and the common ones (submit, send, ACK,
//! prune) O(1).
//!
//! Entries are stored packed by sequence (see `seq_map.rs`): 64 bytes each, key and value held
//! by one handle to their allocation, which the store shares (not a copy).

mod deadlines;
mod origins;
mod seq_map;

use std::collections::BTreeSet;

use self::deadlines::Deadlines;
use self::origins::{OriginIndex, Origins};
use self::seq_map::SeqMap;
use super::envelope::{EnvelopeRef, OperationRef, ReplacedRef, SyncEnvelope, SyncStatus};
use super::seq_set::SeqSet;
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Key, Operation, OperationKind, WriteId};

/// One operation to track, as given to the outbox. Key and value are shared with the store.
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

/// `Slot::flags`: `last_attempt_at` is set.
const ATTEMPTED: u8 = 1;
/// `timer` is the time a retried operation may be sent again.
const BACKOFF: u8 = 2;
/// The operation replaced a write (`replaced_stamp`).
const REPLACES: u8 = 4;
/// The replaced write has an origin (`replaced_origin`).
const REPLACED_ORIGIN: u8 = 8;

/// An entry as stored: optional times as flags, origins as interned numbers, the operation's
/// fields apart (its kind packs with the status).
#[derive(Debug)]
struct Slot {
    /// A put's key shares its allocation with the value (see `Operation::joined`): one handle
    /// stands for both.
    key: Key,
    stamp: Stamp,
    submitted_at: u64,
    last_attempt_at: u64,
    /// In flight: the ACK deadline. With `BACKOFF`: not sent before this time.
    timer: u64,
    replaced_stamp: Stamp,
    retry_count: u32,
    origin: OriginIndex,
    replaced_origin: OriginIndex,
    kind: OperationKind,
    status: SyncStatus,
    flags: u8,
}

// The packing is the point (memory per pending operation): keep it from growing unnoticed.
const _: () = assert!(std::mem::size_of::<Option<Slot>>() <= 64);

impl Slot {
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// The operation's value: a put's shares the key's allocation; a delete's is empty.
    fn value(&self) -> &[u8] {
        match self.kind {
            OperationKind::Put => self.key.joined_value_bytes(),
            OperationKind::Delete => &[],
        }
    }

    /// Key + value bytes, as `Operation::payload_bytes` counts them.
    fn payload_bytes(&self) -> u64 {
        (self.key.as_bytes().len() + self.value().len()) as u64
    }

    fn not_before(&self) -> Option<u64> {
        self.has(BACKOFF).then_some(self.timer)
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
#[derive(Debug, Default)]
struct Indexes {
    /// Queued and sendable now, oldest first.
    ready: SeqSet,
    /// Queued but waiting for their retry time: (not before, seq).
    backoff: BTreeSet<(u64, u64)>,
    /// In flight, by ACK deadline.
    in_flight: Deadlines,
    acknowledged: SeqSet,
    failed: SeqSet,
    /// Every operation not acknowledged yet, oldest first: the head is the oldest pending work.
    unacknowledged: SeqSet,
    counts: OutboxCounts,
}

/// Whether `seq` is in flight with ACK deadline `deadline` (see `deadlines.rs`).
fn in_flight_until(entries: &SeqMap<Slot>, seq: u64, deadline: u64) -> bool {
    entries
        .get(seq)
        .is_some_and(|e| e.status == SyncStatus::InFlight && e.timer == deadline)
}

/// What the status indexes know of an entry: enough to find it there again.
#[derive(Clone, Copy)]
struct Place {
    status: SyncStatus,
    not_before: Option<u64>,
    timer: u64,
}

impl Place {
    fn of(slot: &Slot) -> Place {
        Place {
            status: slot.status,
            not_before: slot.not_before(),
            timer: slot.timer,
        }
    }
}

impl Indexes {
    fn enter(&mut self, seq: u64, place: Place) {
        *self.counts.slot(place.status) += 1;
        match (place.status, place.not_before) {
            (SyncStatus::Pending, _) => {}
            (SyncStatus::Queued, Some(t)) => {
                self.backoff.insert((t, seq));
            }
            (SyncStatus::Queued, None) => {
                self.ready.insert(seq);
            }
            (SyncStatus::InFlight, _) => self.in_flight.add(place.timer, seq),
            (SyncStatus::Acknowledged, _) => {
                self.acknowledged.insert(seq);
            }
            (SyncStatus::Failed, _) => {
                self.failed.insert(seq);
            }
        }
    }

    /// Takes `seq` out of the index of `place`; `entries` already shows where it went.
    fn leave(&mut self, seq: u64, place: Place, entries: &SeqMap<Slot>) {
        *self.counts.slot(place.status) -= 1;
        match (place.status, place.not_before) {
            (SyncStatus::Pending, _) => {}
            (SyncStatus::Queued, Some(t)) => {
                self.backoff.remove(&(t, seq));
            }
            (SyncStatus::Queued, None) => {
                self.ready.remove(seq);
            }
            (SyncStatus::InFlight, _) => self
                .in_flight
                .remove(place.timer, |s, d| in_flight_until(entries, s, d)),
            (SyncStatus::Acknowledged, _) => {
                self.acknowledged.remove(seq);
            }
            (SyncStatus::Failed, _) => {
                self.failed.remove(seq);
            }
        }
    }

    /// Keeps the unacknowledged set and bytes in step with a move from `from` to `to`.
    fn count_unacknowledged(&mut self, seq: u64, from: SyncStatus, to: SyncStatus, bytes: u64) {
        let acknowledged = SyncStatus::Acknowledged;
        if from != acknowledged && to == acknowledged {
            self.unacknowledged.remove(seq);
            self.counts.unacknowledged_bytes -= bytes;
        } else if from == acknowledged && to != acknowledged {
            self.unacknowledged.insert(seq);
            self.counts.unacknowledged_bytes += bytes;
        }
    }
}

/// The outbox.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    entries: SeqMap<Slot>,
    origins: Origins,
    index: Indexes,
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn counts(&self) -> OutboxCounts {
        self.index.counts
    }

    // Inlined: most callers read one or two fields, and the rest is then never made.
    #[inline]
    pub fn get(&self, seq: u64) -> Option<EnvelopeRef<'_>> {
        self.entries.get(seq).map(|slot| self.view(seq, slot))
    }

    #[inline]
    fn view<'a>(&'a self, seq: u64, slot: &'a Slot) -> EnvelopeRef<'a> {
        EnvelopeRef {
            seq,
            op: OperationRef {
                kind: slot.kind,
                key: &slot.key,
                timestamp: slot.stamp,
            },
            origin: self.origins.get(slot.origin),
            replaces: slot.has(REPLACES).then(|| ReplacedRef {
                stamp: slot.replaced_stamp,
                origin: slot
                    .has(REPLACED_ORIGIN)
                    .then(|| self.origins.get(slot.replaced_origin)),
            }),
            status: slot.status,
            retry_count: slot.retry_count,
            submitted_at: slot.submitted_at,
            last_attempt_at: slot.has(ATTEMPTED).then_some(slot.last_attempt_at),
            next_retry_at: match slot.status {
                SyncStatus::InFlight => Some(slot.timer),
                _ => slot.not_before(),
            },
        }
    }

    /// Tracks `entry` under `seq` (never in flight: a deadline is only set by sending).
    pub fn insert(&mut self, seq: u64, entry: OutboxEntry) {
        assert_ne!(
            entry.status,
            SyncStatus::InFlight,
            "in-flight entries carry an ACK deadline"
        );
        let origin = self.origins.acquire(&entry.origin);
        let replaced_origin = match entry.replaces.as_ref().and_then(|r| r.origin.as_ref()) {
            Some(node) => self.origins.acquire(node),
            None => 0,
        };
        let op = entry.op.joined();
        let mut slot = Slot {
            key: op.key,
            stamp: op.timestamp,
            kind: op.kind,
            submitted_at: entry.submitted_at,
            last_attempt_at: entry.last_attempt_at.unwrap_or(0),
            timer: entry.not_before.unwrap_or(0),
            replaced_stamp: entry.replaces.as_ref().map_or(Stamp::ZERO, |r| r.stamp),
            retry_count: entry.retry_count,
            origin,
            replaced_origin,
            status: entry.status,
            flags: 0,
        };
        slot.set(ATTEMPTED, entry.last_attempt_at.is_some());
        slot.set(BACKOFF, entry.not_before.is_some());
        slot.set(REPLACES, entry.replaces.is_some());
        slot.set(
            REPLACED_ORIGIN,
            entry.replaces.as_ref().is_some_and(|r| r.origin.is_some()),
        );
        let bytes = slot.payload_bytes();
        let place = Place::of(&slot);
        if let Some(old) = self.entries.insert(seq, slot) {
            // Sequences are never reused; undo the old entry's counts if a caller ever did.
            debug_assert!(false, "outbox sequence {seq} reused");
            self.forget(seq, &old);
        }
        self.index.counts.bytes += bytes;
        self.index
            .count_unacknowledged(seq, SyncStatus::Acknowledged, place.status, bytes);
        self.index.enter(seq, place);
    }

    /// Takes a slot no longer in `entries` out of every index and count.
    fn forget(&mut self, seq: u64, slot: &Slot) {
        let bytes = slot.payload_bytes();
        self.index.leave(seq, Place::of(slot), &self.entries);
        self.index
            .count_unacknowledged(seq, slot.status, SyncStatus::Acknowledged, bytes);
        self.index.counts.bytes -= bytes;
        self.origins.release(slot.origin);
        if slot.has(REPLACED_ORIGIN) {
            self.origins.release(slot.replaced_origin);
        }
    }

    /// Moves `seq` to `status`, updating indexes; `edit` adjusts the entry on the way.
    fn transition(&mut self, seq: u64, status: SyncStatus, edit: impl FnOnce(&mut Slot)) {
        let Some(slot) = self.entries.get_mut(seq) else {
            return;
        };
        let from = Place::of(slot);
        slot.status = status;
        slot.set(BACKOFF, false);
        edit(slot);
        let to = Place::of(slot);
        let bytes = slot.payload_bytes();
        self.index.leave(seq, from, &self.entries);
        self.index
            .count_unacknowledged(seq, from.status, to.status, bytes);
        self.index.enter(seq, to);
    }

    /// Pending → queued, sendable now.
    pub fn queue(&mut self, seq: u64) {
        self.transition(seq, SyncStatus::Queued, |_| {});
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
            if let Some(slot) = self.entries.get_mut(seq) {
                slot.set(BACKOFF, false);
            }
        }
        self.index.ready.iter().take(limit).collect()
    }

    /// Queued → in flight until `deadline`.
    pub fn mark_in_flight(&mut self, seq: u64, now: u64, deadline: u64) {
        self.transition(seq, SyncStatus::InFlight, |slot| {
            slot.last_attempt_at = now;
            slot.set(ATTEMPTED, true);
            slot.timer = deadline;
        });
    }

    /// Any status → acknowledged; `sent_at` records a send that needs no ACK.
    pub fn mark_acknowledged(&mut self, seq: u64, sent_at: Option<u64>) {
        self.transition(seq, SyncStatus::Acknowledged, |slot| {
            if let Some(at) = sent_at {
                slot.last_attempt_at = at;
                slot.set(ATTEMPTED, true);
            }
        });
    }

    /// In-flight operations whose ACK deadline is at or before `now`, earliest first.
    pub fn expired(&self, now: u64) -> Vec<u64> {
        self.index
            .in_flight
            .expired(now, |s, d| in_flight_until(&self.entries, s, d))
    }

    /// In flight → queued again, not sent before `not_before`; counts one retry.
    pub fn schedule_retry(&mut self, seq: u64, not_before: u64) {
        self.transition(seq, SyncStatus::Queued, |slot| {
            slot.retry_count += 1;
            slot.timer = not_before;
            slot.set(BACKOFF, true);
        });
    }

    pub fn mark_failed(&mut self, seq: u64) {
        self.transition(seq, SyncStatus::Failed, |_| {});
    }

    /// Failed → queued, sendable now, with a fresh retry budget.
    pub fn requeue_failed(&mut self, seq: u64) {
        self.transition(seq, SyncStatus::Queued, |slot| slot.retry_count = 0);
    }

    /// When the oldest operation not acknowledged yet was submitted.
    pub fn oldest_unacknowledged_at(&self) -> Option<u64> {
        let seq = self.index.unacknowledged.first()?;
        self.entries.get(seq).map(|e| e.submitted_at)
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
        if let Some(slot) = self.entries.remove(seq) {
            self.forget(seq, &slot);
        }
    }

    /// The entry as an envelope: materialises the sync id.
    pub fn envelope(&self, seq: u64) -> Option<SyncEnvelope> {
        self.get(seq).map(|entry| entry.to_envelope())
    }

    /// All sequences, oldest first.
    pub fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.iter().map(|(seq, _)| seq)
    }

    /// All entries with their sequences, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, EnvelopeRef<'_>)> + '_ {
        self.entries
            .iter()
            .map(|(seq, slot)| (seq, self.view(seq, slot)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under a seeded mix of every transition, each index and count agrees with what a scan
    /// of the entries says.
    #[test]
    fn indexes_agree_with_a_scan_of_the_entries() {
        let mut rng = crate::seeded::XorShift::new(0x0123_4567_89AB_CDEFu64);
        let mut next = move || rng.next();
        let nodes: Vec<NodeId> = ["node-a", "node-b", "node-c"]
            .iter()
            .map(|n| NodeId::new(n).unwrap())
            .collect();
        let mut outbox = Outbox::default();
        let mut next_seq = 1;
        let mut now = 1_000;
        for step in 0..2_000 {
            now += next() % 3;
            let held: Vec<u64> = outbox.seqs().collect();
            let pick = |r: u64| held.get(r as usize % held.len().max(1)).copied();
            match next() % 9 {
                0 | 1 => {
                    let key = crate::store::Key::new(&format!("k{}", next() % 50)).unwrap();
                    let value = crate::store::Value::new(&vec![7; (next() % 5) as usize]);
                    let op = Operation::put(key, value.unwrap())
                        .with_timestamp(Stamp::new(now, (next() % 3) as u16));
                    let replaces = match next() % 3 {
                        0 => None,
                        n => Some(WriteId {
                            stamp: Stamp::new(now - 1, 0),
                            origin: (n == 2).then(|| nodes[(next() % 3) as usize].clone()),
                        }),
                    };
                    let status = match next() % 4 {
                        0 => SyncStatus::Pending,
                        1 => SyncStatus::Acknowledged,
                        _ => SyncStatus::Queued,
                    };
                    let mut entry = OutboxEntry::new(
                        op,
                        nodes[(next() % 2) as usize].clone(),
                        replaces,
                        status,
                        now,
                    );
                    if status == SyncStatus::Queued && next() % 4 == 0 {
                        entry.not_before = Some(now + next() % 5);
                    }
                    outbox.insert(next_seq, entry);
                    next_seq += 1 + next() % 40 / 39 * 50;
                }
                2 => {
                    let limit = 1 + (next() % 8) as usize;
                    let sendable: Vec<u64> = outbox
                        .iter()
                        .filter(|(_, e)| e.status == SyncStatus::Queued)
                        .filter(|(_, e)| e.next_retry_at.is_none_or(|t| t <= now))
                        .map(|(seq, _)| seq)
                        .take(limit)
                        .collect();
                    let selected = outbox.select_batch(now, limit);
                    assert_eq!(selected, sendable, "step {step}");
                    for seq in selected {
                        outbox.mark_in_flight(seq, now, now + next() % 4);
                    }
                }
                3 => {
                    for seq in outbox.expired(now) {
                        if next() % 3 == 0 {
                            outbox.mark_failed(seq);
                        } else {
                            outbox.schedule_retry(seq, now + next() % 4);
                        }
                    }
                }
                4 => {
                    if let Some(seq) = pick(next()) {
                        outbox.mark_acknowledged(seq, (next() % 2 == 0).then_some(now));
                    }
                }
                5 => {
                    if let Some(seq) = pick(next()) {
                        match outbox.get(seq).unwrap().status {
                            SyncStatus::Pending => outbox.queue(seq),
                            SyncStatus::Failed => outbox.requeue_failed(seq),
                            _ => {}
                        }
                    }
                }
                6 => {
                    if let Some(seq) = pick(next()) {
                        outbox.remove(seq);
                    }
                }
                7 => {
                    let pruned = if next() % 2 == 0 {
                        outbox.acknowledged()
                    } else {
                        outbox.failed()
                    };
                    for seq in pruned.into_iter().take(5) {
                        outbox.remove(seq);
                    }
                }
                _ => {}
            }
            check(&outbox, now, step);
        }
    }

    fn check(outbox: &Outbox, now: u64, step: usize) {
        let entries: Vec<(u64, EnvelopeRef<'_>)> = outbox.iter().collect();
        let with = |status| -> Vec<u64> {
            entries
                .iter()
                .filter(|(_, e)| e.status == status)
                .map(|&(seq, _)| seq)
                .collect()
        };
        let counts = outbox.counts();
        assert_eq!(
            counts.pending,
            with(SyncStatus::Pending).len() as u64,
            "{step}"
        );
        assert_eq!(
            counts.queued,
            with(SyncStatus::Queued).len() as u64,
            "{step}"
        );
        assert_eq!(
            counts.in_flight,
            with(SyncStatus::InFlight).len() as u64,
            "{step}"
        );
        assert_eq!(
            outbox.acknowledged(),
            with(SyncStatus::Acknowledged),
            "{step}"
        );
        assert_eq!(outbox.failed(), with(SyncStatus::Failed), "{step}");
        let bytes = |e: &EnvelopeRef<'_>| (e.op.key.as_bytes().len() + e.op.value().len()) as u64;
        assert_eq!(
            counts.bytes,
            entries.iter().map(|(_, e)| bytes(e)).sum::<u64>()
        );
        let unacknowledged = entries
            .iter()
            .filter(|(_, e)| e.status != SyncStatus::Acknowledged);
        assert_eq!(
            counts.unacknowledged_bytes,
            unacknowledged.clone().map(|(_, e)| bytes(e)).sum::<u64>()
        );
        assert_eq!(
            outbox.oldest_unacknowledged_at(),
            unacknowledged.map(|(_, e)| e.submitted_at).next()
        );
        let mut expired: Vec<(u64, u64)> = entries
            .iter()
            .filter(|(_, e)| e.status == SyncStatus::InFlight)
            .map(|(seq, e)| (e.next_retry_at.unwrap(), *seq))
            .filter(|&(deadline, _)| deadline <= now)
            .collect();
        expired.sort_unstable();
        let expired: Vec<u64> = expired.into_iter().map(|(_, seq)| seq).collect();
        assert_eq!(outbox.expired(now), expired, "{step}");
        for (_, e) in &entries {
            let timed = matches!(e.status, SyncStatus::InFlight | SyncStatus::Queued);
            assert!(timed || e.next_retry_at.is_none(), "{step}");
        }
        assert_eq!(outbox.len(), entries.len());
    }
}
