//! Errors of the local store.

use std::io;
use std::path::PathBuf;

use crate::clock::ClockExhausted;

/// What can go wrong in the store. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A key that cannot be stored (empty, too long, not UTF-8).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A value that cannot be stored (too large).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// Another store handle (in this process or another) has this WAL open. Only one may, or
    /// their records would interleave and the numbers they issue collide.
    #[error(
        "WAL {path} is in use by another store handle (in this process or another); \
         close that handle first"
    )]
    InUse { path: PathBuf },
    /// A write to a store opened read-only.
    #[error("WAL {path} is open read-only (for inspection); it cannot be written")]
    ReadOnly { path: PathBuf },
    /// The hybrid clock cannot issue a stamp greater than the last one.
    #[error(transparent)]
    ClockExhausted(#[from] ClockExhausted),
    /// A WAL read, write, sync or truncate failed.
    #[error("WAL I/O error on {path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// An earlier write or sync failure left the WAL in a state we cannot trust, so it refuses
    /// further writes instead of risking a log with a hole in it. Reopen the store to recover.
    #[error("WAL {path} is closed after an earlier failure ({reason}); reopen the store")]
    Poisoned { path: PathBuf, reason: String },
    /// The store closed while a compaction ran on its background thread; the compaction was
    /// abandoned and the previous checkpoint stands.
    #[error("the store closed during compaction; the compaction was abandoned")]
    Closed,
    /// The WAL holds bytes that are not a torn tail: a damaged record followed by more data.
    /// Nothing is truncated, because that would throw away good records after the damage.
    #[error("WAL {path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
}
