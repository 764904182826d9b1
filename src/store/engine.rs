//! The store engine: current key state, rebuilt from the WAL on open.

use std::collections::VecDeque;
use std::fs;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::checkpoint;
use super::compaction::{CompactionReport, CompactionStats, Compactions};
use super::config::{Durability, StoreConfig};
use super::entry::{Entry, WriteId};
use super::error::StoreError;
use super::extension::{Fold, Handover, Logged};
use super::faults::{CompactionStep, WalFaults};
use super::files::{sync_parent_dir, StoreFiles};
use super::key::Key;
use super::lock::StoreLock;
use super::operation::{Operation, OperationKind};
use super::record::{self, Record, WriteRecord};
use super::sequence::SequenceFile;
use super::table::Table;
use super::value::Value;
use super::wal::{self, ReplayReport, Wal};
use crate::binary::DecodeError;
use crate::clock::{Clock, HybridClock, Stamp};
use crate::node::NodeId;

/// What one write did to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyResult {
    /// The store's sequence number for this write.
    pub version: u64,
    /// The stamp the write was applied at.
    pub timestamp: Stamp,
    /// The key had no live value before.
    pub created: bool,
    /// The key had a live value before and has one now.
    pub updated: bool,
    /// The key had a live value before and is deleted now.
    pub deleted: bool,
    /// The write this one replaced (value or tombstone), if the key was known.
    pub replaced: Option<WriteId>,
}

/// The store behind a lock; crate-internal so that the owning layer can read, decide and write
/// atomically.
#[derive(Debug)]
pub(crate) struct StoreCore {
    table: Table,
    wal: Option<Wal>,
    durability: Durability,
    clock: HybridClock,
    replay: ReplayReport,
    /// What the next owner starts from; `None` while the store is owned.
    owner: Option<Handover>,
    /// The mark reserved by the store's owner; in memory only for a store without a WAL.
    sequence: Option<SequenceFile>,
    memory_sequence: u64,
    files: Option<StoreFiles>,
    /// Size of the current checkpoint (0 when none).
    checkpoint_bytes: u64,
    /// Bytes of a closed segment not folded into the checkpoint yet.
    closed_bytes: u64,
    compact_threshold: u64,
    tombstone_retention: Duration,
    /// The owner's fold, kept after the owner lets go: the log still holds its records.
    fold: Option<Fold>,
    compactions: Arc<Compactions>,
    /// This store, for a background compaction to reach.
    this: Weak<Mutex<StoreCore>>,
    /// Declared last: released only after every file above is closed.
    _lock: Option<StoreLock>,
}

impl Drop for StoreCore {
    fn drop(&mut self) {
        // Before the lock is released: no compaction may still write the store's files.
        self.compactions.shut_down();
    }
}

/// The local key-value store: a shared handle (cloning is cheap and refers to the same store),
/// safe to use from several threads.
#[derive(Clone, Debug)]
pub struct StoreEngine {
    shared: Arc<Mutex<StoreCore>>,
}

impl StoreEngine {
    /// Opens a store; with a WAL path, locks it (a second handle on the same WAL fails with
    /// [`StoreError::InUse`] until this one is dropped) and replays the log (cutting a torn
    /// tail, see [`StoreEngine::replay_report`]; refusing other damage with
    /// [`StoreError::Corrupt`]).
    pub fn open(config: StoreConfig) -> Result<StoreEngine, StoreError> {
        let mut core = StoreCore {
            table: Table::default(),
            wal: None,
            durability: config.durability,
            clock: HybridClock::new(config.clock.clone()),
            replay: ReplayReport::default(),
            owner: None,
            sequence: None,
            memory_sequence: 0,
            files: None,
            checkpoint_bytes: 0,
            closed_bytes: 0,
            compact_threshold: config.compact_threshold_bytes,
            tombstone_retention: config.tombstone_retention,
            fold: None,
            compactions: Arc::default(),
            this: Weak::new(),
            _lock: None,
        };
        let mut owner = Handover::default();
        if let Some(path) = &config.wal_path {
            core._lock = StoreLock::acquire(path, config.read_only)?;
            let files = StoreFiles::new(path);
            core.load_log(&files, &config, &mut owner)?;
            core.files = Some(files);
            core.sequence = Some(SequenceFile::open(path, config.read_only)?);
        }
        core.owner = Some(owner);
        let shared = Arc::new_cyclic(|this| {
            core.this = this.clone();
            Mutex::new(core)
        });
        Ok(StoreEngine { shared })
    }

    /// A store with no WAL.
    pub fn memory() -> StoreEngine {
        StoreEngine::open(StoreConfig::memory()).expect("a memory store cannot fail to open")
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, StoreCore> {
        // Nothing panics while holding this lock; if something did, the data is still
        // consistent because every mutation is logged before it is applied.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live entry at `key`; a deleted key is absent.
    pub fn get(&self, key: &Key) -> Option<Entry> {
        self.lock().entry(key)
    }

    /// The live entries whose key starts with `prefix` (`""` for all), in ascending byte
    /// order of the key. See [`Entries`] for what writes during the iteration do.
    pub fn entries(&self, prefix: &str) -> Entries {
        Entries {
            store: self.clone(),
            prefix: prefix.to_owned(),
            after: None,
            buffer: VecDeque::new(),
            exhausted: false,
        }
    }

    /// The number of live keys.
    pub fn len(&self) -> usize {
        self.lock().table.live()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts `value` at `key` directly, stamped by the store's clock. Direct writes are local:
    /// they are logged and survive restarts, but carry no extension, so the layer owning the
    /// store (if any) does not track them: sync does not propagate them.
    pub fn put(&self, key: Key, value: Value) -> Result<ApplyResult, StoreError> {
        self.apply_operation(Operation::put(key, value))
    }

    /// Deletes `key` directly (local, like [`StoreEngine::put`]), leaving a tombstone.
    pub fn remove(&self, key: Key) -> Result<ApplyResult, StoreError> {
        self.apply_operation(Operation::delete(key))
    }

    /// Applies `operation` directly (local, like [`StoreEngine::put`]). Its timestamp is
    /// replaced by a fresh stamp from the store's clock, so stamps stay monotonic.
    /// A delete carrying a value is refused ([`StoreError::InvalidValue`]) and changes nothing.
    pub fn apply_operation(&self, operation: Operation) -> Result<ApplyResult, StoreError> {
        if operation.kind == OperationKind::Delete && !operation.value.is_empty() {
            return Err(StoreError::InvalidValue(format!(
                "delete of key {:?} carries a {}-byte value",
                operation.key.as_str(),
                operation.value.len()
            )));
        }
        let mut core = self.lock();
        let stamp = core.next_stamp()?;
        let durable = core.durability == Durability::Durable;
        core.write(
            &WriteRecord::plain(operation.with_timestamp(stamp)),
            durable,
        )
    }

    /// What opening the WAL found: records replayed and torn-tail bytes dropped (opened
    /// read-only: the torn-tail bytes that a writable open would cut).
    pub fn replay_report(&self) -> ReplayReport {
        self.lock().replay
    }

    /// Replaces the physical clock (for tests and simulations); stamps stay monotonic.
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        self.lock().clock.set_source(clock);
    }

    /// The sequence mark kept in `<wal>.seq` for the store's owner (0 when none): see the
    /// README's recovery rules.
    pub fn sequence_mark(&self) -> u64 {
        self.lock().sequence_mark()
    }

    /// The number of keys whose current write is a delete (tombstones).
    pub fn tombstones(&self) -> usize {
        self.lock().table.tombstones()
    }

    /// Folds the log written so far into the checkpoint (see the README's "Compaction"):
    /// afterwards reopening loads the checkpoint and replays only what was written since.
    /// Writers on other threads keep going; waits for an automatic compaction that is running.
    /// A memory store has nothing to compact. On error the previous checkpoint and the log
    /// stand, and the next compaction starts over.
    pub fn compact(&self) -> Result<CompactionReport, StoreError> {
        let compactions = self.lock().compactions.clone();
        compactions.run_now(&self.shared)
    }

    /// Compactions so far, automatic ones included (a failed automatic compaction is
    /// reported here).
    pub fn compaction_stats(&self) -> CompactionStats {
        let compactions = self.lock().compactions.clone();
        compactions.stats()
    }

    /// Whether this store has a WAL.
    pub fn is_persistent(&self) -> bool {
        self.lock().wal.is_some()
    }
}

impl StoreCore {
    /// Loads the checkpoint, then replays the closed segment left by an interrupted
    /// compaction, if any, then the active segment; finishes what a crash interrupted: a
    /// rotation between its renames, or the removal of a segment already folded.
    fn load_log(
        &mut self,
        files: &StoreFiles,
        config: &StoreConfig,
        owner: &mut Handover,
    ) -> Result<(), StoreError> {
        let read_only = config.read_only;
        let io = |path: &std::path::Path, action: &'static str| {
            let path = path.to_path_buf();
            move |source| StoreError::Io {
                path,
                action,
                source,
            }
        };
        if !read_only && files.checkpoint_tmp.exists() {
            fs::remove_file(&files.checkpoint_tmp).map_err(io(&files.checkpoint_tmp, "remove"))?;
        }
        let mut covers = 0;
        if let Some(checkpoint) = checkpoint::read(&files.checkpoint)? {
            covers = checkpoint.covers;
            self.table = checkpoint.table;
            self.clock.observe(checkpoint.clock);
            *owner = checkpoint.owner;
            self.checkpoint_bytes = fs::metadata(&files.checkpoint)
                .map_err(io(&files.checkpoint, "stat"))?
                .len();
        }
        let mut last = covers;
        let mut report = ReplayReport::default();
        if files.closed.exists() {
            let segment = wal::segment_number(&files.closed)?;
            if segment <= covers {
                if !read_only {
                    fs::remove_file(&files.closed)
                        .and_then(|()| sync_parent_dir(&files.closed))
                        .map_err(io(&files.closed, "remove folded segment"))?;
                }
            } else if segment == covers + 1 {
                let (_, replayed) = wal::replay_closed(&files.closed, |payload| {
                    self.replay_record(payload, &mut owner.logged)
                })?;
                report.add(replayed);
                last = segment;
                self.closed_bytes = fs::metadata(&files.closed)
                    .map_err(io(&files.closed, "stat"))?
                    .len();
            } else {
                return Err(StoreError::Corrupt {
                    path: files.closed.clone(),
                    offset: 0,
                    // Either file may be the damaged one: name both.
                    reason: format!(
                        "segment {segment} does not follow the checkpoint {}, which covers \
                         segments up to {covers}",
                        files.checkpoint.display()
                    ),
                });
            }
        }
        if !read_only && files.next.exists() {
            if files.wal.exists() {
                // Created for a rotation that never happened.
                fs::remove_file(&files.next).map_err(io(&files.next, "remove"))?;
            } else {
                // A rotation interrupted between its two renames.
                fs::rename(&files.next, &files.wal)
                    .and_then(|()| sync_parent_dir(&files.wal))
                    .map_err(io(&files.next, "rename"))?;
            }
        }
        let (wal, replayed) = Wal::open(
            &files.wal,
            read_only,
            config.faults.clone(),
            last + 1,
            |payload| self.replay_record(payload, &mut owner.logged),
        )?;
        if wal.segment() != last + 1 {
            return Err(StoreError::Corrupt {
                path: files.wal.clone(),
                offset: 0,
                // Either file may be the damaged one: name both.
                reason: format!(
                    "this is log segment {}, but segment {} comes next (the checkpoint {} \
                     covers segments up to {covers})",
                    wal.segment(),
                    last + 1,
                    files.checkpoint.display()
                ),
            });
        }
        report.add(replayed);
        self.wal = Some(wal);
        self.replay = report;
        Ok(())
    }

    fn replay_record(
        &mut self,
        payload: &[u8],
        logged: &mut Vec<Logged>,
    ) -> Result<(), DecodeError> {
        let newest = replay_into(&mut self.table, logged, payload)?;
        self.clock.observe(newest);
        Ok(())
    }

    pub(crate) fn entry(&self, key: &Key) -> Option<Entry> {
        self.table.entry(key)
    }

    /// The identity of the write currently holding `key` (value or tombstone).
    pub(crate) fn current_write(&self, key: &Key) -> Option<&WriteId> {
        self.table.current_write(key)
    }

    /// The physical time the store stamps writes with, in milliseconds.
    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.physical_ms()
    }

    /// Keeps every later stamp above `stamp` (a write seen elsewhere that later writes here
    /// must follow).
    pub(crate) fn observe_stamp(&mut self, stamp: Stamp) {
        self.clock.observe(stamp);
    }

    /// A stamp for a new local write.
    pub(crate) fn next_stamp(&mut self) -> Result<Stamp, StoreError> {
        Ok(self.clock.tick()?)
    }

    /// A stamp for a new local write at `now_ms`, a [`StoreCore::now_ms`] reading just taken.
    pub(crate) fn next_stamp_at(&mut self, now_ms: u64) -> Result<Stamp, StoreError> {
        Ok(self.clock.tick_at(now_ms)?)
    }

    /// The owner's sequence mark: the greatest number it reserved and may have issued (0 when
    /// none). It survives every recovery, including one that cuts records off the WAL.
    pub(crate) fn sequence_mark(&self) -> u64 {
        self.sequence
            .as_ref()
            .map_or(self.memory_sequence, SequenceFile::mark)
    }

    /// Sets the sequence mark, on stable storage before returning. The owner raises it before
    /// issuing numbers above it, and may lower it at a clean close to the greatest number it
    /// actually issued. On error the previous mark stands.
    pub(crate) fn set_sequence_mark(&mut self, mark: u64) -> Result<(), StoreError> {
        match &mut self.sequence {
            Some(file) => file.store(mark),
            None => {
                self.memory_sequence = mark;
                Ok(())
            }
        }
    }

    /// Starts an automatic compaction when the log since the checkpoint outgrew its threshold.
    fn maybe_compact(&self) {
        let Some(wal) = &self.wal else { return };
        if self.compact_threshold == 0 {
            return;
        }
        let logged = wal.len() + self.closed_bytes;
        let threshold = self
            .compact_threshold
            .max(self.checkpoint_bytes.saturating_mul(2));
        if logged > threshold {
            self.compactions
                .start_background(self.this.clone(), logged, threshold);
        }
    }

    /// Logs `write` (on stable storage before returning when `durable`, whatever the store's
    /// own durability, which governs direct writes), then applies it. Nothing changes on error.
    pub(crate) fn write(
        &mut self,
        write: &WriteRecord,
        durable: bool,
    ) -> Result<ApplyResult, StoreError> {
        if let Some(wal) = &mut self.wal {
            wal.append(|out| record::encode_write(out, write), durable)?;
            self.maybe_compact();
        }
        Ok(self.apply_in_memory(&write.op, write.writer.clone()))
    }

    /// Logs `writes` as one record (durable as in [`StoreCore::write`]), so that a crash keeps
    /// all of them or none, then applies them in order. Nothing changes on error; a batch
    /// whose record would exceed the largest record is refused.
    pub(crate) fn write_many(
        &mut self,
        writes: &[WriteRecord],
        durable: bool,
    ) -> Result<Vec<ApplyResult>, StoreError> {
        if let Some(wal) = &mut self.wal {
            wal.append(|out| record::encode_writes(out, writes), durable)?;
            self.maybe_compact();
        }
        Ok(writes
            .iter()
            .map(|w| self.apply_in_memory(&w.op, w.writer.clone()))
            .collect())
    }

    /// Logs a note for the owner. Not synced: it reaches stable storage with the next durable
    /// write or [`StoreCore::sync_wal`].
    pub(crate) fn note(&mut self, note: &[u8]) -> Result<(), StoreError> {
        if let Some(wal) = &mut self.wal {
            wal.append(|out| record::encode_note(out, note), false)?;
            self.maybe_compact();
        }
        Ok(())
    }

    /// Makes everything logged so far durable.
    pub(crate) fn sync_wal(&mut self) -> Result<(), StoreError> {
        match &mut self.wal {
            Some(wal) => wal.sync(),
            None => Ok(()),
        }
    }

    /// Takes ownership of the store, handing over what the owner starts from; `None` while
    /// another owner holds it (two owners would split what they derive from the log).
    pub(crate) fn take_ownership(&mut self, fold: Fold) -> Option<Handover> {
        let handover = self.owner.take()?;
        self.fold = Some(fold);
        Some(handover)
    }

    /// Lets go of the store, leaving `handover` for the next owner: the state it saved, or
    /// the handover it was given, unused.
    pub(crate) fn release_ownership(&mut self, handover: Handover) {
        self.owner = Some(handover);
    }

    pub(crate) fn files(&self) -> Option<&StoreFiles> {
        self.files.as_ref()
    }

    pub(crate) fn wal_faults(&self) -> Option<Arc<WalFaults>> {
        self.wal.as_ref().and_then(|wal| wal.faults().cloned())
    }

    pub(crate) fn fold(&self) -> Option<Fold> {
        self.fold
    }

    pub(crate) fn tombstone_retention(&self) -> Duration {
        self.tombstone_retention
    }

    pub(crate) fn active_segment(&self) -> u64 {
        self.wal.as_ref().map_or(0, Wal::segment)
    }

    /// Whether writes are logged: extensions of a store without a WAL are never read back.
    pub(crate) fn is_logged(&self) -> bool {
        self.wal.is_some()
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.wal.as_ref().is_some_and(Wal::is_read_only)
    }

    /// Whether the compaction must stop dead at `step`; if so, the store now refuses every
    /// write, as a crashed process would (see [`WalFaults::crash_compaction_at`]).
    pub(crate) fn crashes_at(&mut self, step: CompactionStep) -> Option<StoreError> {
        let wal = self.wal.as_mut()?;
        if wal.faults().is_some_and(|f| f.crashes_at(step)) {
            Some(wal.simulated_crash())
        } else {
            None
        }
    }

    /// Every stamp issued or observed so far is at most this.
    pub(crate) fn clock_high_water(&self) -> Stamp {
        self.clock.last()
    }

    /// Closes the active segment (it becomes the closed one) and makes `next` active.
    pub(crate) fn rotate(&mut self, next: fs::File) -> Result<(), StoreError> {
        let (Some(wal), Some(files)) = (&mut self.wal, &self.files) else {
            return Ok(());
        };
        let closed_bytes = wal.len();
        wal.rotate(&files.closed, &files.next, next)?;
        self.closed_bytes = closed_bytes;
        Ok(())
    }

    /// A compaction finished: the closed segment is folded into a checkpoint of
    /// `checkpoint_bytes`, and the `collected` tombstones go unless their key was written since.
    pub(crate) fn compacted(&mut self, checkpoint_bytes: u64, collected: &[(Key, WriteId)]) {
        if checkpoint_bytes > 0 {
            self.checkpoint_bytes = checkpoint_bytes;
        }
        self.closed_bytes = 0;
        for (key, write) in collected {
            self.table.collect_tombstone(key, write);
        }
    }

    fn apply_in_memory(&mut self, op: &Operation, writer: Option<NodeId>) -> ApplyResult {
        self.table.apply(op, writer)
    }
}

/// Applies one logged record to `table`, collecting what concerns the store's owner in
/// `logged`; returns the greatest stamp it held.
pub(crate) fn replay_into(
    table: &mut Table,
    logged: &mut Vec<Logged>,
    payload: &[u8],
) -> Result<Stamp, DecodeError> {
    let mut newest = Stamp::ZERO;
    let mut replay = |write: WriteRecord| {
        newest = newest.max(write.op.timestamp);
        table.apply(&write.op, write.writer.clone());
        if !write.extension.is_empty() {
            logged.push(Logged::Write {
                op: write.op,
                writer: write.writer,
                extension: write.extension,
            });
        }
    };
    match record::decode(payload)? {
        Record::Note(bytes) => logged.push(Logged::Note(bytes)),
        Record::Write(write) => replay(write),
        Record::Writes(writes) => writes.into_iter().for_each(replay),
    }
    Ok(newest)
}

/// Keys (live or deleted) an [`Entries`] iterator reads per acquisition of the store's lock:
/// the most a writer waits for it.
pub const ENTRIES_CHUNK_KEYS: usize = 64;

/// An iterator over a store's live entries under a prefix, in ascending key order
/// ([`StoreEngine::entries`]).
///
/// Not a snapshot: it reads the store in chunks of at most [`ENTRIES_CHUNK_KEYS`] keys (live or
/// deleted), each under the store's lock, and resumes after the last key it read, so memory
/// stays bounded and a writer waits for one chunk at most. Each key is returned at most once and in order; a key
/// that is live from creation to the end of the iteration is returned; a key written or deleted
/// meanwhile may or may not be; an entry is the key's state at the moment its chunk was read.
/// It holds a handle on the store, so the store (and its WAL lock) stays open until it is
/// dropped.
#[derive(Debug)]
pub struct Entries {
    store: StoreEngine,
    prefix: String,
    after: Option<Key>,
    buffer: VecDeque<Entry>,
    exhausted: bool,
}

impl Iterator for Entries {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        // A chunk may hold only tombstones: read on (re-locking each time) until an entry or
        // the end of the range.
        while self.buffer.is_empty() && !self.exhausted {
            let chunk =
                self.store
                    .lock()
                    .table
                    .scan(&self.prefix, self.after.as_ref(), ENTRIES_CHUNK_KEYS);
            self.exhausted = chunk.ended;
            if chunk.last.is_some() {
                self.after = chunk.last;
            }
            self.buffer.extend(chunk.entries);
        }
        self.buffer.pop_front()
    }
}
