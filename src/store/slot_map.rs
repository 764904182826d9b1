//! The key table's map: slots in one dense array, found through a compact index of their
//! positions (the layout of Python's dict; the index is `key_index.rs`).
//!
//! A plain HashMap scatters 64-byte buckets over twice the memory the slots need, and loading
//! a million keys into it costs a cache and TLB miss per key at random places. Here a load
//! keeps the decoded array as it is and builds the index of positions in one sweep.

use std::hash::BuildHasher;

use super::entry::Slot;
use super::key::Key;
use super::key_index::KeyIndex;

/// Keys are hashed on every write and read: foldhash is several times faster than the standard
/// SipHash here and still seeded per process.
type Hasher = foldhash::fast::RandomState;

#[derive(Debug, Default)]
pub(crate) struct SlotMap {
    /// In no meaningful order (a removal moves the last slot into the hole).
    entries: Vec<(Key, Slot)>,
    /// Positions in `entries`, by the hash of their key.
    index: KeyIndex,
    hasher: Hasher,
}

impl SlotMap {
    fn hash(&self, key: &str) -> u32 {
        // The index holds 32 bits: fold the upper half in rather than drop it.
        let hash = self.hasher.hash_one(key);
        (hash ^ (hash >> 32)) as u32
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn position(&self, key: &str) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(self.hash(key), |at| entries[at].0.as_str() == key)
    }

    pub fn get(&self, key: &str) -> Option<&Slot> {
        self.get_key_value(key).map(|(_, slot)| slot)
    }

    pub fn get_key_value(&self, key: &str) -> Option<(&Key, &Slot)> {
        let (key, slot) = &self.entries[self.position(key)?];
        Some((key, slot))
    }

    /// Puts `slot` at `key`, returning the slot it replaced.
    pub fn insert(&mut self, key: Key, slot: Slot) -> Option<Slot> {
        let hash = self.hash(key.as_str());
        let entries = &self.entries;
        match self.index.find_or_vacant(hash, |at| entries[at].0 == key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, slot)),
            Err(vacant) => {
                self.index.fill(vacant, hash, self.entries.len());
                self.entries.push((key, slot));
                None
            }
        }
    }

    /// Removes `key`, returning its slot.
    pub fn remove(&mut self, key: &str) -> Option<Slot> {
        let hash = self.hash(key);
        let at = self.position(key)?;
        self.index.remove(hash, at);
        let last = self.entries.len() - 1;
        if at != last {
            // The last slot moves into the hole: its index entry follows it.
            let moved = self.hash(self.entries[last].0.as_str());
            self.index.relocate(moved, last, at);
        }
        Some(self.entries.swap_remove(at).1)
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> + '_ {
        self.entries.iter().map(|(key, _)| key)
    }

    pub fn slots(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.entries.iter().map(|(_, slot)| slot)
    }

    /// A map holding `entries` (each key once, in any order); a key listed twice is refused,
    /// naming it.
    pub fn from_entries(entries: Vec<(Key, Slot)>) -> Result<SlotMap, Key> {
        let hasher = Hasher::default();
        let mut map = SlotMap {
            entries,
            index: KeyIndex::default(),
            hasher,
        };
        let hashes: Vec<u32> = map
            .entries
            .iter()
            .map(|(key, _)| map.hash(key.as_str()))
            .collect();
        let entries = &map.entries;
        map.index = KeyIndex::build(&hashes, |a, b| entries[a].0 == entries[b].0)
            .map_err(|at| entries[at].0.clone())?;
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Stamp;
    use crate::store::entry::WriteId;

    fn slot(version: u64) -> Slot {
        Slot {
            value: None,
            version,
            write: WriteId {
                stamp: Stamp::ZERO,
                origin: None,
            },
        }
    }

    fn key(i: u64) -> Key {
        Key::new(&format!("k{i}")).unwrap()
    }

    #[test]
    fn inserts_replaces_and_removes_keeping_every_position_right() {
        let mut map = SlotMap::default();
        for i in 0..1000 {
            assert!(map.insert(key(i), slot(i)).is_none());
        }
        assert_eq!(map.insert(key(7), slot(70000)).unwrap().version, 7);
        for i in (0..1000).step_by(3) {
            assert_eq!(map.remove(key(i).as_str()).unwrap().version, map_version(i));
            assert!(map.remove(key(i).as_str()).is_none());
        }
        for i in 0..1000 {
            let found = map.get(key(i).as_str()).map(|s| s.version);
            assert_eq!(found, (i % 3 != 0).then(|| map_version(i)), "k{i}");
        }
        assert_eq!(map.len(), 666);
        assert_eq!(map.keys().count(), 666);
    }

    fn map_version(i: u64) -> u64 {
        if i == 7 {
            70000
        } else {
            i
        }
    }

    #[test]
    fn loads_in_any_order_and_refuses_a_key_listed_twice() {
        let entries: Vec<(Key, Slot)> = (0..5000).rev().map(|i| (key(i), slot(i))).collect();
        let mut map = SlotMap::from_entries(entries.clone()).unwrap();
        for i in 0..5000 {
            assert_eq!(map.get(key(i).as_str()).unwrap().version, i);
        }
        assert!(map.insert(key(5000), slot(5000)).is_none());
        assert_eq!(map.remove("k0").unwrap().version, 0);
        assert_eq!(map.get("k5000").unwrap().version, 5000);
        let mut twice = entries;
        twice.push((key(42), slot(1)));
        assert_eq!(SlotMap::from_entries(twice).unwrap_err(), key(42));
    }
}
