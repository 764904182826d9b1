//! V2 ACK frames: the sync ids a receiver has handled.
//!
//! Body: `u32 count`, then `count` strings (`u32 LE` length + UTF-8 bytes).

use super::error::WireError;
use super::frame::{count, open, seal, FrameKind};
use super::operations::MAX_SYNC_ID_BYTES;
use crate::binary::{Reader, Writer};

/// Encodes an ACK frame listing `sync_ids`.
pub fn encode_ack_frame<S: AsRef<str>>(sync_ids: &[S]) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    let mut w = Writer::new(&mut body);
    w.u32(sync_ids.len() as u32);
    for id in sync_ids {
        w.str(id.as_ref());
    }
    seal(FrameKind::Ack, &body)
}

/// Decodes an ACK frame into its sync ids; fails as a whole on any malformation.
pub fn decode_ack_frame(frame: &[u8]) -> Result<Vec<String>, WireError> {
    let body = open(frame, FrameKind::Ack)?;
    let mut r = Reader::new(body);
    let n = count(&mut r, 4, "sync id count")?;
    let mut ids = Vec::with_capacity(n);
    for index in 0..n {
        let id = r
            .str("sync id")
            .map_err(|e| WireError::Malformed(format!("sync id {index}: {}", e.0)))?;
        if id.len() > MAX_SYNC_ID_BYTES {
            return Err(WireError::Malformed(format!(
                "sync id {index} of {} bytes exceeds the limit of {MAX_SYNC_ID_BYTES} bytes",
                id.len()
            )));
        }
        ids.push(id.to_string());
    }
    r.finish("the last sync id")?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_operations_frames() {
        let frame = encode_ack_frame(&["node-a-1", "node-a-2"]).unwrap();
        assert_eq!(decode_ack_frame(&frame).unwrap(), ["node-a-1", "node-a-2"]);
        let ops = super::super::encode_operations_frame(&[]).unwrap();
        let err = decode_ack_frame(&ops).unwrap_err().to_string();
        assert!(err.contains("frame kind 1 where an ack frame"), "{err}");
        for len in 0..frame.len() {
            assert!(decode_ack_frame(&frame[..len]).is_err());
        }
    }
}
