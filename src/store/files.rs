//! The files a store uses. Every one sits beside the WAL and starts with the WAL's file name,
//! so that a user (and a backup script) sees them together: `data.wal` (the active log
//! segment), `data.wal.lock`, `data.wal.seq`, `data.wal.ckpt` (the checkpoint), and during a
//! compaction `data.wal.closed`, `data.wal.next` and `data.wal.ckpt.tmp`.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Suffixes of the files every WAL-backed store keeps beside its WAL.
pub(crate) const LOCK_SUFFIX: &str = ".lock";
pub(crate) const SEQUENCE_SUFFIX: &str = ".seq";

/// The path of the store file `suffix` that belongs to the WAL at `wal`.
pub(crate) fn sibling(wal: &Path, suffix: &str) -> PathBuf {
    let mut name = wal.file_name().map(OsString::from).unwrap_or_default();
    name.push(suffix);
    wal.with_file_name(name)
}

/// The paths of a WAL-backed store's log files.
#[derive(Clone, Debug)]
pub(crate) struct StoreFiles {
    /// The active segment: the WAL path itself.
    pub wal: PathBuf,
    /// The previous segment, being folded into the checkpoint.
    pub closed: PathBuf,
    /// The next segment, created before it replaces the active one.
    pub next: PathBuf,
    pub checkpoint: PathBuf,
    pub checkpoint_tmp: PathBuf,
}

impl StoreFiles {
    pub fn new(wal: &Path) -> StoreFiles {
        StoreFiles {
            wal: wal.to_path_buf(),
            closed: sibling(wal, ".closed"),
            next: sibling(wal, ".next"),
            checkpoint: sibling(wal, ".ckpt"),
            checkpoint_tmp: sibling(wal, ".ckpt.tmp"),
        }
    }

    /// Bytes the log takes on disk: checkpoint and segments.
    pub fn total_bytes(&self) -> u64 {
        [&self.wal, &self.closed, &self.checkpoint]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// Every file the store whose WAL is at `wal` may use, each with its role, for tools that show
/// them (most exist only at times: see the top of this module).
pub fn store_files(wal: &Path) -> Vec<(&'static str, PathBuf)> {
    let files = StoreFiles::new(wal);
    vec![
        ("active log segment", files.wal),
        ("checkpoint", files.checkpoint),
        ("closed segment, being folded", files.closed),
        ("next segment, being created", files.next),
        ("checkpoint being written", files.checkpoint_tmp),
        ("writer lock", sibling(wal, LOCK_SUFFIX)),
        ("sequence mark", sibling(wal, SEQUENCE_SUFFIX)),
    ]
}

/// Makes a newly created file's directory entry durable.
pub(crate) fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some filesystems cannot fsync a directory; the file itself is still synced.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_extend_the_wal_file_name() {
        assert_eq!(
            sibling(Path::new("/d/node.wal"), ".lock"),
            Path::new("/d/node.wal.lock")
        );
        assert_eq!(sibling(Path::new("n.wal"), ".seq"), Path::new("n.wal.seq"));
    }
}
