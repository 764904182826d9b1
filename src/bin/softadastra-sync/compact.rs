//! `compact`: folds a store's log into its checkpoint, as the library's automatic compaction
//! would, for a store that no process has open.

use std::path::Path;

use serde_json::json;
use softadastra_sync::store::{StoreConfig, StoreEngine};

use crate::inspect::attach_engine;

/// Compacts and prints the report; returns the exit status (0).
pub fn run(wal: &Path, json: bool) -> Result<u8, String> {
    // A writable open creates a missing WAL: refuse one that is not there instead.
    std::fs::metadata(wal).map_err(|e| format!("{}: {e}", wal.display()))?;
    let store = StoreEngine::open(StoreConfig {
        // This is the compaction: none may start on its own meanwhile.
        compact_threshold_bytes: 0,
        ..StoreConfig::durable(wal)
    })
    .map_err(|e| e.to_string())?;
    // The engine registers sync's fold: the outbox is condensed, and tombstones are collected
    // only once their delete is acknowledged (without it, every tombstone is kept).
    let engine = attach_engine(&store)?;
    let report = engine.compact().map_err(|e| e.to_string())?;
    let pause_us = report.rotation_pause.as_micros();
    let duration_us = report.duration.as_micros();
    if json {
        let value = json!({
            "wal": wal.display().to_string(),
            "bytes_before": report.bytes_before,
            "bytes_after": report.bytes_after,
            "checkpoint_bytes": report.checkpoint_bytes,
            "records_folded": report.records_folded,
            "tombstones_collected": report.tombstones_collected,
            "rotation_pause_us": pause_us,
            "duration_us": duration_us,
        });
        println!("{value}");
        return Ok(0);
    }
    println!("wal            {}", wal.display());
    println!(
        "bytes          {} before, {} after (checkpoint {})",
        report.bytes_before, report.bytes_after, report.checkpoint_bytes
    );
    println!("records        {} folded", report.records_folded);
    println!("tombstones     {} collected", report.tombstones_collected);
    println!("time           {duration_us} µs, writers paused {pause_us} µs");
    Ok(0)
}
