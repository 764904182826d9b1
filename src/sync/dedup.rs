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
    /// start → end, inclusive, disjoint and non-adjacent.
    ranges: BTreeMap<u64, u64>,
}

impl VersionRanges {
    fn contains(&self, version: u64) -> bool {
        self.ranges
            .range(..=version)
            .next_back()
            .is_some_and(|(_, &end)| version <= end)
    }

    fn insert(&mut self, version: u64) -> bool {
        if self.contains(version) {
            return false;
        }
        let mut start = version;
        let mut end = version;
        if let Some((&s, &e)) = self.ranges.range(..version).next_back() {
            if e + 1 == version {
                start = s;
            }
        }
        if let Some(next) = version.checked_add(1) {
            if let Some(e) = self.ranges.remove(&next) {
                end = e;
            }
        }
        self.ranges.insert(start, end);
        true
    }
}

/// Versions handled per origin.
#[derive(Debug, Default)]
pub(crate) struct SeenVersions {
    /// foldhash: looked up for every remote operation.
    per_origin: HashMap<NodeId, VersionRanges, foldhash::fast::RandomState>,
}

impl SeenVersions {
    pub fn contains(&self, origin: &NodeId, version: u64) -> bool {
        self.per_origin
            .get(origin)
            .is_some_and(|r| r.contains(version))
    }

    /// Records `version` of `origin`; false if it was already recorded.
    pub fn insert(&mut self, origin: &NodeId, version: u64) -> bool {
        self.per_origin
            .entry(origin.clone())
            .or_default()
            .insert(version)
    }

    /// Appends the handled versions to a binary encoding (see [`SeenVersions::decode`]).
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.u64(self.per_origin.len() as u64);
        for (origin, versions) in &self.per_origin {
            w.str(origin.as_str());
            w.u64(versions.ranges.len() as u64);
            for (&start, &end) in &versions.ranges {
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
                versions.ranges.insert(start, end);
                // The next range must leave a gap after this one.
                floor = end.saturating_add(2);
            }
            if seen.per_origin.insert(origin.clone(), versions).is_some() {
                return Err(DecodeError(format!("versions of {origin} listed twice")));
            }
        }
        Ok(seen)
    }

    #[cfg(test)]
    fn range_count(&self, origin: &NodeId) -> usize {
        self.per_origin.get(origin).map_or(0, |r| r.ranges.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
