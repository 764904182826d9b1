//! What sync logs in the store's WAL: how each of its writes is tracked (the write's extension)
//! and outbox transitions and remote bookkeeping (annotations, logged as notes).
//!
//! Only what must survive a restart is logged: the write itself with its sequence, manual
//! queueing, acknowledgement, failure, pruning, and remote operations that were handled without
//! a store write. Sending (in flight) and retry scheduling are not: after a restart every
//! unacknowledged operation is simply queued again, and receivers deduplicate what they already
//! have.

use crate::binary::{DecodeError, Reader, Sink, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::small_bytes::{SmallBytes, SmallBytesBuilder};
use crate::store::WriteId;

const TRACK_LOCAL: u8 = 1;
const TRACK_LOCAL_QUEUED: u8 = 2;
const TRACK_REMOTE: u8 = 3;

/// How sync relates to one of its store writes (the write's extension in the WAL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tracking {
    /// A local write submitted to sync: the outbox entry with sequence `seq`.
    Local {
        seq: u64,
        queued: bool,
        replaces: Option<WriteId>,
    },
    /// A remote operation applied through sync, with the origin's version.
    Remote { version: u64 },
}

impl Tracking {
    /// The bytes of this tracking, inline (no allocation) unless a replaced write's origin
    /// makes them long.
    pub fn encode(&self) -> SmallBytes {
        let mut out = SmallBytesBuilder::default();
        let mut w = Writer::new(&mut out);
        match self {
            Tracking::Local {
                seq,
                queued,
                replaces,
            } => {
                w.u8(if *queued {
                    TRACK_LOCAL_QUEUED
                } else {
                    TRACK_LOCAL
                });
                w.u64(*seq);
                write_replaces(&mut w, replaces.as_ref());
            }
            Tracking::Remote { version } => {
                w.u8(TRACK_REMOTE);
                w.u64(*version);
            }
        }
        out.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Tracking, DecodeError> {
        let mut r = Reader::new(bytes);
        let tracking = match r.u8("tracking")? {
            tag @ (TRACK_LOCAL | TRACK_LOCAL_QUEUED) => Tracking::Local {
                seq: r.u64("sequence")?,
                queued: tag == TRACK_LOCAL_QUEUED,
                replaces: read_replaces(&mut r)?,
            },
            TRACK_REMOTE => Tracking::Remote {
                version: r.u64("remote version")?,
            },
            other => return Err(DecodeError(format!("unknown tracking {other}"))),
        };
        r.finish("tracking")?;
        Ok(tracking)
    }
}

/// Appends the write an operation replaced (or its absence).
pub(crate) fn write_replaces<S: Sink>(w: &mut Writer<'_, S>, replaces: Option<&WriteId>) {
    match replaces {
        Some(id) => {
            w.u8(1);
            w.u64(id.stamp.raw());
            NodeId::write_optional(w, id.origin.as_ref());
        }
        None => w.u8(0),
    }
}

/// Reads what [`write_replaces`] wrote.
pub(crate) fn read_replaces(r: &mut Reader<'_>) -> Result<Option<WriteId>, DecodeError> {
    match r.u8("replaces flag")? {
        0 => Ok(None),
        1 => Ok(Some(WriteId {
            stamp: Stamp::from_raw(r.u64("replaced stamp")?),
            origin: NodeId::read_optional(r, "replaced origin")?,
        })),
        other => Err(DecodeError(format!("bad replaces flag {other}"))),
    }
}

const QUEUED: u8 = 1;
const ACKNOWLEDGED: u8 = 2;
const FAILED: u8 = 3;
const PRUNED: u8 = 4;
const REMOTE_SEEN: u8 = 5;
const REQUEUED: u8 = 6;

/// Most sequences in one annotation, so that a huge prune never makes an oversized record.
pub(crate) const MAX_SEQS_PER_ANNOTATION: usize = 65_536;

/// One logged transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Annotation {
    Queued(Vec<u64>),
    Acknowledged(Vec<u64>),
    Failed(Vec<u64>),
    Pruned(Vec<u64>),
    /// Failed operations queued again by the application.
    Requeued(Vec<u64>),
    /// A remote operation handled without a store write (ignored, or already held).
    RemoteSeen {
        origin: NodeId,
        version: u64,
        stamp: Stamp,
    },
}

impl Annotation {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        let (tag, seqs) = match self {
            Annotation::Queued(s) => (QUEUED, s),
            Annotation::Acknowledged(s) => (ACKNOWLEDGED, s),
            Annotation::Failed(s) => (FAILED, s),
            Annotation::Pruned(s) => (PRUNED, s),
            Annotation::Requeued(s) => (REQUEUED, s),
            Annotation::RemoteSeen {
                origin,
                version,
                stamp,
            } => {
                w.u8(REMOTE_SEEN);
                w.str(origin.as_str());
                w.u64(*version);
                w.u64(stamp.raw());
                return out;
            }
        };
        debug_assert!(seqs.len() <= MAX_SEQS_PER_ANNOTATION);
        w.u8(tag);
        w.u32(seqs.len() as u32);
        for &seq in seqs {
            w.u64(seq);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Annotation, DecodeError> {
        let mut r = Reader::new(bytes);
        let tag = r.u8("annotation tag")?;
        let annotation = if tag == REMOTE_SEEN {
            let origin = NodeId::read(&mut r, "origin")?;
            Annotation::RemoteSeen {
                origin,
                version: r.u64("version")?,
                stamp: Stamp::from_raw(r.u64("stamp")?),
            }
        } else {
            let count = r.u32("sequence count")? as usize;
            if count > MAX_SEQS_PER_ANNOTATION {
                return Err(DecodeError(format!("{count} sequences in one annotation")));
            }
            let seqs = (0..count)
                .map(|_| r.u64("sequence"))
                .collect::<Result<Vec<_>, _>>()?;
            match tag {
                QUEUED => Annotation::Queued(seqs),
                ACKNOWLEDGED => Annotation::Acknowledged(seqs),
                FAILED => Annotation::Failed(seqs),
                PRUNED => Annotation::Pruned(seqs),
                REQUEUED => Annotation::Requeued(seqs),
                other => return Err(DecodeError(format!("unknown annotation tag {other}"))),
            }
        };
        r.finish("annotation")?;
        Ok(annotation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_round_trips_and_rejects_every_truncation() {
        let all = [
            Tracking::Remote { version: 9 },
            Tracking::Local {
                seq: 3,
                queued: true,
                replaces: Some(WriteId {
                    stamp: Stamp::new(40, 0),
                    origin: None,
                }),
            },
            Tracking::Local {
                seq: 4,
                queued: false,
                replaces: Some(WriteId {
                    stamp: Stamp::new(41, 2),
                    origin: Some(NodeId::new("node-b").unwrap()),
                }),
            },
        ];
        for t in all {
            let bytes = t.encode();
            assert_eq!(Tracking::decode(&bytes).unwrap(), t);
            for cut in 0..bytes.len() {
                assert!(
                    Tracking::decode(&bytes[..cut]).is_err(),
                    "{t:?} cut at {cut}"
                );
            }
        }
        assert!(Tracking::decode(&[9]).is_err());
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let all = [
            Annotation::Queued(vec![1, 2]),
            Annotation::Acknowledged(vec![]),
            Annotation::Failed(vec![7]),
            Annotation::Pruned(vec![u64::MAX]),
            Annotation::Requeued(vec![4, 5]),
            Annotation::RemoteSeen {
                origin: NodeId::new("node-b").unwrap(),
                version: 3,
                stamp: Stamp::new(9, 1),
            },
        ];
        for a in all {
            let bytes = a.encode();
            assert_eq!(Annotation::decode(&bytes).unwrap(), a);
            assert!(Annotation::decode(&bytes[..bytes.len() - 1]).is_err());
        }
        assert!(Annotation::decode(&[99, 0, 0, 0, 0]).is_err());
    }
}
