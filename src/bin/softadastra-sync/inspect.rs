//! `inspect`: what a store holds, read through the same recovery a reopen would run.

use std::path::Path;

use serde_json::json;
use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

/// The node id the inspection engine is built with. Counters do not depend on it; the node
/// that wrote the store is read from its outbox entries.
const INSPECTOR: &str = "softadastra-sync-inspect";

/// Prints the summary; returns the exit status (0).
pub fn run(wal: &Path, json: bool) -> Result<u8, String> {
    let store = StoreEngine::open(StoreConfig::read_only(wal)).map_err(|e| e.to_string())?;
    let engine = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast(INSPECTOR)))
        .map_err(|e| e.to_string())?;
    let file_bytes = std::fs::metadata(wal).map_err(|e| e.to_string())?.len();
    let report = store.replay_report();
    let state = engine.state();
    let node = engine
        .outbox()
        .first()
        .map(|e| e.operation.origin_node_id.clone());
    let torn_offset = file_bytes - report.dropped_bytes;
    if json {
        let torn = report.torn_tail.map(|reason| {
            json!({"offset": torn_offset, "bytes": report.dropped_bytes, "reason": reason})
        });
        let value = json!({
            "wal": wal.display().to_string(),
            "file_bytes": file_bytes,
            "records": report.records,
            "torn_tail": torn,
            "live_keys": store.len(),
            "tombstones": store.tombstones(),
            "sequence_mark": store.sequence_mark(),
            "node": node,
            "state": state,
        });
        println!("{value}");
        return Ok(0);
    }
    println!("wal            {} ({file_bytes} bytes)", wal.display());
    println!("records        {}", report.records);
    match report.torn_tail {
        None => println!("torn tail      none"),
        Some(reason) => println!(
            "torn tail      {} bytes at byte {torn_offset} ({reason}); the next writable open \
             cuts them",
            report.dropped_bytes
        ),
    }
    println!(
        "keys           {} live, {} tombstones",
        store.len(),
        store.tombstones()
    );
    println!("sequence mark  {}", store.sequence_mark());
    println!(
        "node           {}",
        node.as_deref().unwrap_or("(no outbox entry names it)")
    );
    println!(
        "outbox         {} operations, {} bytes: {} pending, {} queued, {} in flight \
         (queued again at reopen), {} acknowledged, {} failed",
        state.outbox_size,
        state.outbox_bytes,
        state.pending_count,
        state.queued_count,
        state.in_flight_count,
        state.acknowledged_count,
        state.failed_count
    );
    println!(
        "versions       last local {}, last applied remote {}",
        state.last_submitted_version, state.last_applied_remote_version
    );
    Ok(0)
}
