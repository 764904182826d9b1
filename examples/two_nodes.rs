//! Two nodes, no network: node A writes while "offline", node B writes the same key, batches
//! are exchanged by hand, ACKs returned; both end on the same value.

use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine, SyncScheduler};

fn open(node: &str, dir: &std::path::Path) -> Result<SyncEngine, Box<dyn std::error::Error>> {
    let store = StoreEngine::open(StoreConfig::durable(dir.join(format!("{node}.wal"))))?;
    Ok(SyncEngine::new(&SyncContext::new(
        &store,
        SyncConfig::durable(node),
    ))?)
}

fn write(engine: &SyncEngine, key: &str, value: &str) -> Result<(), Box<dyn std::error::Error>> {
    let op = engine
        .submit_local_operation(Operation::put(Key::new(key)?, Value::from_string(value)?))?;
    println!(
        "{}: wrote {key}={value} as {}",
        engine.node_id(),
        op.sync_id
    );
    Ok(())
}

/// Sends `from`'s next batch to `to`, and `to`'s ACKs back.
fn exchange(from: &SyncEngine, to: &SyncEngine) -> Result<(), Box<dyn std::error::Error>> {
    let tick = SyncScheduler::new(from).tick(true)?;
    for envelope in &tick.batch {
        let result = to.receive_remote_operation(&envelope.operation)?;
        println!(
            "{} -> {}: {} {:?} (conflict: {})",
            from.node_id(),
            to.node_id(),
            envelope.operation.sync_id,
            result.outcome,
            result.conflict_detected
        );
        from.receive_ack(&envelope.operation.sync_id)?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sa-two-nodes-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let a = open("node-a", &dir)?;
    let b = open("node-b", &dir)?;
    write(&a, "user:1", "Gaspard")?;
    write(&a, "doc:1", "draft from A")?;
    write(&b, "doc:1", "draft from B")?;
    exchange(&a, &b)?;
    exchange(&b, &a)?;
    for engine in [&a, &b] {
        let store = engine.store();
        let doc = store
            .get(&Key::new("doc:1")?)
            .map(|e| e.value.to_string_lossy());
        let user = store
            .get(&Key::new("user:1")?)
            .map(|e| e.value.to_string_lossy());
        println!(
            "{}: doc:1={doc:?} user:1={user:?} state={:?}",
            engine.node_id(),
            engine.state()
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
