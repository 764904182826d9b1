//! Entries: the current state of one key, and the identity of the write that produced it.

use std::cmp::Ordering;

use super::key::Key;
use super::value::Value;
use crate::clock::Stamp;
use crate::node::NodeId;

/// The identity of one write: its stamp and the node that made it (`None` for a write made
/// directly on a store that has no node identity). Ordered by stamp, then origin, so every node
/// orders any two writes the same way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WriteId {
    pub stamp: Stamp,
    pub origin: Option<NodeId>,
}

impl WriteId {
    /// This identity, borrowed: compared without cloning its node id.
    pub fn borrowed(&self) -> WriteRef<'_> {
        WriteRef {
            stamp: self.stamp,
            origin: self.origin.as_ref(),
        }
    }
}

impl Ord for WriteId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.borrowed().cmp(&other.borrowed())
    }
}

impl PartialOrd for WriteId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A [`WriteId`] borrowed: the same order (by stamp, then origin; no origin first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteRef<'a> {
    pub stamp: Stamp,
    pub origin: Option<&'a NodeId>,
}

/// A live key's current value as returned by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    /// The store's sequence number of the write that produced this value (monotonic per store).
    pub version: u64,
    /// The stamp of that write.
    pub timestamp: Stamp,
    /// The node that made that write (`None` for a direct write).
    pub origin: Option<NodeId>,
}

impl Entry {
    /// An entry built by hand (for standalone conflict resolution), unstamped and with no origin.
    pub fn make(key: Key, value: Value, version: u64) -> Entry {
        Entry {
            key,
            value,
            version,
            timestamp: Stamp::ZERO,
            origin: None,
        }
    }

    /// The identity of the write that produced this entry.
    pub fn write_id(&self) -> WriteId {
        WriteId {
            stamp: self.timestamp,
            origin: self.origin.clone(),
        }
    }
}

/// The store's record of a key: a value, or a tombstone that keeps a deleted key's write
/// identity so that an older write of the key, arriving late, cannot bring it back.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    /// A live key's key was made with its value, in one allocation (see `Key::value`); a
    /// tombstone's key is alone: one 8-byte handle says both which key and whether it is live.
    key: Key,
    pub version: u64,
    pub write: WriteId,
}

impl Slot {
    /// The slot of `key` holding `value` (`None`: a tombstone).
    pub fn new(key: &Key, value: Option<&Value>, version: u64, write: WriteId) -> Slot {
        let key = match value {
            Some(value) => key.with(value),
            None => key.detached(),
        };
        Slot {
            key,
            version,
            write,
        }
    }

    /// The slot whose key holds its value (made with it), or is a tombstone's (made alone).
    pub fn holding(key: Key, version: u64, write: WriteId) -> Slot {
        Slot {
            key,
            version,
            write,
        }
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The value; `None` for a tombstone.
    pub fn value(&self) -> Option<Value> {
        self.key.value()
    }

    /// The bytes of [`Slot::value`].
    pub fn value_bytes(&self) -> Option<&[u8]> {
        self.key.value_bytes()
    }

    pub fn is_live(&self) -> bool {
        self.value_bytes().is_some()
    }
}
