//! One writer per WAL: an exclusive advisory lock on `<wal>.lock`, held for the store's
//! lifetime.
//!
//! Two handles appending to one WAL would interleave records and roll back each other's
//! writes, and two engines on one WAL would issue the same sync ids. The lock is taken before
//! any store file is opened for writing, covers every file of the store, and is released by the
//! operating system when the handle is dropped or the process dies (even by SIGKILL), so a
//! crash never leaves a store locked. Separate open file descriptions conflict, so a second
//! handle in the same process is refused as well.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::files::sibling;

/// The held lock; dropping it releases the store.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Locks the store whose WAL is `wal`, failing at once (never waiting) when another handle
    /// holds it.
    pub fn acquire(wal: &Path) -> Result<StoreLock, StoreError> {
        let path: PathBuf = sibling(wal, ".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                action: "open",
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(StoreLock { _file: file }),
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
