//! An engine on a memory store at a fixed time, shared by the targets.
use std::sync::Arc;

use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};
use softadastra_sync::ManualClock;

pub fn engine() -> (StoreEngine, SyncEngine) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store = StoreEngine::open(StoreConfig::memory().with_clock(clock)).unwrap();
    let engine = SyncEngine::new(&SyncContext::new(&store, SyncConfig::durable("node-b"))).unwrap();
    let op = Operation::put(Key::new("user:1").unwrap(), Value::from_string("x").unwrap());
    engine.submit_local_operation(op).unwrap();
    engine.next_batch().unwrap();
    (store, engine)
}
