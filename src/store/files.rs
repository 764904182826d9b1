//! The files a store uses. Every one sits beside the WAL and starts with the WAL's file name,
//! so that a user (and a backup script) sees them together: `data.wal`, `data.wal.lock`,
//! `data.wal.seq`.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The path of the store file `suffix` that belongs to the WAL at `wal`.
pub(crate) fn sibling(wal: &Path, suffix: &str) -> PathBuf {
    let mut name = wal.file_name().map(OsString::from).unwrap_or_default();
    name.push(suffix);
    wal.with_file_name(name)
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
