//! V1: the C++ transport's frames (`softadastra/transport`), byte for byte.
//!
//! A frame is `u32 message_len` + message; a message is `u8 type` · `str from_node_id` ·
//! `str to_node_id` · `str correlation_id` · `bytes payload`. Integers are little-endian;
//! strings and byte arrays are a `u32` length and the bytes. A SyncBatch payload is one sync
//! operation: `u64 version` · `i64 timestamp_ms` · store operation (`u8 type` · `str key` ·
//! `bytes value` · `u64 timestamp`). An Ack payload is three strings: `sync_id` ·
//! `from_node_id` (the acknowledging node) · `correlation_id`.

use super::error::WireError;
use crate::binary::{Reader, Writer};
use crate::clock::Stamp;
use crate::store::{Key, Operation, OperationKind, StoreError};

/// The largest V1 message accepted or produced: the C++ transport's default `max_frame_size`.
pub const V1_MAX_FRAME_BYTES: usize = 1024 * 1024;

/// V1 message types, numbered as in the C++ transport (0 is "unknown" there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum V1MessageType {
    Hello = 1,
    SyncBatch = 2,
    Ack = 3,
    Ping = 4,
    Pong = 5,
}

impl V1MessageType {
    fn from_code(code: u8) -> Option<V1MessageType> {
        Some(match code {
            1 => V1MessageType::Hello,
            2 => V1MessageType::SyncBatch,
            3 => V1MessageType::Ack,
            4 => V1MessageType::Ping,
            5 => V1MessageType::Pong,
            _ => return None,
        })
    }
}

/// One V1 transport message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1Message {
    pub kind: V1MessageType,
    pub from_node_id: String,
    pub to_node_id: String,
    pub correlation_id: String,
    pub payload: Vec<u8>,
}

impl V1Message {
    /// The complete frame: length prefix and message. Errors: over [`V1_MAX_FRAME_BYTES`].
    pub fn encode_frame(&self) -> Result<Vec<u8>, WireError> {
        let message_len = 1
            + 4
            + self.from_node_id.len()
            + 4
            + self.to_node_id.len()
            + 4
            + self.correlation_id.len()
            + 4
            + self.payload.len();
        if message_len > V1_MAX_FRAME_BYTES {
            return Err(WireError::TooLarge(format!(
                "V1 message of {message_len} bytes exceeds the C++ transport's limit of \
                 {V1_MAX_FRAME_BYTES} bytes"
            )));
        }
        let mut out = Vec::with_capacity(4 + message_len);
        let mut w = Writer::new(&mut out);
        w.u32(message_len as u32);
        w.u8(self.kind as u8);
        w.str(&self.from_node_id);
        w.str(&self.to_node_id);
        w.str(&self.correlation_id);
        w.bytes(&self.payload);
        Ok(out)
    }

    /// Decodes one complete frame; the length prefix must match the bytes exactly.
    pub fn decode_frame(frame: &[u8]) -> Result<V1Message, WireError> {
        let mut r = Reader::new(frame);
        let declared = r.u32("V1 frame length")? as usize;
        if declared > V1_MAX_FRAME_BYTES {
            return Err(WireError::Malformed(format!(
                "V1 frame declares {declared} bytes, over the limit of {V1_MAX_FRAME_BYTES} bytes"
            )));
        }
        if r.remaining() != declared {
            return Err(WireError::Malformed(format!(
                "V1 frame declares {declared} bytes but {} follow the length prefix",
                r.remaining()
            )));
        }
        let code = r.u8("V1 message type")?;
        let kind = V1MessageType::from_code(code).ok_or_else(|| {
            WireError::Malformed(format!("unknown V1 message type {code} (1 to 5)"))
        })?;
        let message = V1Message {
            kind,
            from_node_id: r.str("from_node_id")?.to_string(),
            to_node_id: r.str("to_node_id")?.to_string(),
            correlation_id: r.str("correlation_id")?.to_string(),
            payload: r.bytes("payload")?.to_vec(),
        };
        r.finish("the V1 message")?;
        Ok(message)
    }
}

/// A V1 sync payload: one sync operation without its id and origin (they travel as the
/// message's correlation id and sender).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1SyncPayload {
    pub version: u64,
    pub timestamp_ms: u64,
    pub operation: Operation,
}

impl V1SyncPayload {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.u64(self.version);
        w.u64(self.timestamp_ms);
        w.u8(self.operation.kind as u8);
        w.bytes(self.operation.key.as_bytes());
        w.bytes(self.operation.value.as_bytes());
        w.u64(self.timestamp_ms);
        out
    }

    /// Decodes a payload; trailing bytes are an error. V1 carries milliseconds only (and a C++
    /// node's clock has second resolution), so one origin's writes often share a millisecond:
    /// the stamp's logical part is derived from the version (`version mod 2^16`), which orders
    /// them as their origin made them instead of making them look like one write.
    pub fn decode(payload: &[u8]) -> Result<V1SyncPayload, WireError> {
        let mut r = Reader::new(payload);
        let version = r.u64("version")?;
        let millis = r.u64("timestamp")?;
        if millis > i64::MAX as u64 {
            return Err(WireError::Malformed(format!(
                "negative timestamp {} ms",
                millis as i64
            )));
        }
        let code = r.u8("store operation type")?;
        let kind = OperationKind::from_code(code).ok_or_else(|| {
            WireError::Malformed(format!("bad store operation type {code} (1 put, 2 delete)"))
        })?;
        let malformed = |e: StoreError| WireError::Malformed(e.to_string());
        let key = Key::check_utf8(r.bytes("key")?).map_err(malformed)?;
        Key::check(key).map_err(malformed)?;
        // Key and value in one allocation (see `Operation::from_parts`).
        let operation = Operation::from_parts(kind, key, r.bytes("value")?).map_err(malformed)?;
        // The store's own timestamp: the C++ store's bookkeeping, not an ordering input.
        r.u64("store operation timestamp")?;
        r.finish("the V1 sync payload")?;
        let logical = (version & 0xffff) as u16;
        let operation = operation.with_timestamp(Stamp::new(millis, logical));
        Ok(V1SyncPayload {
            version,
            timestamp_ms: millis,
            operation,
        })
    }
}

/// A V1 ACK payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V1AckPayload {
    pub sync_id: String,
    pub from_node_id: String,
    pub correlation_id: String,
}

impl V1AckPayload {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.str(&self.sync_id);
        w.str(&self.from_node_id);
        w.str(&self.correlation_id);
        out
    }

    /// Decodes a payload; trailing bytes are an error, as in the C++ transport.
    pub fn decode(payload: &[u8]) -> Result<V1AckPayload, WireError> {
        let mut r = Reader::new(payload);
        let ack = V1AckPayload {
            sync_id: r.str("ack sync_id")?.to_string(),
            from_node_id: r.str("ack from_node_id")?.to_string(),
            correlation_id: r.str("ack correlation_id")?.to_string(),
        };
        r.finish("the V1 ACK payload")?;
        Ok(ack)
    }
}
