//! The store's own API: direct writes (local, never propagated) and prefix iteration.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use softadastra_sync::clock::Stamp;
use softadastra_sync::store::{Operation, StoreConfig, StoreEngine, ENTRIES_CHUNK_KEYS};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

fn keys(store: &StoreEngine, prefix: &str) -> Vec<String> {
    store
        .entries(prefix)
        .map(|e| e.key.as_str().to_owned())
        .collect()
}

#[test]
fn direct_writes_report_what_they_did() {
    let store = StoreEngine::memory();
    let created = store.put(key("a"), val("1")).unwrap();
    assert!(created.created && !created.updated && !created.deleted);
    let updated = store.apply_operation(put("a", "2")).unwrap();
    assert!(updated.updated && !updated.created);
    assert!(updated.version > created.version);
    assert!(updated.timestamp > created.timestamp);
    let deleted = store.remove(key("a")).unwrap();
    assert!(deleted.deleted && !deleted.updated);
    let again = store.apply_operation(Operation::delete(key("a"))).unwrap();
    assert!(
        !again.created && !again.updated && !again.deleted,
        "{again:?}"
    );
    assert!(again.version > deleted.version);
}

#[test]
fn apply_operation_stamps_with_the_store_clock() {
    let store = StoreEngine::memory();
    let stale = put("a", "1").with_timestamp(Stamp::from_raw(5));
    let result = store.apply_operation(stale).unwrap();
    assert!(result.timestamp.raw() > 5);
    assert_eq!(store.get(&key("a")).unwrap().timestamp, result.timestamp);
}

#[test]
fn entries_are_sorted_by_key_filtered_by_prefix_and_skip_deleted_keys() {
    let store = StoreEngine::memory();
    for k in ["user:2", "order:1", "user:10", "user:1", "users", "use"] {
        store.put(key(k), val(k)).unwrap();
    }
    store.remove(key("user:2")).unwrap();
    assert_eq!(keys(&store, "user:"), ["user:1", "user:10"]);
    assert_eq!(
        keys(&store, ""),
        ["order:1", "use", "user:1", "user:10", "users"]
    );
    assert_eq!(keys(&store, "user"), ["user:1", "user:10", "users"]);
    assert!(keys(&store, "zzz").is_empty());
    assert!(keys(&store, "user:2").is_empty(), "deleted");
    let entry = store.entries("order").next().unwrap();
    assert_eq!(entry.value.as_bytes(), b"order:1");
    assert!(entry.version > 0);
    assert!(keys(&StoreEngine::memory(), "").is_empty());
}

#[test]
fn entries_cross_chunks_in_order() {
    let store = StoreEngine::memory();
    let n = ENTRIES_CHUNK_KEYS * 3 + 5;
    for i in 0..n {
        store.put(key(&format!("k:{i:05}")), val("v")).unwrap();
        // Tombstones between live keys are stepped over.
        store.put(key(&format!("k:{i:05}-gone")), val("v")).unwrap();
        store.remove(key(&format!("k:{i:05}-gone"))).unwrap();
    }
    let expected: Vec<String> = (0..n).map(|i| format!("k:{i:05}")).collect();
    assert_eq!(keys(&store, "k:"), expected);
    // Exactly one chunk's worth ends cleanly too.
    let exact = StoreEngine::memory();
    for i in 0..ENTRIES_CHUNK_KEYS {
        exact.put(key(&format!("{i:03}")), val("v")).unwrap();
    }
    assert_eq!(exact.entries("").count(), ENTRIES_CHUNK_KEYS);
    // A run of tombstones longer than several chunks is read through.
    let sparse = StoreEngine::memory();
    for i in 0..ENTRIES_CHUNK_KEYS * 5 {
        sparse.put(key(&format!("a:{i:04}")), val("v")).unwrap();
        sparse.remove(key(&format!("a:{i:04}"))).unwrap();
    }
    sparse.put(key("a:zz"), val("live")).unwrap();
    sparse.put(key("b"), val("other prefix")).unwrap();
    assert_eq!(keys(&sparse, "a:"), ["a:zz"]);
    assert!(keys(&sparse, "a:0").is_empty());
}

#[test]
fn writes_during_iteration_never_repeat_or_reorder_keys() {
    let store = StoreEngine::memory();
    let n = ENTRIES_CHUNK_KEYS * 4;
    for i in 0..n {
        store
            .put(key(&format!("k:{:05}", i * 2)), val("v"))
            .unwrap();
    }
    let mut seen = Vec::new();
    for (step, entry) in store.entries("k:").enumerate() {
        seen.push(entry.key.as_str().to_owned());
        // Insert keys behind and ahead of the cursor, delete some ahead, update the current.
        store
            .put(key(&format!("k:{:05}", step * 2 + 1)), val("new"))
            .unwrap();
        store
            .remove(key(&format!("k:{:05}", (n - 1 - step / 4) * 2)))
            .ok();
        store.put(entry.key.clone(), val("updated")).unwrap();
    }
    let sorted: Vec<String> = seen
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(seen, sorted, "ascending, no key twice");
    // Every key live for the whole iteration was seen.
    for i in 0..n / 2 {
        assert!(seen.contains(&format!("k:{:05}", i * 2)), "k:{:05}", i * 2);
    }
}

#[test]
fn direct_writes_survive_restart_and_are_not_propagated() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("store.wal");
    let clock = Arc::new(ManualClock::new(T0));
    let store = open_store(&wal, &clock);
    let engine = SyncEngine::new(&SyncContext::new(&store, SyncConfig::durable("node-a"))).unwrap();
    let direct = store.put(key("doc"), val("local")).unwrap();
    store.put(key("other"), val("x")).unwrap();
    store.remove(key("other")).unwrap();
    assert!(
        engine.outbox().is_empty(),
        "direct writes are not sync work"
    );
    // A later submit of the same key carries the direct write as the one it replaced.
    let submitted = engine.submit_local_operation(put("doc", "synced")).unwrap();
    let replaced = submitted.replaces.clone().unwrap();
    assert_eq!(replaced.stamp, direct.timestamp);
    assert_eq!(replaced.origin, None);
    assert_eq!(engine.outbox().len(), 1);
    drop(engine);
    drop(store);

    let store = open_store(&wal, &clock);
    assert_eq!(get(&store, "doc").as_deref(), Some("synced"));
    assert_eq!(keys(&store, ""), ["doc"]);
    let engine = SyncEngine::new(&SyncContext::new(&store, SyncConfig::durable("node-a"))).unwrap();
    let outbox = engine.outbox();
    assert_eq!(outbox.len(), 1, "only the submitted write is sync work");
    assert_eq!(outbox[0].operation.replaces, Some(replaced));
}

#[test]
fn a_fast_store_takes_direct_writes() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("fast.wal");
    let store = StoreEngine::open(StoreConfig::fast(&wal)).unwrap();
    store.put(key("a"), val("1")).unwrap();
    drop(store);
    let store = StoreEngine::open(StoreConfig::fast(&wal)).unwrap();
    assert_eq!(get(&store, "a").as_deref(), Some("1"));
}

#[test]
fn a_delete_with_a_value_is_refused_and_changes_nothing() {
    let store = StoreEngine::memory();
    store.put(key("a"), val("1")).unwrap();
    let mut op = Operation::delete(key("a"));
    op.value = val("x");
    let err = store.apply_operation(op).unwrap_err();
    assert!(
        err.to_string()
            .contains("delete of key \"a\" carries a 1-byte value"),
        "{err}"
    );
    assert_eq!(get(&store, "a").as_deref(), Some("1"));
}

#[test]
fn iterating_while_other_threads_write_is_safe() {
    let store = StoreEngine::memory();
    for i in 0..500 {
        store.put(key(&format!("stable:{i:04}")), val("v")).unwrap();
    }
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    let k = key(&format!("stable:{:04}-{t}", i % 600));
                    if i % 3 == 0 {
                        store.remove(k).unwrap();
                    } else {
                        store.put(k, val("w")).unwrap();
                    }
                }
            })
        })
        .collect();
    for _ in 0..20 {
        let seen = keys(&store, "stable:");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seen, sorted, "ascending, no key twice");
        for i in 0..500 {
            assert!(seen.binary_search(&format!("stable:{i:04}")).is_ok());
        }
    }
    for writer in writers {
        writer.join().unwrap();
    }
}

/// The store is readable without the sync layer: nothing in `src/store` refers to it. Sync
/// stores what it needs as opaque record extensions and notes (see `src/store/extension.rs`).
#[test]
fn the_store_does_not_depend_on_sync() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for word in [
            "crate::sync",
            "super::super",
            "Outbox",
            "outbox",
            "sync id",
            "SyncEngine",
        ] {
            assert!(
                !source.contains(word),
                "{} mentions {word:?}: the store must not know the sync layer",
                path.display()
            );
        }
    }
}
