//! How a store is opened.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::faults::WalFaults;
use crate::clock::{Clock, SystemClock};

/// When a write is reported done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Durability {
    /// Only once its WAL record is on stable storage (fdatasync): survives a power cut.
    Durable = 1,
    /// Once its WAL record is handed to the operating system: survives a process crash, not a
    /// power cut. A layer owning the store can make everything logged durable at points of
    /// its choosing (sync does before handing operations out in a batch).
    Fast = 2,
}

/// Default of [`StoreConfig::compact_threshold_bytes`]: 4 MiB, so that reopening replays at
/// most a few MiB of log beyond the checkpoint. (Not `pub`: cbindgen would export it; the
/// value is documented on the field.)
const DEFAULT_COMPACT_THRESHOLD_BYTES: u64 = 4 << 20;
/// Default of [`StoreConfig::tombstone_retention`]: 7 days.
const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Store settings. Build with [`StoreConfig::durable`], [`StoreConfig::fast`] or
/// [`StoreConfig::memory`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// The write-ahead log; `None` keeps everything in memory only.
    pub wal_path: Option<PathBuf>,
    /// Durability of direct store writes. A layer that owns the store says for each of its own
    /// writes whether it must be on stable storage before returning.
    pub durability: Durability,
    /// Physical time for stamps; replace it to make tests deterministic.
    pub clock: Arc<dyn Clock>,
    /// Faults to inject into the WAL (tests and chaos drills); `None` in production.
    pub faults: Option<Arc<WalFaults>>,
    /// Open for inspection only: nothing is created, repaired or written (see
    /// [`StoreConfig::read_only`]).
    pub read_only: bool,
    /// Automatic compaction starts, on a background thread, when the log written since the
    /// last checkpoint exceeds `max(compact_threshold_bytes, 2 × the checkpoint's size)`;
    /// 0 turns automatic compaction off ([`super::StoreEngine::compact`] still works).
    /// After a failed automatic compaction the next waits until the log has grown by as much
    /// again. Default 4 MiB.
    pub compact_threshold_bytes: u64,
    /// How long a tombstone (the mark a delete leaves) is kept at least; compaction collects
    /// older ones unless the store's owner still needs them (sync: until the delete is
    /// acknowledged). A write older than a collected delete that arrives later is no longer
    /// recognised as older than it: keep the retention above the longest time a node may stay
    /// offline. Default 7 days.
    pub tombstone_retention: Duration,
}

impl StoreConfig {
    /// A WAL-backed store whose writes are on disk before they return.
    pub fn durable(wal_path: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            wal_path: Some(wal_path.into()),
            durability: Durability::Durable,
            clock: Arc::new(SystemClock),
            faults: None,
            read_only: false,
            compact_threshold_bytes: DEFAULT_COMPACT_THRESHOLD_BYTES,
            tombstone_retention: DEFAULT_TOMBSTONE_RETENTION,
        }
    }

    /// An existing WAL opened for inspection: the files are not created, a torn tail is
    /// reported but not cut, every write fails with [`super::StoreError::ReadOnly`], and a
    /// shared lock lets several readers in but no writer (a store open for writing makes the
    /// open fail with [`super::StoreError::InUse`]).
    pub fn read_only(wal_path: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            read_only: true,
            ..StoreConfig::durable(wal_path)
        }
    }

    /// A WAL-backed store whose writes are handed to the OS before they return.
    pub fn fast(wal_path: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            durability: Durability::Fast,
            ..StoreConfig::durable(wal_path)
        }
    }

    /// A store with no WAL: nothing survives the process.
    pub fn memory() -> StoreConfig {
        StoreConfig {
            wal_path: None,
            ..StoreConfig::fast("")
        }
    }

    /// The same settings with another physical clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> StoreConfig {
        self.clock = clock;
        self
    }

    /// The same settings with faults injected into the WAL.
    pub fn with_faults(mut self, faults: Arc<WalFaults>) -> StoreConfig {
        self.faults = Some(faults);
        self
    }
}
