//! The write-ahead log: segment files, appending, syncing, rotation and failure handling.
//!
//! A segment file starts with a 24-byte header: the magic `SASYWAL3` (the `3` is the format
//! version), the segment's number (`u64`), a CRC-32 of those 16 bytes and 4 zero bytes; then
//! frames (see `frame.rs`). The active segment is the WAL path itself; compaction renames it
//! to `<wal>.closed` and puts a fresh segment, numbered one higher, in its place (see
//! `compaction.rs`). The WAL never interprets payloads (see `record.rs`); what replay does with
//! damage is decided in `recovery.rs`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::StoreError;
use super::faults::{CompactionStep, WalFaults, WritePermit};
use super::files::sync_parent_dir;
use super::frame::{self, HEADER_BYTES, MAX_PAYLOAD_BYTES};
use super::recovery;
use crate::binary::DecodeError;

const MAGIC: &[u8; 8] = b"SASYWAL3";
/// Magic, segment number, CRC, zero.
pub(crate) const FILE_HEADER_BYTES: u64 = 24;
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

impl ReplayReport {
    /// Adds what replaying another file found.
    pub(crate) fn add(&mut self, other: ReplayReport) {
        self.records += other.records;
        self.dropped_bytes += other.dropped_bytes;
        self.torn_tail = self.torn_tail.or(other.torn_tail);
    }
}

fn header_bytes(segment: u64) -> [u8; FILE_HEADER_BYTES as usize] {
    let mut header = [0u8; FILE_HEADER_BYTES as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&segment.to_le_bytes());
    let crc = crc32fast::hash(&header[..16]);
    header[16..20].copy_from_slice(&crc.to_le_bytes());
    header
}

/// What a segment file's first bytes say.
enum Head {
    /// Fewer bytes than a header, all matching one being written: a crash while creating.
    Incomplete,
    Valid(u64),
    Invalid(String),
}

fn parse_head(head: &[u8]) -> Head {
    if head.len() < FILE_HEADER_BYTES as usize {
        let written = &head[..head.len().min(MAGIC.len())];
        return if MAGIC.starts_with(written) {
            Head::Incomplete
        } else {
            parse_magic(head)
        };
    }
    if &head[..8] != MAGIC {
        return parse_magic(head);
    }
    let crc = u32::from_le_bytes(head[16..20].try_into().expect("4 bytes"));
    if crc != crc32fast::hash(&head[..16]) || head[20..24] != [0; 4] {
        return Head::Invalid("damaged segment header".into());
    }
    Head::Valid(u64::from_le_bytes(head[8..16].try_into().expect("8 bytes")))
}

fn parse_magic(head: &[u8]) -> Head {
    let found = OLD_MAGICS
        .iter()
        .find(|(magic, _)| head.len() >= 8 && &head[..8] == magic.as_slice());
    Head::Invalid(match found {
        Some((_, format)) => {
            format!("a WAL in {format}, which this version does not read (it reads format 3)")
        }
        None => "not a softadastra-sync WAL (bad magic)".into(),
    })
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn corrupt(path: &Path, offset: u64, reason: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    }
}

/// Creates the segment file `path` numbered `segment`, on stable storage (file and directory
/// entry) before returning. An existing file is replaced.
pub(crate) fn create_segment(
    path: &Path,
    segment: u64,
    faults: Option<&WalFaults>,
) -> Result<File, StoreError> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err(path, "create"))?;
    file.set_len(0).map_err(io_err(path, "truncate"))?;
    let header = header_bytes(segment);
    if let Some(faults) = faults {
        if let WritePermit::Partial(n, error) = faults.before_write(header.len()) {
            let _ = io::Write::write_all(&mut file, &header[..n]);
            return Err(io_err(path, "write")(error));
        }
    }
    io::Write::write_all(&mut file, &header).map_err(io_err(path, "write"))?;
    if let Some(faults) = faults {
        faults.before_sync().map_err(io_err(path, "fdatasync"))?;
    }
    file.sync_all().map_err(io_err(path, "sync"))?;
    sync_parent_dir(path).map_err(io_err(path, "sync directory"))?;
    Ok(file)
}

/// Replays the closed segment at `path` without changing it: its number and what replay
/// found. A torn tail (a power cut before the segment reached stable storage in fast mode) is
/// left in place and reported; other damage is corruption.
pub(crate) fn replay_closed(
    path: &Path,
    apply: impl FnMut(&[u8]) -> Result<(), DecodeError>,
) -> Result<(u64, ReplayReport), StoreError> {
    let file = File::open(path).map_err(io_err(path, "open"))?;
    let file_len = file.metadata().map_err(io_err(path, "stat"))?.len();
    let mut head = Vec::with_capacity(FILE_HEADER_BYTES as usize);
    (&file)
        .take(FILE_HEADER_BYTES)
        .read_to_end(&mut head)
        .map_err(io_err(path, "read"))?;
    let segment = match parse_head(&head) {
        Head::Valid(segment) => segment,
        Head::Incomplete => {
            return Err(corrupt(path, 0, "a closed segment without a header".into()))
        }
        Head::Invalid(reason) => return Err(corrupt(path, 0, reason)),
    };
    let replayed = recovery::replay(&file, path, FILE_HEADER_BYTES, file_len, apply)?;
    let report = ReplayReport {
        records: replayed.records,
        dropped_bytes: file_len - replayed.end,
        torn_tail: replayed.torn_tail,
    };
    Ok((segment, report))
}

/// Reads only the number of the segment at `path`.
pub(crate) fn segment_number(path: &Path) -> Result<u64, StoreError> {
    let file = File::open(path).map_err(io_err(path, "open"))?;
    let mut head = Vec::with_capacity(FILE_HEADER_BYTES as usize);
    file.take(FILE_HEADER_BYTES)
        .read_to_end(&mut head)
        .map_err(io_err(path, "read"))?;
    match parse_head(&head) {
        Head::Valid(segment) => Ok(segment),
        Head::Incomplete => Err(corrupt(path, 0, "a segment without a header".into())),
        Head::Invalid(reason) => Err(corrupt(path, 0, reason)),
    }
}

/// An open WAL, positioned for appending to its active segment.
#[derive(Debug)]
pub(crate) struct Wal {
    path: PathBuf,
    file: File,
    /// The active segment's number.
    segment: u64,
    /// Length of the file up to the end of the last record known written.
    len: u64,
    /// Records were handed to the OS since the last fdatasync.
    unsynced: bool,
    /// The previous segment, rotated out before its last records were synced: the next sync
    /// covers it too.
    retired: Option<File>,
    /// Set after a failure that leaves the file's state unknown; every later write fails.
    poisoned: Option<String>,
    /// Opened for inspection: nothing is repaired or written.
    read_only: bool,
    /// Reused frame buffer, so an append allocates only when a record outgrows it.
    frame: Vec<u8>,
    faults: Option<Arc<WalFaults>>,
}

impl Wal {
    /// Opens the active segment at `path`, creating it numbered `new_segment` if it does not
    /// exist (or holds only part of a header: a crash while creating), and hands every
    /// record's payload to `apply` in order. A torn tail is cut and counted in the report;
    /// other damage is an error and nothing is truncated. The caller holds the store's lock.
    /// `read_only`: the file must exist, and a torn tail is reported but not cut.
    pub fn open(
        path: &Path,
        read_only: bool,
        faults: Option<Arc<WalFaults>>,
        new_segment: u64,
        apply: impl FnMut(&[u8]) -> Result<(), DecodeError>,
    ) -> Result<(Wal, ReplayReport), StoreError> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .append(!read_only)
            .create(!read_only)
            .open(path)
            .map_err(io_err(path, "open"))?;
        let file_len = file.metadata().map_err(io_err(path, "stat"))?.len();
        let mut wal = Wal {
            path: path.to_path_buf(),
            file,
            segment: new_segment,
            len: 0,
            unsynced: false,
            retired: None,
            poisoned: None,
            read_only,
            frame: Vec::new(),
            faults,
        };
        let mut report = ReplayReport::default();

        let mut head = Vec::with_capacity(FILE_HEADER_BYTES as usize);
        (&wal.file)
            .take(FILE_HEADER_BYTES)
            .read_to_end(&mut head)
            .map_err(io_err(path, "read"))?;
        match parse_head(&head) {
            Head::Valid(segment) => wal.segment = segment,
            Head::Invalid(reason) => return Err(corrupt(path, 0, reason)),
            Head::Incomplete => {
                report.dropped_bytes = file_len;
                if file_len > 0 {
                    report.torn_tail = Some("incomplete file header");
                }
                if read_only {
                    return Ok((wal, report));
                }
                wal.file.set_len(0).map_err(io_err(path, "truncate"))?;
                io::Write::write_all(&mut wal.file, &header_bytes(new_segment))
                    .map_err(io_err(path, "write"))?;
                wal.file.sync_all().map_err(io_err(path, "sync"))?;
                if !existed {
                    sync_parent_dir(path).map_err(io_err(path, "sync directory"))?;
                }
                wal.len = FILE_HEADER_BYTES;
                return Ok((wal, report));
            }
        }

        let replayed = recovery::replay(&wal.file, path, FILE_HEADER_BYTES, file_len, apply)?;
        report.records = replayed.records;
        if let Some(why) = replayed.torn_tail {
            if !read_only {
                wal.file
                    .set_len(replayed.end)
                    .map_err(io_err(path, "truncate torn tail"))?;
                wal.file.sync_all().map_err(io_err(path, "sync"))?;
            }
            report.torn_tail = Some(why);
            report.dropped_bytes = file_len - replayed.end;
        }
        wal.len = replayed.end;
        Ok((wal, report))
    }

    /// The active segment's number.
    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// Bytes in the active segment.
    pub fn len(&self) -> u64 {
        self.len
    }

    fn crashes_at(&self, step: CompactionStep) -> bool {
        self.faults.as_ref().is_some_and(|f| f.crashes_at(step))
    }

    /// Closes the WAL to every write, as a process that crashed would be; returns the error
    /// the crashed step reports.
    pub fn simulated_crash(&mut self) -> StoreError {
        self.poisoned = Some("a crash was simulated (WalFaults::crash_compaction_at)".into());
        StoreError::Io {
            path: self.path.clone(),
            action: "compact",
            source: io::Error::other("injected crash"),
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn faults(&self) -> Option<&Arc<WalFaults>> {
        self.faults.as_ref()
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

    /// Makes `next` (made by [`create_segment`] at `next_path`, numbered one higher) the
    /// active segment, and the current one the closed segment at `closed_path`. The directory
    /// is synced between the two renames, so after a crash the old segment is either still the
    /// WAL or at `closed_path`, never lost. On error nothing changed.
    pub fn rotate(
        &mut self,
        closed_path: &Path,
        next_path: &Path,
        next: File,
    ) -> Result<(), StoreError> {
        self.check_usable()?;
        fs::rename(&self.path, closed_path).map_err(io_err(&self.path, "rename"))?;
        let synced = sync_parent_dir(&self.path).map_err(io_err(&self.path, "sync directory"));
        if synced.is_ok() && self.crashes_at(CompactionStep::ClosedRenamed) {
            return Err(self.simulated_crash());
        }
        let installed = synced
            .and_then(|()| fs::rename(next_path, &self.path).map_err(io_err(next_path, "rename")));
        if let Err(e) = installed {
            // Put the segment back; if even that fails, no later write may land in a file
            // that is no longer the WAL.
            if let Err(back) = fs::rename(closed_path, &self.path) {
                self.poisoned = Some(format!("rotation failed ({e}), then renaming back: {back}"));
            }
            return Err(e);
        }
        let previous = std::mem::replace(&mut self.file, next);
        if self.unsynced {
            self.retired = Some(previous);
        }
        self.unsynced = false;
        self.segment += 1;
        self.len = FILE_HEADER_BYTES;
        Ok(())
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

    fn sync_file(&self, file: &File) -> io::Result<()> {
        if let Some(faults) = &self.faults {
            faults.before_sync()?;
        }
        file.sync_data()
    }

    /// Makes every record appended so far durable (no-op when nothing is pending).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        if let Some(retired) = &self.retired {
            if let Err(source) = self.sync_file(retired) {
                self.poisoned = Some(format!(
                    "fdatasync of the previous segment failed: {source}"
                ));
                return Err(StoreError::Io {
                    path: self.path.clone(),
                    action: "fdatasync",
                    source,
                });
            }
            self.retired = None;
        }
        if !self.unsynced {
            return Ok(());
        }
        if let Err(source) = self.sync_file(&self.file) {
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
