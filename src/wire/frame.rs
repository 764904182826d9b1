//! The V2 frame envelope: magic, format version, frame kind and body length.
//!
//! ```text
//! offset 0  4 bytes  magic "SASY"
//! offset 4  u8       format version (2)
//! offset 5  u8       kind (1 operations, 2 ack)
//! offset 6  u32 LE   body length in bytes
//! offset 10          body
//! ```
//! The header alone tells a stream reader how many bytes to read next.

use super::error::WireError;
use crate::binary::{Reader, Writer};

/// The first four bytes of every V2 frame.
pub const MAGIC: [u8; 4] = *b"SASY";
/// The format version this library writes and reads.
pub const FORMAT_VERSION: u8 = 2;
/// Bytes before the body: magic, version, kind, body length.
pub const HEADER_BYTES: usize = 10;
/// The largest body accepted or produced (256 MiB): room for a few maximal values.
pub const MAX_FRAME_BODY_BYTES: usize = 256 * 1024 * 1024;

/// What a V2 frame's body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Sync operations, to apply.
    Operations = 1,
    /// Sync ids a receiver has handled.
    Ack = 2,
}

impl FrameKind {
    fn name(self) -> &'static str {
        match self {
            FrameKind::Operations => "operations",
            FrameKind::Ack => "ack",
        }
    }
}

/// Wraps `body` in a header of `kind`.
pub(crate) fn seal(kind: FrameKind, body: &[u8]) -> Result<Vec<u8>, WireError> {
    if body.len() > MAX_FRAME_BODY_BYTES {
        return Err(WireError::TooLarge(format!(
            "{} frame body of {} bytes exceeds the limit of {MAX_FRAME_BODY_BYTES} bytes",
            kind.name(),
            body.len()
        )));
    }
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(&MAGIC);
    let mut w = Writer::new(&mut out);
    w.u8(FORMAT_VERSION);
    w.u8(kind as u8);
    w.u32(body.len() as u32);
    out.extend_from_slice(body);
    Ok(out)
}

/// Checks the header of `frame` for `kind` and returns the body, which must be exactly as long
/// as declared.
pub(crate) fn open(frame: &[u8], kind: FrameKind) -> Result<&[u8], WireError> {
    let mut r = Reader::new(frame);
    let magic = [
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
    ];
    if magic != MAGIC {
        return Err(WireError::Malformed(format!(
            "bad magic {:02x}{:02x}{:02x}{:02x} (a V2 frame starts with \"SASY\")",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    let version = r.u8("format version")?;
    if version != FORMAT_VERSION {
        return Err(WireError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let found = r.u8("frame kind")?;
    if found != kind as u8 {
        return Err(WireError::Malformed(format!(
            "frame kind {found} where an {} frame (kind {}) was expected",
            kind.name(),
            kind as u8
        )));
    }
    let declared = r.u32("body length")? as usize;
    if declared > MAX_FRAME_BODY_BYTES {
        return Err(WireError::Malformed(format!(
            "declared body of {declared} bytes exceeds the limit of {MAX_FRAME_BODY_BYTES} bytes"
        )));
    }
    let body = r.rest();
    if body.len() < declared {
        return Err(WireError::Malformed(format!(
            "truncated frame: body declares {declared} bytes, {} present",
            body.len()
        )));
    }
    if body.len() > declared {
        return Err(WireError::Malformed(format!(
            "{} unexpected trailing bytes after the {declared}-byte body",
            body.len() - declared
        )));
    }
    Ok(body)
}

/// Reads the element count of a body and bounds it by what the remaining bytes can hold, so a
/// forged count cannot make the decoder reserve memory the input does not justify.
pub(crate) fn count(
    r: &mut Reader<'_>,
    min_item_bytes: usize,
    what: &str,
) -> Result<usize, WireError> {
    let n = r.u32(what)? as usize;
    let room = r.remaining() / min_item_bytes;
    if n > room {
        return Err(WireError::Malformed(format!(
            "{what} {n} is more than the {} remaining bytes can hold",
            r.remaining()
        )));
    }
    Ok(n)
}
