//! The key table's index: positions in the dense array of slots, found by a 32-bit hash of
//! their key, in one flat array probed linearly.
//!
//! Each index slot holds a key's hash and its position together (8 bytes). Looking a key up
//! or adding one touches one place of the index and its neighbours. A table that keeps its
//! control bytes and its buckets apart (hashbrown's) touches two places, and once the index
//! outgrows the caches each is a cache and TLB miss: at a million keys that doubled the cost
//! of adding a key. Holding the hash also lets growth move every slot without reading a key.

/// An unused index slot (no position is `u32::MAX`).
const EMPTY: u64 = u64::MAX;

/// The most keys an index holds: positions are 32-bit, and `u32::MAX` marks an empty slot.
pub(crate) const MAX_KEYS: usize = u32::MAX as usize;

fn pack(hash: u32, position: usize) -> u64 {
    debug_assert!(position < MAX_KEYS);
    (u64::from(hash) << 32) | position as u64
}

fn hash_of(slot: u64) -> u32 {
    (slot >> 32) as u32
}

fn position_of(slot: u64) -> usize {
    (slot & 0xffff_ffff) as usize
}

/// Where a key not in the index goes (see [`KeyIndex::find_or_vacant`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Vacant(usize);

#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// A power of two long (or empty); at most 7/8 full, so that probe runs stay short.
    slots: Vec<u64>,
    len: usize,
}

impl KeyIndex {
    /// Room for `keys` keys without growing.
    fn slots_for(keys: usize) -> usize {
        (keys.max(4) * 8 / 7 + 1).next_power_of_two()
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The slot a hash probes first. Slots are at most 2^32 (positions are 32-bit), so the
    /// hash's 32 bits number them all.
    fn home(&self, hash: u32) -> usize {
        hash as usize & self.mask()
    }

    /// The position of the key with `hash` that `is_key` accepts.
    pub fn find(&self, hash: u32, is_key: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        self.probe(hash, is_key).ok()
    }

    /// The position of the key with `hash` that `is_key` accepts, or where to add it
    /// ([`KeyIndex::fill`], before any other change to the index).
    pub fn find_or_vacant(
        &mut self,
        hash: u32,
        is_key: impl FnMut(usize) -> bool,
    ) -> Result<usize, Vacant> {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            // Grown before probing, so that the vacant slot found stays where it is.
            self.grow();
        }
        self.probe(hash, is_key)
    }

    /// Walks the probe run of `hash` (the slots are not empty): the position `is_key`
    /// accepts, or the empty slot that ends the run.
    #[inline]
    fn probe(&self, hash: u32, mut is_key: impl FnMut(usize) -> bool) -> Result<usize, Vacant> {
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot == EMPTY {
                return Err(Vacant(at));
            }
            if hash_of(slot) == hash && is_key(position_of(slot)) {
                return Ok(position_of(slot));
            }
            at = (at + 1) & self.mask();
        }
    }

    /// Adds the key with `hash` at `position` in the place `vacant` found for it.
    pub fn fill(&mut self, vacant: Vacant, hash: u32, position: usize) {
        assert!(position < MAX_KEYS, "a store holds at most {MAX_KEYS} keys");
        self.slots[vacant.0] = pack(hash, position);
        self.len += 1;
    }

    /// The index slot holding `position` (whose key has `hash`).
    fn slot_of(&self, hash: u32, position: usize) -> Option<usize> {
        let wanted = pack(hash, position);
        let mut at = self.home(hash);
        loop {
            match *self.slots.get(at)? {
                EMPTY => return None,
                slot if slot == wanted => return Some(at),
                _ => at = (at + 1) & self.mask(),
            }
        }
    }

    /// Removes `position` (whose key has `hash`). Later slots of its probe run move back into
    /// the gap, so that no lookup stops short of them (no tombstones to clean up later).
    pub fn remove(&mut self, hash: u32, position: usize) {
        let Some(mut gap) = self.slot_of(hash, position) else {
            return;
        };
        self.len -= 1;
        let mask = self.mask();
        let mut at = gap;
        loop {
            at = (at + 1) & mask;
            let slot = self.slots[at];
            if slot == EMPTY {
                break;
            }
            // A slot may fill the gap unless its home lies cyclically within (gap, at].
            let home = self.home(hash_of(slot));
            let home_after_gap = (home.wrapping_sub(gap) & mask) != 0
                && (home.wrapping_sub(gap) & mask) <= (at.wrapping_sub(gap) & mask);
            if !home_after_gap {
                self.slots[gap] = slot;
                gap = at;
            }
        }
        self.slots[gap] = EMPTY;
    }

    /// Points the slot of `from` (whose key has `hash`) at `to`: the dense array moved it.
    pub fn relocate(&mut self, hash: u32, from: usize, to: usize) {
        if let Some(at) = self.slot_of(hash, from) {
            self.slots[at] = pack(hash, to);
        }
    }

    fn grow(&mut self) {
        let bigger = Self::slots_for(self.len + 1).max(self.slots.len() * 2);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; bigger]);
        let mask = self.mask();
        for slot in old.into_iter().filter(|&slot| slot != EMPTY) {
            let mut at = self.home(hash_of(slot));
            while self.slots[at] != EMPTY {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }

    /// The index of keys at positions `0..hashes.len()` with those hashes, built in one sweep
    /// over the slots (a load of a million keys writes the index in order instead of at a
    /// million random places). A key listed twice (`same_key` of two positions with one hash)
    /// is refused: the error is the later position.
    pub fn build(
        hashes: &[u32],
        mut same_key: impl FnMut(usize, usize) -> bool,
    ) -> Result<KeyIndex, usize> {
        assert!(
            hashes.len() < MAX_KEYS,
            "a store holds at most {MAX_KEYS} keys"
        );
        let mut index = KeyIndex {
            slots: vec![EMPTY; Self::slots_for(hashes.len())],
            len: hashes.len(),
        };
        let bits = index.slots.len().trailing_zeros();
        let mut order: Vec<u64> = hashes
            .iter()
            .enumerate()
            .map(|(position, &hash)| pack(hash, position))
            .collect();
        sort_by_home(&mut order, bits);
        // Equal hashes share a home, so a duplicate sits in the run of its home.
        let mut run_start = 0;
        for i in 0..order.len() {
            let home = index.home(hash_of(order[i]));
            if index.home(hash_of(order[run_start])) != home {
                run_start = i;
            }
            for &earlier in &order[run_start..i] {
                if hash_of(earlier) == hash_of(order[i])
                    && same_key(position_of(earlier), position_of(order[i]))
                {
                    return Err(position_of(earlier).max(position_of(order[i])));
                }
            }
        }
        // Each slot goes to its home or the first free slot after the one placed before it;
        // those pushed past the end wrap to the start once the sweep is done.
        let mut next = 0;
        let mut wrapped = Vec::new();
        for slot in order {
            let at = index.home(hash_of(slot)).max(next);
            if at < index.slots.len() {
                index.slots[at] = slot;
                next = at + 1;
            } else {
                wrapped.push(slot);
            }
        }
        let mut at = 0;
        for slot in wrapped {
            while index.slots[at] != EMPTY {
                at += 1;
            }
            index.slots[at] = slot;
        }
        Ok(index)
    }
}

/// Sorts packed slots by home (the hash's low `bits` bits) in two counting passes over half
/// the bits each: linear, where a comparison sort of a million slots is not.
fn sort_by_home(order: &mut Vec<u64>, bits: u32) {
    let low = bits.div_ceil(2);
    let mut scratch = vec![0; order.len()];
    for (shift, digit) in [(32, low), (32 + low, bits - low)] {
        let digit_of = |slot: u64| ((slot >> shift) & ((1 << digit) - 1)) as usize;
        let mut starts = vec![0usize; 1 << digit];
        for &slot in order.iter() {
            starts[digit_of(slot)] += 1;
        }
        let mut total = 0;
        for start in starts.iter_mut() {
            let count = *start;
            *start = total;
            total += count;
        }
        for &slot in order.iter() {
            let at = &mut starts[digit_of(slot)];
            scratch[*at] = slot;
            *at += 1;
        }
        std::mem::swap(order, &mut scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded::XorShift;

    /// A model: keys are numbers, hashes deliberately collide (few distinct values) so that
    /// probe runs are long and wrap around the end.
    fn check_against_model(hash_values: u32, operations: usize, seed: u64) {
        let mut rng = XorShift::new(seed);
        let hash = |key: u64| (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as u32 % hash_values;
        let mut index = KeyIndex::default();
        // The dense array: position -> key.
        let mut dense: Vec<u64> = Vec::new();
        for _ in 0..operations {
            let key = rng.next() % 300;
            match index.find_or_vacant(hash(key), |at| dense[at] == key) {
                Ok(at) => {
                    assert_eq!(dense[at], key);
                    if rng.next().is_multiple_of(2) {
                        // Remove as the key table does: the last position moves into the hole.
                        index.remove(hash(key), at);
                        let last = dense.len() - 1;
                        if at != last {
                            index.relocate(hash(dense[last]), last, at);
                        }
                        dense.swap_remove(at);
                    }
                }
                Err(vacant) => {
                    index.fill(vacant, hash(key), dense.len());
                    dense.push(key);
                }
            }
            for key in (0..300).step_by(7) {
                let found = index.find(hash(key), |at| dense[at] == key);
                assert_eq!(found, dense.iter().position(|&k| k == key), "key {key}");
            }
        }
        let rebuilt = KeyIndex::build(
            &dense.iter().map(|&k| hash(k)).collect::<Vec<_>>(),
            |a, b| dense[a] == dense[b],
        )
        .unwrap();
        for (at, &key) in dense.iter().enumerate() {
            assert_eq!(rebuilt.find(hash(key), |p| dense[p] == key), Some(at));
        }
    }

    #[test]
    fn agrees_with_a_model_under_inserts_moves_and_removals() {
        for (seed, hash_values) in [(1, 7), (2, 64), (3, 1 << 20), (4, 3)] {
            check_against_model(hash_values, 3000, seed);
        }
    }

    #[test]
    fn sorts_by_home_for_any_number_of_bits() {
        for bits in [1, 2, 3, 7, 8, 21, 32] {
            let mut rng = XorShift::new(u64::from(bits));
            let mut order: Vec<u64> = (0..3000).map(|at| pack(rng.next() as u32, at)).collect();
            let home = |slot: u64| u64::from(hash_of(slot)) & ((1u64 << bits) - 1);
            let mut expected = order.clone();
            expected.sort_by_key(|&slot| (home(slot), position_of(slot)));
            sort_by_home(&mut order, bits);
            assert_eq!(order, expected, "{bits} bits");
        }
    }

    #[test]
    fn builds_in_one_sweep_wrapping_at_the_end_and_refuses_a_key_listed_twice() {
        // Hashes at the very end of the slots push their run past it.
        let slots = KeyIndex::slots_for(100) as u32;
        let mut hashes: Vec<u32> = (0..100).map(|i| i * 7919).collect();
        hashes[..20].iter_mut().for_each(|h| *h = slots - 1);
        let keys: Vec<u32> = (0..100).collect();
        let index = KeyIndex::build(&hashes, |a, b| keys[a] == keys[b]).unwrap();
        for (at, &hash) in hashes.iter().enumerate() {
            assert_eq!(index.find(hash, |p| p == at), Some(at));
        }
        let mut twice = keys.clone();
        twice[57] = 3;
        let mut with_twice = hashes.clone();
        with_twice[57] = hashes[3];
        assert_eq!(
            KeyIndex::build(&with_twice, |a, b| twice[a] == twice[b]).unwrap_err(),
            57
        );
    }
}
