//! Calls that take many operations at once: submitting as one WAL record (all or none after a
//! crash), and acknowledging many ids in one logged transition.

mod common;

use std::fs;

use common::*;
use softadastra_sync::store::{Operation, Value};
use softadastra_sync::sync::{AckReport, SyncConfig, SyncError, SyncStatus};

#[test]
fn a_batch_submit_is_one_record_with_consecutive_ids_and_in_order_replacements() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    n.engine.submit_local_operation(put("k", "before")).unwrap();
    let ops = n
        .engine
        .submit_local_operations(vec![put("k", "one"), put("j", "x"), put("k", "two")])
        .unwrap();
    let ids: Vec<&str> = ops.iter().map(|o| o.sync_id.as_str()).collect();
    assert_eq!(ids, ["node-a-2", "node-a-3", "node-a-4"]);
    assert!(ops[0].operation.timestamp < ops[2].operation.timestamp);
    // Each write of the call replaces the one before it on its key.
    assert_eq!(
        ops[2].replaces.as_ref().unwrap().stamp,
        ops[0].operation.timestamp
    );
    assert!(ops[1].replaces.is_none());
    assert_eq!(get(&n.store, "k").as_deref(), Some("two"));
    assert_eq!(n.engine.state().queued_count, 4);
    assert!(n.engine.submit_local_operations(vec![]).unwrap().is_empty());

    let n = n.restart();
    assert_eq!(
        n.store.replay_report().records,
        2,
        "one record for the whole call"
    );
    assert_eq!(get(&n.store, "k").as_deref(), Some("two"));
    let listed: Vec<String> = n
        .engine
        .outbox()
        .into_iter()
        .map(|e| e.operation.sync_id)
        .collect();
    assert_eq!(listed, ["node-a-1", "node-a-2", "node-a-3", "node-a-4"]);
    assert_eq!(
        n.engine
            .outbox_entry("node-a-4")
            .unwrap()
            .operation
            .replaces,
        ops[2].replaces
    );
}

#[test]
fn a_crash_keeps_all_of_a_batch_or_none_and_never_reuses_its_ids() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::fast("node-a"));
    n.engine.submit_local_operation(put("a", "1")).unwrap();
    let before = fs::metadata(&n.wal).unwrap().len();
    n.engine
        .submit_local_operations(vec![put("b", "2"), put("c", "3"), put("d", "4")])
        .unwrap();
    let wal = n.wal.clone();
    drop(n);
    let full = fs::read(&wal).unwrap();
    for cut in before..=full.len() as u64 {
        fs::write(&wal, &full[..cut as usize]).unwrap();
        let n = node(dir.path(), SyncConfig::fast("node-a"));
        let whole = cut == full.len() as u64;
        for k in ["b", "c", "d"] {
            assert_eq!(get(&n.store, k).is_some(), whole, "cut {cut}: key {k}");
        }
        assert_eq!(n.engine.state().outbox_size, if whole { 4 } else { 1 });
        let next = n.engine.submit_local_operation(put("e", "5")).unwrap();
        assert!(next.version > 4, "cut {cut}: {} reused", next.sync_id);
    }
}

#[test]
fn one_invalid_operation_refuses_the_whole_batch_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SyncConfig::fast("node-a");
    config.max_outbox_operations = 3;
    let n = node(dir.path(), config);
    let bad_delete = Operation {
        value: Value::from_string("oops").unwrap(),
        ..Operation::delete(key("b"))
    };
    let size = fs::metadata(&n.wal).unwrap().len();
    let err = n
        .engine
        .submit_local_operations(vec![put("a", "1"), bad_delete])
        .unwrap_err();
    assert!(matches!(err, SyncError::InvalidLocalOperation(_)), "{err}");
    assert!(
        err.to_string().contains("operation 1: delete of key \"b\""),
        "{err}"
    );
    let err = n
        .engine
        .submit_local_operations(vec![
            put("a", "1"),
            put("b", "2"),
            put("c", "3"),
            put("d", "4"),
        ])
        .unwrap_err();
    assert!(matches!(err, SyncError::CapacityExceeded(_)), "{err}");
    assert!(err.to_string().contains("the call adds 4"), "{err}");
    assert_eq!(n.engine.state().outbox_size, 0);
    assert_eq!(get(&n.store, "a"), None);
    assert_eq!(fs::metadata(&n.wal).unwrap().len(), size);
    // Ids were not consumed by the refused calls.
    assert_eq!(
        n.engine
            .submit_local_operation(put("a", "1"))
            .unwrap()
            .version,
        1
    );
}

#[test]
fn a_batch_larger_than_one_record_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::fast("node-a"));
    let big = Value::new(&vec![7u8; 40 << 20]).unwrap();
    let op = |k: &str| Operation::put(key(k), big.clone());
    let err = n
        .engine
        .submit_local_operations(vec![op("x"), op("y")])
        .unwrap_err();
    assert!(err.to_string().contains("split the batch"), "{err}");
    assert_eq!(n.engine.state().outbox_size, 0);
    assert_eq!(get(&n.store, "x"), None);
    n.engine.submit_local_operations(vec![op("x")]).unwrap();
}

#[test]
fn many_acks_are_one_transition_and_count_unknown_and_repeated_ids() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    let ops = n
        .engine
        .submit_local_operations((0..5).map(|i| put(&format!("k{i}"), "v")).collect())
        .unwrap();
    n.engine.next_batch().unwrap();
    n.engine.receive_ack(&ops[0].sync_id).unwrap();
    let records = |n: &Node| n.store.replay_report().records;
    let ids = [
        ops[0].sync_id.as_str(), // already acknowledged
        ops[1].sync_id.as_str(),
        ops[2].sync_id.as_str(),
        ops[2].sync_id.as_str(), // listed twice
        "node-a-99",             // unknown
        "node-b-1",              // not ours
    ];
    let report = n.engine.receive_acks(&ids).unwrap();
    assert_eq!(
        report,
        AckReport {
            acknowledged: 2,
            already_acknowledged: 2,
            unknown: 2
        }
    );
    let n = n.restart();
    // 1 submit record, 1 ACK, 1 ACK for the whole call.
    assert_eq!(records(&n), 3);
    let acked: Vec<SyncStatus> = n.engine.outbox().iter().map(|e| e.status).collect();
    assert_eq!(
        acked,
        [
            SyncStatus::Acknowledged,
            SyncStatus::Acknowledged,
            SyncStatus::Acknowledged,
            SyncStatus::Queued,
            SyncStatus::Queued
        ]
    );
    assert_eq!(
        n.engine.receive_acks::<&str>(&[]).unwrap(),
        AckReport::default()
    );
}
