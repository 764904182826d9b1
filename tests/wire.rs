//! Wire formats against the shared vectors (tests/vectors/wire.txt) and engines: V2 frames
//! (operations, ACKs, receive reports) and V1 interop with the C++ transport.

mod common;
mod vectors;

use common::*;
use softadastra_sync::clock::Stamp;
use softadastra_sync::node::NodeId;
use softadastra_sync::store::{Key, Operation, OperationKind, Value, WriteId};
use softadastra_sync::sync::{AckReport, SyncConfig, SyncOperation};
use softadastra_sync::wire::*;
use vectors::{load, to_hex, Vector};

fn operation_of(v: &Vector) -> SyncOperation {
    let kind = match v.get("op") {
        "put" => OperationKind::Put,
        "delete" => OperationKind::Delete,
        other => panic!("op {other}"),
    };
    let mut op = Operation::put(
        Key::new(v.get("key")).unwrap(),
        Value::from_string(v.opt("value").unwrap_or("")).unwrap(),
    )
    .with_timestamp(Stamp::from_raw(v.u64("stamp")));
    op.kind = kind;
    let mut sync = SyncOperation::remote(v.get("sync_id"), v.get("origin"), v.u64("version"), op);
    if let Some(stamp) = v.opt("replaces_stamp") {
        sync.replaces = Some(WriteId {
            stamp: Stamp::from_raw(stamp.parse().unwrap()),
            origin: v.opt("replaces_origin").map(|o| NodeId::new(o).unwrap()),
        });
    }
    sync
}

#[test]
fn v2_vectors_encode_and_decode_field_for_field() {
    let all = load();
    for name in ["v2_put", "v2_relayed_delete"] {
        let v = &all[name];
        let op = operation_of(v);
        let frame = encode_operations_frame([&op]).unwrap();
        assert_eq!(to_hex(&frame), v.get("hex"), "{name}");
        assert_eq!(decode_operations_frame(&v.bytes()).unwrap(), vec![op]);
    }
    let v = &all["v2_ack"];
    let ids: Vec<&str> = v.get("sync_ids").split(',').collect();
    assert_eq!(to_hex(&encode_ack_frame(&ids).unwrap()), v.get("hex"));
    assert_eq!(decode_ack_frame(&v.bytes()).unwrap(), ids);
}

fn durable(node: &str) -> SyncConfig {
    SyncConfig::durable(node)
}

#[test]
fn v1_spec_example_byte_for_byte_both_ways() {
    let all = load();
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), durable("node-a"));
    let b = node(dir.path(), durable("node-b"));
    a.engine
        .submit_local_operation(put("user:1", "Gaspard"))
        .unwrap();
    let batch = a.engine.next_batch().unwrap();
    let frame = v1_frame_for_operation(&batch[0].operation, "node-b").unwrap();
    assert_eq!(frame.len(), 87);
    assert_eq!(to_hex(&frame), all["v1_sync_batch"].get("hex"));

    let reply = b.engine.handle_v1_frame(&frame).unwrap();
    assert_eq!(to_hex(&reply), all["v1_ack"].get("hex"));
    assert_eq!(get(&b.store, "user:1").as_deref(), Some("Gaspard"));
    let entry = b.store.get(&key("user:1")).unwrap();
    // V1 carries milliseconds only: the logical part comes from the version.
    assert_eq!(entry.timestamp, Stamp::new(T0, 1));

    assert!(a.engine.handle_v1_frame(&reply).unwrap().is_empty());
    assert_eq!(a.engine.state().acknowledged_count, 1);
    // A redelivered SyncBatch is a duplicate, still acknowledged.
    assert_eq!(b.engine.handle_v1_frame(&frame).unwrap(), reply);
    assert_eq!(b.engine.state().remote_duplicate_count, 1);

    let hello = v1_hello_frame(&NodeId::new("node-a").unwrap()).unwrap();
    assert_eq!(to_hex(&hello), all["v1_hello"].get("hex"));
    assert!(b.engine.handle_v1_frame(&hello).unwrap().is_empty());
}

#[test]
fn v1_ping_is_answered_by_a_pong_with_the_same_correlation_id() {
    let dir = tempfile::tempdir().unwrap();
    let b = node(dir.path(), durable("node-b"));
    let ping = V1Message {
        kind: V1MessageType::Ping,
        from_node_id: "node-a".into(),
        to_node_id: "node-b".into(),
        correlation_id: "p-42".into(),
        payload: Vec::new(),
    };
    let pong = V1Message::decode_frame(
        &b.engine
            .handle_v1_frame(&ping.encode_frame().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(pong.kind, V1MessageType::Pong);
    assert_eq!(pong.correlation_id, "p-42");
    assert_eq!(
        (pong.from_node_id.as_str(), pong.to_node_id.as_str()),
        ("node-b", "node-a")
    );
    let pong_frame = pong.encode_frame().unwrap();
    assert!(b.engine.handle_v1_frame(&pong_frame).unwrap().is_empty());
}

#[test]
fn v1_malformed_frames_are_named_and_change_nothing() {
    let all = load();
    let dir = tempfile::tempdir().unwrap();
    let b = node(dir.path(), durable("node-b"));
    let frame = all["v1_sync_batch"].bytes();
    for len in 0..frame.len() {
        assert!(
            b.engine.handle_v1_frame(&frame[..len]).is_err(),
            "prefix {len}"
        );
    }
    let mut unknown = frame.clone();
    unknown[4] = 9;
    let err = b.engine.handle_v1_frame(&unknown).unwrap_err().to_string();
    assert!(err.contains("unknown V1 message type 9"), "{err}");
    let mut huge = frame.clone();
    huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = b.engine.handle_v1_frame(&huge).unwrap_err().to_string();
    assert!(err.contains("declares 4294967295 bytes"), "{err}");
    // A payload with a trailing byte: both lengths grown by one.
    let mut trailing = frame.clone();
    trailing.push(0);
    trailing[..4].copy_from_slice(&84u32.to_le_bytes());
    trailing[37..41].copy_from_slice(&47u32.to_le_bytes());
    let err = b.engine.handle_v1_frame(&trailing).unwrap_err().to_string();
    assert!(
        err.contains("trailing bytes after the V1 sync payload"),
        "{err}"
    );
    assert!(b.store.is_empty());
}

#[test]
fn v2_receive_applies_valid_operations_reports_invalid_ones_and_acks_the_handled() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), durable("node-a"));
    let b = node(dir.path(), durable("node-b"));
    a.engine
        .submit_local_operation(put("user:1", "Gaspard"))
        .unwrap();
    a.engine
        .submit_local_operation(put("user:2", "Ada"))
        .unwrap();
    let mut ops: Vec<SyncOperation> = a
        .engine
        .next_batch()
        .unwrap()
        .into_iter()
        .map(|e| e.operation)
        .collect();
    let mut bad = ops[0].clone();
    bad.sync_id = "node-a-99".into();
    bad.version = 0;
    ops.insert(1, bad);
    let frame = encode_operations_frame(&ops).unwrap();

    let (report, ack) = b.engine.receive_frame(&frame).unwrap();
    assert_eq!(
        (
            report.applied,
            report.ignored,
            report.duplicate,
            report.invalid
        ),
        (2, 0, 0, 1)
    );
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].index, 1);
    assert_eq!(report.errors[0].sync_id, "node-a-99");
    assert!(
        report.errors[0].message.contains("version 0"),
        "{}",
        report.errors[0].message
    );
    assert_eq!(decode_ack_frame(&ack).unwrap(), ["node-a-1", "node-a-2"]);
    assert_eq!(get(&b.store, "user:2").as_deref(), Some("Ada"));

    // Redelivery: duplicates, acknowledged again.
    let (again, ack_again) = b.engine.receive_frame(&frame).unwrap();
    assert_eq!((again.applied, again.duplicate, again.invalid), (0, 2, 1));
    assert_eq!(ack_again, ack);

    let acked = a.engine.ack_frame(&ack).unwrap();
    assert_eq!(
        acked,
        AckReport {
            acknowledged: 2,
            already_acknowledged: 0,
            unknown: 0
        }
    );
    let acked = a
        .engine
        .ack_frame(&encode_ack_frame(&["node-a-1", "node-z-1"]).unwrap())
        .unwrap();
    assert_eq!(
        acked,
        AckReport {
            acknowledged: 0,
            already_acknowledged: 1,
            unknown: 1
        }
    );
}

#[test]
fn an_operation_with_the_receivers_own_id_is_invalid_in_v2_and_v1() {
    let (dir, twin_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Two engines given the same id: the receiver must not take the other's writes for its own.
    let a = node(dir.path(), durable("node-a"));
    let twin = node(twin_dir.path(), durable("node-a"));
    a.engine.submit_local_operation(put("k", "v")).unwrap();
    let ops: Vec<SyncOperation> = a
        .engine
        .next_batch()
        .unwrap()
        .into_iter()
        .map(|e| e.operation)
        .collect();
    let frame = encode_operations_frame(&ops).unwrap();
    let (report, ack) = twin.engine.receive_frame(&frame).unwrap();
    assert_eq!(
        (report.applied, report.duplicate, report.invalid),
        (0, 0, 1)
    );
    assert!(
        report.errors[0]
            .message
            .contains("origin node-a is this node's own id"),
        "{}",
        report.errors[0].message
    );
    assert!(decode_ack_frame(&ack).unwrap().is_empty());
    // V1: refused, no reply frame, nothing applied.
    let v1 = v1_frame_for_operation(&ops[0], "node-a").unwrap();
    let err = twin.engine.handle_v1_frame(&v1).unwrap_err().to_string();
    assert!(err.contains("origin node-a is this node's own id"), "{err}");
    assert!(twin.store.is_empty());
    assert_eq!(twin.engine.state().remote_duplicate_count, 0);
}

#[test]
fn v2_relay_keeps_origin_and_replaced_write() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), durable("node-a"));
    let b = node(dir.path(), durable("node-b"));
    let c = node(dir.path(), durable("node-c"));
    a.engine.submit_local_operation(put("k", "1")).unwrap();
    a.engine.submit_local_operation(put("k", "2")).unwrap();
    let ops: Vec<SyncOperation> = a
        .engine
        .next_batch()
        .unwrap()
        .into_iter()
        .map(|e| e.operation)
        .collect();
    let frame = encode_operations_frame(&ops).unwrap();
    b.engine.receive_frame(&frame).unwrap();
    // b relays a's operations to c unchanged: same frame bytes from the decoded operations.
    let relayed = encode_operations_frame(&decode_operations_frame(&frame).unwrap()).unwrap();
    assert_eq!(relayed, frame);
    let (report, _) = c.engine.receive_frame(&relayed).unwrap();
    assert_eq!(report.applied, 2);
    assert_eq!(
        c.store.get(&key("k")).unwrap().origin.unwrap().as_str(),
        "node-a"
    );
}

#[test]
fn a_frame_that_fails_to_decode_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), durable("node-a"));
    let b = node(dir.path(), durable("node-b"));
    a.engine
        .submit_local_operation(put("user:1", "Gaspard"))
        .unwrap();
    let ops: Vec<SyncOperation> = a
        .engine
        .next_batch()
        .unwrap()
        .into_iter()
        .map(|e| e.operation)
        .collect();
    let mut frame = encode_operations_frame(&ops).unwrap();
    frame.push(7);
    let err = b.engine.receive_frame(&frame).unwrap_err().to_string();
    assert!(err.contains("trailing bytes"), "{err}");
    frame.pop();
    frame[4] = 9;
    let err = b.engine.receive_frame(&frame).unwrap_err();
    assert!(
        matches!(err, WireError::UnsupportedVersion { found: 9, .. }),
        "{err}"
    );
    assert!(b.store.is_empty());
    assert_eq!(b.engine.state().remote_applied_count, 0);
}

#[test]
fn v1_invalid_operations_and_unknown_acks_follow_the_cpp_dispatcher() {
    let dir = tempfile::tempdir().unwrap();
    let b = node(dir.path(), durable("node-b"));
    let mut op = SyncOperation::remote(
        "",
        "node-a",
        1,
        put("user:1", "x").with_timestamp(Stamp::new(T0, 0)),
    );
    // An empty correlation id is an empty sync id: refused, nothing applied, no Ack.
    let frame = v1_frame_for_operation(&op, "node-b").unwrap();
    let err = b.engine.handle_v1_frame(&frame).unwrap_err().to_string();
    assert!(err.contains("empty sync id"), "{err}");
    assert!(b.store.is_empty());
    // A delete travels with an empty value and applies as a tombstone, ordered after the put
    // of the same origin and millisecond by its version.
    op.sync_id = "node-a-1".into();
    b.engine
        .handle_v1_frame(&v1_frame_for_operation(&op, "node-b").unwrap())
        .unwrap();
    op.sync_id = "node-a-2".into();
    op.version = 2;
    op.operation = Operation::delete(key("user:1")).with_timestamp(Stamp::new(T0, 0));
    let reply = b
        .engine
        .handle_v1_frame(&v1_frame_for_operation(&op, "node-b").unwrap())
        .unwrap();
    assert_eq!(
        V1Message::decode_frame(&reply).unwrap().kind,
        V1MessageType::Ack
    );
    assert_eq!(get(&b.store, "user:1"), None);
    // An Ack for an id this node never sent is ignored, as in C++.
    let ack = V1Message {
        kind: V1MessageType::Ack,
        from_node_id: "node-a".into(),
        to_node_id: "node-b".into(),
        correlation_id: "node-b-9".into(),
        payload: V1AckPayload {
            sync_id: "node-b-9".into(),
            from_node_id: "node-a".into(),
            correlation_id: "node-b-9".into(),
        }
        .encode(),
    };
    assert!(b
        .engine
        .handle_v1_frame(&ack.encode_frame().unwrap())
        .unwrap()
        .is_empty());
    // The logical part of a stamp does not travel in V1: the receiver derives it from the
    // version.
    op.operation.timestamp = Stamp::new(T0, 7);
    let sent = V1Message::decode_frame(&v1_frame_for_operation(&op, "node-b").unwrap()).unwrap();
    let payload = V1SyncPayload::decode(&sent.payload).unwrap();
    assert_eq!(payload.operation.timestamp, Stamp::new(T0, 2));
}
