//! How one WAL record is framed on disk.
//!
//! A frame is `u32 payload length` · `u32 checksum` · payload, little-endian. The checksum is
//! CRC-32 over the frame's file offset (`u64`), the length and the payload. Covering the length
//! means a damaged length field is caught like damaged data; covering the offset means a frame
//! is valid only where it was written, so bytes that merely look like a frame (a copy of a WAL
//! stored as a value, a stale block) are never taken for a record by recovery.

use super::key::MAX_KEY_BYTES;
use super::value::MAX_VALUE_BYTES;

pub(crate) const HEADER_BYTES: u64 = 8;
/// No valid payload is larger: a key, a value and a few kilobytes of metadata.
pub(crate) const MAX_PAYLOAD_BYTES: u64 = (MAX_VALUE_BYTES + MAX_KEY_BYTES + 4096) as u64;

/// A frame header as read from the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub len: u64,
    pub checksum: u32,
}

impl Header {
    pub fn parse(bytes: &[u8; HEADER_BYTES as usize]) -> Header {
        Header {
            len: u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            checksum: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        }
    }

    /// Whether a writer could have produced this length.
    pub fn plausible(&self) -> bool {
        self.len > 0 && self.len <= MAX_PAYLOAD_BYTES
    }
}

/// The checksum of a frame at `offset` holding `payload`.
pub(crate) fn checksum(offset: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&offset.to_le_bytes());
    hasher.update(&(payload.len() as u32).to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Fills `frame[..HEADER_BYTES]` (reserved by the caller) for the payload that follows it,
/// for a frame written at `offset`.
pub(crate) fn seal(frame: &mut [u8], offset: u64) {
    let header = HEADER_BYTES as usize;
    let payload_len = frame.len() - header;
    debug_assert!(payload_len > 0 && payload_len as u64 <= MAX_PAYLOAD_BYTES);
    let sum = checksum(offset, &frame[header..]);
    frame[0..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    frame[4..8].copy_from_slice(&sum.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_frame_verifies_only_at_its_own_offset() {
        let mut frame = vec![0u8; 8];
        frame.extend_from_slice(b"payload");
        seal(&mut frame, 1000);
        let header = Header::parse(frame[..8].try_into().unwrap());
        assert_eq!(header.len, 7);
        assert!(header.plausible());
        assert_eq!(checksum(1000, &frame[8..]), header.checksum);
        assert_ne!(checksum(1008, &frame[8..]), header.checksum);
    }
}
