//! The store and its WAL: tombstones, replay, torn tails, corruption, failure handling.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::sync::Arc;

use common::*;
use softadastra_sync::store::{StoreConfig, StoreEngine, StoreError};
use softadastra_sync::ManualClock;

#[test]
fn memory_store_puts_gets_and_deletes_with_tombstones() {
    let store = StoreEngine::memory();
    assert!(store.is_empty());
    let first = store.put(key("user:1"), val("Gaspard")).unwrap();
    assert!(first.created);
    let second = store.put(key("user:1"), val("Ada")).unwrap();
    assert!(second.updated && second.version > first.version);
    assert_eq!(second.replaced.unwrap().stamp, first.timestamp);
    assert_eq!(get(&store, "user:1").as_deref(), Some("Ada"));
    assert_eq!(store.len(), 1);
    let deleted = store.remove(key("user:1")).unwrap();
    assert!(deleted.deleted);
    assert_eq!(get(&store, "user:1"), None, "a tombstoned key is absent");
    assert_eq!(store.len(), 0);
    assert!(!store.remove(key("never")).unwrap().deleted);
    assert!(!store.is_persistent());
}

#[test]
fn wal_store_replays_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("s.wal");
    let clock = Arc::new(ManualClock::new(T0));
    {
        let store = open_store(&wal, &clock);
        store.put(key("a"), val("1")).unwrap();
        store.put(key("b"), val("2")).unwrap();
        store.remove(key("a")).unwrap();
        store.put(key("c"), val("")).unwrap();
    }
    let store = open_store(&wal, &clock);
    assert_eq!(store.replay_report().records, 4);
    assert_eq!(store.replay_report().dropped_bytes, 0);
    assert_eq!(get(&store, "a"), None);
    assert_eq!(get(&store, "b").as_deref(), Some("2"));
    assert_eq!(get(&store, "c").as_deref(), Some(""));
    assert_eq!(store.len(), 2);
    // Stamps continue above the replayed high-water mark even if the clock went back.
    clock.set(T0 - 10_000);
    let later = store.put(key("d"), val("4")).unwrap();
    assert!(later.timestamp > store.get(&key("b")).unwrap().timestamp);
}

#[test]
fn fast_mode_store_also_replays() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("f.wal");
    StoreEngine::open(StoreConfig::fast(&wal))
        .unwrap()
        .put(key("k"), val("v"))
        .unwrap();
    let store = StoreEngine::open(StoreConfig::fast(&wal)).unwrap();
    assert_eq!(get(&store, "k").as_deref(), Some("v"));
}

/// Writes records, then cuts the file at every byte offset inside the last record: each
/// reopen keeps every earlier record, drops the torn one, and reports the dropped bytes.
#[test]
fn torn_tail_at_every_offset_of_the_last_record_is_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("t.wal");
    let clock = Arc::new(ManualClock::new(T0));
    let before_last = {
        let store = open_store(&wal, &clock);
        store.put(key("a"), val("1")).unwrap();
        store.put(key("b"), val("2")).unwrap();
        let len = fs::metadata(&wal).unwrap().len();
        store.put(key("c"), val("three")).unwrap();
        len
    };
    let full = fs::read(&wal).unwrap();
    for cut in before_last..full.len() as u64 {
        fs::write(&wal, &full[..cut as usize]).unwrap();
        let store = open_store(&wal, &clock);
        let report = store.replay_report();
        assert_eq!(report.records, 2, "cut at {cut}");
        assert_eq!(report.dropped_bytes, cut - before_last, "cut at {cut}");
        assert_eq!(report.torn_tail.is_some(), cut > before_last);
        assert_eq!(get(&store, "b").as_deref(), Some("2"));
        assert_eq!(get(&store, "c"), None);
        // The log is usable again: a new write lands after the good records.
        store.put(key("d"), val("4")).unwrap();
        drop(store);
        let store = open_store(&wal, &clock);
        assert_eq!(store.replay_report().records, 3, "cut at {cut}");
        assert_eq!(store.replay_report().dropped_bytes, 0);
    }
}

#[test]
fn a_cut_inside_the_file_header_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("h.wal");
    fs::write(&wal, b"SASY").unwrap();
    let store = StoreEngine::open(StoreConfig::durable(&wal)).unwrap();
    assert_eq!(store.replay_report().dropped_bytes, 4);
    store.put(key("k"), val("v")).unwrap();
}

#[test]
fn garbage_or_zeros_in_the_last_record_are_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("g.wal");
    let clock = Arc::new(ManualClock::new(T0));
    open_store(&wal, &clock).put(key("a"), val("1")).unwrap();
    let good = fs::read(&wal).unwrap();
    // A last record whose payload bytes never landed (checksum mismatch at the end).
    let mut torn = good.clone();
    torn.extend_from_slice(&[5, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9]);
    fs::write(&wal, &torn).unwrap();
    let store = open_store(&wal, &clock);
    assert_eq!(store.replay_report().dropped_bytes, 13);
    assert_eq!(get(&store, "a").as_deref(), Some("1"));
    drop(store);
    // Preallocated zeros after the last record.
    let mut zeros = good.clone();
    zeros.extend_from_slice(&[0u8; 4096]);
    fs::write(&wal, &zeros).unwrap();
    let store = open_store(&wal, &clock);
    assert_eq!(store.replay_report().dropped_bytes, 4096);
    assert_eq!(store.replay_report().torn_tail, Some("zero-filled tail"));
}

#[test]
fn damage_followed_by_good_records_is_corruption_and_nothing_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("c.wal");
    let clock = Arc::new(ManualClock::new(T0));
    {
        let store = open_store(&wal, &clock);
        store.put(key("a"), val("first")).unwrap();
        store.put(key("b"), val("second")).unwrap();
    }
    let mut bytes = fs::read(&wal).unwrap();
    let len_before = bytes.len();
    // Flip a byte inside the first record's payload (after the 24-byte segment header and the
    // 8-byte frame header).
    bytes[24 + 8 + 3] ^= 0xff;
    fs::write(&wal, &bytes).unwrap();
    let err = StoreEngine::open(StoreConfig::durable(&wal)).unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { offset: 24, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert_eq!(fs::metadata(&wal).unwrap().len() as usize, len_before);
}

#[test]
fn a_file_that_is_not_a_wal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("x.wal");
    fs::write(&wal, b"hello world, not a wal").unwrap();
    let err = StoreEngine::open(StoreConfig::durable(&wal)).unwrap_err();
    assert!(err.to_string().contains("bad magic"), "{err}");
    let missing_dir = dir.path().join("no/such/dir/x.wal");
    let err = StoreEngine::open(StoreConfig::durable(&missing_dir)).unwrap_err();
    assert!(
        matches!(err, StoreError::Io { action: "open", .. }),
        "{err}"
    );
}

#[test]
fn appending_after_a_torn_tail_never_leaves_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("a.wal");
    let clock = Arc::new(ManualClock::new(T0));
    open_store(&wal, &clock).put(key("a"), val("1")).unwrap();
    let mut f = OpenOptions::new().append(true).open(&wal).unwrap();
    f.write_all(&[200, 0, 0]).unwrap();
    drop(f);
    {
        let store = open_store(&wal, &clock);
        store.put(key("b"), val("2")).unwrap();
    }
    let store = open_store(&wal, &clock);
    assert_eq!(store.replay_report().records, 2);
    assert_eq!(get(&store, "b").as_deref(), Some("2"));
}
