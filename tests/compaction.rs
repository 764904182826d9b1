//! Compaction (issue 10): the checkpoint keeps everything a reopen needs, a crash at any step
//! of a compaction reopens to the same state, faults during a checkpoint leave the previous
//! state and are reported, tombstones are collected only when the rules allow.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use softadastra_sync::store::{CompactionStep, StoreConfig, StoreEngine, StoreError, WalFaults};
use softadastra_sync::sync::{
    Direction, RemoteOutcome, SyncConfig, SyncContext, SyncEngine, SyncOperation, SyncStatus,
};
use softadastra_sync::{ManualClock, Stamp};

/// What a user can observe of a node: every live entry, the tombstone count, the outbox, the
/// versions. (Activity counters belong to one engine and are not compared.)
#[derive(Debug, PartialEq)]
struct Observed {
    entries: Vec<(String, Vec<u8>, u64, Stamp)>,
    tombstones: usize,
    outbox: Vec<(String, SyncStatus, u32, u64)>,
    last_remote: u64,
}

fn observe(store: &StoreEngine, engine: &SyncEngine) -> Observed {
    let state = engine.state();
    Observed {
        entries: store
            .entries("")
            .map(|e| {
                let key = e.key.as_str().to_owned();
                (key, e.value.as_bytes().to_vec(), e.version, e.timestamp)
            })
            .collect(),
        tombstones: store.tombstones(),
        outbox: engine
            .outbox()
            .into_iter()
            .map(|env| {
                let op = env.operation;
                (op.sync_id, env.status, env.retry_count, env.submitted_at)
            })
            .collect(),
        last_remote: state.last_applied_remote_version,
    }
}

struct Setup {
    dir: tempfile::TempDir,
    wal: PathBuf,
    clock: Arc<ManualClock>,
    faults: Arc<WalFaults>,
    config: SyncConfig,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("node.wal");
        Setup {
            dir,
            wal,
            clock: Arc::new(ManualClock::new(T0)),
            faults: Arc::new(WalFaults::new()),
            config: {
                // Acknowledged sends and small batches, so that the outbox holds operations
                // in every state.
                let mut config = SyncConfig::fast("node-a");
                config.require_ack = true;
                config.batch_size = 12;
                config
            },
        }
    }

    fn store_config(&self, wal: &Path) -> StoreConfig {
        let mut config = StoreConfig::fast(wal)
            .with_clock(self.clock.clone())
            .with_faults(self.faults.clone());
        config.compact_threshold_bytes = 0; // these tests compact explicitly
        config
    }

    fn open_at(&self, wal: &Path) -> (StoreEngine, SyncEngine) {
        let store = StoreEngine::open(self.store_config(wal)).unwrap();
        let engine = SyncEngine::new(&SyncContext::new(&store, self.config.clone())).unwrap();
        (store, engine)
    }

    fn open(&self) -> (StoreEngine, SyncEngine) {
        self.open_at(&self.wal)
    }

    /// What a plain restart of the files as they are now gives (opened from a copy).
    fn restarted_copy(&self) -> Observed {
        let copy = self.dir.path().join("copy");
        let _ = fs::remove_dir_all(&copy);
        fs::create_dir(&copy).unwrap();
        for file in fs::read_dir(self.dir.path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if path.is_file() && name.starts_with("node.wal") && !name.ends_with(".lock") {
                fs::copy(&path, copy.join(&name)).unwrap();
            }
        }
        let (store, engine) = self.open_at(&copy.join("node.wal"));
        observe(&store, &engine)
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("node.wal"))
            .collect();
        names.sort();
        names
    }
}

fn remote(version: u64, key: &str, value: &str, wall: u64) -> SyncOperation {
    SyncOperation {
        sync_id: format!("node-b-{version}"),
        origin_node_id: "node-b".into(),
        version,
        operation: put(key, value).with_timestamp(Stamp::new(wall, 0)),
        replaces: None,
        direction: Direction::RemoteToLocal,
    }
}

/// A history touching everything a checkpoint keeps: acknowledged-and-pruned, in-flight,
/// queued and failed operations, direct writes and deletes, applied and ignored remote
/// operations (with a gap in the remote versions).
fn make_history(store: &StoreEngine, engine: &SyncEngine, clock: &ManualClock, round: u64) {
    for i in 0..20 {
        clock.advance(Duration::from_millis(1));
        engine
            .submit_local_operation(put(&format!("k{}", i % 7), &format!("v{round}-{i}")))
            .unwrap();
    }
    engine
        .submit_local_operation(softadastra_sync::store::Operation::delete(key("k3")))
        .unwrap();
    let batch = engine.next_batch().unwrap();
    for env in batch.iter().take(10) {
        engine.receive_ack(&env.operation.sync_id).unwrap();
    }
    engine.prune_completed().unwrap();
    store.put(key(&format!("direct{round}")), val("d")).unwrap();
    store.remove(key("k5")).unwrap();
    let base = round * 10;
    engine
        .receive_remote_operation(&remote(base + 1, "r", "remote", T0 + round))
        .unwrap();
    engine
        .receive_remote_operation(&remote(base + 3, "k1", "old", T0 - 10))
        .unwrap();
}

#[test]
fn a_checkpoint_keeps_everything_a_reopen_needs() {
    let s = Setup::new();
    let (store, engine) = s.open();
    make_history(&store, &engine, &s.clock, 1);
    let before = observe(&store, &engine);
    assert!(before.outbox.iter().any(|o| o.1 == SyncStatus::InFlight));
    assert!(before.outbox.iter().any(|o| o.1 == SyncStatus::Queued));
    let report = engine.compact().unwrap();
    assert!(report.records_folded > 20, "{report:?}");
    assert!(report.checkpoint_bytes > 0);
    assert_eq!(
        observe(&store, &engine),
        before,
        "compaction changes nothing visible"
    );
    assert_eq!(
        s.files(),
        ["node.wal", "node.wal.ckpt", "node.wal.lock", "node.wal.seq"]
    );
    // Writes go on in the new segment; a second round and a second compaction.
    make_history(&store, &engine, &s.clock, 2);
    let expected = s.restarted_copy();
    engine.compact().unwrap();
    make_history(&store, &engine, &s.clock, 3);
    let expected_3 = s.restarted_copy();
    drop(engine);
    drop(store);
    let (store, engine) = s.open();
    assert_eq!(observe(&store, &engine), expected_3);
    assert_ne!(expected, expected_3);
    // Numbering continues after the highest id ever issued, and remote versions seen before
    // the checkpoint are still duplicates.
    let next = engine.submit_local_operation(put("after", "x")).unwrap();
    assert_eq!(next.version, 64, "3 rounds of 21 submits before");
    let again = engine
        .receive_remote_operation(&remote(11, "r", "remote", T0 + 1))
        .unwrap();
    assert_eq!(again.outcome, RemoteOutcome::Duplicate);
}

#[test]
fn a_crash_at_any_step_of_a_compaction_reopens_to_the_same_state() {
    let steps = [
        CompactionStep::NextCreated,
        CompactionStep::ClosedRenamed,
        CompactionStep::Rotated,
        CompactionStep::CheckpointWritten,
        CompactionStep::CheckpointInstalled,
    ];
    for step in steps {
        // Once with no checkpoint yet, once over an earlier one.
        for earlier_checkpoint in [false, true] {
            let case = format!("{step:?}, earlier checkpoint {earlier_checkpoint}");
            let s = Setup::new();
            let (store, engine) = s.open();
            make_history(&store, &engine, &s.clock, 1);
            if earlier_checkpoint {
                engine.compact().unwrap();
                make_history(&store, &engine, &s.clock, 2);
            }
            let expected = s.restarted_copy();
            s.faults.crash_compaction_at(step);
            assert!(engine.compact().is_err(), "{case}");
            // The "crashed" store takes no more writes.
            assert!(
                engine.submit_local_operation(put("lost", "x")).is_err(),
                "{case}"
            );
            drop(engine);
            drop(store);
            let (store, engine) = s.open();
            assert_eq!(observe(&store, &engine), expected, "{case}");
            // And the store compacts and works normally afterwards.
            make_history(&store, &engine, &s.clock, 3);
            let expected = s.restarted_copy();
            engine.compact().unwrap();
            assert_eq!(
                s.files(),
                ["node.wal", "node.wal.ckpt", "node.wal.lock", "node.wal.seq"],
                "{case}"
            );
            drop(engine);
            drop(store);
            let (store, engine) = s.open();
            assert_eq!(observe(&store, &engine), expected, "{case}");
        }
    }
}

#[test]
fn faults_during_a_checkpoint_leave_the_previous_state_and_the_next_attempt_succeeds() {
    let s = Setup::new();
    let (store, engine) = s.open();
    make_history(&store, &engine, &s.clock, 1);
    engine.compact().unwrap();
    make_history(&store, &engine, &s.clock, 2);
    let checkpoint = s.wal.with_file_name("node.wal.ckpt");
    let previous = fs::read(&checkpoint).unwrap();

    // Full disk while the checkpoint is written (the new segment's header still fits).
    s.faults.disk_full_after(100);
    let err = engine.compact().unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    s.faults.clear();
    // A failed fdatasync of the checkpoint (the closed segment is folded again: no rotation).
    s.faults.fail_next_syncs(1);
    let err = engine.compact().unwrap_err();
    assert!(
        err.to_string().contains("injected fdatasync failure"),
        "{err}"
    );
    // A short write.
    s.faults.short_next_writes(1);
    let err = engine.compact().unwrap_err();
    assert!(err.to_string().contains("injected short write"), "{err}");
    s.faults.clear();
    assert_eq!(
        fs::read(&checkpoint).unwrap(),
        previous,
        "previous checkpoint intact"
    );
    assert!(!s.wal.with_file_name("node.wal.ckpt.tmp").exists());
    let stats = store.compaction_stats();
    assert_eq!((stats.runs, stats.failures), (4, 3));
    assert!(stats.last_error.unwrap().contains("short write"));

    // The store kept working all along, and the next attempt succeeds.
    make_history(&store, &engine, &s.clock, 3);
    let expected = s.restarted_copy();
    engine.compact().unwrap();
    assert_eq!(store.compaction_stats().last_error, None);
    drop(engine);
    drop(store);
    let (store, engine) = s.open();
    assert_eq!(observe(&store, &engine), expected);
}

#[test]
fn a_damaged_checkpoint_is_corruption_and_is_never_loaded_in_part() {
    let s = Setup::new();
    let (store, engine) = s.open();
    make_history(&store, &engine, &s.clock, 1);
    engine.compact().unwrap();
    drop(engine);
    drop(store);
    let checkpoint = s.wal.with_file_name("node.wal.ckpt");
    let mut bytes = fs::read(&checkpoint).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    fs::write(&checkpoint, &bytes).unwrap();
    let err = StoreEngine::open(s.store_config(&s.wal)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("node.wal.ckpt"), "{err}");
    assert!(err.to_string().contains("checkpoint"), "{err}");
    assert_eq!(fs::read(&checkpoint).unwrap(), bytes, "left as it was");
}

#[test]
fn tombstones_stay_while_needed_and_go_after_the_retention() {
    let s = Setup::new();
    let mut config = s.store_config(&s.wal);
    config.tombstone_retention = Duration::from_millis(1_000);
    let store = StoreEngine::open(config).unwrap();
    let mut sync = SyncConfig::fast("node-a");
    sync.max_clock_skew = Duration::from_secs(3600);
    let engine = SyncEngine::new(&SyncContext::new(&store, sync)).unwrap();
    engine.submit_local_operation(put("k", "v")).unwrap();
    s.clock.advance(Duration::from_millis(10));
    let delete = engine
        .submit_local_operation(softadastra_sync::store::Operation::delete(key("k")))
        .unwrap();
    let older_put = remote(1, "k", "resurrected?", T0 + 5);

    // Past the retention but not acknowledged: kept.
    s.clock.advance(Duration::from_millis(5_000));
    assert_eq!(engine.compact().unwrap().tombstones_collected, 0);
    assert_eq!(store.tombstones(), 1);
    // Acknowledged and pruned, but within the retention (the clock is moved back to the
    // delete's time + 500 ms): kept, and an older put does not bring the key back.
    engine.next_batch().unwrap();
    engine.receive_ack("node-a-1").unwrap();
    engine.receive_ack(&delete.sync_id).unwrap();
    engine.prune_completed().unwrap();
    let clock_within = Arc::new(ManualClock::new(delete.operation.timestamp.wall_ms() + 500));
    store.set_clock(clock_within.clone());
    assert_eq!(engine.compact().unwrap().tombstones_collected, 0);
    let probe = remote(2, "k", "resurrected?", T0 + 6);
    assert_eq!(
        engine.receive_remote_operation(&probe).unwrap().outcome,
        RemoteOutcome::Ignored
    );
    assert_eq!(get(&store, "k"), None);
    // Acknowledged and past the retention: collected, in memory and in the checkpoint.
    store.set_clock(s.clock.clone());
    assert_eq!(engine.compact().unwrap().tombstones_collected, 1);
    assert_eq!(store.tombstones(), 0);
    // The documented rule beyond the retention: an older put is applied.
    assert_eq!(
        engine.receive_remote_operation(&older_put).unwrap().outcome,
        RemoteOutcome::Applied
    );
    assert_eq!(get(&store, "k").as_deref(), Some("resurrected?"));
}

#[test]
fn writers_keep_going_during_compaction_and_nothing_is_lost() {
    let s = Setup::new();
    let (store, engine) = s.open();
    let engine = Arc::new(engine);
    let writer = {
        let engine = Arc::clone(&engine);
        std::thread::spawn(move || {
            let mut ids = Vec::new();
            for i in 0..3_000 {
                let op = engine
                    .submit_local_operation(put(&format!("w{}", i % 500), &format!("{i}")))
                    .unwrap();
                ids.push(op.sync_id);
                if i % 100 == 99 {
                    for env in engine.next_batch().unwrap() {
                        engine.receive_ack(&env.operation.sync_id).unwrap();
                    }
                    engine.prune_completed().unwrap();
                }
            }
            ids
        })
    };
    let mut compactions = 0;
    while !writer.is_finished() {
        engine.compact().unwrap();
        compactions += 1;
    }
    writer.join().unwrap();
    assert!(compactions > 0);
    let expected = observe(&store, &engine);
    drop(engine);
    drop(store);
    let (store, engine) = s.open();
    assert_eq!(observe(&store, &engine), expected);
    assert_eq!(get(&store, "w499").as_deref(), Some("2999"));
}

#[test]
fn automatic_compaction_keeps_the_files_near_the_live_data() {
    let s = Setup::new();
    let mut config = s.store_config(&s.wal);
    config.compact_threshold_bytes = 64 << 10;
    let store = StoreEngine::open(config).unwrap();
    let engine = SyncEngine::new(&SyncContext::new(&store, s.config.clone())).unwrap();
    let drain = || {
        loop {
            let batch = engine.next_batch().unwrap();
            if batch.is_empty() {
                break;
            }
            for env in batch {
                engine.receive_ack(&env.operation.sync_id).unwrap();
            }
        }
        engine.prune_completed().unwrap();
    };
    for i in 0..20_000u32 {
        engine
            .submit_local_operation(put(&format!("key:{:06}", i % 100), "0123456789abcdef"))
            .unwrap();
        if i % 64 == 63 {
            drain();
        }
    }
    drain();
    assert_eq!(engine.state().outbox_size, 0);
    // Let a running background compaction finish.
    while store.compaction_stats().runs == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    engine.compact().unwrap();
    let stats = store.compaction_stats();
    assert!(stats.runs >= 2, "{stats:?}");
    assert_eq!(stats.failures, 0, "{stats:?}");
    let files: u64 = fs::read_dir(s.dir.path())
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert!(files < 64 << 10, "{files} bytes on disk for 100 live keys");
    let expected = observe(&store, &engine);
    drop(engine);
    drop(store);
    let (store, engine) = s.open();
    assert_eq!(observe(&store, &engine), expected);
}

#[test]
fn memory_and_read_only_stores() {
    let store = StoreEngine::memory();
    assert_eq!(store.compact().unwrap().checkpoint_bytes, 0);
    let s = Setup::new();
    let (store, engine) = s.open();
    make_history(&store, &engine, &s.clock, 1);
    drop(engine);
    drop(store);
    let reader = StoreEngine::open(StoreConfig::read_only(&s.wal)).unwrap();
    let err = reader.compact().unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
}

#[test]
fn a_failing_automatic_compaction_is_reported_and_not_retried_on_every_write() {
    let s = Setup::new();
    let mut config = s.store_config(&s.wal);
    config.compact_threshold_bytes = 16 << 10;
    let store = StoreEngine::open(config).unwrap();
    let engine = SyncEngine::new(&SyncContext::new(&store, s.config.clone())).unwrap();
    // Fast-mode submits never sync; every compaction does, and fails.
    s.faults.fail_next_syncs(u32::MAX);
    for i in 0..4_000u32 {
        engine
            .submit_local_operation(put(&format!("key:{i:06}"), "0123456789abcdef"))
            .unwrap();
        // Some writes spaced out, so that a compaction could finish (and fail) between them.
        if i % 50 == 0 {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    // Wait until no background compaction is left running (the count stops moving).
    let mut runs = store.compaction_stats().runs;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = store.compaction_stats().runs;
        if now == runs {
            break;
        }
        runs = now;
    }
    let stats = store.compaction_stats();
    let written = fs::metadata(&s.wal).unwrap().len();
    assert!(stats.failures >= 1, "{stats:?}");
    assert_eq!(stats.runs, stats.failures);
    // One attempt per threshold's worth of new log at most (19 here), not one per write
    // (about 80 without the wait: one in each pause of the writer).
    assert!(
        stats.runs <= written / (16 << 10) + 2,
        "{stats:?} for {written} bytes"
    );
    assert!(stats
        .last_error
        .unwrap()
        .contains("injected fdatasync failure"));
    // Mended: an explicit compaction succeeds and nothing written was lost.
    s.faults.clear();
    engine.compact().unwrap();
    assert_eq!(store.compaction_stats().last_error, None);
    let expected = observe(&store, &engine);
    drop(engine);
    drop(store);
    let (store, engine) = s.open();
    assert_eq!(observe(&store, &engine), expected);
    assert_eq!(store.len(), 4_000);
}
