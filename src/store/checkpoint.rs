//! The checkpoint file `<wal>.ckpt`: the store's live state and its owner's part of the log,
//! as of the end of segment `covers`. Reopening loads it, then replays only the segments after
//! it.
//!
//! Layout: the magic `SASYCKP1`, then frames exactly as in the WAL (`frame.rs`: checksummed at
//! their offset). Each frame's payload starts with its kind: a header (`covers`, the clock's
//! high-water stamp, the last store version), chunks of slots (key, version, stamp, writer, and
//! the value or a tombstone mark), chunks of the owner's saved state, the owner's logged items
//! (each a WAL record payload), and an end frame with the counts. A checkpoint is written whole
//! to `<wal>.ckpt.tmp`, synced, and renamed into place, so any damage (a bad checksum, a
//! missing end, a count that does not match) is corruption: it is never loaded in part.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::entry::{Slot, WriteId};
use super::error::StoreError;
use super::extension::{Handover, Logged};
use super::faults::{WalFaults, WritePermit};
use super::files::sync_parent_dir;
use super::frame::{self, Header, HEADER_BYTES};
use super::key::Key;
use super::record::{self, Record, WriteRecord};
use super::table::Table;
use super::value::Value;
use crate::binary::{DecodeError, Reader, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;

const MAGIC: &[u8; 8] = b"SASYCKP1";
const HEADER: u8 = 1;
const SLOTS: u8 = 2;
const SAVED: u8 = 3;
const LOGGED: u8 = 4;
const END: u8 = 5;
/// Frames are cut at about this many payload bytes (a single larger slot gets its own frame).
const CHUNK_BYTES: usize = 1 << 20;

/// A checkpoint's content.
#[derive(Debug, Default)]
pub(crate) struct Checkpoint {
    /// The last segment whose records it includes.
    pub covers: u64,
    /// Every stamp the store had issued or observed is at most this.
    pub clock: Stamp,
    pub table: Table,
    pub owner: Handover,
}

/// What writing a checkpoint needs: borrowed, so the writer copies nothing (the table
/// mutably: listing it in key order may first merge its newest keys).
pub(crate) struct CheckpointRef<'a> {
    pub covers: u64,
    pub clock: Stamp,
    pub table: &'a mut Table,
    pub owner: &'a Handover,
}

/// Frames written to a file, sealed at their offsets.
struct FrameWriter<'a> {
    out: BufWriter<File>,
    offset: u64,
    frame: Vec<u8>,
    faults: Option<&'a WalFaults>,
}

impl FrameWriter<'_> {
    /// Starts a frame of `kind`; its payload is appended to `self.frame` until `finish`.
    fn start(&mut self, kind: u8) {
        self.frame.clear();
        self.frame.extend_from_slice(&[0u8; HEADER_BYTES as usize]);
        self.frame.push(kind);
    }

    fn payload(&self) -> usize {
        self.frame.len() - HEADER_BYTES as usize
    }

    fn finish(&mut self) -> io::Result<()> {
        frame::seal(&mut self.frame, self.offset);
        self.write(&self.frame.clone())?;
        self.offset += self.frame.len() as u64;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(faults) = self.faults {
            if let WritePermit::Partial(n, error) = faults.before_write(bytes.len()) {
                self.out.write_all(&bytes[..n])?;
                return Err(error);
            }
        }
        self.out.write_all(bytes)
    }
}

/// Writes `checkpoint` to `tmp`, syncs it, renames it to `path` and syncs the directory;
/// returns its size. `before_rename` may stop it there (a simulated crash: `tmp` stays). On
/// error `path` is untouched and `tmp` removed.
pub(crate) fn write(
    path: &Path,
    tmp: &Path,
    before_rename: impl FnOnce() -> Result<(), StoreError>,
    mut checkpoint: CheckpointRef<'_>,
    faults: Option<&WalFaults>,
) -> Result<u64, StoreError> {
    let io_error = |source| {
        let _ = fs::remove_file(tmp);
        StoreError::Io {
            path: path.to_path_buf(),
            action: "write checkpoint",
            source,
        }
    };
    let size = write_tmp(tmp, &mut checkpoint, faults).map_err(io_error)?;
    before_rename()?;
    fs::rename(tmp, path)
        .and_then(|()| sync_parent_dir(path))
        .map_err(io_error)?;
    Ok(size)
}

fn write_tmp(
    tmp: &Path,
    checkpoint: &mut CheckpointRef<'_>,
    faults: Option<&WalFaults>,
) -> io::Result<u64> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)?;
    let mut w = FrameWriter {
        out: BufWriter::with_capacity(CHUNK_BYTES, file),
        offset: MAGIC.len() as u64,
        frame: Vec::with_capacity(CHUNK_BYTES + 4096),
        faults,
    };
    w.write(MAGIC)?;
    w.start(HEADER);
    let mut header = Writer::new(&mut w.frame);
    header.u64(checkpoint.covers);
    header.u64(checkpoint.clock.raw());
    header.u64(checkpoint.table.last_version());
    header.u64(checkpoint.table.len() as u64);
    w.finish()?;

    let mut slots = 0u64;
    w.start(SLOTS);
    for (key, slot) in checkpoint.table.slots() {
        encode_slot(&mut w.frame, key, slot);
        slots += 1;
        if w.payload() >= CHUNK_BYTES {
            w.finish()?;
            w.start(SLOTS);
        }
    }
    if w.payload() > 1 {
        w.finish()?;
    }
    if let Some(saved) = &checkpoint.owner.saved {
        for chunk in saved.chunks(CHUNK_BYTES) {
            w.start(SAVED);
            w.frame.extend_from_slice(chunk);
            w.finish()?;
        }
    }
    for item in &checkpoint.owner.logged {
        w.start(LOGGED);
        match item {
            Logged::Write {
                op,
                writer,
                extension,
            } => record::encode_write(
                &mut w.frame,
                &WriteRecord {
                    op: op.clone(),
                    writer: writer.clone(),
                    extension: extension.clone(),
                },
            ),
            Logged::Note(note) => record::encode_note(&mut w.frame, note),
        }
        w.finish()?;
    }
    w.start(END);
    let mut end = Writer::new(&mut w.frame);
    end.u64(slots);
    match &checkpoint.owner.saved {
        Some(saved) => {
            end.u8(1);
            end.u64(saved.len() as u64);
        }
        None => end.u8(0),
    }
    end.u64(checkpoint.owner.logged.len() as u64);
    w.finish()?;

    let file = w.out.into_inner().map_err(|e| e.into_error())?;
    if let Some(faults) = faults {
        faults.before_sync()?;
    }
    file.sync_all()?;
    Ok(w.offset)
}

fn encode_slot(out: &mut Vec<u8>, key: &Key, slot: &Slot) {
    let mut w = Writer::new(out);
    w.str(key.as_str());
    w.u64(slot.version);
    w.u64(slot.write.stamp.raw());
    NodeId::write_optional(&mut w, slot.write.origin.as_ref());
    match &slot.value {
        Some(value) => {
            w.u8(1);
            w.bytes(value.as_bytes());
        }
        None => w.u8(0),
    }
}

fn decode_slot(r: &mut Reader<'_>) -> Result<(Key, Slot), DecodeError> {
    let key = Key::new(r.str("key")?).map_err(|e| DecodeError(e.to_string()))?;
    let version = r.u64("version")?;
    let stamp = Stamp::from_raw(r.u64("stamp")?);
    let origin = NodeId::read_optional(r, "writer")?;
    let value = match r.u8("value flag")? {
        0 => None,
        1 => Some(Value::new(r.bytes("value")?).map_err(|e| DecodeError(e.to_string()))?),
        other => return Err(DecodeError(format!("bad value flag {other}"))),
    };
    let slot = Slot {
        value,
        version,
        write: WriteId { stamp, origin },
    };
    Ok((key, slot))
}

/// Reads the checkpoint at `path`; `None` when there is none. Any damage is
/// [`StoreError::Corrupt`] naming the offset.
pub(crate) fn read(path: &Path) -> Result<Option<Checkpoint>, StoreError> {
    // fs::read sizes the buffer from the file's length: one copy, not a doubling series.
    let bytes = match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => Err(e),
    }
    .map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        action: "read checkpoint",
        source,
    })?;
    parse(&bytes)
        .map(Some)
        .map_err(|(offset, reason)| StoreError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason: format!("checkpoint: {reason}"),
        })
}

/// Parses a whole checkpoint; an error carries the offset of the frame at fault.
fn parse(bytes: &[u8]) -> Result<Checkpoint, (u64, String)> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err((0, "bad magic".into()));
    }
    let mut checkpoint = Checkpoint::default();
    let mut saved: Option<Vec<u8>> = None;
    let mut table = Table::default();
    let mut slot_count = 0u64;
    let mut offset = MAGIC.len() as u64;
    let mut seen_header = false;
    loop {
        let at = offset;
        let fail = |reason: String| (at, reason);
        let payload = frame_at(bytes, offset).map_err(fail)?;
        offset += HEADER_BYTES + payload.len() as u64;
        let mut r = Reader::new(&payload[1..]);
        let decoded: Result<(), DecodeError> = (|| match payload[0] {
            HEADER if !seen_header => {
                seen_header = true;
                checkpoint.covers = r.u64("covered segment")?;
                checkpoint.clock = Stamp::from_raw(r.u64("clock")?);
                let last_version = r.u64("last version")?;
                // Sized once (a forged count must not size an allocation: no slot takes
                // under 24 bytes).
                let count = r.u64("slot count")?;
                let capacity = count.min(bytes.len() as u64 / 24) as usize;
                table = Table::with_capacity(capacity, last_version);
                r.finish("header")
            }
            _ if !seen_header => Err(DecodeError("the first frame is not a header".into())),
            SLOTS => {
                while r.remaining() > 0 {
                    let (key, slot) = decode_slot(&mut r)?;
                    if let Some(twice) = table.insert(key, slot) {
                        return Err(DecodeError(format!(
                            "a key is listed twice (version {})",
                            twice.version
                        )));
                    }
                    slot_count += 1;
                }
                Ok(())
            }
            SAVED => {
                // Sized for the rest of the file at once: the saved state is most of it.
                let rest = bytes.len() - offset as usize;
                saved
                    .get_or_insert_with(|| Vec::with_capacity(rest))
                    .extend_from_slice(r.rest());
                Ok(())
            }
            LOGGED => {
                let item = match record::decode(r.rest())? {
                    Record::Write(write) => Logged::Write {
                        op: write.op,
                        writer: write.writer,
                        extension: write.extension,
                    },
                    Record::Note(note) => Logged::Note(note),
                    Record::Writes(_) => {
                        return Err(DecodeError("a batch record among logged items".into()))
                    }
                };
                checkpoint.owner.logged.push(item);
                Ok(())
            }
            END => {
                let want_slots = r.u64("slot count")?;
                let want_saved = match r.u8("saved flag")? {
                    0 => None,
                    _ => Some(r.u64("saved bytes")?),
                };
                let want_logged = r.u64("logged count")?;
                r.finish("end")?;
                let have_saved = saved.as_ref().map(|s| s.len() as u64);
                let logged = checkpoint.owner.logged.len() as u64;
                if (want_slots, want_saved, want_logged) != (slot_count, have_saved, logged) {
                    return Err(DecodeError(format!(
                        "counts do not match: {slot_count} slots, {have_saved:?} saved bytes and \
                             {logged} logged items read, the end frame says {want_slots}, \
                             {want_saved:?} and {want_logged}"
                    )));
                }
                checkpoint.table = std::mem::take(&mut table);
                Ok(())
            }
            other => Err(DecodeError(format!("unknown frame kind {other}"))),
        })();
        decoded.map_err(|e| fail(e.0))?;
        if payload[0] == END {
            if offset != bytes.len() as u64 {
                return Err((offset, "bytes after the end frame".into()));
            }
            checkpoint.owner.saved = saved;
            return Ok(checkpoint);
        }
    }
}

/// The payload of the frame at `offset`, checked.
fn frame_at(bytes: &[u8], offset: u64) -> Result<&[u8], String> {
    let start = offset as usize;
    let Some(head) = bytes.get(start..start + HEADER_BYTES as usize) else {
        return Err("the file ends before its end frame".into());
    };
    let header = Header::parse(head.try_into().expect("8 bytes"));
    if !header.plausible() {
        return Err(format!("impossible frame length {}", header.len));
    }
    let body = start + HEADER_BYTES as usize;
    let Some(payload) = bytes.get(body..body + header.len as usize) else {
        return Err("a frame runs past the end of the file".into());
    };
    if frame::checksum(offset, payload) != header.checksum {
        return Err("checksum mismatch".into());
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::operation::Operation;

    fn sample() -> (Table, Handover) {
        let mut table = Table::default();
        let node = NodeId::new("node-a").unwrap();
        for i in 0..50 {
            let op = Operation::put(
                Key::new(&format!("k{i}")).unwrap(),
                Value::from_string("value").unwrap(),
            )
            .with_timestamp(Stamp::new(100 + i, 0));
            table.apply(&op, Some(node.clone()));
        }
        let gone = Operation::delete(Key::new("k3").unwrap()).with_timestamp(Stamp::new(999, 0));
        table.apply(&gone, None);
        let owner = Handover {
            saved: Some(vec![7; 3000]),
            logged: vec![
                Logged::Note(b"note".to_vec()),
                Logged::Write {
                    op: gone,
                    writer: Some(node),
                    extension: b"ext".to_vec(),
                },
            ],
        };
        (table, owner)
    }

    #[test]
    fn round_trips_and_refuses_every_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.wal.ckpt");
        let tmp = dir.path().join("s.wal.ckpt.tmp");
        let (mut table, owner) = sample();
        let reference = CheckpointRef {
            covers: 4,
            clock: Stamp::new(999, 3),
            table: &mut table,
            owner: &owner,
        };
        let size = write(&path, &tmp, || Ok(()), reference, None).unwrap();
        assert!(!tmp.exists());
        let back = read(&path).unwrap().unwrap();
        assert_eq!(back.covers, 4);
        assert_eq!(back.clock, Stamp::new(999, 3));
        assert_eq!(back.table.live(), 49);
        assert_eq!(back.table.tombstones(), 1);
        assert_eq!(back.table.last_version(), 51);
        assert_eq!(back.owner.saved, owner.saved);
        assert_eq!(back.owner.logged.len(), 2);
        let key = Key::new("k7").unwrap();
        assert_eq!(back.table.entry(&key), table.entry(&key));

        let good = fs::read(&path).unwrap();
        assert_eq!(good.len() as u64, size);
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            fs::write(&path, &bad).unwrap();
            let err = read(&path).unwrap_err();
            assert!(
                matches!(err, StoreError::Corrupt { .. }),
                "byte {at}: {err}"
            );
        }
        for cut in 0..good.len() {
            fs::write(&path, &good[..cut]).unwrap();
            assert!(read(&path).is_err(), "cut at {cut}");
        }
        fs::remove_file(&path).unwrap();
        assert!(read(&path).unwrap().is_none());
    }
}
