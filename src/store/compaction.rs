//! Compaction: folding the log into a checkpoint, so that disk use and reopen time follow live
//! data, not history.
//!
//! One compaction at a time (per store):
//! 1. *Rotation*, under the store's lock and short: the active segment is renamed
//!    `<wal>.closed` and a fresh segment, created and synced beforehand as `<wal>.next`, takes
//!    its place. Writers go on appending to the new segment from then on.
//! 2. *Fold*, without the store's lock: the previous checkpoint and the closed segment are read
//!    back from disk into a fresh state; the owner's part of it is condensed by the owner's fold
//!    (see `extension.rs`); tombstones past their retention and not needed by the owner are
//!    collected; the result is written to `<wal>.ckpt.tmp`, synced, renamed to `<wal>.ckpt`,
//!    and the directory synced.
//! 3. The closed segment is removed, and the collected tombstones are dropped from memory too
//!    (under the lock, only where the key was not written since).
//!
//! A crash at any point leaves files that reopen to the same state (see
//! `StoreEngine::open`); a failure leaves the previous checkpoint and the closed segment in
//! place, reported, and the next compaction folds them again.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::checkpoint::{self, Checkpoint, CheckpointRef};
use super::engine::StoreCore;
use super::entry::WriteId;
use super::error::StoreError;
use super::extension::{Fold, Folded};
use super::faults::CompactionStep;
use super::files::{sync_parent_dir, StoreFiles};
use super::key::Key;
use super::wal;
use crate::clock::millis;

/// What one compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Bytes of the store's files (checkpoint and segments) before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Size of the new checkpoint.
    pub checkpoint_bytes: u64,
    /// Records of the closed segment folded into it.
    pub records_folded: u64,
    /// Tombstones collected (past their retention and no longer needed by the owner).
    pub tombstones_collected: u64,
    /// How long the rotation held the store's lock: the longest a writer waited for it.
    pub rotation_pause: Duration,
    pub duration: Duration,
}

/// Compactions of one store so far, automatic ones included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionStats {
    pub runs: u64,
    pub failures: u64,
    /// The error of the last compaction that failed, if the last one did.
    pub last_error: Option<String>,
    pub last: Option<CompactionReport>,
}

/// State shared by a store and its compactions.
#[derive(Debug, Default)]
pub(crate) struct Compactions {
    /// Held for a whole compaction: one at a time.
    job: Mutex<()>,
    /// An automatic compaction is running or about to.
    running: AtomicBool,
    /// The store is closing: a running compaction stops at its next step.
    abort: AtomicBool,
    /// After a failed automatic compaction, the next starts only once the log reaches this
    /// many bytes, so a lasting failure (a full disk) is not retried on every write.
    retry_floor: AtomicU64,
    background: Mutex<Option<JoinHandle<()>>>,
    stats: Mutex<CompactionStats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Compactions {
    pub fn stats(&self) -> CompactionStats {
        lock(&self.stats).clone()
    }

    fn record(&self, result: &Result<CompactionReport, StoreError>) {
        let mut stats = lock(&self.stats);
        stats.runs += 1;
        match result {
            Ok(report) => {
                stats.last_error = None;
                stats.last = Some(report.clone());
            }
            Err(e) => {
                stats.failures += 1;
                stats.last_error = Some(e.to_string());
            }
        }
    }

    /// Starts an automatic compaction on a background thread, for a log of `logged` bytes,
    /// unless one is running or the last one failed and the log has not grown by `retry_step`
    /// bytes since.
    pub fn start_background(
        self: &Arc<Self>,
        store: Weak<Mutex<StoreCore>>,
        logged: u64,
        retry_step: u64,
    ) {
        if logged < self.retry_floor.load(Ordering::Acquire)
            || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let compactions = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("softadastra-compact".into())
            .spawn(move || {
                let result = run(&store, &compactions);
                let floor = match &result {
                    Err(_) => logged.saturating_add(retry_step),
                    Ok(_) => 0,
                };
                compactions.retry_floor.store(floor, Ordering::Release);
                if !matches!(result, Err(StoreError::Closed)) {
                    compactions.record(&result);
                }
                compactions.running.store(false, Ordering::Release);
            });
        match spawned {
            Ok(handle) => *lock(&self.background) = Some(handle),
            Err(e) => {
                self.record(&Err(StoreError::Io {
                    path: "(compaction thread)".into(),
                    action: "spawn",
                    source: e,
                }));
                self.running.store(false, Ordering::Release);
            }
        }
    }

    /// Stops a running automatic compaction at its next step and waits for it (the store is
    /// closing). Called from the store's drop, which may run on the compaction thread itself.
    pub fn shut_down(&self) {
        self.abort.store(true, Ordering::Release);
        if let Some(handle) = lock(&self.background).take() {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }

    /// Runs a compaction on the caller's thread (waiting for a running one first).
    pub fn run_now(&self, store: &Arc<Mutex<StoreCore>>) -> Result<CompactionReport, StoreError> {
        let result = run(&Arc::downgrade(store), self);
        if result.is_ok() {
            // Whatever failed before is mended: automatic compaction resumes at once.
            self.retry_floor.store(0, Ordering::Release);
        }
        self.record(&result);
        result
    }
}

fn upgrade(store: &Weak<Mutex<StoreCore>>) -> Result<Arc<Mutex<StoreCore>>, StoreError> {
    store.upgrade().ok_or(StoreError::Closed)
}

/// What the fold needs from the store, read under its lock.
struct Plan {
    files: StoreFiles,
    faults: Option<Arc<super::WalFaults>>,
    fold: Option<Fold>,
    retention_ms: u64,
    now_ms: u64,
    bytes_before: u64,
}

fn run(
    store: &Weak<Mutex<StoreCore>>,
    compactions: &Compactions,
) -> Result<CompactionReport, StoreError> {
    let _job = lock(&compactions.job);
    let started = Instant::now();
    let store_arc = upgrade(store)?;
    let (plan, active_segment) = {
        let core = lock(&store_arc);
        let Some(files) = core.files().cloned() else {
            return Ok(CompactionReport::default()); // a memory store has no log to fold
        };
        if core.is_read_only() {
            return Err(StoreError::ReadOnly { path: files.wal });
        }
        let plan = Plan {
            faults: core.wal_faults(),
            fold: core.fold(),
            retention_ms: millis(core.tombstone_retention()),
            now_ms: core.now_ms(),
            bytes_before: files.total_bytes(),
            files,
        };
        (plan, core.active_segment())
    };
    drop(store_arc);

    // 1. Rotation, unless a closed segment is already waiting (a failed or interrupted
    // compaction): fold that one first.
    let mut rotation_pause = Duration::ZERO;
    if !plan.files.closed.exists() {
        let next =
            wal::create_segment(&plan.files.next, active_segment + 1, plan.faults.as_deref())
                .inspect_err(|_| {
                    let _ = fs::remove_file(&plan.files.next);
                })?;
        let store_arc = upgrade(store)?;
        let mut core = lock(&store_arc);
        if let Some(crash) = core.crashes_at(CompactionStep::NextCreated) {
            return Err(crash);
        }
        let paused = Instant::now();
        core.rotate(next)?;
        rotation_pause = paused.elapsed();
        if let Some(crash) = core.crashes_at(CompactionStep::Rotated) {
            return Err(crash);
        }
    }
    let clock = {
        let store_arc = upgrade(store)?;
        let core = lock(&store_arc);
        core.clock_high_water()
    };

    // 2. Fold, without the store's lock.
    let mut state = checkpoint::read(&plan.files.checkpoint)?.unwrap_or_default();
    let (segment, replayed) = wal::replay_closed(&plan.files.closed, |payload| {
        super::engine::replay_into(&mut state.table, &mut state.owner.logged, payload).map(drop)
    })?;
    if segment <= state.covers {
        // Folded already: a crash came between the checkpoint's rename and this removal.
        remove_closed(&plan.files)?;
        return finish(store, &plan, rotation_pause, started, 0, 0, Vec::new());
    }
    if segment != state.covers + 1 {
        return Err(StoreError::Corrupt {
            path: plan.files.closed.clone(),
            offset: 0,
            reason: format!(
                "segment {segment} does not follow the checkpoint {}, which covers segments \
                 up to {}",
                plan.files.checkpoint.display(),
                state.covers
            ),
        });
    }
    check_abort(compactions)?;
    let pinned = fold_owner(&mut state, plan.fold, &plan.files.closed)?;
    let collected = collect_tombstones(&mut state, &pinned, plan.retention_ms, plan.now_ms);
    state.covers = segment;
    state.clock = state.clock.max(clock);
    check_abort(compactions)?;
    let crash_before_rename = || crash_at(store, CompactionStep::CheckpointWritten);
    let checkpoint_bytes = checkpoint::write(
        &plan.files.checkpoint,
        &plan.files.checkpoint_tmp,
        crash_before_rename,
        CheckpointRef {
            covers: state.covers,
            clock: state.clock,
            table: &mut state.table,
            owner: &state.owner,
        },
        plan.faults.as_deref(),
    )?;

    // 3. The closed segment is folded: remove it, then drop collected tombstones from memory.
    crash_at(store, CompactionStep::CheckpointInstalled)?;
    remove_closed(&plan.files)?;
    let mut report = finish(
        store,
        &plan,
        rotation_pause,
        started,
        replayed.records,
        checkpoint_bytes,
        collected,
    )?;
    report.checkpoint_bytes = checkpoint_bytes;
    Ok(report)
}

/// Stops the compaction dead at `step` when a crash is injected there.
fn crash_at(store: &Weak<Mutex<StoreCore>>, step: CompactionStep) -> Result<(), StoreError> {
    let store_arc = upgrade(store)?;
    let mut core = lock(&store_arc);
    match core.crashes_at(step) {
        Some(crash) => Err(crash),
        None => Ok(()),
    }
}

fn check_abort(compactions: &Compactions) -> Result<(), StoreError> {
    if compactions.abort.load(Ordering::Acquire) {
        Err(StoreError::Closed)
    } else {
        Ok(())
    }
}

fn remove_closed(files: &StoreFiles) -> Result<(), StoreError> {
    fs::remove_file(&files.closed)
        .and_then(|()| sync_parent_dir(&files.closed))
        .map_err(|source| StoreError::Io {
            path: files.closed.clone(),
            action: "remove closed segment",
            source,
        })
}

/// Condenses the owner's part with its fold (kept as it is when no owner ever registered
/// one); returns the writes whose tombstones the owner still needs.
fn fold_owner(
    state: &mut Checkpoint,
    fold: Option<Fold>,
    closed: &Path,
) -> Result<HashSet<WriteId>, StoreError> {
    let Some(fold) = fold else {
        // Without the owner's fold nothing says which tombstones it needs: keep them all.
        return Ok(state
            .table
            .slots()
            .filter(|(_, slot)| !slot.is_live())
            .map(|(_, slot)| slot.write.clone())
            .collect());
    };
    let Folded {
        saved,
        shared,
        pinned,
    } = fold(std::mem::take(&mut state.owner)).map_err(|reason| StoreError::Corrupt {
        path: closed.to_path_buf(),
        offset: 0,
        reason: format!("the owner's records cannot be folded: {reason}"),
    })?;
    state.owner.saved = Some(saved);
    state.owner.shared = shared;
    Ok(pinned)
}

/// Removes tombstones older than the retention whose write the owner does not pin.
fn collect_tombstones(
    state: &mut Checkpoint,
    pinned: &HashSet<WriteId>,
    retention_ms: u64,
    now_ms: u64,
) -> Vec<(Key, WriteId)> {
    let expired: Vec<(Key, WriteId)> = state
        .table
        .slots()
        .filter(|(_, slot)| {
            !slot.is_live()
                && slot.write.stamp.wall_ms().saturating_add(retention_ms) <= now_ms
                && !pinned.contains(&slot.write)
        })
        .map(|(key, slot)| (key.clone(), slot.write.clone()))
        .collect();
    for (key, write) in &expired {
        state.table.collect_tombstone(key, write);
    }
    expired
}

fn finish(
    store: &Weak<Mutex<StoreCore>>,
    plan: &Plan,
    rotation_pause: Duration,
    started: Instant,
    records_folded: u64,
    checkpoint_bytes: u64,
    collected: Vec<(Key, WriteId)>,
) -> Result<CompactionReport, StoreError> {
    let store_arc = upgrade(store)?;
    let mut core = lock(&store_arc);
    core.compacted(checkpoint_bytes, &collected);
    Ok(CompactionReport {
        bytes_before: plan.bytes_before,
        bytes_after: plan.files.total_bytes(),
        checkpoint_bytes,
        records_folded,
        tombstones_collected: collected.len() as u64,
        rotation_pause,
        duration: started.elapsed(),
    })
}
