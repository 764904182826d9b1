//! Outbox transitions and remote bookkeeping as logged in the store's WAL (annotations).
//!
//! Only what must survive a restart is logged: manual queueing, acknowledgement, failure,
//! pruning, and remote operations that were handled without a store write. Sending (in flight)
//! and retry scheduling are not: after a restart every unacknowledged operation is simply
//! queued again, and receivers deduplicate what they already have.

use crate::binary::{DecodeError, Reader, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;

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
            let origin = NodeId::new(r.str("origin")?).map_err(|e| DecodeError(e.to_string()))?;
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
