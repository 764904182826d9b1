//! Compaction at the boundary: explicit compaction of a store (or of the store under a sync
//! engine), its report, and the store's compaction statistics.

use std::time::Duration;

use super::args::{handle, out};
use super::engine::sa_sync;
use super::error::{guard, Failure};
use super::sized::{growable, SizedOut};
use super::store::sa_store;
use super::types::*;
use super::wire::sa_buf;
use crate::store::CompactionReport;

/// What one compaction did (`sa_store_compact`, `sa_sync_compact`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_compaction_report {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// Bytes of the store's files (checkpoint and log segments) before the compaction.
    pub bytes_before: u64,
    /// The same after it.
    pub bytes_after: u64,
    /// Size of the new checkpoint file (`<wal>.ckpt`).
    pub checkpoint_bytes: u64,
    /// Log records folded into the checkpoint.
    pub records_folded: u64,
    /// Tombstones collected (past their retention and no longer needed by sync).
    pub tombstones_collected: u64,
    /// How long the compaction held the store's lock (the longest a writer waited), in µs.
    pub rotation_pause_us: u64,
    /// How long the whole compaction took, in µs.
    pub duration_us: u64,
}

growable!(sa_compaction_report, min: 4; bytes_before, bytes_after, checkpoint_bytes,
    records_folded, tombstones_collected, rotation_pause_us, duration_us);

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl From<&CompactionReport> for sa_compaction_report {
    fn from(r: &CompactionReport) -> sa_compaction_report {
        sa_compaction_report {
            struct_size: 0,
            bytes_before: r.bytes_before,
            bytes_after: r.bytes_after,
            checkpoint_bytes: r.checkpoint_bytes,
            records_folded: r.records_folded,
            tombstones_collected: r.tombstones_collected,
            rotation_pause_us: micros(r.rotation_pause),
            duration_us: micros(r.duration),
        }
    }
}

/// Checks `out_report` (NULL allowed) before any work, runs `compact`, writes the report.
///
/// # Safety
/// `out_report` is NULL or valid for reads and writes of its stated `struct_size` bytes.
unsafe fn compact_into(
    out_report: *mut sa_compaction_report,
    compact: impl FnOnce() -> Result<CompactionReport, Failure>,
) -> Result<(), Failure> {
    let slot = if out_report.is_null() {
        None
    } else {
        // SAFETY: non-NULL and valid per the contract.
        Some(unsafe { SizedOut::new(out_report, "out_report") }?)
    };
    let report = compact()?;
    if let Some(slot) = slot {
        slot.write((&report).into());
    }
    Ok(())
}

/// Compacts the store's log now, on the calling thread: the log written since the last
/// checkpoint is folded into a new checkpoint file (`<wal>.ckpt`) and removed, and tombstones
/// past the store's retention are collected (see the README's "Compaction"). Writers on other
/// threads keep going (they wait only for the short rotation, `rotation_pause_us`); a
/// compaction already running (automatic or explicit) is waited for first. A memory store has
/// nothing to compact: `SA_OK` with an all-zero report.
///
/// For a store under a sync engine, prefer `sa_sync_compact` (the same, through the engine):
/// the store alone, when no engine was ever built on it in this process, keeps every
/// tombstone and folds sync's records unchanged.
///
/// `out_report` may be NULL; otherwise its `struct_size` is checked before anything is done
/// and, on success, it receives what the compaction did. Thread-safe.
/// Errors (the previous checkpoint and log stand, nothing is lost, the failure is counted in
/// `sa_store_compaction_stats`, and the next compaction folds the same log again):
/// `SA_ERR_INVALID_ARGUMENT` (NULL `store`, bad `struct_size`), `SA_ERR_IO` (a disk error, a
/// read-only store: the message names the WAL), `SA_ERR_CORRUPT` (a damaged checkpoint or
/// segment, named).
#[no_mangle]
pub extern "C" fn sa_store_compact(
    store: *const sa_store,
    out_report: *mut sa_compaction_report,
) -> sa_status {
    guard(|| {
        // SAFETY: `store` is NULL (rejected) or a live handle.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: `out_report` is NULL or valid per the header contract.
        unsafe { compact_into(out_report, || Ok(store.inner.compact()?)) }
    })
}

/// Compacts the log of the store under `sync`, as `sa_store_compact` (same report, same
/// errors; thread-safe): the outbox that is not pruned, the per-origin dedup ranges and the
/// versions are condensed into the checkpoint, and a tombstone is collected only once its
/// delete is acknowledged and it is older than the store's tombstone retention.
#[no_mangle]
pub extern "C" fn sa_sync_compact(
    sync: *const sa_sync,
    out_report: *mut sa_compaction_report,
) -> sa_status {
    guard(|| {
        // SAFETY: `sync` is NULL (rejected) or a live handle.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: `out_report` is NULL or valid per the header contract.
        unsafe { compact_into(out_report, || Ok(sync.engine.compact()?)) }
    })
}

/// Compactions of a store since it was opened, automatic ones included.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_compaction_stats {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// Compactions run (successful or not).
    pub runs: u64,
    /// Compactions that failed.
    pub failures: u64,
    /// The latest compaction failed (its message is in `out_last_error`).
    pub last_failed: bool,
}

growable!(sa_compaction_stats, min: 4; runs, failures, last_failed);

/// Reads the store's compaction statistics into `*out_stats`. An automatic compaction runs
/// on a background thread and nobody waits for it: this is where its failure shows. When
/// `out_last_error` is not NULL it receives a copy of the latest compaction's error message
/// (UTF-8, not NUL-terminated; free it with `sa_buf_free`), or `{NULL, 0}` when the latest
/// compaction succeeded or none ran. Thread-safe; a snapshot.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL `store` or `out_stats`, bad `struct_size`:
/// nothing written).
#[no_mangle]
pub extern "C" fn sa_store_compaction_stats(
    store: *const sa_store,
    out_stats: *mut sa_compaction_stats,
    out_last_error: *mut sa_buf,
) -> sa_status {
    guard(|| {
        // SAFETY: `store` is NULL (rejected) or a live handle.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: `out_stats` is NULL (rejected) or valid per the header contract.
        let slot = unsafe { SizedOut::new(out_stats, "out_stats") }?;
        let message = if out_last_error.is_null() {
            None
        } else {
            // SAFETY: non-NULL `out_last_error` is writable per the header contract.
            Some(unsafe { out(out_last_error, "out_last_error") }?)
        };
        let stats = store.inner.compaction_stats();
        slot.write(sa_compaction_stats {
            struct_size: 0,
            runs: stats.runs,
            failures: stats.failures,
            last_failed: stats.last_error.is_some(),
        });
        if let Some(message) = message {
            *message = sa_buf::from_vec(stats.last_error.unwrap_or_default().into_bytes());
        }
        Ok(())
    })
}
