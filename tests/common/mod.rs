//! Shared helpers for the integration tests: nodes on a manual clock in a temp directory.
#![allow(dead_code)] // each test binary uses a subset

use std::path::{Path, PathBuf};
use std::sync::Arc;

use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

pub const T0: u64 = 1_700_000_000_000;

pub fn key(k: &str) -> Key {
    Key::new(k).unwrap()
}

pub fn val(v: &str) -> Value {
    Value::from_string(v).unwrap()
}

pub fn put(k: &str, v: &str) -> Operation {
    Operation::put(key(k), val(v))
}

pub fn get(store: &StoreEngine, k: &str) -> Option<String> {
    store.get(&key(k)).map(|e| e.value.to_string_lossy())
}

/// A node: its store (WAL in `dir`), its engine, and its clock.
pub struct Node {
    pub clock: Arc<ManualClock>,
    pub store: StoreEngine,
    pub engine: SyncEngine,
    pub wal: PathBuf,
}

pub fn open_store(wal: &Path, clock: &Arc<ManualClock>) -> StoreEngine {
    StoreEngine::open(StoreConfig::durable(wal).with_clock(clock.clone())).unwrap()
}

pub fn node_with(dir: &Path, config: SyncConfig, clock: Arc<ManualClock>) -> Node {
    let wal = dir.join(format!("{}.wal", config.node_id));
    let store = open_store(&wal, &clock);
    let engine = SyncEngine::new(&SyncContext::new(&store, config)).unwrap();
    Node {
        clock,
        store,
        engine,
        wal,
    }
}

pub fn node(dir: &Path, config: SyncConfig) -> Node {
    node_with(dir, config, Arc::new(ManualClock::new(T0)))
}

impl Node {
    /// Closes and reopens the node from its WAL, as after a crash (nothing is flushed at
    /// close: every write is in the WAL when it returns).
    pub fn restart(self) -> Node {
        let Node {
            clock,
            store,
            engine,
            wal,
        } = self;
        let config = engine.config().clone();
        drop(engine);
        drop(store);
        let store = open_store(&wal, &clock);
        let engine = SyncEngine::new(&SyncContext::new(&store, config)).unwrap();
        Node {
            clock,
            store,
            engine,
            wal,
        }
    }
}
