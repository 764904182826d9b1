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

// The packing is the point (memory per key): one 8-byte handle for the key and its value,
// the version and the write's identity (stamp, 8-byte origin).
const _: () = assert!(std::mem::size_of::<Slot>() <= 32);

#[derive(Debug, Default)]
pub(crate) struct SlotMap {
    /// In no meaningful order (a removal moves the last slot into the hole).
    entries: Vec<Slot>,
    /// Positions in `entries`, by the hash of their key.
    index: KeyIndex,
    hasher: Hasher,
}

impl SlotMap {
    /// Keys are hashed by their bytes: a key's text needs no UTF-8 check to be found.
    fn hash(&self, key: &[u8]) -> u32 {
        // The index holds 32 bits: fold the upper half in rather than drop it.
        let hash = self.hasher.hash_one(key);
        (hash ^ (hash >> 32)) as u32
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(self.hash(key), |at| entries[at].key().as_bytes() == key)
    }

    pub fn get(&self, key: &[u8]) -> Option<&Slot> {
        Some(&self.entries[self.position(key)?])
    }

    /// Puts `slot` at its key, returning the slot it replaced.
    pub fn insert(&mut self, slot: Slot) -> Option<Slot> {
        let hash = self.hash(slot.key().as_bytes());
        let entries = &self.entries;
        let found = self
            .index
            .find_or_vacant(hash, |at| entries[at].key() == slot.key());
        match found {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at], slot)),
            Err(vacant) => {
                self.index.fill(vacant, hash, self.entries.len());
                self.entries.push(slot);
                None
            }
        }
    }

    /// Removes `key`, returning its slot.
    pub fn remove(&mut self, key: &[u8]) -> Option<Slot> {
        let hash = self.hash(key);
        let at = self.position(key)?;
        self.index.remove(hash, at);
        let last = self.entries.len() - 1;
        if at != last {
            // The last slot moves into the hole: its index entry follows it.
            let moved = self.hash(self.entries[last].key().as_bytes());
            self.index.relocate(moved, last, at);
        }
        Some(self.entries.swap_remove(at))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> + '_ {
        self.entries.iter().map(Slot::key)
    }

    /// The key inserted last (a new key goes to the end).
    pub fn newest_key(&self) -> Option<&Key> {
        self.entries.last().map(Slot::key)
    }

    pub fn slots(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.entries.iter()
    }

    /// A map holding `entries` (each key once, in any order); a key listed twice is refused,
    /// naming it.
    pub fn from_entries(entries: Vec<Slot>) -> Result<SlotMap, Key> {
        let mut map = SlotMap {
            entries,
            index: KeyIndex::default(),
            hasher: Hasher::default(),
        };
        let hashes: Vec<u32> = map
            .entries
            .iter()
            .map(|slot| map.hash(slot.key().as_bytes()))
            .collect();
        let entries = &map.entries;
        map.index = KeyIndex::build(&hashes, |a, b| entries[a].key() == entries[b].key())
            .map_err(|at| entries[at].key().clone())?;
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Stamp;
    use crate::store::entry::WriteId;

    fn slot(i: u64, version: u64) -> Slot {
        let write = WriteId {
            stamp: Stamp::ZERO,
            origin: None,
        };
        Slot::new(&key(i), None, version, write)
    }

    fn key(i: u64) -> Key {
        Key::new(&format!("k{i}")).unwrap()
    }

    #[test]
    fn inserts_replaces_and_removes_keeping_every_position_right() {
        let mut map = SlotMap::default();
        for i in 0..1000 {
            assert!(map.insert(slot(i, i)).is_none());
        }
        assert_eq!(map.insert(slot(7, 70000)).unwrap().version, 7);
        for i in (0..1000).step_by(3) {
            assert_eq!(
                map.remove(key(i).as_bytes()).unwrap().version,
                map_version(i)
            );
            assert!(map.remove(key(i).as_bytes()).is_none());
        }
        for i in 0..1000 {
            let found = map.get(key(i).as_bytes()).map(|s| s.version);
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
        let entries: Vec<Slot> = (0..5000).rev().map(|i| slot(i, i)).collect();
        let mut map = SlotMap::from_entries(entries.clone()).unwrap();
        for i in 0..5000 {
            assert_eq!(map.get(key(i).as_bytes()).unwrap().version, i);
        }
        assert!(map.insert(slot(5000, 5000)).is_none());
        assert_eq!(map.remove(b"k0").unwrap().version, 0);
        assert_eq!(map.get(b"k5000").unwrap().version, 5000);
        let mut twice = entries;
        twice.push(slot(42, 1));
        assert_eq!(SlotMap::from_entries(twice).unwrap_err(), key(42));
    }
}
