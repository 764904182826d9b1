//! An engine's state as bytes: what an engine leaves with its store when it is dropped, so that
//! the next engine over the store continues from it.
//!
//! It holds exactly what replaying the log would rebuild, so an engine starts the same whether
//! the process restarted or not: the outbox entries with their logged status (an operation in
//! flight is saved as queued, to be sent again), the versions handled per origin, the highest
//! sequence issued and the last remote version applied. Counters of activity (retries, remote
//! outcomes, conflicts) belong to one engine and start at zero.
//!
//! Keys and values are not in the bytes: each entry refers to the next of the snapshot's shared
//! writes (see `store/extension.rs`), which the store keeps beside the bytes and a checkpoint
//! stores once with the table's own copy.

use super::dedup::SeenVersions;
use super::envelope::SyncStatus;
use super::journal::{read_replaces, write_replaces};
use super::outbox::{Outbox, OutboxEntry};
use crate::binary::{DecodeError, Reader, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Operation, OperationKind, SharedWrite, Value};

/// Bumped whenever the layout changes (2: keys and values in the shared writes).
const FORMAT: u8 = 2;

/// The state an engine starts from.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The highest sequence issued (0 when none).
    pub last_seq: u64,
    pub last_applied_remote_version: u64,
    pub outbox: Outbox,
    pub seen: SeenVersions,
}

/// Encodes the parts of an engine's state that a snapshot keeps: the bytes, and the shared
/// writes they refer to (every entry's key and value, in sequence order).
pub(crate) fn encode(
    outbox: &Outbox,
    seen: &SeenVersions,
    last_seq: u64,
    last_applied_remote_version: u64,
) -> (Vec<u8>, Vec<SharedWrite>) {
    let mut out = Vec::with_capacity(64 + outbox.len() * 40);
    let mut shared = Vec::with_capacity(outbox.len());
    let mut w = Writer::new(&mut out);
    w.u8(FORMAT);
    w.u64(last_seq);
    w.u64(last_applied_remote_version);
    w.u64(outbox.len() as u64);
    for (seq, entry) in outbox.iter() {
        w.u64(seq);
        w.u8(match entry.status {
            SyncStatus::InFlight => SyncStatus::Queued,
            status => status,
        } as u8);
        w.str(entry.origin.as_str());
        w.u64(entry.op.timestamp.raw());
        write_replaces(&mut w, entry.replaces.map(|r| r.to_write_id()).as_ref());
        let value = match entry.op.kind {
            OperationKind::Put => Some(entry.op.value()),
            OperationKind::Delete => None,
        };
        shared.push((entry.op.key.clone(), value));
    }
    seen.encode(&mut w);
    (out, shared)
}

/// Decodes a snapshot, taking its entries' keys and values from `shared`; any malformation is
/// an error naming it, never a panic, and leaves `shared` as it was.
pub(crate) fn decode(bytes: &[u8], shared: &mut Vec<SharedWrite>) -> Result<Snapshot, DecodeError> {
    let mut writes = std::mem::take(shared).into_iter();
    let mut outbox = Outbox::default();
    let decoded = decode_into(bytes, &mut writes, &mut outbox);
    match decoded {
        Ok((last_seq, last_applied_remote_version, seen)) => Ok(Snapshot {
            last_seq,
            last_applied_remote_version,
            outbox,
            seen,
        }),
        Err(e) => {
            // Each entry decoded took one write, in order: give them back.
            *shared = outbox
                .iter()
                .map(|(_, entry)| {
                    let op = entry.op;
                    let value = (op.kind == OperationKind::Put).then(|| op.value());
                    (op.key.clone(), value)
                })
                .chain(writes)
                .collect();
            Err(e)
        }
    }
}

/// Decodes the snapshot's entries straight into `outbox` (no intermediate list or map: a
/// restart with a million pending operations touches each byte once), returning the rest.
fn decode_into(
    bytes: &[u8],
    writes: &mut std::vec::IntoIter<SharedWrite>,
    outbox: &mut Outbox,
) -> Result<(u64, u64, SeenVersions), DecodeError> {
    let mut r = Reader::new(bytes);
    let format = r.u8("snapshot format")?;
    if format != FORMAT {
        return Err(DecodeError(format!("unknown snapshot format {format}")));
    }
    let last_seq = r.u64("last sequence")?;
    let last_applied_remote_version = r.u64("last remote version")?;
    let count = r.u64("entry count")?;
    if count != writes.len() as u64 {
        return Err(DecodeError(format!(
            "{count} outbox entries, but {} shared writes",
            writes.len()
        )));
    }
    let mut previous = 0;
    for _ in 0..count {
        let seq = r.u64("sequence")?;
        if seq == 0 || seq > last_seq || seq <= previous {
            return Err(DecodeError(format!("bad outbox sequence {seq}")));
        }
        previous = seq;
        let status = match r.u8("status")? {
            1 => SyncStatus::Pending,
            2 => SyncStatus::Queued,
            4 => SyncStatus::Acknowledged,
            5 => SyncStatus::Failed,
            other => return Err(DecodeError(format!("bad outbox status {other}"))),
        };
        let origin = NodeId::read(&mut r, "origin")?;
        let stamp = Stamp::from_raw(r.u64("stamp")?);
        let replaces = read_replaces(&mut r)?;
        // Taken last, once nothing about the entry can fail (the count was checked).
        let (key, value) = writes.next().expect("one shared write per entry");
        let (kind, value) = match value {
            Some(value) => (OperationKind::Put, value),
            None => (OperationKind::Delete, Value::default()),
        };
        let op = Operation {
            kind,
            key,
            value,
            timestamp: stamp,
        };
        outbox.insert(
            seq,
            OutboxEntry::new(op, origin, replaces, status, stamp.wall_ms()),
        );
    }
    let seen = SeenVersions::decode(&mut r)?;
    r.finish("snapshot")?;
    Ok((last_seq, last_applied_remote_version, seen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Key, WriteId};

    fn outbox() -> Outbox {
        let node = NodeId::new("node-a").unwrap();
        let op = |k: &str, v: &str, wall| {
            Operation::put(Key::new(k).unwrap(), Value::from_string(v).unwrap())
                .with_timestamp(Stamp::new(wall, 0))
        };
        let mut outbox = Outbox::default();
        outbox.insert(
            1,
            OutboxEntry::new(op("a", "1", 10), node.clone(), None, SyncStatus::Queued, 10),
        );
        let replaced = WriteId {
            stamp: Stamp::new(5, 1),
            origin: Some(NodeId::new("node-b").unwrap()),
        };
        outbox.insert(
            3,
            OutboxEntry::new(
                Operation::delete(Key::new("b").unwrap()).with_timestamp(Stamp::new(11, 0)),
                node,
                Some(replaced),
                SyncStatus::Queued,
                11,
            ),
        );
        outbox.mark_in_flight(3, 12, 100);
        outbox
    }

    #[test]
    fn round_trips_and_queues_what_was_in_flight() {
        let mut seen = SeenVersions::default();
        let b = NodeId::new("node-b").unwrap();
        seen.insert(&b, 1);
        seen.insert(&b, 4);
        let (bytes, mut shared) = encode(&outbox(), &seen, 3, 4);
        assert_eq!(shared.len(), 2);
        assert_eq!(shared[1], (Key::new("b").unwrap(), None), "a delete");
        let snap = decode(&bytes, &mut shared).unwrap();
        assert!(shared.is_empty(), "every shared write taken");
        assert_eq!(snap.last_seq, 3);
        assert_eq!(snap.last_applied_remote_version, 4);
        assert_eq!(snap.outbox.len(), 2);
        let first = snap.outbox.get(1).unwrap();
        assert_eq!(first.op.key.as_str(), "a");
        assert_eq!(first.op.value().as_bytes(), b"1");
        let third = snap.outbox.get(3).unwrap();
        assert_eq!(third.status, SyncStatus::Queued);
        assert_eq!(third.op.kind, OperationKind::Delete);
        assert_eq!(third.replaces.unwrap().stamp, Stamp::new(5, 1));
        assert!(snap.seen.contains(&b, 4) && !snap.seen.contains(&b, 2));
    }

    #[test]
    fn every_truncation_and_bad_field_is_an_error_that_keeps_the_shared_writes() {
        let (bytes, shared) = encode(&outbox(), &SeenVersions::default(), 3, 0);
        let refused = |bytes: &[u8], shared: &[SharedWrite]| {
            let mut writes = shared.to_vec();
            let refused = decode(bytes, &mut writes).is_err();
            assert_eq!(writes, shared, "the shared writes are given back");
            refused
        };
        for cut in 0..bytes.len() {
            assert!(refused(&bytes[..cut], &shared), "cut at {cut}");
        }
        let mut bad_format = bytes.clone();
        bad_format[0] = 9;
        assert!(refused(&bad_format, &shared));
        // A sequence above the highest issued one.
        let (bad_seq, _) = encode(&outbox(), &SeenVersions::default(), 2, 0);
        assert!(refused(&bad_seq, &shared));
        // One shared write too few or too many.
        assert!(refused(&bytes, &shared[..1]));
        let mut more = shared.clone();
        more.push((Key::new("x").unwrap(), None));
        assert!(refused(&bytes, &more));
        // Damage after the entries: every write they took is given back.
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(refused(&trailing, &shared));
    }
}
