//! The key table's map: slots in one dense array, found through a compact hash index of their
//! positions (the layout of Python's dict), 4 bytes each.
//!
//! A plain HashMap scatters 64-byte buckets over twice the memory the slots need, and loading
//! a million keys into it costs a cache and TLB miss per key at random places. Here a load
//! keeps the decoded array as it is and builds an index of positions (8 bytes a bucket, small
//! enough to stay in cache), in the order of its buckets, so that building it walks it once.

use std::hash::BuildHasher;

use hashbrown::hash_table::Entry as IndexEntry;
use hashbrown::HashTable;

use super::entry::Slot;
use super::key::Key;

/// Keys are hashed on every write and read: foldhash is several times faster than the standard
/// SipHash here and still seeded per process.
type Hasher = foldhash::fast::RandomState;

/// The most entries [`SlotMap::from_entries`] indexes in bucket order: positions and buckets are
/// numbered in 32 bits each there.
const MOST_ORDERED: usize = 1 << 31;

// The packing is the point (memory per key): one 8-byte handle for the key and its value,
// the version and the write's identity (stamp, 8-byte origin).
const _: () = assert!(std::mem::size_of::<Slot>() <= 32);

#[derive(Debug, Default)]
pub(crate) struct SlotMap {
    /// In no meaningful order (a removal moves the last slot into the hole).
    entries: Vec<Slot>,
    /// Positions in `entries`, by the hash of their key.
    index: HashTable<u32>,
    hasher: Hasher,
}

/// A position in `entries` as the index holds it: a table of 2^32 keys (hundreds of GiB)
/// is beyond any machine this runs on.
fn position(at: usize) -> u32 {
    u32::try_from(at).expect("fewer than 2^32 keys")
}

impl SlotMap {
    fn hash(&self, key: &[u8]) -> u64 {
        hash(&self.hasher, key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Keys are looked up by their bytes: a key's text needs no UTF-8 check to be found.
    fn position(&self, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        let found = self.index.find(self.hash(key), |&at| {
            entries[at as usize].key().as_bytes() == key
        });
        found.map(|&at| at as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&Slot> {
        Some(&self.entries[self.position(key)?])
    }

    /// Puts `slot` at its key, returning the slot it replaced.
    pub fn insert(&mut self, slot: Slot) -> Option<Slot> {
        let hash = self.hash(slot.key().as_bytes());
        let SlotMap {
            entries,
            index,
            hasher,
        } = self;
        let entry = index.entry(
            hash,
            |&at| entries[at as usize].key() == slot.key(),
            |&at| self::hash(hasher, entries[at as usize].key().as_bytes()),
        );
        match entry {
            IndexEntry::Occupied(found) => {
                Some(std::mem::replace(&mut entries[*found.get() as usize], slot))
            }
            IndexEntry::Vacant(vacant) => {
                vacant.insert(position(entries.len()));
                entries.push(slot);
                None
            }
        }
    }

    /// Removes `key`, returning its slot.
    pub fn remove(&mut self, key: &[u8]) -> Option<Slot> {
        let hash = self.hash(key);
        let entries = &self.entries;
        let found = self
            .index
            .find_entry(hash, |&at| entries[at as usize].key().as_bytes() == key)
            .ok()?;
        let (at, _) = found.remove();
        let at = at as usize;
        let last = self.entries.len() - 1;
        if at != last {
            // The last slot moves into the hole: its index entry follows it.
            let moved = self.hash(self.entries[last].key().as_bytes());
            if let Some(found) = self.index.find_mut(moved, |&p| p as usize == last) {
                *found = position(at);
            }
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
        if entries.len() > MOST_ORDERED {
            // Beyond what the bucket order below can number: one insert at a time.
            let mut map = SlotMap::default();
            for slot in entries {
                if map.get(slot.key().as_bytes()).is_some() {
                    return Err(slot.key().clone());
                }
                map.insert(slot);
            }
            return Ok(map);
        }
        let mut map = SlotMap {
            index: HashTable::with_capacity(entries.len()),
            entries,
            hasher: Hasher::default(),
        };
        // Indexed in the order of the index's buckets (the low bits of the hash, for the bucket
        // count the capacity above gives), each key hashed once while it is in cache. A wrong
        // guess of the bucket count costs only speed.
        let buckets = (map.entries.len().max(8) * 8 / 7).next_power_of_two() as u64;
        let mut order: Vec<(u64, u64)> = map
            .entries
            .iter()
            .enumerate()
            .map(|(at, slot)| {
                let hash = map.hash(slot.key().as_bytes());
                (((hash % buckets) << 32) | at as u64, hash)
            })
            .collect();
        sort_by_bucket(&mut order, buckets.trailing_zeros());
        let SlotMap {
            entries,
            index,
            hasher,
        } = &mut map;
        for (place, hash) in order {
            let at = (place & 0xffff_ffff) as usize;
            let entry = index.entry(
                hash,
                |&other| entries[other as usize].key() == entries[at].key(),
                |&other| self::hash(hasher, entries[other as usize].key().as_bytes()),
            );
            match entry {
                IndexEntry::Occupied(_) => return Err(entries[at].key().clone()),
                IndexEntry::Vacant(vacant) => {
                    vacant.insert(position(at));
                }
            }
        }
        Ok(map)
    }
}

/// Keys are hashed as bytes: a key's text needs no UTF-8 check to be hashed.
fn hash(hasher: &Hasher, key: &[u8]) -> u64 {
    hasher.hash_one(key)
}

/// Sorts `order` by bucket (the upper half of each first field; below `1 << bits`), keeping
/// the order of equal buckets: two counting passes over half the bits each, linear where a
/// comparison sort of a million pairs is not.
fn sort_by_bucket(order: &mut Vec<(u64, u64)>, bits: u32) {
    let digit = bits.div_ceil(2).max(1);
    let mut scratch = vec![(0, 0); order.len()];
    for pass in 0..2 {
        let shift = 32 + pass * digit;
        let digit_of = |place: u64| ((place >> shift) & ((1 << digit) - 1)) as usize;
        let mut starts = vec![0usize; 1 << digit];
        for &(place, _) in order.iter() {
            starts[digit_of(place)] += 1;
        }
        let mut total = 0;
        for start in starts.iter_mut() {
            let count = *start;
            *start = total;
            total += count;
        }
        for &item in order.iter() {
            let at = &mut starts[digit_of(item.0)];
            scratch[*at] = item;
            *at += 1;
        }
        std::mem::swap(order, &mut scratch);
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
    fn sorts_by_bucket_keeping_positions() {
        for bits in [1, 3, 8, 21, 32] {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            let mut order: Vec<(u64, u64)> = (0..3000u64)
                .map(|at| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let bucket = (seed >> 11) % (1u64 << bits);
                    ((bucket << 32) | at, at)
                })
                .collect();
            let mut expected = order.clone();
            expected.sort();
            sort_by_bucket(&mut order, bits);
            assert_eq!(order, expected, "{bits} bits");
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
