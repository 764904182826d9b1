//! Replaying a WAL and deciding what damage is: a torn tail to cut, or corruption to refuse.
//!
//! A crash can leave only one kind of damage: the end of the last append missing, or replaced by
//! zeros or garbage (a file system that extended the file before the data landed). Anything else
//! is corruption. The rule:
//! - Damage is a **torn tail**, cut and reported, only when no valid frame exists anywhere after
//!   it, and the damaged record is not itself complete with a damaged length field.
//! - Otherwise it is **corruption**: opening fails, naming the offset and the reason, and
//!   nothing is truncated, so records after the damage are never thrown away.
//! - A frame whose checksum is valid but whose payload cannot be decoded is corruption (no crash
//!   produces it).
//!
//! Frames are only valid at the offset they were written at (see `frame.rs`), so the search
//! for a valid frame after the damage cannot be fooled by bytes inside a value.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::error::StoreError;
use super::frame::{self, Header, HEADER_BYTES, MAX_PAYLOAD_BYTES};
use crate::binary::DecodeError;

/// Reads are served from a window of this many bytes, refilled as replay moves on.
const WINDOW_BYTES: usize = 1 << 20;

/// What replaying found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Replayed {
    /// Records handed to `apply`.
    pub records: u64,
    /// The end of the last good record.
    pub end: u64,
    /// The torn tail that starts at `end`, and why it is one; `None` when the file ends cleanly.
    pub torn_tail: Option<&'static str>,
}

/// Hands every record's payload between `start` and `file_len` to `apply`, in order, and
/// classifies what follows the last good record.
pub(crate) fn replay(
    file: &File,
    path: &Path,
    start: u64,
    file_len: u64,
    mut apply: impl FnMut(&[u8]) -> Result<(), DecodeError>,
) -> Result<Replayed, StoreError> {
    let corrupt = |offset: u64, reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let read_err = |source: io::Error| StoreError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    };
    let mut window = Window::new(file, file_len);
    let mut offset = start;
    let mut records = 0;
    let damage = loop {
        let remaining = file_len - offset;
        if remaining == 0 {
            break None;
        }
        if remaining < HEADER_BYTES {
            break Some((None, "incomplete record header"));
        }
        let header = window.header(offset).map_err(read_err)?;
        if !header.plausible() {
            break Some((Some(header), "impossible record length"));
        }
        if header.len > remaining - HEADER_BYTES {
            break Some((Some(header), "record runs past the end of the file"));
        }
        let payload = window
            .bytes(offset + HEADER_BYTES, header.len)
            .map_err(read_err)?;
        if frame::checksum(offset, payload) != header.checksum {
            break Some((Some(header), "checksum mismatch"));
        }
        if let Err(e) = apply(payload) {
            return Err(corrupt(offset, format!("undecodable record: {e}")));
        }
        records += 1;
        offset += HEADER_BYTES + header.len;
    };
    let torn_tail = match damage {
        None => None,
        Some((header, reason)) => Some(classify(&mut window, offset, header, reason).map_err(
            |e| match e {
                Classified::Corrupt(reason) => corrupt(offset, reason),
                Classified::Io(source) => read_err(source),
            },
        )?),
    };
    Ok(Replayed {
        records,
        end: offset,
        torn_tail,
    })
}

enum Classified {
    Corrupt(String),
    Io(io::Error),
}

impl From<io::Error> for Classified {
    fn from(e: io::Error) -> Classified {
        Classified::Io(e)
    }
}

/// Decides whether the damage at `at` is a torn tail (returning the reason to report) or
/// corruption.
fn classify(
    window: &mut Window<'_>,
    at: u64,
    header: Option<Header>,
    reason: &'static str,
) -> Result<&'static str, Classified> {
    let file_len = window.file_len;
    if let Some(header) = header {
        // The whole rest of the file may be this record with only its length field damaged.
        let rest = file_len - at - HEADER_BYTES;
        if rest > 0 && rest <= MAX_PAYLOAD_BYTES && rest != header.len {
            let payload = window.bytes(at + HEADER_BYTES, rest)?;
            if frame::checksum(at, payload) == header.checksum {
                return Err(Classified::Corrupt(format!(
                    "the record's length field is damaged: it claims {} bytes, but the {rest} \
                     bytes to the end of the file form a complete record",
                    header.len
                )));
            }
        }
    }
    if let Some(next) = next_valid_frame(window, at + 1)? {
        return Err(Classified::Corrupt(format!(
            "{reason}, and a valid record follows at byte {next}, so this is not a torn tail"
        )));
    }
    if window.all_zero(at)? {
        return Ok("zero-filled tail");
    }
    Ok(reason)
}

/// The offset of the first valid frame at or after `from`, if any.
fn next_valid_frame(window: &mut Window<'_>, from: u64) -> io::Result<Option<u64>> {
    let file_len = window.file_len;
    let mut at = from;
    while at + HEADER_BYTES < file_len {
        let header = window.header(at)?;
        if header.plausible() && header.len <= file_len - at - HEADER_BYTES {
            let payload = window.bytes(at + HEADER_BYTES, header.len)?;
            if frame::checksum(at, payload) == header.checksum {
                return Ok(Some(at));
            }
        }
        at += 1;
    }
    Ok(None)
}

/// Positioned reads through a buffer, so that replay and the damage search cost one system
/// call per megabyte rather than per record or per byte.
struct Window<'f> {
    file: &'f File,
    file_len: u64,
    start: u64,
    buf: Vec<u8>,
}

impl<'f> Window<'f> {
    fn new(file: &'f File, file_len: u64) -> Window<'f> {
        Window {
            file,
            file_len,
            start: 0,
            buf: Vec::new(),
        }
    }

    fn header(&mut self, at: u64) -> io::Result<Header> {
        let bytes = self.bytes(at, HEADER_BYTES)?;
        Ok(Header::parse(bytes.try_into().expect("eight bytes")))
    }

    /// The `len` bytes at `at`; the caller guarantees they lie inside the file.
    fn bytes(&mut self, at: u64, len: u64) -> io::Result<&[u8]> {
        debug_assert!(at + len <= self.file_len);
        let end = self.start + self.buf.len() as u64;
        if at < self.start || at + len > end {
            let want = (len as usize).max(WINDOW_BYTES);
            let fill = want.min((self.file_len - at) as usize);
            self.buf.resize(fill, 0);
            self.file.read_exact_at(&mut self.buf, at)?;
            self.start = at;
            if self.buf.capacity() > 4 * WINDOW_BYTES && fill <= WINDOW_BYTES {
                // Do not keep a buffer sized for one huge record.
                self.buf.shrink_to(WINDOW_BYTES);
            }
        }
        let from = (at - self.start) as usize;
        Ok(&self.buf[from..from + len as usize])
    }

    fn all_zero(&mut self, from: u64) -> io::Result<bool> {
        let mut at = from;
        while at < self.file_len {
            let len = (self.file_len - at).min(WINDOW_BYTES as u64);
            if self.bytes(at, len)?.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += len;
        }
        Ok(true)
    }
}
