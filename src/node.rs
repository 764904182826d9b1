//! Node identity: the origin of every sync operation.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use crate::binary::{DecodeError, Reader, Sink, Writer};

/// The longest node id accepted, in bytes.
pub const MAX_NODE_ID_BYTES: usize = 256;

/// Why a string is not a usable node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid node id {value:?}: {reason}")]
pub struct InvalidNodeId {
    /// The rejected value (cut to a readable length).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// How many node ids each thread remembers from decoding.
const RECENT_IDS: usize = 8;

thread_local! {
    /// The node ids this thread decoded last, newest first. A log, a checkpoint or a saved
    /// outbox names a few nodes millions of times: without this, reopening one allocates and
    /// validates a fresh copy of the same id for every operation.
    static RECENTLY_READ: RefCell<Vec<NodeId>> = const { RefCell::new(Vec::new()) };
}

/// A validated node id: non-empty UTF-8, at most [`MAX_NODE_ID_BYTES`] bytes, no control
/// characters or whitespace (it is embedded in sync ids and log lines).
///
/// Cloning is cheap: every operation from a node shares one allocation, behind an 8-byte
/// handle (the store keeps one per key; `Arc<str>` would be 16): the text is boxed once more,
/// which costs an allocation per distinct id, not per operation.
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct NodeId(Arc<Box<str>>);

/// Hashes the text, as `str` does (consistent with `PartialEq` below, which compares the text).
impl std::hash::Hash for NodeId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// Compares the text, after the address: copies of one id (every operation of a node, every
/// version seen from it) share one allocation, so most comparisons end there.
impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl NodeId {
    /// Validates `value` as a node id.
    pub fn new(value: &str) -> Result<NodeId, InvalidNodeId> {
        let reason = if value.is_empty() {
            Some("node id is empty")
        } else if value.len() > MAX_NODE_ID_BYTES {
            Some("node id is longer than 256 bytes")
        } else if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            Some("node id contains whitespace or a control character")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InvalidNodeId {
                value: value.chars().take(64).collect(),
                reason,
            }),
            None => Ok(NodeId(Arc::new(Box::from(value)))),
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// Reads a node id from a binary encoding; an invalid id is a decode error. An id read
    /// recently on this thread is shared, not allocated and validated again (see
    /// [`RECENTLY_READ`]).
    pub(crate) fn read(r: &mut Reader<'_>, what: &str) -> Result<NodeId, DecodeError> {
        let bytes = r.bytes(what)?;
        let known = RECENTLY_READ.with_borrow(|recent| {
            recent
                .iter()
                .find(|node| node.0.as_bytes() == bytes)
                .cloned()
        });
        if let Some(node) = known {
            return Ok(node);
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| DecodeError(format!("{what} is not valid UTF-8")))?;
        let node = NodeId::new(text).map_err(|e| DecodeError(format!("{what}: {e}")))?;
        RECENTLY_READ.with_borrow_mut(|recent| {
            if recent.len() == RECENT_IDS {
                recent.pop();
            }
            recent.insert(0, node.clone());
        });
        Ok(node)
    }

    /// Appends `node`, or its absence, to a binary encoding.
    pub(crate) fn write_optional<S: Sink>(w: &mut Writer<'_, S>, node: Option<&NodeId>) {
        match node {
            Some(node) => {
                w.u8(1);
                w.str(node.as_str());
            }
            None => w.u8(0),
        }
    }

    /// Reads what [`NodeId::write_optional`] wrote.
    pub(crate) fn read_optional(
        r: &mut Reader<'_>,
        what: &str,
    ) -> Result<Option<NodeId>, DecodeError> {
        match r.u8(what)? {
            0 => Ok(None),
            1 => NodeId::read(r, what).map(Some),
            other => Err(DecodeError(format!("bad {what} flag {other}"))),
        }
    }
}

/// Lets maps keyed by node id be searched by `&str` (consistent with `Eq`, `Ord` and `Hash`,
/// which all compare the text), so a known id is found without validating or allocating.
impl std::borrow::Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        self.0.as_ref()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_ref().as_ref(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        for id in [
            "node-a",
            "node-local",
            "drive-client",
            "desktop-1",
            "nœud-é",
        ] {
            assert_eq!(NodeId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn rejects_empty_long_and_control_ids() {
        assert_eq!(NodeId::new("").unwrap_err().reason, "node id is empty");
        assert!(NodeId::new(&"x".repeat(257)).is_err());
        assert!(NodeId::new(&"x".repeat(256)).is_ok());
        assert!(NodeId::new("node a").is_err());
        assert!(NodeId::new("node\n").is_err());
        let err = NodeId::new("bad\u{0}id").unwrap_err();
        assert!(err.to_string().contains("bad\\0id"), "{err}");
    }
}
