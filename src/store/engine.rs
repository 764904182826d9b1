//! The store engine: current key state, rebuilt from the WAL on open.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use super::config::{Durability, StoreConfig};
use super::entry::{Entry, Slot, WriteId};
use super::error::StoreError;
use super::extension::{Handover, Logged};
use super::key::Key;
use super::lock::StoreLock;
use super::operation::{Operation, OperationKind};
use super::record::{self, Record, WriteRecord};
use super::sequence::SequenceFile;
use super::value::Value;
use super::wal::{ReplayReport, Wal};
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
    slots: HashMap<Key, Slot>,
    /// Every key in `slots`, sorted: prefix scans in O(log n + k) while lookups stay O(1).
    /// Only a key's first write touches it (a tombstone keeps its slot), so updates pay nothing.
    keys: BTreeSet<Key>,
    live: usize,
    last_version: u64,
    wal: Option<Wal>,
    durability: Durability,
    clock: HybridClock,
    replay: ReplayReport,
    /// What the next owner starts from; `None` while the store is owned.
    owner: Option<Handover>,
    /// The mark reserved by the store's owner; in memory only for a store without a WAL.
    sequence: Option<SequenceFile>,
    memory_sequence: u64,
    /// Declared last: released only after every file above is closed.
    _lock: Option<StoreLock>,
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
            slots: HashMap::new(),
            keys: BTreeSet::new(),
            live: 0,
            last_version: 0,
            wal: None,
            durability: config.durability,
            clock: HybridClock::new(config.clock),
            replay: ReplayReport::default(),
            owner: None,
            sequence: None,
            memory_sequence: 0,
            _lock: None,
        };
        let mut logged = Vec::new();
        if let Some(path) = &config.wal_path {
            core._lock = StoreLock::acquire(path, config.read_only)?;
            let (wal, report) =
                Wal::open(path, config.read_only, config.faults.clone(), |payload| {
                    core.replay_record(payload, &mut logged)
                })?;
            core.wal = Some(wal);
            core.replay = report;
            core.sequence = Some(SequenceFile::open(path, config.read_only)?);
        }
        core.owner = Some(Handover {
            saved: None,
            logged,
        });
        Ok(StoreEngine {
            shared: Arc::new(Mutex::new(core)),
        })
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
        self.lock().live
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
        let core = self.lock();
        core.slots.len() - core.live
    }

    /// Whether this store has a WAL.
    pub fn is_persistent(&self) -> bool {
        self.lock().wal.is_some()
    }
}

impl StoreCore {
    fn replay_record(
        &mut self,
        payload: &[u8],
        logged: &mut Vec<Logged>,
    ) -> Result<(), DecodeError> {
        match record::decode(payload)? {
            Record::Note(bytes) => logged.push(Logged::Note(bytes)),
            Record::Write(write) => self.replay_write(write, logged),
            Record::Writes(writes) => {
                for write in writes {
                    self.replay_write(write, logged);
                }
            }
        }
        Ok(())
    }

    fn replay_write(&mut self, write: WriteRecord, logged: &mut Vec<Logged>) {
        self.clock.observe(write.op.timestamp);
        self.apply_in_memory(&write.op, write.writer.clone());
        if !write.extension.is_empty() {
            logged.push(Logged::Write {
                op: write.op,
                writer: write.writer,
                extension: write.extension,
            });
        }
    }

    pub(crate) fn entry(&self, key: &Key) -> Option<Entry> {
        let slot = self.slots.get(key)?;
        Some(Entry {
            key: key.clone(),
            value: slot.value.clone()?,
            version: slot.version,
            timestamp: slot.write.stamp,
            origin: slot.write.origin.clone(),
        })
    }

    /// Visits up to `limit` keys (live or tombstoned) that start with `prefix` and sort after
    /// `after`, in key order: the live entries among them, the last key visited, and whether
    /// the prefix range ended. Bounding the keys visited, not the entries found, bounds how long
    /// one call holds the lock even across a long run of tombstones.
    fn scan(&self, prefix: &str, after: Option<&Key>, limit: usize) -> ScanChunk {
        let start = match after {
            Some(key) => Bound::Excluded(key.as_str()),
            None => Bound::Included(prefix),
        };
        let mut chunk = ScanChunk::default();
        let mut visited = 0;
        for key in self
            .keys
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|key| key.as_str().starts_with(prefix))
            .take(limit)
        {
            visited += 1;
            chunk.entries.extend(self.entry(key));
            chunk.last = Some(key.clone());
        }
        chunk.ended = visited < limit;
        chunk
    }

    /// The identity of the write currently holding `key` (value or tombstone).
    pub(crate) fn current_write(&self, key: &Key) -> Option<&WriteId> {
        self.slots.get(key).map(|slot| &slot.write)
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

    /// Logs `write` (on stable storage before returning when `durable`, whatever the store's
    /// own durability, which governs direct writes), then applies it. Nothing changes on error.
    pub(crate) fn write(
        &mut self,
        write: &WriteRecord,
        durable: bool,
    ) -> Result<ApplyResult, StoreError> {
        if let Some(wal) = &mut self.wal {
            wal.append(|out| record::encode_write(out, write), durable)?;
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
        }
        Ok(writes
            .iter()
            .map(|w| self.apply_in_memory(&w.op, w.writer.clone()))
            .collect())
    }

    /// Logs a note for the owner. Not synced: it reaches stable storage with the next durable
    /// write or [`StoreCore::sync_wal`].
    pub(crate) fn note(&mut self, note: &[u8]) -> Result<(), StoreError> {
        match &mut self.wal {
            Some(wal) => wal.append(|out| record::encode_note(out, note), false),
            None => Ok(()),
        }
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
    pub(crate) fn take_ownership(&mut self) -> Option<Handover> {
        self.owner.take()
    }

    /// Lets go of the store, leaving `handover` for the next owner: the state it saved, or
    /// the handover it was given, unused.
    pub(crate) fn release_ownership(&mut self, handover: Handover) {
        self.owner = Some(handover);
    }

    fn apply_in_memory(&mut self, op: &Operation, writer: Option<NodeId>) -> ApplyResult {
        self.last_version += 1;
        let value = match op.kind {
            OperationKind::Put => Some(op.value.clone()),
            OperationKind::Delete => None,
        };
        let now_live = value.is_some();
        let slot = Slot {
            value,
            version: self.last_version,
            write: WriteId {
                stamp: op.timestamp,
                origin: writer,
            },
        };
        let previous = self.slots.insert(op.key.clone(), slot);
        if previous.is_none() {
            self.keys.insert(op.key.clone());
        }
        let was_live = previous.as_ref().is_some_and(|s| s.value.is_some());
        match (was_live, now_live) {
            (false, true) => self.live += 1,
            (true, false) => self.live -= 1,
            _ => {}
        }
        ApplyResult {
            version: self.last_version,
            timestamp: op.timestamp,
            created: !was_live && now_live,
            updated: was_live && now_live,
            deleted: was_live && !now_live,
            replaced: previous.map(|s| s.write),
        }
    }
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

/// One lock's worth of a prefix scan.
#[derive(Default)]
struct ScanChunk {
    entries: Vec<Entry>,
    last: Option<Key>,
    ended: bool,
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
