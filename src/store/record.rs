//! The payload of one WAL record.
//!
//! A write record carries the store mutation and, for writes that sync tracks, the sync metadata
//! (sequence, queued flag, the write it replaced) in the same record, so a local write and its
//! sync operation become durable together. Annotations are bytes the store does not interpret:
//! the sync layer logs its outbox transitions there.

use super::entry::WriteId;
use super::key::Key;
use super::operation::{Operation, OperationKind};
use super::value::Value;
use crate::binary::{DecodeError, Reader, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;

const TAG_WRITE: u8 = 1;
const TAG_ANNOTATION: u8 = 2;
/// Several writes made durable (and replayed) together: all or none.
const TAG_WRITES: u8 = 3;

const TRACK_NONE: u8 = 0;
const TRACK_LOCAL: u8 = 1;
const TRACK_LOCAL_QUEUED: u8 = 2;
const TRACK_REMOTE: u8 = 3;

/// How sync relates to a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tracking {
    /// A direct store write: not propagated.
    Untracked,
    /// A local write submitted to sync: it is an outbox entry with sequence `seq`.
    Local {
        seq: u64,
        queued: bool,
        replaces: Option<WriteId>,
    },
    /// A remote operation applied through sync, with the origin's version.
    Remote { version: u64 },
}

/// One store mutation as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WriteRecord {
    /// The operation, its `timestamp` being the write's stamp.
    pub op: Operation,
    pub origin: Option<NodeId>,
    pub tracking: Tracking,
}

/// One WAL record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    Write(WriteRecord),
    /// Writes logged as one record, so that a crash keeps all of them or none.
    Writes(Vec<WriteRecord>),
    Annotation(Vec<u8>),
}

fn put_origin(w: &mut Writer<'_>, origin: &Option<NodeId>) {
    match origin {
        Some(node) => {
            w.u8(1);
            w.str(node.as_str());
        }
        None => w.u8(0),
    }
}

fn get_origin(r: &mut Reader<'_>) -> Result<Option<NodeId>, DecodeError> {
    match r.u8("origin flag")? {
        0 => Ok(None),
        1 => NodeId::new(r.str("origin")?)
            .map(Some)
            .map_err(|e| DecodeError(e.to_string())),
        other => Err(DecodeError(format!("bad origin flag {other}"))),
    }
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
    w.u8(match &write.tracking {
        Tracking::Untracked => TRACK_NONE,
        Tracking::Local { queued: false, .. } => TRACK_LOCAL,
        Tracking::Local { queued: true, .. } => TRACK_LOCAL_QUEUED,
        Tracking::Remote { .. } => TRACK_REMOTE,
    });
    w.u64(write.op.timestamp.raw());
    put_origin(&mut w, &write.origin);
    match &write.tracking {
        Tracking::Untracked => {}
        Tracking::Local { seq, replaces, .. } => {
            w.u64(*seq);
            match replaces {
                Some(id) => {
                    w.u8(1);
                    w.u64(id.stamp.raw());
                    put_origin(&mut w, &id.origin);
                }
                None => w.u8(0),
            }
        }
        Tracking::Remote { version } => w.u64(*version),
    }
    w.str(write.op.key.as_str());
    w.bytes(write.op.value.as_bytes());
}

/// Appends the encoding of an annotation to `out`.
pub(crate) fn encode_annotation(out: &mut Vec<u8>, annotation: &[u8]) {
    out.push(TAG_ANNOTATION);
    out.extend_from_slice(annotation);
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
        TAG_ANNOTATION => Ok(Record::Annotation(r.rest().to_vec())),
        other => Err(DecodeError(format!("unknown record tag {other}"))),
    }
}

fn decode_write(r: &mut Reader<'_>) -> Result<WriteRecord, DecodeError> {
    let kind_code = r.u8("operation kind")?;
    let kind = OperationKind::from_code(kind_code)
        .ok_or_else(|| DecodeError(format!("unknown operation kind {kind_code}")))?;
    let tracking_code = r.u8("tracking")?;
    let stamp = Stamp::from_raw(r.u64("stamp")?);
    let origin = get_origin(r)?;
    let tracking = match tracking_code {
        TRACK_NONE => Tracking::Untracked,
        TRACK_LOCAL | TRACK_LOCAL_QUEUED => {
            let seq = r.u64("sequence")?;
            let replaces = match r.u8("replaces flag")? {
                0 => None,
                1 => Some(WriteId {
                    stamp: Stamp::from_raw(r.u64("replaced stamp")?),
                    origin: get_origin(r)?,
                }),
                other => return Err(DecodeError(format!("bad replaces flag {other}"))),
            };
            Tracking::Local {
                seq,
                queued: tracking_code == TRACK_LOCAL_QUEUED,
                replaces,
            }
        }
        TRACK_REMOTE => Tracking::Remote {
            version: r.u64("remote version")?,
        },
        other => return Err(DecodeError(format!("unknown tracking {other}"))),
    };
    let key = Key::new(r.str("key")?).map_err(|e| DecodeError(e.to_string()))?;
    let value = Value::new(r.bytes("value")?).map_err(|e| DecodeError(e.to_string()))?;
    Ok(WriteRecord {
        op: Operation {
            kind,
            key,
            value,
            timestamp: stamp,
        },
        origin,
        tracking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tracking: Tracking) -> WriteRecord {
        WriteRecord {
            op: Operation::put(Key::new("k").unwrap(), Value::from_string("v").unwrap())
                .with_timestamp(Stamp::new(42, 1)),
            origin: Some(NodeId::new("node-a").unwrap()),
            tracking,
        }
    }

    #[test]
    fn every_record_shape_round_trips() {
        let writes = [
            sample(Tracking::Untracked),
            sample(Tracking::Remote { version: 9 }),
            sample(Tracking::Local {
                seq: 3,
                queued: true,
                replaces: Some(WriteId {
                    stamp: Stamp::new(40, 0),
                    origin: None,
                }),
            }),
            sample(Tracking::Local {
                seq: 4,
                queued: false,
                replaces: None,
            }),
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
        encode_annotation(&mut buf, b"xyz");
        assert_eq!(decode(&buf).unwrap(), Record::Annotation(b"xyz".to_vec()));
    }

    #[test]
    fn every_truncation_of_a_record_is_a_decode_error() {
        let mut buf = Vec::new();
        encode_write(
            &mut buf,
            &sample(Tracking::Local {
                seq: 1,
                queued: true,
                replaces: None,
            }),
        );
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let write = sample(Tracking::Untracked);
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
