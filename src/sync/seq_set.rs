//! A set of outbox sequences. Sequences are issued densely and in order, so a bitmap over the
//! range from the smallest held to the largest makes insert, remove and membership O(1), and
//! in-order iteration a scan of words, where a search tree pays a descent on every call.
//! Words before the first set bit are dropped as the set's head moves on, so memory follows the
//! span between the oldest and the newest sequence held (one bit each), not history.

use std::collections::VecDeque;

const BITS: u64 = 64;

#[derive(Debug, Default)]
pub(crate) struct SeqSet {
    /// The sequence of bit 0 of `words[0]`; a multiple of 64.
    base: u64,
    words: VecDeque<u64>,
    len: usize,
}

impl SeqSet {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    fn position(&self, seq: u64) -> Option<(usize, u64)> {
        let offset = seq.checked_sub(self.base)?;
        let word = usize::try_from(offset / BITS).ok()?;
        Some((word, 1 << (offset % BITS)))
    }

    #[cfg(test)]
    fn contains(&self, seq: u64) -> bool {
        match self.position(seq) {
            Some((word, bit)) => self.words.get(word).is_some_and(|w| w & bit != 0),
            None => false,
        }
    }

    /// Adds `seq`; false if it was there.
    pub fn insert(&mut self, seq: u64) -> bool {
        if self.words.is_empty() {
            self.base = seq - seq % BITS;
        }
        while seq < self.base {
            // Before the head (rare: a sequence re-entering an index): grow at the front.
            self.words.push_front(0);
            self.base -= BITS;
        }
        let (word, bit) = self.position(seq).expect("seq is at or after base");
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let slot = &mut self.words[word];
        if *slot & bit != 0 {
            return false;
        }
        *slot |= bit;
        self.len += 1;
        true
    }

    /// Removes `seq`; false if it was not there.
    pub fn remove(&mut self, seq: u64) -> bool {
        let Some((word, bit)) = self.position(seq) else {
            return false;
        };
        match self.words.get_mut(word) {
            Some(slot) if *slot & bit != 0 => *slot &= !bit,
            _ => return false,
        }
        self.len -= 1;
        while self.words.front() == Some(&0) {
            self.words.pop_front();
            self.base += BITS;
        }
        while self.words.back() == Some(&0) {
            self.words.pop_back();
        }
        true
    }

    pub fn first(&self) -> Option<u64> {
        self.iter().next()
    }

    /// The sequences held, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(move |(index, &word)| {
                let base = self.base + index as u64 * BITS;
                let mut rest = word;
                std::iter::from_fn(move || {
                    if rest == 0 {
                        return None;
                    }
                    let bit = u64::from(rest.trailing_zeros());
                    rest &= rest - 1;
                    Some(base + bit)
                })
            })
    }
}

impl FromIterator<u64> for SeqSet {
    fn from_iter<I: IntoIterator<Item = u64>>(seqs: I) -> SeqSet {
        let mut set = SeqSet::default();
        for seq in seqs {
            set.insert(seq);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Same answers as a BTreeSet under a seeded mix of inserts and removes, including
    /// sequences far apart and below the head.
    #[test]
    fn behaves_like_an_ordered_set() {
        let mut rng = crate::seeded::XorShift::new(0x9E37_79B9_7F4A_7C15u64);
        let mut next = move || rng.next();
        let mut set = SeqSet::default();
        let mut model = BTreeSet::new();
        for step in 0..20_000 {
            let seq = match next() % 10 {
                0 => next() % 5_000_000,
                _ => 1_000 + next() % 700,
            };
            if next() % 3 == 0 {
                assert_eq!(set.remove(seq), model.remove(&seq), "step {step}");
            } else {
                assert_eq!(set.insert(seq), model.insert(seq), "step {step}");
            }
            assert_eq!(set.len(), model.len());
            if step % 500 == 0 {
                assert!(set.iter().eq(model.iter().copied()), "step {step}");
                assert_eq!(set.first(), model.first().copied());
            }
            assert_eq!(set.contains(seq), model.contains(&seq));
        }
        for seq in model.clone() {
            assert!(set.remove(seq));
        }
        assert_eq!(set.len(), 0);
        assert_eq!(set.first(), None);
        assert_eq!(set.words.len(), 0, "no memory kept once empty");
    }
}
