//! JSON views of the engine's state, its outbox and batches, for logs, dashboards and SDKs
//! that prefer text to C structs.
//!
//! Field names are stable (listed in the README): adding a field is compatible, renaming or
//! removing one is not. Values (opaque bytes) are lowercase hex in `value_hex`; stamps are the
//! packed hybrid-clock integer (`wall_ms << 16 | logical`) with its two parts alongside.
//! Integers are JSON numbers: all fit in 64 bits; consumers limited to doubles should read
//! `stamp` through `stamp_wall_ms` and `stamp_logical`.

use serde::Serialize;

use crate::clock::Stamp;
use crate::store::OperationKind;
use crate::sync::{SyncEnvelope, SyncState, SyncStatus};

/// A stamp and its two parts.
#[derive(Serialize)]
struct StampView {
    stamp: u64,
    stamp_wall_ms: u64,
    stamp_logical: u16,
}

impl From<Stamp> for StampView {
    fn from(s: Stamp) -> StampView {
        StampView {
            stamp: s.raw(),
            stamp_wall_ms: s.wall_ms(),
            stamp_logical: s.logical(),
        }
    }
}

#[derive(Serialize)]
struct ReplacedView<'a> {
    #[serde(flatten)]
    stamp: StampView,
    /// `null` for a direct store write.
    origin: Option<&'a str>,
}

#[derive(Serialize)]
struct EnvelopeView<'a> {
    sync_id: &'a str,
    origin: &'a str,
    version: u64,
    #[serde(flatten)]
    stamp: StampView,
    /// `"put"` or `"delete"`.
    op: &'static str,
    key: &'a str,
    value_hex: String,
    /// `"pending"`, `"queued"`, `"in_flight"`, `"acknowledged"` or `"failed"`.
    status: &'static str,
    retry_count: u32,
    submitted_at_ms: u64,
    last_attempt_at_ms: Option<u64>,
    next_retry_at_ms: Option<u64>,
    /// The write this one replaced at its origin, or `null`.
    replaces: Option<ReplacedView<'a>>,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn status_name(status: SyncStatus) -> &'static str {
    match status {
        SyncStatus::Pending => "pending",
        SyncStatus::Queued => "queued",
        SyncStatus::InFlight => "in_flight",
        SyncStatus::Acknowledged => "acknowledged",
        SyncStatus::Failed => "failed",
    }
}

fn view(e: &SyncEnvelope) -> EnvelopeView<'_> {
    let op = &e.operation;
    EnvelopeView {
        sync_id: &op.sync_id,
        origin: &op.origin_node_id,
        version: op.version,
        stamp: op.operation.timestamp.into(),
        op: match op.operation.kind {
            OperationKind::Put => "put",
            OperationKind::Delete => "delete",
        },
        key: op.operation.key.as_str(),
        value_hex: hex(op.operation.value.as_bytes()),
        status: status_name(e.status),
        retry_count: e.retry_count,
        submitted_at_ms: e.submitted_at,
        last_attempt_at_ms: e.last_attempt_at,
        next_retry_at_ms: e.next_retry_at,
        replaces: op.replaces.as_ref().map(|r| ReplacedView {
            stamp: r.stamp.into(),
            origin: r.origin.as_ref().map(|o| o.as_str()),
        }),
    }
}

/// The engine's counters as one JSON object (the field names of [`SyncState`]).
pub fn state_json(state: &SyncState) -> Vec<u8> {
    serde_json::to_vec(state).expect("plain counters always serialize")
}

/// Envelopes (an outbox listing or a batch) as a JSON array of objects.
pub fn envelopes_json<'a>(envelopes: impl IntoIterator<Item = &'a SyncEnvelope>) -> Vec<u8> {
    let views: Vec<EnvelopeView<'_>> = envelopes.into_iter().map(view).collect();
    serde_json::to_vec(&views).expect("strings and integers always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Key, Operation, Value};
    use crate::sync::SyncOperation;

    #[test]
    fn envelope_fields_are_stable() {
        let op = Operation::put(
            Key::new("user:1").unwrap(),
            Value::new(b"G\x00\xff").unwrap(),
        )
        .with_timestamp(Stamp::new(1_700_000_000_000, 2));
        let envelope = SyncEnvelope {
            operation: SyncOperation::remote("node-a-1", "node-a", 1, op),
            status: SyncStatus::InFlight,
            retry_count: 0,
            submitted_at: 1_700_000_000_000,
            last_attempt_at: Some(1_700_000_000_005),
            next_retry_at: None,
        };
        let json: serde_json::Value = serde_json::from_slice(&envelopes_json([&envelope])).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "sync_id": "node-a-1", "origin": "node-a", "version": 1,
                "stamp": (1_700_000_000_000u64 << 16) | 2, "stamp_wall_ms": 1_700_000_000_000u64,
                "stamp_logical": 2, "op": "put", "key": "user:1", "value_hex": "4700ff",
                "status": "in_flight", "retry_count": 0, "submitted_at_ms": 1_700_000_000_000u64,
                "last_attempt_at_ms": 1_700_000_000_005u64, "next_retry_at_ms": null,
                "replaces": null
            }])
        );
    }

    #[test]
    fn state_uses_the_counter_names() {
        let json: serde_json::Value =
            serde_json::from_slice(&state_json(&SyncState::default())).unwrap();
        assert_eq!(json["outbox_size"], 0);
        assert_eq!(json["conflict_count"], 0);
        assert_eq!(json.as_object().unwrap().len(), 16);
    }
}
