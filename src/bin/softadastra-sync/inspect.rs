//! `inspect`: what a store holds, read through the same recovery a reopen would run.

use std::path::Path;

use serde_json::json;
use softadastra_sync::store::{store_files, StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

/// The node id the inspection engine is built with. Counters do not depend on it; the node
/// that wrote the store is read from its outbox entries.
const INSPECTOR: &str = "softadastra-sync-inspect";

/// Builds a sync engine on `store`: its recovery reads sync's records, and it registers
/// sync's part of compaction.
pub fn attach_engine(store: &StoreEngine) -> Result<SyncEngine, String> {
    SyncEngine::new(&SyncContext::new(store, SyncConfig::fast(INSPECTOR)))
        .map_err(|e| e.to_string())
}

/// The store's files that exist, with their role and size.
fn existing_files(wal: &Path) -> Vec<(&'static str, String, u64)> {
    store_files(wal)
        .into_iter()
        .filter_map(|(role, path)| {
            let bytes = std::fs::metadata(&path).ok()?.len();
            Some((role, path.display().to_string(), bytes))
        })
        .collect()
}

/// Prints the summary; returns the exit status (0).
pub fn run(wal: &Path, json: bool) -> Result<u8, String> {
    let store = StoreEngine::open(StoreConfig::read_only(wal)).map_err(|e| e.to_string())?;
    let engine = attach_engine(&store)?;
    let files = existing_files(wal);
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
            "files": files
                .iter()
                .map(|(role, path, bytes)| json!({"path": path, "role": role, "bytes": bytes}))
                .collect::<Vec<_>>(),
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
    for (i, (role, path, bytes)) in files.iter().enumerate() {
        let label = if i == 0 { "files" } else { "" };
        println!("{label:<14} {path} ({bytes} bytes, {role})");
    }
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
