//! The write-ahead log file: framing, replay, torn-tail repair, and failure handling.
//!
//! Layout: an 8-byte magic, then records. A record is `u32 payload length` · `u32 CRC-32 of the
//! payload` · payload, little-endian. The WAL never interprets payloads (see `record.rs`).
//!
//! What a crash can leave is a torn tail: the last record cut short, or its bytes not all
//! written (garbage or zeros at the end of the file). That is cut back to the last good record
//! and reported. Damage followed by more data is not a torn tail; it is reported as corruption
//! and nothing is truncated, so good records after the damage are never silently thrown away.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::StoreError;
use super::faults::{WalFaults, WritePermit};
use super::key::MAX_KEY_BYTES;
use super::value::MAX_VALUE_BYTES;
use crate::binary::DecodeError;

const MAGIC: &[u8; 8] = b"SASYWAL1";
const FRAME_HEADER_BYTES: u64 = 8;
/// No valid record is larger: a key, a value and a few kilobytes of metadata.
const MAX_RECORD_BYTES: u64 = (MAX_VALUE_BYTES + MAX_KEY_BYTES + 4096) as u64;

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
    /// Reused frame buffer, so an append allocates only when a record outgrows it.
    frame: Vec<u8>,
    faults: Option<Arc<WalFaults>>,
}

enum Damage {
    /// A crash artefact at the end of the file: safe to cut.
    TornTail(&'static str),
    /// Anything else: refuse to open.
    Corrupt(String),
}

impl Wal {
    /// Opens (creating if needed) the WAL at `path`, handing every record's payload to `apply`
    /// in order. A torn tail is cut and counted in the report.
    pub fn open(
        path: &Path,
        faults: Option<Arc<WalFaults>>,
        mut apply: impl FnMut(&[u8]) -> Result<(), DecodeError>,
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
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err("open"))?;
        let file_len = file.metadata().map_err(io_err("stat"))?.len();
        let mut wal = Wal {
            path: path.to_path_buf(),
            file,
            len: 0,
            unsynced: false,
            poisoned: None,
            frame: Vec::new(),
            faults,
        };
        let mut report = ReplayReport::default();

        if file_len < MAGIC.len() as u64 {
            // Empty, or a crash while the magic was being written.
            let mut head = Vec::new();
            (&wal.file).read_to_end(&mut head).map_err(io_err("read"))?;
            if !MAGIC.starts_with(&head) {
                return Err(wal.corrupt(0, "not a softadastra-sync WAL (bad magic)".into()));
            }
            wal.file.set_len(0).map_err(io_err("truncate"))?;
            io::Write::write_all(&mut wal.file, MAGIC).map_err(io_err("write"))?;
            wal.file.sync_all().map_err(io_err("sync"))?;
            if !existed {
                sync_parent_dir(path).map_err(io_err("sync directory"))?;
            }
            wal.len = MAGIC.len() as u64;
            report.dropped_bytes = file_len;
            if file_len > 0 {
                report.torn_tail = Some("incomplete file header");
            }
            return Ok((wal, report));
        }

        let mut reader = BufReader::with_capacity(1 << 20, &wal.file);
        let mut magic = [0u8; 8];
        reader.read_exact(&mut magic).map_err(io_err("read"))?;
        if &magic != MAGIC {
            return Err(wal.corrupt(0, "not a softadastra-sync WAL (bad magic)".into()));
        }

        let mut offset = MAGIC.len() as u64;
        let mut payload = Vec::new();
        let damage = loop {
            let remaining = file_len - offset;
            if remaining == 0 {
                break None;
            }
            if remaining < FRAME_HEADER_BYTES {
                break Some((offset, Damage::TornTail("incomplete record header")));
            }
            let mut header = [0u8; 8];
            reader.read_exact(&mut header).map_err(io_err("read"))?;
            let len = u64::from(u32::from_le_bytes([
                header[0], header[1], header[2], header[3],
            ]));
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            let end = offset + FRAME_HEADER_BYTES + len;
            if end > file_len {
                break Some((
                    offset,
                    Damage::TornTail("record runs past the end of the file"),
                ));
            }
            if len == 0 || len > MAX_RECORD_BYTES {
                break Some((
                    offset,
                    Damage::Corrupt(format!("impossible record length {len}")),
                ));
            }
            payload.resize(len as usize, 0);
            reader.read_exact(&mut payload).map_err(io_err("read"))?;
            if crc32fast::hash(&payload) != crc {
                break Some((
                    offset,
                    if end == file_len {
                        Damage::TornTail("checksum mismatch in the last record")
                    } else {
                        Damage::Corrupt("checksum mismatch".into())
                    },
                ));
            }
            if let Err(e) = apply(&payload) {
                break Some((offset, Damage::Corrupt(format!("undecodable record: {e}"))));
            }
            report.records += 1;
            offset = end;
        };
        drop(reader);

        match damage {
            None => {}
            Some((at, damage)) => {
                let why = match damage {
                    Damage::TornTail(why) => why,
                    // Zeros to the end of the file are space the filesystem allocated for a
                    // write that never landed: a torn tail too.
                    Damage::Corrupt(_) if wal.is_zero_from(at, file_len)? => "zero-filled tail",
                    Damage::Corrupt(reason) => return Err(wal.corrupt(at, reason)),
                };
                report.torn_tail = Some(why);
                wal.file.set_len(at).map_err(io_err("truncate torn tail"))?;
                wal.file.sync_all().map_err(io_err("sync"))?;
                report.dropped_bytes = file_len - at;
                offset = at;
            }
        }
        wal.len = offset;
        Ok((wal, report))
    }

    fn corrupt(&self, offset: u64, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            offset,
            reason,
        }
    }

    fn is_zero_from(&self, from: u64, to: u64) -> Result<bool, StoreError> {
        let mut reader = BufReader::new(&self.file);
        io::Seek::seek(&mut reader, io::SeekFrom::Start(from)).map_err(|source| {
            StoreError::Io {
                path: self.path.clone(),
                action: "seek",
                source,
            }
        })?;
        let mut rest = Vec::with_capacity((to - from).min(1 << 20) as usize);
        reader
            .take(to - from)
            .read_to_end(&mut rest)
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                action: "read",
                source,
            })?;
        Ok(rest.iter().all(|&b| b == 0))
    }

    fn check_usable(&self) -> Result<(), StoreError> {
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
        self.frame
            .extend_from_slice(&[0u8; FRAME_HEADER_BYTES as usize]);
        encode(&mut self.frame);
        let payload_len = self.frame.len() - FRAME_HEADER_BYTES as usize;
        debug_assert!(payload_len > 0 && payload_len as u64 <= MAX_RECORD_BYTES);
        let crc = crc32fast::hash(&self.frame[FRAME_HEADER_BYTES as usize..]);
        self.frame[0..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        self.frame[4..8].copy_from_slice(&crc.to_le_bytes());

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

fn sync_parent_dir(path: &Path) -> io::Result<()> {
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
