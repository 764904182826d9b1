//! ACK deadlines of the operations in flight, grouped by deadline: a batch's operations share
//! one, so sending is an append to the current group and an ACK a count down, where a search
//! tree of (deadline, seq) pays an insert and a delete per operation.
//!
//! Groups forget lazily: a sequence that leaves (acknowledged, expired, requeued) is only
//! counted out, and a group's list is cut down to the sequences still in it once most are
//! gone, so its memory stays within a small multiple of what it holds. Whether a listed
//! sequence is still in a group is the owner's answer (`holds(seq, deadline)`): the entry is
//! in flight with that deadline.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
struct Group {
    /// Every sequence added, possibly since left or listed twice.
    seqs: Vec<u64>,
    /// How many are in the group.
    live: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    groups: BTreeMap<u64, Group>,
}

impl Deadlines {
    /// `seq` is in flight until `deadline` (it was not in the group).
    pub fn add(&mut self, deadline: u64, seq: u64) {
        let group = match self.groups.last_entry() {
            Some(last) if *last.key() == deadline => last.into_mut(),
            _ => self.groups.entry(deadline).or_default(),
        };
        group.seqs.push(seq);
        group.live += 1;
    }

    /// `seq` (added with `deadline`) left; `holds` tells which listed sequences are still in
    /// a group (called on the remaining ones after `seq` left).
    pub fn remove(&mut self, deadline: u64, holds: impl Fn(u64, u64) -> bool) {
        let Some(group) = self.groups.get_mut(&deadline) else {
            return;
        };
        group.live -= 1;
        if group.live == 0 {
            self.groups.remove(&deadline);
        } else if group.seqs.len() > 16 && group.seqs.len() > 4 * group.live {
            group.seqs.retain(|&seq| holds(seq, deadline));
            group.seqs.sort_unstable();
            group.seqs.dedup();
        }
    }

    /// The sequences whose deadline is at or before `now`, by deadline then sequence.
    pub fn expired(&self, now: u64, holds: impl Fn(u64, u64) -> bool) -> Vec<u64> {
        let mut expired = Vec::new();
        for (&deadline, group) in self.groups.range(..=now) {
            let start = expired.len();
            expired.extend(group.seqs.iter().filter(|&&seq| holds(seq, deadline)));
            expired[start..].sort_unstable();
            let mut kept = start;
            for i in start..expired.len() {
                if kept == start || expired[i] != expired[kept - 1] {
                    expired[kept] = expired[i];
                    kept += 1;
                }
            }
            expired.truncate(kept);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// Same answers as an exact set of (deadline, seq) under a seeded mix of sends (often in
    /// batches sharing a deadline, sometimes re-sending a sequence with its old deadline) and
    /// departures.
    #[test]
    fn behaves_like_an_ordered_set_of_deadlines() {
        let mut rng = crate::seeded::XorShift::new(0x9E37_79B9_7F4A_7C15u64);
        let mut next = move || rng.next();
        let mut deadlines = Deadlines::default();
        // The owner's view: seq -> deadline while in flight.
        let mut in_flight: BTreeMap<u64, u64> = BTreeMap::new();
        let mut model: BTreeSet<(u64, u64)> = BTreeSet::new();
        let mut now = 100;
        for step in 0..20_000 {
            now += next() % 3;
            let seq = next() % 300;
            let deadline = now + next() % 4;
            match in_flight.get(&seq).copied() {
                None => {
                    deadlines.add(deadline, seq);
                    in_flight.insert(seq, deadline);
                    model.insert((deadline, seq));
                }
                Some(at) => {
                    in_flight.remove(&seq);
                    model.remove(&(at, seq));
                    deadlines.remove(at, |s, d| in_flight.get(&s) == Some(&d));
                }
            }
            if step % 100 == 0 {
                let when = now + next() % 5;
                let want: Vec<u64> = model
                    .iter()
                    .take_while(|(d, _)| *d <= when)
                    .map(|&(_, s)| s)
                    .collect();
                let got = deadlines.expired(when, |s, d| in_flight.get(&s) == Some(&d));
                assert_eq!(got, want, "step {step}");
            }
        }
        for (seq, at) in in_flight.clone() {
            in_flight.remove(&seq);
            deadlines.remove(at, |s, d| in_flight.get(&s) == Some(&d));
        }
        assert!(deadlines.groups.is_empty(), "no memory kept once empty");
    }
}
