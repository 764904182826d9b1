//! The payload of one WAL record.
//!
//! A write record carries the store mutation (operation, stamp, writer) and an *extension*:
//! bytes the layer that owns the store attaches to the write, logged in the same record so that
//! the write and whatever that layer derives from it become durable together. A note is a record
//! of extension bytes alone. The store never reads either; replay hands them back in log order
//! (see `extension.rs`).

use super::key::Key;
use super::operation::{Operation, OperationKind};
use crate::binary::{DecodeError, Reader, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::small_bytes::SmallBytes;

const TAG_WRITE: u8 = 1;
const TAG_NOTE: u8 = 2;
/// Several writes made durable (and replayed) together: all or none.
const TAG_WRITES: u8 = 3;

/// One store mutation as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WriteRecord {
    /// The operation, its `timestamp` being the write's stamp.
    pub op: Operation,
    /// The node that made the write (`None` for a direct write on a store with no node).
    pub writer: Option<NodeId>,
    /// The owning layer's bytes for this write; empty for a plain store write.
    pub extension: SmallBytes,
}

impl WriteRecord {
    /// A plain store write: no writer, no extension.
    pub fn plain(op: Operation) -> WriteRecord {
        WriteRecord {
            op,
            writer: None,
            extension: SmallBytes::default(),
        }
    }
}

/// One WAL record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    Write(WriteRecord),
    /// Writes logged as one record, so that a crash keeps all of them or none.
    Writes(Vec<WriteRecord>),
    Note(Vec<u8>),
}

/// Appends the encoding of a write to `out`.
pub(crate) fn encode_write(out: &mut Vec<u8>, write: &WriteRecord) {
    out.push(TAG_WRITE);
    encode_write_body(out, write);
}

/// Appends the encoding of several writes, logged as one record, to `out`.
pub(crate) fn encode_writes(out: &mut Vec<u8>, writes: &[WriteRecord]) {
    out.push(TAG_WRITES);
    Writer::new(out).u32(writes.len() as u32);
    for write in writes {
        encode_write_body(out, write);
    }
}

fn encode_write_body(out: &mut Vec<u8>, write: &WriteRecord) {
    let mut w = Writer::new(out);
    w.u8(write.op.kind as u8);
    w.u64(write.op.timestamp.raw());
    NodeId::write_optional(&mut w, write.writer.as_ref());
    w.bytes(write.op.key.as_bytes());
    w.bytes(write.op.value.as_bytes());
    w.bytes(&write.extension);
}

/// Appends the encoding of a note to `out`.
pub(crate) fn encode_note(out: &mut Vec<u8>, note: &[u8]) {
    out.push(TAG_NOTE);
    out.extend_from_slice(note);
}

/// Decodes one record payload; any malformation is an error, never a panic.
pub(crate) fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader::new(payload);
    match r.u8("record tag")? {
        TAG_WRITE => {
            let write = decode_write(&mut r)?;
            r.finish("write record")?;
            Ok(Record::Write(write))
        }
        TAG_WRITES => {
            let count = r.u32("write count")? as usize;
            // Each write takes at least a few bytes: a count the payload cannot hold is damage,
            // and must not size an allocation.
            let mut writes = Vec::with_capacity(count.min(r.remaining()));
            for _ in 0..count {
                writes.push(decode_write(&mut r)?);
            }
            r.finish("writes record")?;
            if writes.is_empty() {
                return Err(DecodeError("a writes record with no write".into()));
            }
            Ok(Record::Writes(writes))
        }
        TAG_NOTE => Ok(Record::Note(r.rest().to_vec())),
        other => Err(DecodeError(format!("unknown record tag {other}"))),
    }
}

fn decode_write(r: &mut Reader<'_>) -> Result<WriteRecord, DecodeError> {
    let kind_code = r.u8("operation kind")?;
    let kind = OperationKind::from_code(kind_code)
        .ok_or_else(|| DecodeError(format!("unknown operation kind {kind_code}")))?;
    let stamp = Stamp::from_raw(r.u64("stamp")?);
    let writer = NodeId::read_optional(r, "writer")?;
    let key = r.str("key")?;
    // One allocation for key and value, which the table and the owner then share.
    let (key, value) =
        Key::with_value(key, r.bytes("value")?).map_err(|e| DecodeError(e.to_string()))?;
    let extension = SmallBytes::new(r.bytes("extension")?);
    Ok(WriteRecord {
        op: Operation {
            kind,
            key,
            value,
            timestamp: stamp,
        },
        writer,
        extension,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    fn sample(extension: &[u8]) -> WriteRecord {
        WriteRecord {
            op: Operation::put(Key::new("k").unwrap(), Value::from_string("v").unwrap())
                .with_timestamp(Stamp::new(42, 1)),
            writer: Some(NodeId::new("node-a").unwrap()),
            extension: SmallBytes::new(extension),
        }
    }

    #[test]
    fn every_record_shape_round_trips() {
        let writes = [
            sample(b""),
            sample(b"\x01\x02"),
            WriteRecord::plain(Operation::delete(Key::new("gone").unwrap())),
        ];
        for write in &writes {
            let mut buf = Vec::new();
            encode_write(&mut buf, write);
            assert_eq!(decode(&buf).unwrap(), Record::Write(write.clone()));
        }
        let mut buf = Vec::new();
        encode_writes(&mut buf, &writes);
        assert_eq!(decode(&buf).unwrap(), Record::Writes(writes.to_vec()));
        let mut buf = Vec::new();
        encode_note(&mut buf, b"xyz");
        assert_eq!(decode(&buf).unwrap(), Record::Note(b"xyz".to_vec()));
    }

    #[test]
    fn every_truncation_of_a_record_is_a_decode_error() {
        let mut buf = Vec::new();
        encode_write(&mut buf, &sample(b"ext"));
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let write = sample(b"");
        let mut buf = Vec::new();
        encode_writes(&mut buf, &[write.clone(), write]);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        // A count larger than the payload holds is an error, not a huge allocation.
        let mut huge = vec![TAG_WRITES];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        assert!(decode(&[TAG_WRITES, 0, 0, 0, 0]).is_err(), "no write");
    }
}
