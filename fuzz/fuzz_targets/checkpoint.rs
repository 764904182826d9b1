//! Opening a store and an engine (read-only) on an arbitrary checkpoint file beside an empty
//! log segment.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("sa-fuzz-ckpt-{}", std::process::id()));
    let wal = dir.join("f.wal");
    if !wal.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        drop(StoreEngine::open(StoreConfig::fast(&wal)).unwrap());
    }
    std::fs::write(dir.join("f.wal.ckpt"), data).unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    if let Ok(store) = StoreEngine::open(StoreConfig::read_only(&wal).with_clock(clock)) {
        let _ = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a")));
    }
});
