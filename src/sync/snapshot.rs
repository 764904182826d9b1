//! An engine's state as bytes: what an engine leaves with its store when it is dropped, so that
//! the next engine over the store continues from it.
//!
//! It holds exactly what replaying the log would rebuild, so an engine starts the same whether
//! the process restarted or not: the outbox entries with their logged status (an operation in
//! flight is saved as queued, to be sent again), the versions handled per origin, the highest
//! sequence issued and the last remote version applied. Counters of activity (retries, remote
//! outcomes, conflicts) belong to one engine and start at zero.

use std::collections::BTreeMap;

use super::dedup::SeenVersions;
use super::envelope::SyncStatus;
use super::journal::{read_replaces, write_replaces};
use super::outbox::{Outbox, OutboxEntry};
use crate::binary::{DecodeError, Reader, Writer};
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Key, Operation, OperationKind, Value};

/// Bumped whenever the layout changes.
const FORMAT: u8 = 1;

/// The state an engine starts from.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The highest sequence issued (0 when none).
    pub last_seq: u64,
    pub last_applied_remote_version: u64,
    pub entries: BTreeMap<u64, OutboxEntry>,
    pub seen: SeenVersions,
}

/// Encodes the parts of an engine's state that a snapshot keeps.
pub(crate) fn encode(
    outbox: &Outbox,
    seen: &SeenVersions,
    last_seq: u64,
    last_applied_remote_version: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + outbox.counts().bytes as usize + outbox.len() * 48);
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
        w.u8(entry.op.kind as u8);
        w.u64(entry.op.timestamp.raw());
        w.str(entry.op.key.as_str());
        w.bytes(entry.op.value.as_bytes());
        write_replaces(&mut w, entry.replaces.map(|r| r.to_write_id()).as_ref());
    }
    seen.encode(&mut w);
    out
}

/// Decodes a snapshot; any malformation is an error naming it, never a panic.
pub(crate) fn decode(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    let mut r = Reader::new(bytes);
    let format = r.u8("snapshot format")?;
    if format != FORMAT {
        return Err(DecodeError(format!("unknown snapshot format {format}")));
    }
    let last_seq = r.u64("last sequence")?;
    let last_applied_remote_version = r.u64("last remote version")?;
    // Entries are listed in ascending sequence order, so the map is built in bulk at the end.
    let mut entries = Vec::new();
    for _ in 0..r.u64("entry count")? {
        let seq = r.u64("sequence")?;
        let after_previous = entries.last().is_none_or(|&(previous, _)| seq > previous);
        if seq == 0 || seq > last_seq || !after_previous {
            return Err(DecodeError(format!("bad outbox sequence {seq}")));
        }
        let status = match r.u8("status")? {
            1 => SyncStatus::Pending,
            2 => SyncStatus::Queued,
            4 => SyncStatus::Acknowledged,
            5 => SyncStatus::Failed,
            other => return Err(DecodeError(format!("bad outbox status {other}"))),
        };
        let origin = NodeId::read(&mut r, "origin")?;
        let kind_code = r.u8("operation kind")?;
        let kind = OperationKind::from_code(kind_code)
            .ok_or_else(|| DecodeError(format!("unknown operation kind {kind_code}")))?;
        let stamp = Stamp::from_raw(r.u64("stamp")?);
        let key = Key::new(r.str("key")?).map_err(|e| DecodeError(e.to_string()))?;
        let value = Value::new(r.bytes("value")?).map_err(|e| DecodeError(e.to_string()))?;
        let replaces = read_replaces(&mut r)?;
        let op = Operation {
            kind,
            key,
            value,
            timestamp: stamp,
        };
        let submitted_at = stamp.wall_ms();
        let entry = OutboxEntry::new(op, origin, replaces, status, submitted_at);
        entries.push((seq, entry));
    }
    let entries: BTreeMap<u64, OutboxEntry> = entries.into_iter().collect();
    let seen = SeenVersions::decode(&mut r)?;
    r.finish("snapshot")?;
    Ok(Snapshot {
        last_seq,
        last_applied_remote_version,
        entries,
        seen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteId;

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
        let bytes = encode(&outbox(), &seen, 3, 4);
        let snap = decode(&bytes).unwrap();
        assert_eq!(snap.last_seq, 3);
        assert_eq!(snap.last_applied_remote_version, 4);
        assert_eq!(snap.entries.len(), 2);
        assert_eq!(snap.entries[&1].op.key.as_str(), "a");
        assert_eq!(snap.entries[&3].status, SyncStatus::Queued);
        assert_eq!(snap.entries[&3].op.kind, OperationKind::Delete);
        assert_eq!(
            snap.entries[&3].replaces.as_ref().unwrap().stamp,
            Stamp::new(5, 1)
        );
        assert!(snap.seen.contains(&b, 4) && !snap.seen.contains(&b, 2));
    }

    #[test]
    fn every_truncation_and_bad_field_is_an_error() {
        let bytes = encode(&outbox(), &SeenVersions::default(), 3, 0);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_format = bytes.clone();
        bad_format[0] = 9;
        assert!(decode(&bad_format).is_err());
        // A sequence above the highest issued one.
        let bad_seq = encode(&outbox(), &SeenVersions::default(), 2, 0);
        assert!(decode(&bad_seq).is_err());
    }
}
