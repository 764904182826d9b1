//! A map keyed by outbox sequence. Sequences are issued densely and in order, so values live
//! in pages of consecutive sequences held in a deque: lookup is two index computations, not a
//! tree descent, and a value costs its own size, not a node's share. A page with nothing left
//! is freed and empty pages at either end are dropped, so memory follows the values held (plus
//! one pointer per page of sequences between the oldest and the newest), not history.

use std::collections::VecDeque;

/// Sequences per page: small, so that a page kept alive by one lingering value costs little.
const PAGE: u64 = 16;

#[derive(Debug)]
struct Page<T> {
    slots: [Option<T>; PAGE as usize],
    live: u8,
}

impl<T> Page<T> {
    fn empty() -> Box<Page<T>> {
        Box::new(Page {
            slots: std::array::from_fn(|_| None),
            live: 0,
        })
    }
}

#[derive(Debug)]
pub(crate) struct SeqMap<T> {
    /// The sequence of slot 0 of `pages[0]`; a multiple of `PAGE`.
    base: u64,
    pages: VecDeque<Option<Box<Page<T>>>>,
    len: usize,
}

impl<T> Default for SeqMap<T> {
    fn default() -> Self {
        SeqMap {
            base: 0,
            pages: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> SeqMap<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    fn position(&self, seq: u64) -> Option<(usize, usize)> {
        let offset = seq.checked_sub(self.base)?;
        let page = usize::try_from(offset / PAGE).ok()?;
        Some((page, (offset % PAGE) as usize))
    }

    pub fn get(&self, seq: u64) -> Option<&T> {
        let (page, slot) = self.position(seq)?;
        self.pages.get(page)?.as_ref()?.slots[slot].as_ref()
    }

    pub fn get_mut(&mut self, seq: u64) -> Option<&mut T> {
        let (page, slot) = self.position(seq)?;
        self.pages.get_mut(page)?.as_mut()?.slots[slot].as_mut()
    }

    /// Puts `value` at `seq`, returning the value it replaces.
    pub fn insert(&mut self, seq: u64, value: T) -> Option<T> {
        if self.pages.is_empty() {
            self.base = seq - seq % PAGE;
        }
        while seq < self.base {
            // Before the head (only when a caller inserts out of order): grow at the front.
            self.pages.push_front(None);
            self.base -= PAGE;
        }
        let (page, slot) = self.position(seq).expect("seq is at or after base");
        if page >= self.pages.len() {
            self.pages.resize_with(page + 1, || None);
        }
        let page = self.pages[page].get_or_insert_with(Page::empty);
        let old = page.slots[slot].replace(value);
        if old.is_none() {
            page.live += 1;
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, seq: u64) -> Option<T> {
        let (index, slot) = self.position(seq)?;
        let page = self.pages.get_mut(index)?.as_mut()?;
        let old = page.slots[slot].take()?;
        page.live -= 1;
        self.len -= 1;
        if page.live == 0 {
            self.pages[index] = None;
            while matches!(self.pages.front(), Some(None)) {
                self.pages.pop_front();
                self.base += PAGE;
            }
            while matches!(self.pages.back(), Some(None)) {
                self.pages.pop_back();
            }
        }
        Some(old)
    }

    /// Sequences and values, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.pages
            .iter()
            .enumerate()
            .filter_map(|(index, page)| Some((self.base + index as u64 * PAGE, page.as_ref()?)))
            .flat_map(|(first, page)| {
                (first..)
                    .zip(page.slots.iter())
                    .filter_map(|(seq, slot)| Some((seq, slot.as_ref()?)))
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Same answers as a BTreeMap under a seeded mix of inserts, replacements and removes,
    /// including sequences far apart and below the head.
    #[test]
    fn behaves_like_an_ordered_map() {
        let mut rng = crate::seeded::XorShift::new(0x2545_F491_4F6C_DD1Du64);
        let mut next = move || rng.next();
        let mut map = SeqMap::default();
        let mut model = BTreeMap::new();
        for step in 0..30_000u64 {
            let seq = match next() % 20 {
                0 => next() % 1_000_000,
                _ => 5_000 + next() % 400,
            };
            match next() % 3 {
                0 => assert_eq!(map.remove(seq), model.remove(&seq), "step {step}"),
                _ => assert_eq!(
                    map.insert(seq, step),
                    model.insert(seq, step),
                    "step {step}"
                ),
            }
            assert_eq!(map.len(), model.len());
            assert_eq!(map.get(seq), model.get(&seq));
            if let Some(value) = map.get_mut(seq) {
                *value += 1;
                *model.get_mut(&seq).unwrap() += 1;
            }
            if step % 1_000 == 0 {
                assert!(
                    map.iter().eq(model.iter().map(|(&s, v)| (s, v))),
                    "step {step}"
                );
            }
        }
        let seqs: Vec<u64> = model.keys().copied().collect();
        for seq in seqs {
            assert_eq!(map.remove(seq), model.remove(&seq));
        }
        assert_eq!(map.len(), 0);
        assert_eq!(map.pages.len(), 0, "no memory kept once empty");
    }

    #[test]
    fn a_value_far_behind_the_head_keeps_one_page_not_the_span() {
        let mut map = SeqMap::default();
        map.insert(1, ());
        for seq in 2..100_000 {
            map.insert(seq, ());
            map.remove(seq);
        }
        map.insert(100_000, ());
        let pages_held = map.pages.iter().filter(|p| p.is_some()).count();
        assert_eq!(pages_held, 2);
    }
}
