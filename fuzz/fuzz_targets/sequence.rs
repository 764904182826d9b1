//! Opening a store and an engine (read-only) on an arbitrary `<wal>.seq` file beside an empty
//! log segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("sa-fuzz-seq-{}", std::process::id()));
    let wal = dir.join("f.wal");
    if !wal.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        drop(StoreEngine::open(StoreConfig::fast(&wal)).unwrap());
    }
    std::fs::write(dir.join("f.wal.seq"), data).unwrap();
    if let Ok(store) = StoreEngine::open(StoreConfig::read_only(&wal)) {
        let _ = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a")));
    }
});
