//! The checkpoint file `<wal>.ckpt`: the store's live state and its owner's part of the log,
//! as of the end of segment `covers`. Reopening loads it, then replays only the segments after
//! it.
//!
//! Layout (format 2): the magic `SASYCKP2`, then frames exactly as in the WAL (`frame.rs`:
//! checksummed at their offset). Each frame's payload starts with its kind: a header (`covers`,
//! the clock's high-water stamp, the last store version, the numbers of slots and of shared
//! writes, the size of the owner's saved state), chunks of slot records, chunks of the owner's
//! saved state, the owner's logged items (each a WAL record payload), and an end frame with the
//! counts. A slot record is a slot (key, version, stamp, writer, and the value or a tombstone
//! mark), a slot that is also the owner's next shared write, or a shared write that is not a
//! slot (key and value): the owner's shared writes come first, in its order, then the other
//! slots in key order, so each key and value is stored once and loading shares them between
//! the table and the owner without a lookup. A checkpoint is written whole to
//! `<wal>.ckpt.tmp`, synced, and renamed into place, so any damage (a bad checksum, a missing
//! end, a count that does not match, a key listed twice) is corruption: it is never loaded in
//! part. Format 1 (each pending operation's key and value stored twice) is refused by name.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
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

const MAGIC: &[u8; 8] = b"SASYCKP2";
/// Magics of checkpoint formats this version cannot read, with the format's name.
const OLD_MAGICS: [(&[u8; 8], &str); 1] = [(
    b"SASYCKP1",
    "format 1 (softadastra-sync 0.1 development builds, pending operations stored twice)",
)];
const HEADER: u8 = 1;
const SLOTS: u8 = 2;
const SAVED: u8 = 3;
const LOGGED: u8 = 4;
const END: u8 = 5;
/// Slot records.
const SLOT: u8 = 1;
/// A slot that is also the owner's next shared write.
const SHARED_SLOT: u8 = 2;
/// A shared write that is not the current state of its key.
const SHARED: u8 = 3;
/// Frames are cut at about this many payload bytes (a single larger slot gets its own frame).
const CHUNK_BYTES: usize = 1 << 20;
/// The fewest bytes a slot record and a shared write record take (a forged count must not size
/// an allocation beyond what the file could hold).
const MIN_SLOT_BYTES: u64 = 24;
const MIN_SHARED_BYTES: u64 = 7;

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

    /// Makes room in the current frame of `kind` for a record of about `bytes`: a frame is
    /// cut before it would pass [`CHUNK_BYTES`], so no frame exceeds the largest record plus
    /// a chunk's worth of small ones.
    fn room(&mut self, kind: u8, bytes: usize) -> io::Result<()> {
        if self.payload() > 1 && self.payload() + bytes > CHUNK_BYTES {
            self.finish()?;
            self.start(kind);
        }
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
    let owner = checkpoint.owner;
    w.write(MAGIC)?;
    w.start(HEADER);
    let mut header = Writer::new(&mut w.frame);
    header.u64(checkpoint.covers);
    header.u64(checkpoint.clock.raw());
    header.u64(checkpoint.table.last_version());
    header.u64(checkpoint.table.len() as u64);
    header.u64(owner.shared.len() as u64);
    write_saved_size(&mut header, owner.saved.as_deref());
    w.finish()?;

    // The owner's shared writes first, in its order, each as its key's slot when the slot
    // holds the same value; then every other slot, in key order.
    let mut slots = 0u64;
    let mut listed: HashSet<&str> = HashSet::with_capacity(owner.shared.len());
    w.start(SLOTS);
    for (key, value) in &owner.shared {
        let slot = checkpoint.table.slot(key).filter(|slot| {
            slot.value_bytes() == value.as_ref().map(Value::as_bytes)
                && !listed.contains(key.as_str())
        });
        w.room(
            SLOTS,
            record_bytes(key, value.as_ref().map(Value::as_bytes)),
        )?;
        match slot {
            Some(slot) => {
                w.frame.push(SHARED_SLOT);
                encode_slot(&mut w.frame, key, slot);
                listed.insert(key.as_str());
                slots += 1;
            }
            None => {
                w.frame.push(SHARED);
                let mut record = Writer::new(&mut w.frame);
                record.bytes(key.as_bytes());
                write_value(&mut record, value.as_ref().map(Value::as_bytes));
            }
        }
    }
    for (key, slot) in checkpoint.table.slots() {
        if listed.contains(key.as_str()) {
            continue;
        }
        w.room(SLOTS, record_bytes(key, slot.value_bytes()))?;
        w.frame.push(SLOT);
        encode_slot(&mut w.frame, key, slot);
        slots += 1;
    }
    if w.payload() > 1 {
        w.finish()?;
    }
    if let Some(saved) = &owner.saved {
        for chunk in saved.chunks(CHUNK_BYTES) {
            w.start(SAVED);
            w.frame.extend_from_slice(chunk);
            w.finish()?;
        }
    }
    for item in &owner.logged {
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
    end.u64(owner.shared.len() as u64);
    write_saved_size(&mut end, owner.saved.as_deref());
    end.u64(owner.logged.len() as u64);
    w.finish()?;

    let file = w.out.into_inner().map_err(|e| e.into_error())?;
    if let Some(faults) = faults {
        faults.before_sync()?;
    }
    file.sync_all()?;
    Ok(w.offset)
}

fn write_saved_size(w: &mut Writer<'_>, saved: Option<&[u8]>) {
    match saved {
        Some(saved) => {
            w.u8(1);
            w.u64(saved.len() as u64);
        }
        None => w.u8(0),
    }
}

fn read_saved_size(r: &mut Reader<'_>) -> Result<Option<u64>, DecodeError> {
    match r.u8("saved flag")? {
        0 => Ok(None),
        1 => r.u64("saved bytes").map(Some),
        other => Err(DecodeError(format!("bad saved flag {other}"))),
    }
}

/// About how many bytes a slot record takes.
fn record_bytes(key: &Key, value: Option<&[u8]>) -> usize {
    64 + key.as_bytes().len() + value.map_or(0, <[u8]>::len)
}

fn write_value(w: &mut Writer<'_>, value: Option<&[u8]>) {
    match value {
        Some(value) => {
            w.u8(1);
            w.bytes(value);
        }
        None => w.u8(0),
    }
}

/// Reads a value or its absence (after its key, `key`): the key, made with the value when there
/// is one (one allocation; see `Key::value`).
fn read_key_value(r: &mut Reader<'_>, key: &str) -> Result<Key, DecodeError> {
    let invalid = |e: super::error::StoreError| DecodeError(e.to_string());
    match r.u8("value flag")? {
        0 => Key::new(key).map_err(invalid),
        1 => Ok(Key::with_value(key, r.bytes("value")?).map_err(invalid)?.0),
        other => Err(DecodeError(format!("bad value flag {other}"))),
    }
}

fn encode_slot(out: &mut Vec<u8>, key: &Key, slot: &Slot) {
    let mut w = Writer::new(out);
    w.bytes(key.as_bytes());
    w.u64(slot.version);
    w.u64(slot.write.stamp.raw());
    NodeId::write_optional(&mut w, slot.write.origin.as_ref());
    write_value(&mut w, slot.value_bytes());
}

fn decode_slot(r: &mut Reader<'_>) -> Result<Slot, DecodeError> {
    let key = r.str("key")?;
    let version = r.u64("version")?;
    let stamp = Stamp::from_raw(r.u64("stamp")?);
    let origin = NodeId::read_optional(r, "writer")?;
    let key = read_key_value(r, key)?;
    Ok(Slot::holding(key, version, WriteId { stamp, origin }))
}

/// Reads the checkpoint at `path`; `None` when there is none. Any damage is
/// [`StoreError::Corrupt`] naming the offset.
pub(crate) fn read(path: &Path) -> Result<Option<Checkpoint>, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_path_buf(),
        action: "read checkpoint",
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(e)),
    };
    let len = file.metadata().map_err(io_error)?.len();
    let frames = Frames {
        file: &file,
        len,
        offset: 0,
        buf: Vec::new(),
    };
    match parse(frames) {
        Ok(checkpoint) => Ok(Some(checkpoint)),
        Err(Damage::Io(source)) => Err(io_error(source)),
        Err(Damage::Corrupt(offset, reason)) => Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason: format!("checkpoint: {reason}"),
        }),
    }
}

/// Why a checkpoint could not be read.
enum Damage {
    Io(io::Error),
    /// The offset of the frame at fault, and what is wrong.
    Corrupt(u64, String),
}

impl From<io::Error> for Damage {
    fn from(e: io::Error) -> Damage {
        Damage::Io(e)
    }
}

/// A checkpoint file read one frame at a time through one buffer: a reopen never holds the
/// whole file in memory, and the buffer it decodes from stays in the processor's caches.
struct Frames<'f> {
    file: &'f File,
    len: u64,
    /// Where the next frame starts.
    offset: u64,
    buf: Vec<u8>,
}

impl Frames<'_> {
    fn magic(&mut self) -> Result<(), Damage> {
        let mut magic = [0u8; 8];
        if self.len < MAGIC.len() as u64 {
            return Err(Damage::Corrupt(0, "bad magic".into()));
        }
        self.file.read_exact_at(&mut magic, 0)?;
        self.offset = MAGIC.len() as u64;
        if &magic == MAGIC {
            return Ok(());
        }
        let reason = match OLD_MAGICS.iter().find(|(old, _)| **old == magic) {
            Some((_, format)) => format!(
                "a checkpoint in {format}, which this version does not read (it reads format 2)"
            ),
            None => "bad magic".into(),
        };
        Err(Damage::Corrupt(0, reason))
    }

    /// The payload of the next frame, checked; the offset it starts at.
    fn next(&mut self) -> Result<(u64, &[u8]), Damage> {
        let at = self.offset;
        let corrupt = |reason: &str| Damage::Corrupt(at, reason.into());
        if self.len - at < HEADER_BYTES {
            return Err(corrupt("the file ends before its end frame"));
        }
        let mut head = [0u8; HEADER_BYTES as usize];
        self.file.read_exact_at(&mut head, at)?;
        let header = Header::parse(&head);
        if !header.plausible() {
            return Err(Damage::Corrupt(
                at,
                format!("impossible frame length {}", header.len),
            ));
        }
        if header.len > self.len - at - HEADER_BYTES {
            return Err(corrupt("a frame runs past the end of the file"));
        }
        self.buf.clear();
        self.buf.resize(header.len as usize, 0);
        self.file.read_exact_at(&mut self.buf, at + HEADER_BYTES)?;
        if frame::checksum(at, &self.buf) != header.checksum {
            return Err(corrupt("checksum mismatch"));
        }
        self.offset = at + HEADER_BYTES + header.len;
        Ok((at, &self.buf))
    }
}

/// What the header announces.
struct Announced {
    slots: u64,
    shared: u64,
    saved: Option<u64>,
}

/// Parses a whole checkpoint; an error carries the offset of the frame at fault.
fn parse(mut frames: Frames<'_>) -> Result<Checkpoint, Damage> {
    frames.magic()?;
    let mut checkpoint = Checkpoint::default();
    let mut saved: Option<Vec<u8>> = None;
    let mut slots: Vec<Slot> = Vec::new();
    let mut last_version = 0;
    let mut announced: Option<Announced> = None;
    let file_len = frames.len;
    loop {
        let (at, payload) = frames.next()?;
        let kind = payload[0];
        let mut r = Reader::new(&payload[1..]);
        let table = &mut checkpoint.table;
        let owner = &mut checkpoint.owner;
        let decoded: Result<(), DecodeError> = (|| match (kind, &announced) {
            (HEADER, None) => {
                checkpoint.covers = r.u64("covered segment")?;
                checkpoint.clock = Stamp::from_raw(r.u64("clock")?);
                last_version = r.u64("last version")?;
                let header = Announced {
                    slots: r.u64("slot count")?,
                    shared: r.u64("shared count")?,
                    saved: read_saved_size(&mut r)?,
                };
                r.finish("header")?;
                // Sized once, each within what the file can hold.
                slots.reserve(header.slots.min(file_len / MIN_SLOT_BYTES) as usize);
                owner
                    .shared
                    .reserve(header.shared.min(file_len / MIN_SHARED_BYTES) as usize);
                if let Some(bytes) = header.saved {
                    saved = Some(Vec::with_capacity(bytes.min(file_len) as usize));
                }
                announced = Some(header);
                Ok(())
            }
            (_, None) => Err(DecodeError("the first frame is not a header".into())),
            (SLOTS, Some(_)) => {
                while r.remaining() > 0 {
                    let form = r.u8("slot record")?;
                    let slot = match form {
                        SLOT | SHARED_SLOT => decode_slot(&mut r)?,
                        SHARED => {
                            let key = r.str("key")?;
                            let key = read_key_value(&mut r, key)?;
                            let value = key.value();
                            owner.shared.push((key, value));
                            continue;
                        }
                        other => return Err(DecodeError(format!("bad slot record {other}"))),
                    };
                    if form == SHARED_SLOT {
                        owner.shared.push((slot.key().clone(), slot.value()));
                    }
                    slots.push(slot);
                }
                Ok(())
            }
            (SAVED, Some(_)) => match &mut saved {
                Some(saved) => {
                    saved.extend_from_slice(r.rest());
                    Ok(())
                }
                None => Err(DecodeError(
                    "a saved state the header does not announce".into(),
                )),
            },
            (LOGGED, Some(_)) => {
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
                owner.logged.push(item);
                Ok(())
            }
            (END, Some(header)) => {
                let want_slots = r.u64("slot count")?;
                let want_shared = r.u64("shared count")?;
                let want_saved = read_saved_size(&mut r)?;
                let want_logged = r.u64("logged count")?;
                r.finish("end")?;
                let have = (
                    slots.len() as u64,
                    owner.shared.len() as u64,
                    saved.as_ref().map(|s| s.len() as u64),
                    owner.logged.len() as u64,
                );
                let want = (want_slots, want_shared, want_saved, want_logged);
                if have != want
                    || (header.slots, header.shared, header.saved) != (want.0, want.1, want.2)
                {
                    return Err(DecodeError(format!(
                        "counts do not match: {have:?} (slots, shared writes, saved bytes, \
                         logged items) read, the end frame says {want:?}"
                    )));
                }
                if saved.is_none() && !owner.shared.is_empty() {
                    return Err(DecodeError("shared writes without a saved state".into()));
                }
                *table = Table::load(std::mem::take(&mut slots), last_version).map_err(|key| {
                    DecodeError(format!("key {:?} is listed twice", key.as_str()))
                })?;
                Ok(())
            }
            (other, Some(_)) => Err(DecodeError(format!("unknown frame kind {other}"))),
        })();
        decoded.map_err(|e| Damage::Corrupt(at, e.0))?;
        if kind == END {
            if frames.offset != frames.len {
                return Err(Damage::Corrupt(
                    frames.offset,
                    "bytes after the end frame".into(),
                ));
            }
            checkpoint.owner.saved = saved;
            return Ok(checkpoint);
        }
    }
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
            // The slot of k7, a value no slot holds (k8 holds another), the tombstone of k3,
            // and k7 again (stored once as its slot, then on its own).
            shared: vec![
                (
                    Key::new("k7").unwrap(),
                    Some(Value::from_string("value").unwrap()),
                ),
                (
                    Key::new("k8").unwrap(),
                    Some(Value::from_string("older").unwrap()),
                ),
                (Key::new("k3").unwrap(), None),
                (
                    Key::new("k7").unwrap(),
                    Some(Value::from_string("value").unwrap()),
                ),
            ],
            logged: vec![
                Logged::Note(b"note".to_vec()),
                Logged::Write {
                    op: gone,
                    writer: Some(node),
                    extension: crate::small_bytes::SmallBytes::new(b"ext"),
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
        assert_eq!(back.owner.shared, owner.shared);
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

    #[test]
    fn shared_writes_are_stored_once_and_share_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.wal.ckpt");
        let tmp = dir.path().join("s.wal.ckpt.tmp");
        let (mut table, mut owner) = sample();
        let size_of = |table: &mut Table, owner: &Handover| {
            let reference = CheckpointRef {
                covers: 1,
                clock: Stamp::ZERO,
                table,
                owner,
            };
            write(&path, &tmp, || Ok(()), reference, None).unwrap()
        };
        let with_one = size_of(&mut table, &owner);
        owner.shared.truncate(1);
        let just_the_slot = size_of(&mut table, &owner);
        owner.shared.clear();
        let without = size_of(&mut table, &owner);
        // A shared write its slot holds costs nothing: the slot is marked shared.
        assert_eq!(just_the_slot, without);
        assert!(with_one > without);
        owner.shared.push((
            Key::new("k9").unwrap(),
            table.entry(&Key::new("k9").unwrap()).map(|e| e.value),
        ));
        size_of(&mut table, &owner);
        let back = read(&path).unwrap().unwrap();
        let key = Key::new("k9").unwrap();
        let (shared_key, shared_value) = &back.owner.shared[0];
        let entry = back.table.entry(&key).unwrap();
        assert_eq!(shared_key, &key);
        assert_eq!(shared_value.as_ref(), Some(&entry.value));
    }

    #[test]
    fn an_older_format_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.wal.ckpt");
        fs::write(&path, b"SASYCKP1 and whatever followed").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("format 1") && err.contains("reads format 2"),
            "{err}"
        );
    }
}
