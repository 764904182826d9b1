//! A persisted high-water mark that only moves up while the store is open: `<wal>.seq`.
//!
//! The layer that owns the store reserves numbers here before it issues them, so
//! that no recovery of the WAL, not even one that cuts records off, can make it issue a number
//! twice. The store does not interpret the number.
//!
//! Layout: two 32-byte slots, written alternately, so that a write torn by a crash leaves the
//! other slot (the previous mark) intact. A slot is `magic "SASYSEQ1"` · `u64 generation` ·
//! `u64 mark` · `u32 CRC-32 of the first 24 bytes` · `u32 zero`, little-endian. The valid slot
//! with the highest generation holds the mark. Every write is fdatasync'ed before it returns.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::files::{sibling, sync_parent_dir, SEQUENCE_SUFFIX};

const MAGIC: &[u8; 8] = b"SASYSEQ1";
const SLOT_BYTES: usize = 32;

/// The open `<wal>.seq` file.
#[derive(Debug)]
pub(crate) struct SequenceFile {
    path: PathBuf,
    /// `None` when opened read-only.
    file: Option<File>,
    generation: u64,
    mark: u64,
}

impl SequenceFile {
    /// Opens (creating if needed, unless `read_only`) the sequence file of the WAL at `wal`.
    /// Read-only, a missing file reads as mark 0.
    pub fn open(wal: &Path, read_only: bool) -> Result<SequenceFile, StoreError> {
        let path = sibling(wal, SEQUENCE_SUFFIX);
        let io_err = |action: &'static str| {
            let path = path.clone();
            move |source: io::Error| StoreError::Io {
                path,
                action,
                source,
            }
        };
        let existed = path.exists();
        if read_only && !existed {
            return Ok(SequenceFile {
                path,
                file: None,
                generation: 0,
                mark: 0,
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .create(!read_only)
            .truncate(false)
            .open(&path)
            .map_err(io_err("open"))?;
        if !existed {
            sync_parent_dir(&path).map_err(io_err("sync directory"))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err("read"))?;
        let (generation, mark) = parse(&bytes).map_err(|reason| StoreError::Corrupt {
            path: path.clone(),
            offset: 0,
            reason,
        })?;
        Ok(SequenceFile {
            path,
            file: (!read_only).then_some(file),
            generation,
            mark,
        })
    }

    /// The current mark (0 when nothing was ever reserved).
    pub fn mark(&self) -> u64 {
        self.mark
    }

    /// Sets the mark to `mark` and returns once it is on stable storage. On error the previous
    /// mark still stands (on disk and here).
    pub fn store(&mut self, mark: u64) -> Result<(), StoreError> {
        let generation = self.generation + 1;
        let slot = encode_slot(generation, mark);
        let at = ((generation - 1) % 2) * SLOT_BYTES as u64;
        let Some(file) = &self.file else {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        };
        file.write_all_at(&slot, at)
            .and_then(|()| file.sync_data())
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                action: "write sequence mark",
                source,
            })?;
        self.generation = generation;
        self.mark = mark;
        Ok(())
    }
}

fn encode_slot(generation: u64, mark: u64) -> [u8; SLOT_BYTES] {
    let mut slot = [0u8; SLOT_BYTES];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..16].copy_from_slice(&generation.to_le_bytes());
    slot[16..24].copy_from_slice(&mark.to_le_bytes());
    let crc = crc32fast::hash(&slot[..24]);
    slot[24..28].copy_from_slice(&crc.to_le_bytes());
    slot
}

fn decode_slot(slot: &[u8]) -> Option<(u64, u64)> {
    if slot.len() < SLOT_BYTES || &slot[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(slot[24..28].try_into().ok()?);
    if crc32fast::hash(&slot[..24]) != crc {
        return None;
    }
    let generation = u64::from_le_bytes(slot[8..16].try_into().ok()?);
    let mark = u64::from_le_bytes(slot[16..24].try_into().ok()?);
    Some((generation, mark))
}

/// The (generation, mark) the file's bytes hold.
fn parse(bytes: &[u8]) -> Result<(u64, u64), String> {
    let first = decode_slot(bytes);
    let second = bytes.get(SLOT_BYTES..).and_then(decode_slot);
    match (first, second) {
        (Some(a), Some(b)) => Ok(a.max(b)),
        (Some(one), None) | (None, Some(one)) => Ok(one),
        // The second slot is written only after the first one was complete, so a file with
        // neither valid slot and no room for a second one is a first write torn by a crash:
        // nothing was reserved yet.
        (None, None) if bytes.len() <= SLOT_BYTES => Ok((0, 0)),
        (None, None) => Err("both sequence-mark slots are damaged".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_survives_reopen_and_a_torn_write_keeps_the_previous_mark() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("n.wal");
        let mut seq = SequenceFile::open(&wal, false).unwrap();
        assert_eq!(seq.mark(), 0);
        seq.store(4096).unwrap();
        seq.store(8192).unwrap();
        drop(seq);
        assert_eq!(SequenceFile::open(&wal, false).unwrap().mark(), 8192);
        // Tear the newest slot (the second one): the first one's mark stands.
        let path = dir.path().join("n.wal.seq");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SLOT_BYTES + 20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(SequenceFile::open(&wal, false).unwrap().mark(), 4096);
    }

    #[test]
    fn a_torn_first_write_means_nothing_reserved_but_two_damaged_slots_are_corrupt() {
        assert_eq!(parse(&[]), Ok((0, 0)));
        assert_eq!(parse(&[7u8; 20]), Ok((0, 0)));
        let mut two = encode_slot(1, 10).to_vec();
        two.extend_from_slice(&encode_slot(2, 20));
        assert_eq!(parse(&two), Ok((2, 20)));
        two[3] ^= 1;
        two[SLOT_BYTES + 3] ^= 1;
        assert!(parse(&two).is_err());
    }
}
