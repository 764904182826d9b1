//! Opening a store and an engine (read-only) on an arbitrary `<wal>.<suffix>` file beside an
//! empty log segment, shared by the targets of the store's side files.
use std::sync::Arc;

use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

pub fn open_with(suffix: &str, data: &[u8]) {
    let dir = std::env::temp_dir().join(format!("sa-fuzz-{suffix}-{}", std::process::id()));
    let wal = dir.join("f.wal");
    if !wal.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        drop(StoreEngine::open(StoreConfig::fast(&wal)).unwrap());
    }
    std::fs::write(dir.join(format!("f.wal.{suffix}")), data).unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    if let Ok(store) = StoreEngine::open(StoreConfig::read_only(&wal).with_clock(clock)) {
        let _ = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a")));
    }
}
