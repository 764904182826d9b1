//! One writer per WAL: an exclusive advisory lock on `<wal>.lock`, held for the store's
//! lifetime.
//!
//! Two handles appending to one WAL would interleave records and roll back each other's
//! writes, and two owners of one WAL would issue the same numbers. The lock is taken before
//! any store file is opened for writing, covers every file of the store, and is released by the
//! operating system when the handle is dropped or the process dies (even by SIGKILL), so a
//! crash never leaves a store locked. Separate open file descriptions conflict, so a second
//! handle in the same process is refused as well.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::StoreError;
use super::files::{sibling, LOCK_SUFFIX};

/// How long a refused lock is retried before the store is reported in use. The lock belongs
/// to the open file, and a process that forks (another thread spawning a program) holds a copy
/// of every descriptor until its child calls exec: for that instant a lock just released still
/// looks held. A real holder keeps it far longer than this.
const RELEASE_GRACE: Duration = Duration::from_millis(100);

/// The held lock; dropping it releases the store.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Locks the store whose WAL is `wal`, failing at once (never waiting) when another handle
    /// holds it. A `shared` lock (for read-only inspection) admits other shared holders but no
    /// writer; it never creates the lock file (a store without one was never opened, or is
    /// not a store, or a copy made without it: then there is nothing to lock and `None` is
    /// returned).
    pub fn acquire(wal: &Path, shared: bool) -> Result<Option<StoreLock>, StoreError> {
        let path: PathBuf = sibling(wal, LOCK_SUFFIX);
        if shared && !path.exists() {
            return Ok(None);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(!shared)
            .create(!shared)
            .truncate(false)
            .open(&path)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                action: "open",
                source,
            })?;
        let try_lock = || {
            if shared {
                file.try_lock_shared()
            } else {
                file.try_lock()
            }
        };
        let deadline = Instant::now() + RELEASE_GRACE;
        let mut locked = try_lock();
        while matches!(locked, Err(TryLockError::WouldBlock)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
            locked = try_lock();
        }
        match locked {
            Ok(()) => Ok(Some(StoreLock { _file: file })),
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
                path: wal.to_path_buf(),
            }),
            Err(TryLockError::Error(source)) => Err(StoreError::Io {
                path,
                action: "lock",
                source,
            }),
        }
    }
}
