//! Opening a store and an engine on an arbitrary WAL file.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("sa-fuzz-wal-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    if let Ok(store) = StoreEngine::open(StoreConfig::fast(&path).with_clock(clock)) {
        let _ = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a")));
    }
    let _ = std::fs::remove_file(&path);
});
