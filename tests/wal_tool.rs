//! The `softadastra-sync` command: inspect and verify a WAL without changing it.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

fn tool(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_softadastra-sync"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A store with 3 writes by node-a (handed out, so acknowledged) and a queued delete:
/// 4 writes and 1 annotation.
fn sample(wal: &Path) {
    let store =
        StoreEngine::open(StoreConfig::fast(wal).with_clock(Arc::new(ManualClock::new(T0))))
            .unwrap();
    let engine = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a"))).unwrap();
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        engine.submit_local_operation(put(k, v)).unwrap();
    }
    // The fast preset does not wait for ACKs: a batch counts as acknowledged.
    assert_eq!(engine.next_batch().unwrap().len(), 3);
    engine
        .submit_local_operation(softadastra_sync::store::Operation::delete(key("b")))
        .unwrap();
}

#[test]
fn inspect_summarises_a_store_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    sample(&wal);
    let before = fs::read(&wal).unwrap();
    let path = wal.to_str().unwrap();
    let (code, out, err) = tool(&["inspect", path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("records        5"), "{out}");
    assert!(out.contains("2 live, 1 tombstones"), "{out}");
    assert!(out.contains("node           node-a"), "{out}");
    assert!(out.contains("4 operations"), "{out}");
    assert!(out.contains("1 queued"), "{out}");
    assert!(out.contains("3 acknowledged"), "{out}");
    let (code, out, _) = tool(&["inspect", path, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["records"], 5);
    assert_eq!(v["live_keys"], 2);
    assert_eq!(v["tombstones"], 1);
    assert_eq!(v["node"], "node-a");
    assert_eq!(v["torn_tail"], serde_json::Value::Null);
    assert_eq!(v["state"]["outbox_size"], 4);
    assert_eq!(v["state"]["queued_count"], 1);
    assert_eq!(v["state"]["acknowledged_count"], 3);
    assert_eq!(v["sequence_mark"], 4, "a clean close leaves the exact mark");
    assert_eq!(fs::read(&wal).unwrap(), before, "inspect wrote nothing");
}

#[test]
fn verify_names_a_torn_tail_and_a_corruption_and_repairs_neither() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    sample(&wal);
    let path = wal.to_str().unwrap();
    let (code, out, _) = tool(&["verify", path]);
    assert_eq!(
        (code, out.trim_end()),
        (0, format!("{path}: clean (5 records)").as_str())
    );

    let good = fs::read(&wal).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(&[9, 0, 0]);
    fs::write(&wal, &torn).unwrap();
    let (code, out, _) = tool(&["verify", path]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("torn tail at byte {}", good.len())),
        "{out}"
    );
    let (_, out, _) = tool(&["verify", path, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "torn_tail");
    assert_eq!(v["offset"], good.len());
    assert_eq!(v["bytes"], 3);
    assert_eq!(fs::read(&wal).unwrap(), torn, "verify repaired nothing");

    let mut corrupt = good.clone();
    corrupt[24 + 8 + 2] ^= 0x40; // inside the first record's payload
    fs::write(&wal, &corrupt).unwrap();
    let (code, out, _) = tool(&["verify", path]);
    assert_eq!(code, 1);
    assert!(
        out.contains("corrupt at byte 24: checksum mismatch"),
        "{out}"
    );
    let (_, out, _) = tool(&["verify", path, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["offset"].as_u64()),
        (Some("corrupt"), Some(24))
    );
    assert_eq!(fs::read(&wal).unwrap(), corrupt);
}

#[test]
fn a_store_open_for_writing_is_not_inspected_and_bad_usage_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("busy.wal");
    let store = StoreEngine::open(StoreConfig::fast(&wal)).unwrap();
    let path = wal.to_str().unwrap();
    let (code, _, err) = tool(&["verify", path]);
    assert_eq!(code, 2);
    assert!(err.contains("in use"), "{err}");
    drop(store);
    assert_eq!(tool(&["verify", path]).0, 0);
    // Two readers at once are fine: the shared lock admits both.
    let reader = StoreEngine::open(StoreConfig::read_only(&wal)).unwrap();
    assert_eq!(tool(&["inspect", path]).0, 0);
    drop(reader);

    let missing = dir.path().join("missing.wal");
    let (code, _, err) = tool(&["verify", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("No such file"), "{err}");
    assert!(!missing.exists(), "nothing created");
    let (code, _, err) = tool(&["compress", path]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown command compress"), "{err}");
    assert!(err.contains("usage:"), "{err}");
    assert_eq!(tool(&["verify"]).0, 2);
    assert_eq!(tool(&["verify", path, "--fast"]).0, 2);
    assert_eq!(tool(&["--help"]).0, 0);
}

#[test]
fn a_read_only_store_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("ro.wal");
    sample(&wal);
    let store = StoreEngine::open(StoreConfig::read_only(&wal)).unwrap();
    let err = store.put(key("x"), val("y")).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(store.get(&key("x")), None);
    let engine = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a"))).unwrap();
    assert!(engine.submit_local_operation(put("x", "y")).is_err());
    assert_eq!(engine.state().outbox_size, 4);
}

#[test]
fn compact_folds_the_log_and_inspect_lists_the_store_files() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    sample(&wal);
    let path = wal.to_str().unwrap();
    let before = fs::metadata(&wal).unwrap().len();

    let (code, out, err) = tool(&["compact", path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{before} before")), "{out}");
    assert!(out.contains("records        5 folded"), "{out}");
    // "b" was deleted, but its delete is only queued, not acknowledged: its tombstone stays.
    assert!(out.contains("tombstones     0 collected"), "{out}");
    let checkpoint = dir.path().join("node.wal.ckpt");
    let checkpoint_bytes = fs::metadata(&checkpoint).unwrap().len();
    assert!(
        out.contains(&format!("(checkpoint {checkpoint_bytes})")),
        "{out}"
    );

    let (code, out, err) = tool(&["inspect", path]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "{} ({checkpoint_bytes} bytes, checkpoint)",
            checkpoint.display()
        )),
        "{out}"
    );
    assert!(out.contains("node.wal.seq ("), "{out}");
    assert!(out.contains("2 live, 1 tombstones"), "{out}");
    assert!(out.contains("4 operations"), "{out}");
    let (_, out, _) = tool(&["inspect", path, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files = v["files"].as_array().unwrap();
    let roles: Vec<&str> = files.iter().map(|f| f["role"].as_str().unwrap()).collect();
    assert!(roles.contains(&"checkpoint"), "{out}");
    assert!(roles.contains(&"active log segment"), "{out}");
    assert!(
        !roles.iter().any(|r| r.contains("being")),
        "no compaction left midway: {out}"
    );

    // What the store holds is unchanged.
    let store = StoreEngine::open(StoreConfig::read_only(&wal)).unwrap();
    assert_eq!(store.get(&key("a")).unwrap().value, val("1"));
    assert_eq!(store.get(&key("b")), None);
    assert_eq!(store.tombstones(), 1);
}

#[test]
fn compact_collects_an_acknowledged_tombstone_past_its_retention_and_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    sample(&wal);
    {
        let store = StoreEngine::open(
            StoreConfig::fast(&wal).with_clock(Arc::new(ManualClock::new(T0 + 10))),
        )
        .unwrap();
        let engine =
            SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a"))).unwrap();
        // The queued delete is handed out: acknowledged (the fast preset needs no ACK).
        assert_eq!(engine.next_batch().unwrap().len(), 1);
    }
    // The delete was stamped at T0 (2023): far past the default retention of 7 days.
    let (code, out, err) = tool(&["compact", wal.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tombstones_collected"], 1, "{out}");
    let checkpoint_bytes = fs::metadata(dir.path().join("node.wal.ckpt"))
        .unwrap()
        .len();
    assert_eq!(v["checkpoint_bytes"], checkpoint_bytes);
    // After: the checkpoint and the new, empty segment.
    assert_eq!(
        v["bytes_after"],
        checkpoint_bytes + fs::metadata(&wal).unwrap().len(),
        "{out}"
    );
    for field in ["records_folded", "rotation_pause_us", "duration_us"] {
        assert!(v[field].is_u64(), "{field}: {out}");
    }
    let store = StoreEngine::open(StoreConfig::read_only(&wal)).unwrap();
    assert_eq!(store.tombstones(), 0);
    assert_eq!(store.len(), 2);
}

#[test]
fn compact_refuses_a_store_in_use_and_a_missing_wal() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("busy.wal");
    let store = StoreEngine::open(StoreConfig::fast(&wal)).unwrap();
    let path = wal.to_str().unwrap();
    let (code, _, err) = tool(&["compact", path]);
    assert_eq!(code, 2);
    assert!(err.contains("in use"), "{err}");
    assert!(!dir.path().join("busy.wal.ckpt").exists());
    drop(store);

    let missing = dir.path().join("missing.wal");
    let (code, _, err) = tool(&["compact", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("No such file"), "{err}");
    assert!(!missing.exists(), "nothing created");
}
