//! Which remote operations were already handled, per origin.
//!
//! Each origin's versions are kept as a set of disjoint ranges. Delivery is mostly in order, so
//! an origin usually costs one range however many operations it sent; reordering opens ranges
//! that close again, and only versions that never arrive (an operation that failed at its
//! origin) leave a lasting gap. Memory grows with gaps, not with operations.

use std::collections::{BTreeMap, HashMap};

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
    per_origin: HashMap<NodeId, VersionRanges>,
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
