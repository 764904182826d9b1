//! WAL recovery rules (what is cut, what is refused), one writer per WAL, and sync ids that are
//! never issued twice whatever recovery did.

mod common;

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use softadastra_sync::store::{StoreConfig, StoreEngine, StoreError};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

fn open_fast(wal: &Path) -> Result<StoreEngine, StoreError> {
    StoreEngine::open(StoreConfig::fast(wal).with_clock(Arc::new(ManualClock::new(T0))))
}

fn engine(store: &StoreEngine) -> SyncEngine {
    SyncEngine::new(&SyncContext::new(store, SyncConfig::fast("node-a"))).unwrap()
}

/// Writes `count` submits (`k1`..) to a fresh WAL; returns the offset where each record starts
/// plus the end of the file.
fn write_submits(wal: &Path, count: usize) -> Vec<u64> {
    let store = open_fast(wal).unwrap();
    let engine = engine(&store);
    let mut starts = vec![fs::metadata(wal).unwrap().len()];
    for i in 1..=count {
        engine
            .submit_local_operation(put(&format!("k{i}"), &format!("value {i}")))
            .unwrap();
        starts.push(fs::metadata(wal).unwrap().len());
    }
    starts
}

#[test]
fn a_second_handle_on_one_wal_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("one.wal");
    let first = open_fast(&wal).unwrap();
    let err = open_fast(&wal).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains(&wal.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("in use"), "{err}");
    // An engine keeps its store, and so the lock, alive.
    let engine = engine(&first);
    drop(first);
    assert!(matches!(open_fast(&wal), Err(StoreError::InUse { .. })));
    drop(engine);
    let again = open_fast(&wal).unwrap();
    drop(again);
    // Every file of the store is named after the WAL, beside it.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["one.wal", "one.wal.lock", "one.wal.seq"]);
}

/// Before the lock, two engines on one WAL both issued node-a-1..5, and after reopen only one
/// side's operations were in the outbox. Now the second open fails and nothing is lost.
#[test]
fn two_engines_cannot_split_one_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("split.wal");
    let store = open_fast(&wal).unwrap();
    let a = engine(&store);
    for i in 0..5 {
        a.submit_local_operation(put(&format!("a{i}"), "x"))
            .unwrap();
    }
    assert!(matches!(open_fast(&wal), Err(StoreError::InUse { .. })));
    drop(a);
    drop(store);
    let store = open_fast(&wal).unwrap();
    assert_eq!(engine(&store).state().outbox_size, 5);
}

/// The lock holds across processes and is released when the holder dies, even by SIGKILL.
#[test]
fn the_lock_holds_across_processes_and_dies_with_its_holder() {
    if let Ok(wal) = std::env::var("SA_LOCK_HOLDER") {
        let _store = open_fast(Path::new(&wal)).unwrap();
        println!("locked");
        std::thread::sleep(std::time::Duration::from_secs(600));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("shared.wal");
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_lock_holds_across_processes_and_dies_with_its_holder",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SA_LOCK_HOLDER", &wal)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The test harness prints its own lines first.
    let out = std::io::BufReader::new(holder.stdout.take().unwrap());
    let locked = std::io::BufRead::lines(out).any(|l| l.is_ok_and(|l| l.ends_with("locked")));
    assert!(locked, "the holder locked the store");
    let refused = open_fast(&wal);
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    assert!(matches!(refused, Err(StoreError::InUse { .. })));
    open_fast(&wal).expect("the lock died with its holder");
}

/// The defect as reported: three puts in fast mode, the high byte of the first record's length
/// flipped (offset 11). Reopen used to succeed, cut the file to its header and then issue
/// node-a-1 again.
#[test]
fn a_damaged_length_in_the_middle_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("len.wal");
    let starts = write_submits(&wal, 3);
    let good = fs::read(&wal).unwrap();
    for &start in &starts[..3] {
        for byte in 1..4 {
            let at = start as usize + byte;
            let mut bytes = good.clone();
            bytes[at] ^= 0xff;
            fs::write(&wal, &bytes).unwrap();
            let err = open_fast(&wal).unwrap_err();
            match &err {
                StoreError::Corrupt { offset, .. } => assert_eq!(*offset, start),
                other => panic!("record at {start}, byte {byte}: {other}"),
            }
            assert_eq!(fs::read(&wal).unwrap(), bytes, "nothing truncated");
        }
    }
}

/// What recovery may do with a damaged or cut WAL: refuse to open (changing nothing), or cut
/// the damaged last record. It may never drop a record that precedes the damage, and never
/// issue a sync id again.
/// A truncated file has no bytes after the damage, so cutting is always allowed there.
fn check_recovery(
    wal: &Path,
    starts: &[u64],
    damaged_at: u64,
    bytes: &[u8],
    truncated: bool,
    case: &str,
) {
    let records = starts.len() - 1;
    // The record holding the damage (or cut), and the records wholly before it.
    let damaged_record = starts.windows(2).position(|w| damaged_at < w[1]);
    let intact_before = damaged_record.unwrap_or(records);
    match open_fast(wal) {
        Err(StoreError::Corrupt { .. }) => {
            assert_eq!(fs::read(wal).unwrap(), bytes, "{case}: refused but changed");
            // Damage with a valid record after it must be refused: only the last record (or
            // the file header, which has none) may be cut.
        }
        Err(other) => panic!("{case}: {other}"),
        Ok(store) => {
            assert!(
                truncated || damaged_record.is_none_or(|r| r + 1 == records),
                "{case}: damage in record {damaged_record:?} of {records} was not refused"
            );
            for i in 1..=intact_before {
                assert_eq!(
                    get(&store, &format!("k{i}")),
                    Some(format!("value {i}")),
                    "{case}: record {i} before the damage lost"
                );
            }
            let engine = engine(&store);
            let next = engine.submit_local_operation(put("next", "n")).unwrap();
            assert!(
                next.version > records as u64,
                "{case}: {} issued again",
                next.sync_id
            );
        }
    }
}

#[test]
fn every_single_byte_change_of_a_small_wal() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("bytes.wal");
    let starts = write_submits(&wal, 4);
    let good = fs::read(&wal).unwrap();
    let seq = fs::read(dir.path().join("bytes.wal.seq")).unwrap();
    let mut outcomes = HashSet::new();
    for at in 0..good.len() {
        for change in [0x01u8, 0x80, 0xff] {
            let mut bytes = good.clone();
            bytes[at] ^= change;
            fs::write(&wal, &bytes).unwrap();
            fs::write(dir.path().join("bytes.wal.seq"), &seq).unwrap();
            let case = format!("byte {at} ^ {change:#04x}");
            check_recovery(&wal, &starts, at as u64, &bytes, false, &case);
            outcomes.insert(open_fast(&wal).is_ok());
        }
    }
    assert_eq!(
        outcomes.len(),
        2,
        "both cut and refused cases were exercised"
    );
}

#[test]
fn every_truncation_of_a_small_wal() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("cut.wal");
    let starts = write_submits(&wal, 4);
    let good = fs::read(&wal).unwrap();
    let seq = fs::read(dir.path().join("cut.wal.seq")).unwrap();
    for cut in 0..good.len() {
        fs::write(&wal, &good[..cut]).unwrap();
        fs::write(dir.path().join("cut.wal.seq"), &seq).unwrap();
        let case = format!("cut at {cut}");
        // Truncation is always a torn tail: the store opens.
        let store = open_fast(&wal).unwrap_or_else(|e| panic!("{case}: {e}"));
        let report = store.replay_report();
        let whole = starts
            .iter()
            .filter(|&&s| s <= cut as u64)
            .count()
            .saturating_sub(1);
        assert_eq!(report.records, whole as u64, "{case}");
        drop(store);
        check_recovery(&wal, &starts, cut as u64, &good[..cut], true, &case);
    }
}

#[test]
fn crash_tails_of_zeros_or_garbage_are_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("tail.wal");
    let starts = write_submits(&wal, 3);
    let good = fs::read(&wal).unwrap();
    // The last record's second half (its value and what follows) never landed (zeros), and
    // the file was extended further.
    let mut zeroed = good.clone();
    let end = zeroed.len();
    zeroed[(starts[2] as usize + end) / 2..].fill(0);
    zeroed.extend_from_slice(&[0; 4096]);
    fs::write(&wal, &zeroed).unwrap();
    let store = open_fast(&wal).unwrap();
    let report = store.replay_report();
    assert_eq!(report.records, 2);
    assert_eq!(report.dropped_bytes, zeroed.len() as u64 - starts[2]);
    assert_eq!(get(&store, "k3"), None);
    drop(store);
    // A partial header followed by garbage.
    let mut garbage = good.clone();
    garbage.extend_from_slice(&[0x13, 0x00, 0x00, 0xc0, 0xff, 0xee, 0x42, 0x17, 0x99]);
    fs::write(&wal, &garbage).unwrap();
    let store = open_fast(&wal).unwrap();
    assert_eq!(store.replay_report().records, 3);
    assert_eq!(store.replay_report().dropped_bytes, 9);
    assert!(store.replay_report().torn_tail.is_some());
}

/// In fast mode a power cut can lose appended records without leaving any torn bytes; their
/// ids may already have been returned to the application. The sequence mark beside the WAL
/// keeps them from being issued again.
#[test]
fn ids_of_records_lost_from_the_log_are_not_issued_again() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("lost.wal");
    let starts = {
        let store = open_fast(&wal).unwrap();
        let engine = engine(&store);
        let mut starts = vec![fs::metadata(&wal).unwrap().len()];
        for i in 1..=5 {
            engine
                .submit_local_operation(put(&format!("k{i}"), "v"))
                .unwrap();
            starts.push(fs::metadata(&wal).unwrap().len());
        }
        // Killed, not closed: the engine's clean close is skipped.
        std::mem::forget(engine);
        std::mem::forget(store);
        starts
    };
    // Pretend records 4 and 5 never reached the disk.
    let good = fs::read(&wal).unwrap();
    let copy = dir.path().join("copy.wal");
    fs::write(&copy, &good[..starts[3] as usize]).unwrap();
    fs::copy(
        dir.path().join("lost.wal.seq"),
        dir.path().join("copy.wal.seq"),
    )
    .unwrap();
    let store = open_fast(&copy).unwrap();
    let engine = engine(&store);
    assert_eq!(engine.state().outbox_size, 3);
    let next = engine.submit_local_operation(put("k6", "v")).unwrap();
    assert!(next.version > 5, "{} reused an id", next.sync_id);
}

/// A clean close gives the unused reservation back: ids continue without a gap.
#[test]
fn a_clean_restart_continues_ids_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("gap.wal");
    for round in 0..3u64 {
        let store = open_fast(&wal).unwrap();
        let engine = engine(&store);
        let op = engine.submit_local_operation(put("k", "v")).unwrap();
        assert_eq!(op.version, round + 1);
    }
}

#[test]
fn a_damaged_sequence_file_is_reported_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("seq.wal");
    {
        let store = open_fast(&wal).unwrap();
        let engine = engine(&store);
        engine.submit_local_operation(put("k", "v")).unwrap(); // slot 1: reserve
    } // slot 2: clean close
    let seq = dir.path().join("seq.wal.seq");
    let mut bytes = fs::read(&seq).unwrap();
    assert_eq!(bytes.len(), 64);
    bytes[3] ^= 1;
    bytes[32 + 3] ^= 1;
    fs::write(&seq, &bytes).unwrap();
    let err = open_fast(&wal).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { path, .. } if path == &seq),
        "{err}"
    );
}

#[test]
fn a_wal_of_a_previous_format_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("old.wal");
    for (magic, name) in [(b"SASYWAL1", "format 1"), (b"SASYWAL2", "format 2")] {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(b"\x05\x00\x00\x00\x00\x00\x00\x00hello");
        fs::write(&wal, &bytes).unwrap();
        let err = open_fast(&wal).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(fs::read(&wal).unwrap(), bytes, "left as it was");
    }
}
