//! The store's current state in memory: one slot per key ever written (a value or a
//! tombstone), a sorted index of the keys, and the write counter.

use std::collections::BTreeSet;
use std::ops::Bound;

use super::engine::ApplyResult;
use super::entry::{Entry, Slot, WriteId};
use super::key::Key;
use super::operation::{Operation, OperationKind};
use super::slot_map::SlotMap;
use crate::node::NodeId;

#[derive(Debug, Default)]
pub(crate) struct Table {
    slots: SlotMap,
    /// Every key in `slots`, sorted, once something has read the order (a scan, a checkpoint
    /// listing): prefix scans in O(log n + k) while lookups stay O(1). `None` until then, so a
    /// reopen does not sort keys nobody may ever scan; built in one sorted pass when first
    /// needed. Only a key's first write touches it (a tombstone keeps its slot), so updates pay
    /// nothing; new keys wait in `unsorted` until something reads the order, and are then merged
    /// in one sorted pass, so a write never pays a tree insert.
    keys: Option<BTreeSet<Key>>,
    unsorted: Vec<Key>,
    live: usize,
    last_version: u64,
}

/// One lock's worth of a prefix scan.
#[derive(Default)]
pub(crate) struct ScanChunk {
    pub entries: Vec<Entry>,
    pub last: Option<Key>,
    pub ended: bool,
}

impl Table {
    /// The number of live keys.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The number of keys whose current write is a delete.
    pub fn tombstones(&self) -> usize {
        self.slots.len() - self.live
    }

    /// The store's sequence number of the last write.
    pub fn last_version(&self) -> u64 {
        self.last_version
    }

    pub fn entry(&self, key: &Key) -> Option<Entry> {
        entry(&self.slots, key)
    }

    /// The slot of `key`, if the key is known.
    pub fn slot(&self, key: &Key) -> Option<&Slot> {
        self.slots.get(key.as_bytes())
    }

    /// The identity of the write currently holding `key` (value or tombstone).
    pub fn current_write(&self, key: &Key) -> Option<&WriteId> {
        self.slots.get(key.as_bytes()).map(|slot| &slot.write)
    }

    /// The number of keys held (live or tombstoned).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Builds the sorted index of every key, or brings it up to date.
    fn sort_keys(&mut self) {
        match &mut self.keys {
            Some(keys) => {
                if !self.unsorted.is_empty() {
                    self.unsorted.sort_unstable();
                    keys.extend(self.unsorted.drain(..));
                }
            }
            None => {
                let mut all: Vec<Key> = self.slots.keys().map(Key::detached).collect();
                all.sort_unstable();
                // Built in bulk from sorted keys: linear, not n inserts.
                self.keys = Some(all.into_iter().collect());
            }
        }
    }

    /// Every slot, in key order (keys written since the last merge are merged first, so none
    /// is ever left out).
    pub fn slots(&mut self) -> impl Iterator<Item = (&Key, &Slot)> + '_ {
        self.sort_keys();
        let slots = &self.slots;
        self.keys
            .iter()
            .flatten()
            .filter_map(|key| slots.get(key.as_bytes()))
            .map(|slot| (slot.key(), slot))
    }

    /// A table holding `slots` (a checkpoint being loaded, each key once, in any order), whose
    /// last write had `last_version`; a key listed twice is refused, naming it.
    pub fn load(slots: Vec<Slot>, last_version: u64) -> Result<Table, Key> {
        let slots = SlotMap::from_entries(slots)?;
        let live = slots.slots().filter(|slot| slot.is_live()).count();
        let last_version = slots
            .slots()
            .map(|slot| slot.version)
            .fold(last_version, u64::max);
        Ok(Table {
            slots,
            keys: None,
            unsorted: Vec::new(),
            live,
            last_version,
        })
    }

    /// Visits up to `limit` keys (live or tombstoned) that start with `prefix` and sort after
    /// `after`, in key order: the live entries among them, the last key visited, and whether
    /// the prefix range ended. Bounding the keys visited, not the entries found, bounds how long
    /// one call holds the lock even across a long run of tombstones.
    pub fn scan(&mut self, prefix: &str, after: Option<&Key>, limit: usize) -> ScanChunk {
        let start = match after {
            Some(key) => Bound::Excluded(key.as_str()),
            None => Bound::Included(prefix),
        };
        let mut chunk = ScanChunk::default();
        let mut visited = 0;
        self.sort_keys();
        for key in self
            .keys
            .iter()
            .flat_map(|keys| keys.range::<str, _>((start, Bound::Unbounded)))
            .take_while(|key| key.as_bytes().starts_with(prefix.as_bytes()))
            .take(limit)
        {
            visited += 1;
            chunk.entries.extend(entry(&self.slots, key));
            chunk.last = Some(key.clone());
        }
        chunk.ended = visited < limit;
        chunk
    }

    /// Applies one write, giving it the next version.
    pub fn apply(&mut self, op: &Operation, writer: Option<NodeId>) -> ApplyResult {
        self.last_version += 1;
        let value = match op.kind {
            OperationKind::Put => Some(&op.value),
            OperationKind::Delete => None,
        };
        let write = WriteId {
            stamp: op.timestamp,
            origin: writer,
        };
        // One allocation for key and value (a put made from a key and a value made apart is
        // joined once here; see `Operation::joined`).
        let slot = Slot::new(&op.key, value, self.last_version, write);
        let now_live = slot.is_live();
        let previous = self.insert(slot);
        let was_live = previous.as_ref().is_some_and(Slot::is_live);
        ApplyResult {
            version: self.last_version,
            timestamp: op.timestamp,
            created: !was_live && now_live,
            updated: was_live && now_live,
            deleted: was_live && !now_live,
            replaced: previous.map(|s| s.write),
        }
    }

    /// Puts `slot` at its key as it is, returning what it replaced.
    fn insert(&mut self, slot: Slot) -> Option<Slot> {
        self.last_version = self.last_version.max(slot.version);
        let now_live = slot.is_live();
        let previous = self.slots.insert(slot);
        if previous.is_none() && self.keys.is_some() {
            // The sorted index outlives this write: its key must not keep the value alive.
            let key = self.slots.newest_key().expect("just inserted");
            self.unsorted.push(key.detached());
        }
        // (No sorted index yet: it will be built from the slots.)
        let was_live = previous.as_ref().is_some_and(Slot::is_live);
        match (was_live, now_live) {
            (false, true) => self.live += 1,
            (true, false) => self.live -= 1,
            _ => {}
        }
        previous
    }

    /// Removes the tombstone at `key` if it is still the one written by `write`.
    pub fn collect_tombstone(&mut self, key: &Key, write: &WriteId) -> bool {
        match self.slots.get(key.as_bytes()) {
            Some(slot) if !slot.is_live() && &slot.write == write => {
                self.slots.remove(key.as_bytes());
                if self.keys.is_some() {
                    // The key may still wait in `unsorted`: merge, then remove it.
                    self.sort_keys();
                    self.keys.iter_mut().for_each(|keys| {
                        keys.remove(key);
                    });
                }
                true
            }
            _ => false,
        }
    }
}

fn entry(slots: &SlotMap, key: &Key) -> Option<Entry> {
    let slot = slots.get(key.as_bytes())?;
    Some(Entry {
        key: key.clone(),
        value: slot.value()?,
        version: slot.version,
        timestamp: slot.write.stamp,
        origin: slot.write.origin.clone(),
    })
}
