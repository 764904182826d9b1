//! Faults injected at the WAL layer (short writes, fdatasync errors, a full disk) become
//! errors, change nothing, and never lose data that was reported written — across reopen too.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use softadastra_sync::store::{StoreConfig, StoreEngine, WalFaults};
use softadastra_sync::sync::{ErrorKind, SyncConfig, SyncContext, SyncEngine};

fn open(wal: &Path, faults: &Arc<WalFaults>) -> SyncEngine {
    let store = StoreEngine::open(StoreConfig::durable(wal).with_faults(faults.clone())).unwrap();
    SyncEngine::new(&SyncContext::new(&store, SyncConfig::durable("node-a"))).unwrap()
}

fn reopen_clean(wal: &Path) -> SyncEngine {
    open(wal, &Arc::new(WalFaults::new()))
}

#[test]
fn a_short_write_is_an_error_rolled_back_and_the_wal_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("n.wal");
    let faults = Arc::new(WalFaults::new());
    let engine = open(&wal, &faults);
    engine.submit_local_operation(put("a", "1")).unwrap();
    faults.short_next_writes(1);
    let err = engine.submit_local_operation(put("b", "2")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("injected short write"), "{err}");
    assert_eq!(get(engine.store(), "b"), None);
    assert_eq!(engine.state().outbox_size, 1);
    // The half-written record was cut back: the next write lands cleanly.
    let c = engine.submit_local_operation(put("c", "3")).unwrap();
    assert_eq!(c.version, 2, "the failed write consumed no version");
    drop(engine);
    let engine = reopen_clean(&wal);
    assert_eq!(engine.store().replay_report().dropped_bytes, 0);
    assert_eq!(get(engine.store(), "a").as_deref(), Some("1"));
    assert_eq!(get(engine.store(), "b"), None);
    assert_eq!(get(engine.store(), "c").as_deref(), Some("3"));
    assert_eq!(engine.state().outbox_size, 2);
}

#[test]
fn a_failed_fdatasync_is_an_error_and_closes_the_wal_until_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("n.wal");
    let faults = Arc::new(WalFaults::new());
    let engine = open(&wal, &faults);
    engine.submit_local_operation(put("a", "1")).unwrap();
    faults.fail_next_syncs(1);
    let err = engine.submit_local_operation(put("b", "2")).unwrap_err();
    assert!(err.to_string().contains("fdatasync"), "{err}");
    assert_eq!(
        get(engine.store(), "b"),
        None,
        "a write that was not synced is not applied"
    );
    // After an fsync failure the file's state is unknown: every later write is refused.
    let err = engine.submit_local_operation(put("c", "3")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("reopen the store"), "{err}");
    assert_eq!(
        get(engine.store(), "a").as_deref(),
        Some("1"),
        "reads still work"
    );
    drop(engine);
    let engine = reopen_clean(&wal);
    assert_eq!(get(engine.store(), "a").as_deref(), Some("1"));
    assert_eq!(get(engine.store(), "b"), None);
    assert_eq!(
        engine
            .submit_local_operation(put("d", "4"))
            .unwrap()
            .version,
        2
    );
}

#[test]
fn a_full_disk_refuses_writes_without_losing_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("n.wal");
    let faults = Arc::new(WalFaults::new());
    let engine = open(&wal, &faults);
    faults.disk_full_after(200);
    let mut written = Vec::new();
    let err = loop {
        let i = written.len();
        match engine.submit_local_operation(put(&format!("k{i}"), "0123456789")) {
            Ok(op) => written.push(op.sync_id),
            Err(e) => break e,
        }
    };
    assert!(!written.is_empty());
    assert!(err.to_string().contains("No space left on device"), "{err}");
    // Handing out a batch needs no new record; an ACK does, and fails without changing anything.
    let n = written.len() as u64;
    assert_eq!(engine.next_batch().unwrap().len() as u64, n);
    let err = engine.receive_ack(&written[0]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(engine.state().acknowledged_count, 0);
    assert_eq!(engine.state().in_flight_count, n);
    // Space is freed: the engine continues where it stopped.
    faults.clear();
    engine.receive_ack(&written[0]).unwrap();
    drop(engine);
    let engine = reopen_clean(&wal);
    for (i, _) in written.iter().enumerate() {
        assert_eq!(
            get(engine.store(), &format!("k{i}")).as_deref(),
            Some("0123456789")
        );
    }
    assert_eq!(engine.state().acknowledged_count, 1);
    assert_eq!(
        engine.state().queued_count,
        written.len() as u64 - 1,
        "in flight → queued"
    );
}
