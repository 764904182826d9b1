//! Store operations: what changed.

use super::error::StoreError;
use super::key::Key;
use super::value::Value;
use crate::clock::Stamp;

/// The kind of a store operation. Numbered as in the C++ module (0 is "unknown" there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OperationKind {
    Put = 1,
    Delete = 2,
}

impl OperationKind {
    /// The kind numbered `code`, if any.
    pub fn from_code(code: u8) -> Option<OperationKind> {
        match code {
            1 => Some(OperationKind::Put),
            2 => Some(OperationKind::Delete),
            _ => None,
        }
    }
}

/// A put or a delete of one key, with the stamp it was (or will be) applied at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub kind: OperationKind,
    pub key: Key,
    /// The new value of a put; empty for a delete.
    pub value: Value,
    /// The write's hybrid-clock stamp; [`Stamp::ZERO`] until it is written.
    pub timestamp: Stamp,
}

impl Operation {
    /// A put of `value` at `key`, not yet stamped.
    pub fn put(key: Key, value: Value) -> Operation {
        Operation {
            kind: OperationKind::Put,
            key,
            value,
            timestamp: Stamp::ZERO,
        }
    }

    /// A delete of `key`, not yet stamped.
    pub fn delete(key: Key) -> Operation {
        Operation {
            kind: OperationKind::Delete,
            key,
            value: Value::default(),
            timestamp: Stamp::ZERO,
        }
    }

    /// A `kind` write of `value` at `key`, both checked, not yet stamped: key and value in one
    /// allocation (see `src/shared_bytes.rs`), which the store and the layers above keeping
    /// the write then share. A delete's value must be empty to be applied; it is checked where
    /// it is applied.
    pub fn from_parts(
        kind: OperationKind,
        key: &str,
        value: &[u8],
    ) -> Result<Operation, StoreError> {
        // A delete's key alone (the store keeps it as the tombstone), unless the delete
        // carries a value, to be refused where it is applied.
        let (key, value) = if kind == OperationKind::Delete && value.is_empty() {
            (Key::new(key)?, Value::default())
        } else {
            Key::with_value(key, value)?
        };
        Ok(Operation {
            kind,
            key,
            value,
            timestamp: Stamp::ZERO,
        })
    }

    /// The same operation with its key and value in one allocation (for a put made from a key
    /// and a value made apart; nothing to do for one made by [`Operation::from_parts`]): what
    /// the store and the layers above keep of it is then one handle, for both.
    pub(crate) fn joined(self) -> Operation {
        match self.kind {
            OperationKind::Put if self.key.holds(&self.value) => self,
            OperationKind::Put => {
                let key = self.key.with(&self.value);
                Operation {
                    value: key.joined_value(),
                    key,
                    ..self
                }
            }
            // A delete keeps its key alone: not a value its key came with.
            OperationKind::Delete => Operation {
                key: self.key.detached(),
                ..self
            },
        }
    }

    /// The same operation carrying `timestamp`.
    pub fn with_timestamp(mut self, timestamp: Stamp) -> Operation {
        self.timestamp = timestamp;
        self
    }

    /// Key plus value bytes: what the operation costs to keep and to send.
    pub fn payload_bytes(&self) -> u64 {
        (self.key.as_bytes().len() + self.value.len()) as u64
    }
}
