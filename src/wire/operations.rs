//! V2 operations frames: many sync operations, each with everything it has.
//!
//! Body: `u32 count`, then per operation:
//! `str sync_id` · `str origin` · `u64 version` · `u64 stamp` · `u8 op type` · `str key` ·
//! `bytes value` · `u8 has_replaces` (0 or 1), and when 1: `u64 replaces_stamp` ·
//! `str replaces_origin` (empty: a direct store write). Strings and byte arrays are a `u32 LE`
//! length and the bytes; integers are little-endian.

use super::error::WireError;
use super::frame::{count, open, seal, FrameKind};
use crate::binary::{Reader, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Key, Operation, OperationKind, WriteId};
use crate::sync::{RemoteOperation, SyncOperation};

/// The longest sync id carried, in bytes.
pub const MAX_SYNC_ID_BYTES: usize = 1024;
/// The longest origin carried, in bytes (a node id).
const MAX_ORIGIN_BYTES: usize = crate::node::MAX_NODE_ID_BYTES;
/// The smallest encoded operation: five empty strings and the fixed fields.
const MIN_OPERATION_BYTES: usize = 4 + 4 + 8 + 8 + 1 + 4 + 4 + 1;

/// Encodes `operations` as one V2 operations frame. Errors: the frame would exceed
/// [`super::MAX_FRAME_BODY_BYTES`].
pub fn encode_operations_frame<'a>(
    operations: impl IntoIterator<Item = &'a SyncOperation>,
) -> Result<Vec<u8>, WireError> {
    let operations: Vec<&SyncOperation> = operations.into_iter().collect();
    let mut body = Vec::new();
    let mut w = Writer::new(&mut body);
    w.u32(operations.len() as u32);
    for op in operations {
        w.str(&op.sync_id);
        w.str(&op.origin_node_id);
        w.u64(op.version);
        w.u64(op.operation.timestamp.raw());
        w.u8(op.operation.kind as u8);
        w.bytes(op.operation.key.as_bytes());
        w.bytes(op.operation.value.as_bytes());
        match &op.replaces {
            None => w.u8(0),
            Some(replaced) => {
                w.u8(1);
                w.u64(replaced.stamp.raw());
                w.str(replaced.origin.as_ref().map_or("", |o| o.as_str()));
            }
        }
    }
    seal(FrameKind::Operations, &body)
}

/// Decodes a V2 operations frame into remote operations (`RemoteToLocal`). Fails as a whole on
/// any malformation, naming the operation and field; semantic checks (empty sync id, version 0,
/// origin rules, clock skew) are left to the engine, operation by operation.
pub fn decode_operations_frame(frame: &[u8]) -> Result<Vec<SyncOperation>, WireError> {
    Ok(decode_remote_operations(frame)?
        .iter()
        .map(RemoteOperation::to_owned_operation)
        .collect())
}

/// [`decode_operations_frame`] with the ids borrowed from `frame`: what receiving a frame
/// uses, sparing two string copies per operation.
pub fn decode_remote_operations(frame: &[u8]) -> Result<Vec<RemoteOperation<'_>>, WireError> {
    let body = open(frame, FrameKind::Operations)?;
    let mut r = Reader::new(body);
    let n = count(&mut r, MIN_OPERATION_BYTES, "operation count")?;
    let mut ops = Vec::with_capacity(n);
    let mut origins = Origins::default();
    for index in 0..n {
        let op = decode_operation(&mut r, &mut origins)
            .map_err(|e| WireError::Malformed(format!("operation {index}: {e}")))?;
        ops.push(op);
    }
    r.finish("the last operation")?;
    Ok(ops)
}

fn bounded_str<'a>(r: &mut Reader<'a>, what: &str, max: usize) -> Result<&'a str, String> {
    checked_str(r.bytes(what).map_err(|e| e.0)?, what, max)
}

fn checked_str<'a>(bytes: &'a [u8], what: &str, max: usize) -> Result<&'a str, String> {
    if bytes.len() > max {
        return Err(format!(
            "{what} of {} bytes exceeds the limit of {max} bytes",
            bytes.len()
        ));
    }
    std::str::from_utf8(bytes).map_err(|_| format!("{what} is not valid UTF-8"))
}

/// The origins of the operation decoded last: a frame's operations nearly all come from one
/// node and replace writes of one or two, so an origin equal to the last one is neither
/// validated as UTF-8 nor (replaced writes) allocated again.
#[derive(Default)]
struct Origins<'a> {
    origin: &'a str,
    replaced: Option<NodeId>,
}

impl<'a> Origins<'a> {
    fn origin(&mut self, r: &mut Reader<'a>) -> Result<&'a str, String> {
        let bytes = r.bytes("origin").map_err(|e| e.0)?;
        if bytes != self.origin.as_bytes() {
            self.origin = checked_str(bytes, "origin", MAX_ORIGIN_BYTES)?;
        }
        Ok(self.origin)
    }

    fn replaced(&mut self, r: &mut Reader<'a>) -> Result<Option<NodeId>, String> {
        let bytes = r.bytes("replaces origin").map_err(|e| e.0)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        if let Some(last) = &self.replaced {
            if last.as_str().as_bytes() == bytes {
                return Ok(Some(last.clone()));
            }
        }
        let text = checked_str(bytes, "replaces origin", MAX_ORIGIN_BYTES)?;
        let origin = NodeId::new(text).map_err(|e| format!("replaces origin: {e}"))?;
        self.replaced = Some(origin.clone());
        Ok(Some(origin))
    }
}

fn decode_operation<'a>(
    r: &mut Reader<'a>,
    origins: &mut Origins<'a>,
) -> Result<RemoteOperation<'a>, String> {
    let sync_id = bounded_str(r, "sync id", MAX_SYNC_ID_BYTES)?;
    let origin = origins.origin(r)?;
    let version = r.u64("version").map_err(|e| e.0)?;
    let stamp = Stamp::from_raw(r.u64("stamp").map_err(|e| e.0)?);
    let tag = r.u8("op type").map_err(|e| e.0)?;
    let kind = OperationKind::from_code(tag)
        .ok_or_else(|| format!("bad op type {tag} (1 put, 2 delete)"))?;
    // The key's length and content are checked as the operation is made.
    let key = Key::check_utf8(r.bytes("key").map_err(|e| e.0)?).map_err(|e| e.to_string())?;
    let value = r.bytes("value").map_err(|e| e.0)?;
    // Key and value in one allocation (see `Operation::from_parts`).
    let operation = Operation::from_parts(kind, key, value).map_err(|e| e.to_string())?;
    let replaces = match r.u8("has_replaces").map_err(|e| e.0)? {
        0 => None,
        1 => {
            let stamp = Stamp::from_raw(r.u64("replaces stamp").map_err(|e| e.0)?);
            let origin = origins.replaced(r)?;
            Some(WriteId { stamp, origin })
        }
        other => return Err(format!("bad has_replaces flag {other} (0 or 1)")),
    };
    let operation = operation.with_timestamp(stamp);
    Ok(RemoteOperation {
        sync_id,
        origin_node_id: origin,
        version,
        operation,
        replaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    fn sample() -> Vec<SyncOperation> {
        let put = Operation::put(
            Key::new("user:1").unwrap(),
            Value::from_string("Gaspard").unwrap(),
        )
        .with_timestamp(Stamp::new(1_700_000_000_000, 3));
        let mut relayed = SyncOperation::remote("node-c-7", "node-c", 7, put);
        relayed.replaces = Some(WriteId {
            stamp: Stamp::new(1_699_999_999_000, 0),
            origin: Some(NodeId::new("node-a").unwrap()),
        });
        let del = Operation::delete(Key::new("user:2").unwrap())
            .with_timestamp(Stamp::new(1_700_000_000_001, 0));
        vec![relayed, SyncOperation::remote("node-a-2", "node-a", 2, del)]
    }

    #[test]
    fn round_trips_every_field() {
        let ops = sample();
        let frame = encode_operations_frame(&ops).unwrap();
        assert_eq!(decode_operations_frame(&frame).unwrap(), ops);
        let empty = encode_operations_frame(&[]).unwrap();
        assert!(decode_operations_frame(&empty).unwrap().is_empty());
    }

    #[test]
    fn every_truncation_and_extension_is_an_error() {
        let frame = encode_operations_frame(&sample()).unwrap();
        for len in 0..frame.len() {
            assert!(
                decode_operations_frame(&frame[..len]).is_err(),
                "prefix {len}"
            );
        }
        let mut longer = frame.clone();
        longer.push(0);
        let err = decode_operations_frame(&longer).unwrap_err().to_string();
        assert!(err.contains("1 unexpected trailing bytes"), "{err}");
    }

    #[test]
    fn forged_counts_and_lengths_are_errors_not_allocations() {
        let mut frame = encode_operations_frame(&[]).unwrap();
        frame[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode_operations_frame(&frame).unwrap_err().to_string();
        assert!(err.contains("operation count 4294967295"), "{err}");
        let mut huge = frame.clone();
        huge[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode_operations_frame(&huge).unwrap_err().to_string();
        assert!(err.contains("declared body of 4294967295 bytes"), "{err}");
    }

    #[test]
    fn invalid_utf8_and_oversized_fields_are_named() {
        let ops = sample();
        let frame = encode_operations_frame(&ops[1..]).unwrap();
        // First byte of the origin "node-a": header, count, sync id, origin length.
        let origin_at = 10 + 4 + (4 + 8) + 4;
        let mut bad_origin = frame.clone();
        bad_origin[origin_at] = 0xff;
        let err = decode_operations_frame(&bad_origin)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("operation 0: origin is not valid UTF-8"),
            "{err}"
        );
        let key_at = origin_at + 6 + 8 + 8 + 1 + 4;
        let mut bad_key = frame.clone();
        bad_key[key_at] = 0xc3;
        let err = decode_operations_frame(&bad_key).unwrap_err().to_string();
        assert!(
            err.contains("operation 0: invalid key: key is not valid UTF-8"),
            "{err}"
        );
        let long_id = "x".repeat(MAX_SYNC_ID_BYTES + 1);
        let mut op = ops[1].clone();
        op.sync_id = long_id;
        let err = decode_operations_frame(&encode_operations_frame([&op]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sync id of 1025 bytes exceeds the limit"),
            "{err}"
        );
    }

    #[test]
    fn bad_tags_and_versions_are_named() {
        let ops = sample();
        let mut frame = encode_operations_frame(&ops[1..]).unwrap();
        let mut v3 = frame.clone();
        v3[4] = 3;
        let err = decode_operations_frame(&v3).unwrap_err().to_string();
        assert!(err.contains("unsupported wire format version 3"), "{err}");
        // op type of the only operation: header, count, sync id, origin, version, stamp.
        let at = 10 + 4 + (4 + 8) + (4 + 6) + 8 + 8;
        assert_eq!(frame[at], 2);
        frame[at] = 9;
        let err = decode_operations_frame(&frame).unwrap_err().to_string();
        assert!(err.contains("operation 0: bad op type 9"), "{err}");
    }
}
