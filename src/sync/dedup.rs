//! Which remote operations were already handled, per origin.
//!
//! Each origin's versions are kept as a set of disjoint ranges. Delivery is mostly in order, so
//! an origin usually costs one range however many operations it sent; reordering opens ranges
//! that close again, and only versions that never arrive (an operation that failed at its
//! origin) leave a lasting gap. Memory grows with gaps, not with operations.

use std::collections::{BTreeMap, HashMap};

use crate::binary::{DecodeError, Reader, Writer};
use crate::node::NodeId;

#[derive(Debug, Default)]
struct VersionRanges {
    /// The range holding the highest versions: in-order delivery only ever touches this one,
    /// in O(1).
    newest: Option<(u64, u64)>,
    /// Every other range, all below `newest`: start → end, inclusive, disjoint and
    /// non-adjacent (to each other and to `newest`).
    older: BTreeMap<u64, u64>,
}

impl VersionRanges {
    fn contains(&self, version: u64) -> bool {
        match self.newest {
            Some((_, end)) if version > end => false,
            Some((start, _)) if version >= start => true,
            _ => self
                .older
                .range(..=version)
                .next_back()
                .is_some_and(|(_, &end)| version <= end),
        }
    }

    fn insert(&mut self, version: u64) -> bool {
        let Some((start, end)) = self.newest else {
            self.newest = Some((version, version));
            return true;
        };
        if version > end {
            if version - end > 1 {
                // A gap opens: the newest range becomes an older one.
                self.older.insert(start, end);
                self.newest = Some((version, version));
            } else {
                self.newest = Some((start, version));
            }
            return true;
        }
        if self.contains(version) {
            return false;
        }
        // Below the newest range: merge with the older range ending just before, and with the
        // range starting just after (an older one, or the newest).
        let mut merged_start = version;
        if let Some((&s, &e)) = self.older.range(..version).next_back() {
            if e + 1 == version {
                merged_start = s;
                self.older.remove(&s);
            }
        }
        if version + 1 == start {
            self.newest = Some((merged_start, end));
            return true;
        }
        let merged_end = self.older.remove(&(version + 1)).unwrap_or(version);
        self.older.insert(merged_start, merged_end);
        true
    }

    /// Every range, oldest first.
    fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.older
            .iter()
            .map(|(&start, &end)| (start, end))
            .chain(self.newest)
    }

    fn len(&self) -> usize {
        self.older.len() + usize::from(self.newest.is_some())
    }
}

/// An origin whose versions were recorded, with its node id (validated when first seen).
#[derive(Debug)]
pub(crate) struct KnownOrigin {
    pub id: NodeId,
    versions: VersionRanges,
}

impl KnownOrigin {
    pub fn contains(&self, version: u64) -> bool {
        self.versions.contains(version)
    }

    /// Records `version`; false if it was already recorded.
    pub fn insert(&mut self, version: u64) -> bool {
        self.versions.insert(version)
    }
}

/// Versions handled per origin.
#[derive(Debug, Default)]
pub(crate) struct SeenVersions {
    origins: Vec<KnownOrigin>,
    /// Positions in `origins`; foldhash: looked up for every remote operation whose origin is
    /// not the previous one's.
    positions: HashMap<NodeId, usize, foldhash::fast::RandomState>,
    /// The origin found last: a stream from one node (catching up after being offline) then
    /// costs a comparison of its id per operation, not a hash lookup.
    last: usize,
}

impl SeenVersions {
    fn position(&self, origin: &str) -> Option<usize> {
        let last = self.origins.get(self.last)?.id.as_str();
        // The address first: the origins of writes being recorded are copies of the id here.
        if std::ptr::eq(last, origin) || last == origin {
            return Some(self.last);
        }
        self.positions.get(origin).copied()
    }

    pub fn contains(&self, origin: &NodeId, version: u64) -> bool {
        self.position(origin.as_str())
            .is_some_and(|at| self.origins[at].contains(version))
    }

    /// `origin` if any of its versions was recorded: one lookup gives the caller its node id
    /// (no validation, no allocation) and its versions to check and record.
    pub fn known_mut(&mut self, origin: &str) -> Option<&mut KnownOrigin> {
        let at = self.position(origin)?;
        self.last = at;
        Some(&mut self.origins[at])
    }

    /// Records every (origin, version) of `seen`.
    pub fn insert_all<'a>(&mut self, seen: impl IntoIterator<Item = (&'a NodeId, u64)>) {
        for (origin, version) in seen {
            self.insert(origin, version);
        }
    }

    /// Records `version` of `origin`; false if it was already recorded.
    pub fn insert(&mut self, origin: &NodeId, version: u64) -> bool {
        if let Some(known) = self.known_mut(origin.as_str()) {
            return known.insert(version);
        }
        self.add(origin).insert(version)
    }

    fn add(&mut self, origin: &NodeId) -> &mut KnownOrigin {
        self.last = self.origins.len();
        self.positions.insert(origin.clone(), self.last);
        self.origins.push(KnownOrigin {
            id: origin.clone(),
            versions: VersionRanges::default(),
        });
        &mut self.origins[self.last]
    }

    /// Appends the handled versions to a binary encoding (see [`SeenVersions::decode`]).
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.u64(self.origins.len() as u64);
        for known in &self.origins {
            w.str(known.id.as_str());
            w.u64(known.versions.len() as u64);
            for (start, end) in known.versions.ranges() {
                w.u64(start);
                w.u64(end);
            }
        }
    }

    /// Reads what [`SeenVersions::encode`] wrote; ranges out of order, overlapping or touching
    /// are damage.
    pub fn decode(r: &mut Reader<'_>) -> Result<SeenVersions, DecodeError> {
        let mut seen = SeenVersions::default();
        for _ in 0..r.u64("origin count")? {
            let origin = NodeId::read(r, "origin")?;
            let mut versions = VersionRanges::default();
            let mut floor = 0u64;
            for _ in 0..r.u64("range count")? {
                let (start, end) = (r.u64("range start")?, r.u64("range end")?);
                if start < floor || end < start {
                    return Err(DecodeError(format!(
                        "versions of {origin}: range {start}..={end} is out of order"
                    )));
                }
                // Decoded in order: each range is the newest so far.
                if let Some((s, e)) = versions.newest.replace((start, end)) {
                    versions.older.insert(s, e);
                }
                // The next range must leave a gap after this one.
                floor = end.saturating_add(2);
            }
            if seen.positions.contains_key(&origin) {
                return Err(DecodeError(format!("versions of {origin} listed twice")));
            }
            seen.add(&origin).versions = versions;
        }
        Ok(seen)
    }

    #[cfg(test)]
    fn range_count(&self, origin: &NodeId) -> usize {
        self.position(origin.as_str())
            .map_or(0, |at| self.origins[at].versions.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_origins_each_keep_their_own_versions() {
        // The last-origin shortcut must never answer for another origin.
        let (b, c) = (
            NodeId::new("node-b").unwrap(),
            NodeId::new("node-c").unwrap(),
        );
        let mut seen = SeenVersions::default();
        for v in 1..=50u64 {
            let (mine, other) = if v % 3 == 0 { (&c, &b) } else { (&b, &c) };
            assert!(seen.insert(mine, v));
            assert!(!seen.insert(mine, v));
            assert!(!seen.contains(other, v));
            assert!(seen
                .known_mut(other.as_str())
                .is_none_or(|k| !k.contains(v)));
            assert!(seen.known_mut(mine.as_str()).unwrap().contains(v));
        }
        assert!(seen.known_mut("node-d").is_none());
        let mut bytes = Vec::new();
        seen.encode(&mut Writer::new(&mut bytes));
        let back = SeenVersions::decode(&mut Reader::new(&bytes)).unwrap();
        for v in 1..=50u64 {
            assert_eq!(back.contains(&c, v), v % 3 == 0);
            assert_eq!(back.contains(&b, v), v % 3 != 0);
        }
    }

    #[test]
    fn in_order_delivery_costs_one_range() {
        let node = NodeId::new("node-b").unwrap();
        let mut seen = SeenVersions::default();
        for v in 1..=10_000 {
            assert!(seen.insert(&node, v));
        }
        assert_eq!(seen.range_count(&node), 1);
        assert!(seen.contains(&node, 5_000));
        assert!(!seen.insert(&node, 5_000));
        assert!(!seen.contains(&node, 10_001));
    }

    #[test]
    fn encoding_round_trips_and_rejects_bad_ranges() {
        let b = NodeId::new("node-b").unwrap();
        let c = NodeId::new("node-c").unwrap();
        let mut seen = SeenVersions::default();
        for v in [1, 2, 3, 7, 9, u64::MAX] {
            seen.insert(&b, v);
        }
        seen.insert(&c, 4);
        let mut bytes = Vec::new();
        seen.encode(&mut Writer::new(&mut bytes));
        let back = SeenVersions::decode(&mut Reader::new(&bytes)).unwrap();
        for v in 0..12 {
            assert_eq!(back.contains(&b, v), seen.contains(&b, v), "{v}");
            assert_eq!(back.contains(&c, v), seen.contains(&c, v), "{v}");
        }
        assert!(back.contains(&b, u64::MAX));
        // Touching ranges (1..=2 then 3..=3) must have been one range.
        let mut bad = Vec::new();
        let mut w = Writer::new(&mut bad);
        w.u64(1);
        w.str("node-b");
        w.u64(2);
        for v in [1, 2, 3, 3] {
            w.u64(v);
        }
        assert!(SeenVersions::decode(&mut Reader::new(&bad)).is_err());
    }

    #[test]
    fn ranges_answer_like_a_set_of_versions() {
        // Seeded walk mixing in-order runs, gaps, reordering and redelivery.
        let node = NodeId::new("node-b").unwrap();
        let mut seen = SeenVersions::default();
        let mut model = std::collections::BTreeSet::new();
        let mut rng = crate::seeded::XorShift::new(0x9e37_79b9_7f4a_7c15u64);
        let mut next = move || rng.next();
        let mut cursor = 1u64;
        for _ in 0..20_000 {
            let version = match next() % 4 {
                0 | 1 => {
                    cursor += 1;
                    cursor
                }
                2 => {
                    cursor += next() % 5;
                    cursor
                }
                _ => 1 + next() % (cursor + 3),
            };
            assert_eq!(
                seen.insert(&node, version),
                model.insert(version),
                "{version}"
            );
            let probe = next() % (cursor + 5);
            assert_eq!(
                seen.contains(&node, probe),
                model.contains(&probe),
                "{probe}"
            );
        }
        let mut bytes = Vec::new();
        seen.encode(&mut Writer::new(&mut bytes));
        let back = SeenVersions::decode(&mut Reader::new(&bytes)).unwrap();
        for v in 0..cursor + 5 {
            assert_eq!(back.contains(&node, v), model.contains(&v), "{v}");
        }
        let ranges = seen.range_count(&node);
        let gaps = model
            .iter()
            .zip(model.iter().skip(1))
            .filter(|(a, b)| **b != **a + 1)
            .count();
        assert_eq!(ranges, gaps + 1);
    }

    #[test]
    fn reordering_opens_and_closes_gaps() {
        let node = NodeId::new("node-b").unwrap();
        let mut seen = SeenVersions::default();
        for v in [5, 1, 3, 2, 4] {
            assert!(seen.insert(&node, v), "{v}");
        }
        assert_eq!(seen.range_count(&node), 1);
        seen.insert(&node, 9);
        assert_eq!(seen.range_count(&node), 2);
        assert!(!seen.contains(&node, 7));
        assert!(seen.insert(&node, u64::MAX));
        assert!(seen.contains(&node, u64::MAX));
        let other = NodeId::new("node-c").unwrap();
        assert!(!seen.contains(&other, 1));
    }
}
