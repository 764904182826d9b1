//! What the store keeps for the layer that owns it.
//!
//! One layer at a time may own a store. It attaches bytes to its writes (an *extension*, logged
//! in the write's own record), logs *notes* (records of its bytes alone), and when it lets go it
//! leaves its state as bytes (*saved*). The store logs and keeps these bytes without reading
//! them, and hands them to the next owner in order: the saved state, then everything logged
//! after it. An owner rebuilds the same state from a handover whether the process restarted in
//! between or not.
//!
//! A saved state may leave keys and values out and refer to *shared writes* instead, in order:
//! the store keeps them beside the saved bytes, and a checkpoint stores each once, as the
//! key's slot when the slot holds the same value (an owner's copy of a write the table holds
//! anyway costs neither file bytes nor memory twice).

use std::collections::HashSet;

use super::entry::WriteId;
use super::key::Key;
use super::operation::Operation;
use super::value::Value;
use crate::node::NodeId;
use crate::small_bytes::SmallBytes;

/// One item of the log that concerns the owner.
#[derive(Debug)]
pub(crate) enum Logged {
    /// A write that carried an extension (writes without one are plain store writes and are
    /// not handed over).
    Write {
        op: Operation,
        writer: Option<NodeId>,
        extension: SmallBytes,
    },
    /// A note.
    Note(Vec<u8>),
}

/// A key and its value (`None`: deleted) that a saved state refers to instead of holding.
pub(crate) type SharedWrite = (Key, Option<Value>);

/// What an owner taking over a store starts from.
#[derive(Debug, Default)]
pub(crate) struct Handover {
    /// The state the previous owner saved when it let go, if any.
    pub saved: Option<Vec<u8>>,
    /// The shared writes `saved` refers to, in the order it refers to them.
    pub shared: Vec<SharedWrite>,
    /// What was logged after that state, in log order.
    pub logged: Vec<Logged>,
}

/// What an owner's fold makes of its part of the log.
#[derive(Debug)]
pub(crate) struct Folded {
    /// One saved state standing for the whole handover (what a checkpoint keeps).
    pub saved: Vec<u8>,
    /// The shared writes `saved` refers to, in order.
    pub shared: Vec<SharedWrite>,
    /// Writes whose tombstones the owner still needs (compaction keeps them whatever their
    /// age).
    pub pinned: HashSet<WriteId>,
}

/// Condenses a handover into one saved state, as the owner would rebuild it; an error says
/// what in the owner's bytes is damaged. An owner registers its fold when it takes the store,
/// so that compaction can fold the log without the owner being involved.
pub(crate) type Fold = fn(Handover) -> Result<Folded, String>;
