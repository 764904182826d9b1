//! The write-ahead log file: appending, syncing, and failure handling.
//!
//! Layout: an 8-byte magic (`SASYWAL3`: the `3` is the format version), then frames (see
//! `frame.rs`). The WAL never interprets payloads (see `record.rs`); what replay does with
//! damage is decided in `recovery.rs`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::StoreError;
use super::faults::{WalFaults, WritePermit};
use super::files::sync_parent_dir;
use super::frame::{self, HEADER_BYTES, MAX_PAYLOAD_BYTES};
use super::recovery;
use crate::binary::DecodeError;

const MAGIC: &[u8; 8] = b"SASYWAL3";
/// Magics of WAL formats this version cannot read, with the format's name.
const OLD_MAGICS: [(&[u8; 8], &str); 2] = [
    (b"SASYWAL1", "format 1 (softadastra-sync 0.1)"),
    (
        b"SASYWAL2",
        "format 2 (softadastra-sync 0.1 development builds, before record extensions)",
    ),
];

/// What replaying a WAL found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records replayed.
    pub records: u64,
    /// Bytes of torn tail cut off the end of the file (0 after a clean shutdown).
    pub dropped_bytes: u64,
    /// Why the tail was cut, when it was.
    pub torn_tail: Option<&'static str>,
}

/// An open WAL, positioned for appending.
#[derive(Debug)]
pub(crate) struct Wal {
    path: PathBuf,
    file: File,
    /// Length of the file up to the end of the last record known written.
    len: u64,
    /// Records were handed to the OS since the last fdatasync.
    unsynced: bool,
    /// Set after a failure that leaves the file's state unknown; every later write fails.
    poisoned: Option<String>,
    /// Opened for inspection: nothing is repaired or written.
    read_only: bool,
    /// Reused frame buffer, so an append allocates only when a record outgrows it.
    frame: Vec<u8>,
    faults: Option<Arc<WalFaults>>,
}

impl Wal {
    /// Opens (creating if needed) the WAL at `path`, handing every record's payload to `apply`
    /// in order. A torn tail is cut and counted in the report; other damage is an error and
    /// nothing is truncated. The caller holds the store's lock. `read_only`: the file must
    /// exist, and a torn tail is reported but not cut.
    pub fn open(
        path: &Path,
        read_only: bool,
        faults: Option<Arc<WalFaults>>,
        apply: impl FnMut(&[u8]) -> Result<(), DecodeError>,
    ) -> Result<(Wal, ReplayReport), StoreError> {
        let io_err = |action: &'static str| {
            move |source: io::Error| StoreError::Io {
                path: path.to_path_buf(),
                action,
                source,
            }
        };
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(!read_only)
            .create(!read_only)
            .open(path)
            .map_err(io_err("open"))?;
        let file_len = file.metadata().map_err(io_err("stat"))?.len();
        let mut wal = Wal {
            path: path.to_path_buf(),
            file,
            len: 0,
            unsynced: false,
            poisoned: None,
            read_only,
            frame: Vec::new(),
            faults,
        };
        let mut report = ReplayReport::default();

        let mut head = Vec::with_capacity(MAGIC.len());
        (&wal.file)
            .take(MAGIC.len() as u64)
            .read_to_end(&mut head)
            .map_err(io_err("read"))?;
        if head.len() < MAGIC.len() {
            // Empty, or a crash while the magic was being written.
            if !MAGIC.starts_with(&head) {
                return Err(wal.corrupt(0, "not a softadastra-sync WAL (bad magic)".into()));
            }
            report.dropped_bytes = file_len;
            if file_len > 0 {
                report.torn_tail = Some("incomplete file header");
            }
            if read_only {
                return Ok((wal, report));
            }
            wal.file.set_len(0).map_err(io_err("truncate"))?;
            io::Write::write_all(&mut wal.file, MAGIC).map_err(io_err("write"))?;
            wal.file.sync_all().map_err(io_err("sync"))?;
            if !existed {
                sync_parent_dir(path).map_err(io_err("sync directory"))?;
            }
            wal.len = MAGIC.len() as u64;
            return Ok((wal, report));
        }
        if head != MAGIC {
            let reason = match OLD_MAGICS
                .iter()
                .find(|(magic, _)| head == magic.as_slice())
            {
                Some((_, format)) => format!(
                    "a WAL in {format}, which this version does not read (it reads format 3)"
                ),
                None => "not a softadastra-sync WAL (bad magic)".into(),
            };
            return Err(wal.corrupt(0, reason));
        }

        let replayed = recovery::replay(&wal.file, path, MAGIC.len() as u64, file_len, apply)?;
        report.records = replayed.records;
        if let Some(why) = replayed.torn_tail {
            if !read_only {
                wal.file
                    .set_len(replayed.end)
                    .map_err(io_err("truncate torn tail"))?;
                wal.file.sync_all().map_err(io_err("sync"))?;
            }
            report.torn_tail = Some(why);
            report.dropped_bytes = file_len - replayed.end;
        }
        wal.len = replayed.end;
        Ok((wal, report))
    }

    fn corrupt(&self, offset: u64, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            offset,
            reason,
        }
    }

    fn check_usable(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        match &self.poisoned {
            Some(reason) => Err(StoreError::Poisoned {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Appends one record whose payload `encode` writes. With `sync`, returns only once the
    /// record is on stable storage. On failure the file is cut back to its previous length, so
    /// the log never keeps half a record; if even that fails, the WAL refuses further writes.
    pub fn append(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>),
        sync: bool,
    ) -> Result<(), StoreError> {
        self.check_usable()?;
        self.frame.clear();
        self.frame.extend_from_slice(&[0u8; HEADER_BYTES as usize]);
        encode(&mut self.frame);
        let payload = self.frame.len() as u64 - HEADER_BYTES;
        if payload > MAX_PAYLOAD_BYTES {
            // Only a batch of writes can grow this large; recovery would refuse such a frame.
            self.frame = Vec::new();
            return Err(StoreError::InvalidValue(format!(
                "a WAL record of {payload} bytes exceeds the limit of {MAX_PAYLOAD_BYTES} \
                 bytes; split the batch"
            )));
        }
        frame::seal(&mut self.frame, self.len);

        if let Err(source) = self.write_frame() {
            self.roll_back("write failed");
            return Err(StoreError::Io {
                path: self.path.clone(),
                action: "append",
                source,
            });
        }
        self.unsynced = true;
        if sync {
            self.sync()?;
        }
        self.len += self.frame.len() as u64;
        // Do not keep a 64 MiB buffer alive because one large value passed through.
        if self.frame.capacity() > 1 << 20 {
            self.frame = Vec::new();
        }
        Ok(())
    }

    fn write_frame(&mut self) -> io::Result<()> {
        if let Some(faults) = &self.faults {
            if let WritePermit::Partial(n, error) = faults.before_write(self.frame.len()) {
                io::Write::write_all(&mut self.file, &self.frame[..n])?;
                return Err(error);
            }
        }
        io::Write::write_all(&mut self.file, &self.frame)
    }

    fn sync_file(&self) -> io::Result<()> {
        if let Some(faults) = &self.faults {
            faults.before_sync()?;
        }
        self.file.sync_data()
    }

    /// Makes every record appended so far durable (no-op when nothing is pending).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        if !self.unsynced {
            return Ok(());
        }
        if let Err(source) = self.sync_file() {
            // After a failed fsync the kernel may have dropped the dirty pages: the file's
            // content is unknown, so no later write may build on it.
            self.roll_back("fdatasync failed");
            self.poisoned = Some(format!("fdatasync failed: {source}"));
            return Err(StoreError::Io {
                path: self.path.clone(),
                action: "fdatasync",
                source,
            });
        }
        self.unsynced = false;
        Ok(())
    }

    fn roll_back(&mut self, why: &str) {
        if let Err(e) = self.file.set_len(self.len) {
            self.poisoned = Some(format!("{why}, then truncating back failed: {e}"));
        }
    }
}
