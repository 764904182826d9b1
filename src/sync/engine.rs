//! The sync engine: submits local operations, hands out batches, tracks ACKs and retries,
//! and applies remote operations.
//!
//! Locking: the engine's lock is always taken before the store's, and both are held across a
//! whole step, so a step is atomic with respect to every other thread. Logging: every
//! transition that must survive a restart is written to the WAL before it is applied in
//! memory, so a failed write leaves the engine unchanged.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::backoff::{node_salt, retry_delay_ms};
use super::config::SyncConfig;
use super::conflict::ResolutionReason;
use super::context::SyncContext;
use super::dedup::SeenVersions;
use super::envelope::{EnvelopeRef, SyncEnvelope, SyncStatus};
use super::error::SyncError;
use super::group_commit::CommitQueue;
use super::journal::{Annotation, Tracking, MAX_SEQS_PER_ANNOTATION};
use super::operation::{parse_sync_id, Direction, Submitted, SyncOperation};
use super::outbox::{Outbox, OutboxEntry};
use super::snapshot::{self, Snapshot};
use super::state::SyncState;
use crate::clock::{millis, Stamp};
use crate::node::NodeId;
use crate::small_bytes::SmallBytes;
use crate::store::engine::StoreCore;
use crate::store::{
    Durability, Folded, Handover, Key, Logged, Operation, OperationKind, SharedWrite, StoreEngine,
    WriteId, WriteRecord,
};

mod remote;

/// What an ACK did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The operation is now acknowledged.
    Acknowledged,
    /// It already was (ACKs may be delivered more than once).
    AlreadyAcknowledged,
}

/// What acknowledging many sync ids in one call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckReport {
    /// Operations that became acknowledged.
    pub acknowledged: usize,
    /// Operations that already were (a redelivered ACK).
    pub already_acknowledged: usize,
    /// Ids the outbox does not hold (pruned since, or never ours).
    pub unknown: usize,
}

/// What receiving a remote operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteOutcome {
    /// The store now holds the remote write.
    Applied,
    /// Evaluated and not applied: older than the local write, or lost a conflict.
    Ignored,
    /// Already handled before (redelivery, or the write is already here).
    Duplicate,
}

/// The result of `receive_remote_operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteApplyResult {
    pub outcome: RemoteOutcome,
    /// The remote write was concurrent with the local one.
    pub conflict_detected: bool,
    /// Why the resolver decided as it did (`None` for a duplicate caught by deduplication).
    pub reason: Option<ResolutionReason>,
    /// The store version of the applied write.
    pub store_version: Option<u64>,
}

impl RemoteApplyResult {
    fn duplicate() -> RemoteApplyResult {
        RemoteApplyResult {
            outcome: RemoteOutcome::Duplicate,
            conflict_detected: false,
            reason: None,
            store_version: None,
        }
    }

    pub fn applied(&self) -> bool {
        self.outcome == RemoteOutcome::Applied
    }

    pub fn ignored(&self) -> bool {
        self.outcome == RemoteOutcome::Ignored
    }

    pub fn duplicate_delivery(&self) -> bool {
        self.outcome == RemoteOutcome::Duplicate
    }
}

/// Sequences are reserved in blocks, so that persisting the reservation (an fdatasync of the
/// sequence file) costs once per this many submits.
const SEQUENCE_BLOCK: u64 = 4096;

#[derive(Debug)]
struct EngineCore {
    outbox: Outbox,
    seen: SeenVersions,
    next_seq: u64,
    /// The store's sequence mark: every sequence up to it may have been issued.
    reserved_seq: u64,
    last_applied_remote_version: u64,
    total_retries: u64,
    remote_applied: u64,
    remote_ignored: u64,
    remote_duplicates: u64,
    conflicts: u64,
}

impl Default for EngineCore {
    fn default() -> Self {
        EngineCore {
            outbox: Outbox::default(),
            seen: SeenVersions::default(),
            next_seq: 1,
            reserved_seq: 0,
            last_applied_remote_version: 0,
            total_retries: 0,
            remote_applied: 0,
            remote_ignored: 0,
            remote_duplicates: 0,
            conflicts: 0,
        }
    }
}

impl EngineCore {
    /// Rebuilds the engine from what the store hands over: the state the previous engine
    /// saved, if any, then what the log holds after it. Every operation not acknowledged is
    /// pending or queued again (in-flight ones are queued), acknowledged and failed ones keep
    /// their status until pruned, and sequence numbers continue after the highest ever used:
    /// the highest logged or the store's sequence mark, whichever is greater (a recovery that
    /// cut records off the log cannot make an id be issued twice).
    /// `observe` is given the stamps of remote writes handled without a store write (the
    /// store's clock must stay above them).
    fn recover(
        handover: &mut Handover,
        sequence_mark: u64,
        observe: &mut dyn FnMut(Stamp),
    ) -> Result<EngineCore, SyncError> {
        let corrupt = |e: crate::binary::DecodeError| SyncError::CorruptJournal(e.0);
        if !handover.shared.is_empty() {
            // Decoding the saved state takes its shared writes out of the handover: check the
            // log's items first, so that no failure comes after it (a retry fails the same way).
            check_logged(&handover.logged)?;
        }
        let saved = match &handover.saved {
            Some(bytes) => snapshot::decode(bytes, &mut handover.shared).map_err(corrupt)?,
            None => Snapshot::default(),
        };
        let mut core = EngineCore {
            reserved_seq: sequence_mark,
            next_seq: sequence_mark.max(saved.last_seq).saturating_add(1),
            seen: saved.seen,
            last_applied_remote_version: saved.last_applied_remote_version,
            ..EngineCore::default()
        };
        let mut outbox = saved.outbox;
        for item in &handover.logged {
            match item {
                Logged::Write {
                    op,
                    writer,
                    extension,
                } => {
                    let tracking = Tracking::decode(extension).map_err(corrupt)?;
                    let Some(writer) = writer else {
                        return Err(no_origin(op));
                    };
                    match tracking {
                        Tracking::Local {
                            seq,
                            queued,
                            replaces,
                        } => {
                            core.next_seq = core.next_seq.max(seq + 1);
                            let status = if queued {
                                SyncStatus::Queued
                            } else {
                                SyncStatus::Pending
                            };
                            let at = op.timestamp.wall_ms();
                            let entry =
                                OutboxEntry::new(op.clone(), writer.clone(), replaces, status, at);
                            outbox.insert(seq, entry);
                        }
                        Tracking::Remote { version } => {
                            core.seen.insert(writer, version);
                            core.last_applied_remote_version = version;
                        }
                    }
                }
                Logged::Note(bytes) => {
                    let annotation = Annotation::decode(bytes).map_err(corrupt)?;
                    replay_annotation(&mut core, &mut outbox, annotation, observe);
                }
            }
        }
        core.outbox = outbox;
        Ok(core)
    }

    /// The store's fold (see `store/extension.rs`): the state a handover rebuilds, saved, and
    /// the writes of operations not acknowledged yet (their tombstones must stay until the
    /// delete is acknowledged).
    fn fold(mut handover: Handover) -> Result<Folded, String> {
        let core = EngineCore::recover(&mut handover, 0, &mut |_| {}).map_err(|e| e.to_string())?;
        let pinned = core
            .outbox
            .iter()
            .filter(|(_, entry)| entry.status != SyncStatus::Acknowledged)
            .map(|(_, entry)| WriteId {
                stamp: entry.op.timestamp,
                origin: Some(entry.origin.clone()),
            })
            .collect();
        let (saved, shared) = core.save();
        Ok(Folded {
            saved,
            shared,
            pinned,
        })
    }

    /// The state a snapshot keeps (see `snapshot.rs`), and the writes it refers to.
    fn save(&self) -> (Vec<u8>, Vec<SharedWrite>) {
        snapshot::encode(
            &self.outbox,
            &self.seen,
            self.next_seq - 1,
            self.last_applied_remote_version,
        )
    }
}

/// Fails as [`EngineCore::recover`] would on the first of `logged` it cannot decode.
fn check_logged(logged: &[Logged]) -> Result<(), SyncError> {
    let corrupt = |e: crate::binary::DecodeError| SyncError::CorruptJournal(e.0);
    for item in logged {
        match item {
            Logged::Write {
                op,
                writer,
                extension,
            } => {
                Tracking::decode(extension).map_err(corrupt)?;
                if writer.is_none() {
                    return Err(no_origin(op));
                }
            }
            Logged::Note(bytes) => {
                Annotation::decode(bytes).map_err(corrupt)?;
            }
        }
    }
    Ok(())
}

fn no_origin(op: &Operation) -> SyncError {
    SyncError::CorruptJournal(format!(
        "a tracked write of key {:?} has no origin",
        op.key.as_str()
    ))
}

/// Applies one logged outbox transition or remote bookkeeping to the state being rebuilt.
fn replay_annotation(
    core: &mut EngineCore,
    outbox: &mut Outbox,
    annotation: Annotation,
    observe: &mut dyn FnMut(Stamp),
) {
    // Applies `to` to the logged entries still held, only those in status `from` when given.
    let mut replay = |seqs: Vec<u64>, from: Option<SyncStatus>, to: fn(&mut Outbox, u64)| {
        for seq in seqs {
            let status = outbox.get(seq).map(|entry| entry.status);
            if status.is_some_and(|status| from.is_none_or(|from| status == from)) {
                to(outbox, seq);
            }
        }
    };
    match annotation {
        Annotation::Queued(seqs) => replay(seqs, Some(SyncStatus::Pending), Outbox::queue),
        Annotation::Acknowledged(seqs) => replay(seqs, None, |outbox, seq| {
            outbox.mark_acknowledged(seq, None)
        }),
        Annotation::Failed(seqs) => replay(seqs, None, Outbox::mark_failed),
        Annotation::Requeued(seqs) => {
            replay(seqs, Some(SyncStatus::Failed), Outbox::requeue_failed)
        }
        Annotation::Pruned(seqs) => replay(seqs, None, Outbox::remove),
        Annotation::RemoteSeen {
            origin,
            version,
            stamp,
        } => {
            core.seen.insert(&origin, version);
            observe(stamp);
        }
    }
}

/// The sync engine. All methods take `&self` and may be called from several threads.
#[derive(Debug)]
pub struct SyncEngine {
    store: StoreEngine,
    node: NodeId,
    config: SyncConfig,
    core: Mutex<EngineCore>,
    /// Durable submitters waiting to share a record and its fdatasync.
    commits: CommitQueue,
    /// Submits go through `commits`: durable mode on a WAL (fixed for the engine's life).
    group_commit: bool,
}

impl SyncEngine {
    /// Builds an engine over the context's store, recovering the outbox from its WAL. A store
    /// serves one engine at a time. Dropping the engine leaves its state with the store, and
    /// the next engine over the store starts exactly where a restart would: operations in
    /// flight are queued again; counters of activity start at zero.
    pub fn new(context: &SyncContext) -> Result<SyncEngine, SyncError> {
        let node = context.validate()?;
        let store = context.store.clone();
        let mut store_core = store.lock();
        let mut handover = store_core.take_ownership(EngineCore::fold).ok_or_else(|| {
            SyncError::InvalidContext(
                "the store already has a sync engine attached; drop that engine first".into(),
            )
        })?;
        let mark = store_core.sequence_mark();
        let recovered = EngineCore::recover(&mut handover, mark, &mut |stamp| {
            store_core.observe_stamp(stamp)
        });
        let core = match recovered {
            Ok(core) => core,
            Err(e) => {
                store_core.release_ownership(handover);
                return Err(e);
            }
        };
        drop(store_core);
        let group_commit =
            context.config.durability == Durability::Durable && store.is_persistent();
        Ok(SyncEngine {
            store,
            node,
            config: context.config.clone(),
            core: Mutex::new(core),
            commits: CommitQueue::default(),
            group_commit,
        })
    }

    fn lock(&self) -> MutexGuard<'_, EngineCore> {
        // See StoreEngine::lock: state is consistent even if a holder panicked.
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn store(&self) -> &StoreEngine {
        &self.store
    }

    pub fn node_id(&self) -> &NodeId {
        &self.node
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    fn durable(&self) -> bool {
        self.config.durability == Durability::Durable
    }

    /// Applies a local operation to the store and tracks it for propagation: assigns the next
    /// version and the sync id `<node>-<version>`, inserts it into the outbox and queues it if
    /// `auto_queue` is set. The WAL record of the write carries the sync operation, so both
    /// survive a crash together. On error nothing changed.
    ///
    /// In durable mode, submitters on several threads share fdatasyncs (group commit): each
    /// returns once its own record is on disk.
    pub fn submit_local_operation(&self, operation: Operation) -> Result<SyncOperation, SyncError> {
        let submitted = self.submit_local(operation)?;
        Ok(self.sync_operation(submitted))
    }

    /// [`SyncEngine::submit_local_operation`] returning only what the submit assigned: no
    /// strings are built (the sync id is `<node>-<version>`, see [`Submitted::sync_id`]).
    pub fn submit_local(&self, operation: Operation) -> Result<Submitted, SyncError> {
        if self.group_commit {
            let mut submitted = self
                .commits
                .submit(vec![operation], |ops| self.submit(ops))?;
            return Ok(submitted.pop().expect("one operation in, one out"));
        }
        self.submit_one(operation)
    }

    /// Submits several local operations in one call, in order, as one WAL record (one
    /// fdatasync in durable mode): after a crash all of them are there or none. Later
    /// operations on a key replace earlier ones of the same call. Any invalid operation, a
    /// batch over the outbox limits, or a record over the WAL's largest (64 MiB of payload)
    /// refuses the whole call, naming the problem; nothing changes.
    pub fn submit_local_operations(
        &self,
        operations: Vec<Operation>,
    ) -> Result<Vec<SyncOperation>, SyncError> {
        let submitted = self.submit_local_many(operations)?;
        Ok(submitted
            .into_iter()
            .map(|s| self.sync_operation(s))
            .collect())
    }

    /// [`SyncEngine::submit_local_operations`] returning only what the submits assigned.
    pub fn submit_local_many(
        &self,
        operations: Vec<Operation>,
    ) -> Result<Vec<Submitted>, SyncError> {
        // Durable writes go through the commit queue, so that concurrent submitters share a
        // record and its fdatasync; fast ones have no sync to share.
        if self.group_commit {
            self.commits.submit(operations, |ops| self.submit(ops))
        } else {
            self.submit(operations)
        }
    }

    /// The sync operation a submit made.
    fn sync_operation(&self, submitted: Submitted) -> SyncOperation {
        SyncOperation {
            sync_id: submitted.sync_id(&self.node),
            origin_node_id: self.node.as_str().to_owned(),
            version: submitted.version,
            operation: submitted.operation,
            replaces: submitted.replaces,
            direction: Direction::LocalToRemote,
        }
    }

    /// One operation, outside group commit: the same steps as [`SyncEngine::submit`] without
    /// the vectors a batch needs.
    fn submit_one(&self, operation: Operation) -> Result<Submitted, SyncError> {
        let operations = std::slice::from_ref(&operation);
        check_local(operations)?;
        let mut core = self.lock();
        self.check_capacity(&core.outbox, operations)?;
        let seq = core.next_seq;
        let mut store = self.store.lock();
        self.reserve_sequences(&mut core, &mut store, seq)?;
        let submitted_at = store.now_ms();
        let stamp = store
            .next_stamp_at(submitted_at)
            .map_err(SyncError::store("local apply"))?;
        let replaces = store.current_write(&operation.key).cloned();
        let record = self.local_record(
            &store,
            seq,
            operation.joined().with_timestamp(stamp),
            replaces.clone(),
        );
        store
            .write(&record, self.durable())
            .map_err(SyncError::store("local apply"))?;
        drop(store);
        core.next_seq = seq + 1;
        let entry = OutboxEntry::new(
            record.op.clone(),
            self.node.clone(),
            replaces.clone(),
            self.submitted_status(),
            submitted_at,
        );
        core.outbox.insert(seq, entry);
        Ok(Submitted {
            version: seq,
            operation: record.op,
            replaces,
        })
    }

    /// The status a new operation starts in.
    fn submitted_status(&self) -> SyncStatus {
        if self.config.auto_queue {
            SyncStatus::Queued
        } else {
            SyncStatus::Pending
        }
    }

    /// Raises the store's sequence mark, a block at a time, so that `last` may be issued.
    fn reserve_sequences(
        &self,
        core: &mut EngineCore,
        store: &mut StoreCore,
        last: u64,
    ) -> Result<(), SyncError> {
        if last > core.reserved_seq {
            let mark = last.saturating_add(SEQUENCE_BLOCK - 1);
            store
                .set_sequence_mark(mark)
                .map_err(SyncError::store("local apply"))?;
            core.reserved_seq = mark;
        }
        Ok(())
    }

    /// The store record of local operation `seq` (stamped): the write and, for a log, the
    /// tracking recovery rebuilds the outbox entry from.
    fn local_record(
        &self,
        store: &StoreCore,
        seq: u64,
        op: Operation,
        replaces: Option<WriteId>,
    ) -> WriteRecord {
        // Only a log reads the tracking back: a memory store's writes need none.
        let extension = if store.is_logged() {
            Tracking::Local {
                seq,
                queued: self.config.auto_queue,
                replaces,
            }
            .encode()
        } else {
            SmallBytes::default()
        };
        WriteRecord {
            op,
            writer: Some(self.node.clone()),
            extension,
        }
    }

    fn submit(&self, operations: Vec<Operation>) -> Result<Vec<Submitted>, SyncError> {
        check_local(&operations)?;
        if operations.is_empty() {
            return Ok(Vec::new());
        }
        let many = operations.len() > 1;
        let mut core = self.lock();
        self.check_capacity(&core.outbox, &operations)?;
        let first = core.next_seq;
        let last = first + operations.len() as u64 - 1;
        let mut store = self.store.lock();
        self.reserve_sequences(&mut core, &mut store, last)?;
        let submitted_at = store.now_ms();
        // The write each key holds once the earlier operations of this call are applied.
        let mut written: HashMap<Key, WriteId, foldhash::fast::RandomState> = if many {
            HashMap::with_capacity_and_hasher(operations.len(), Default::default())
        } else {
            HashMap::default()
        };
        let mut records = Vec::with_capacity(operations.len());
        let mut replaced = Vec::with_capacity(operations.len());
        for (seq, operation) in (first..).zip(operations) {
            let stamp = store
                .next_stamp_at(submitted_at)
                .map_err(SyncError::store("local apply"))?;
            let replaces = match written.get(&operation.key) {
                Some(earlier) => Some(earlier.clone()),
                None => store.current_write(&operation.key).cloned(),
            };
            if many {
                let id = WriteId {
                    stamp,
                    origin: Some(self.node.clone()),
                };
                written.insert(operation.key.clone(), id);
            }
            // Key and value in one allocation, which the store and the outbox share.
            let op = operation.joined().with_timestamp(stamp);
            records.push(self.local_record(&store, seq, op, replaces.clone()));
            replaced.push(replaces);
        }
        let logged = if many {
            store.write_many(&records, self.durable()).map(drop)
        } else {
            store.write(&records[0], self.durable()).map(drop)
        };
        logged.map_err(SyncError::store("local apply"))?;
        drop(store);
        core.next_seq = last + 1;
        let status = self.submitted_status();
        let mut submitted = Vec::with_capacity(records.len());
        for ((seq, record), replaces) in (first..).zip(records).zip(replaced) {
            core.outbox.insert(
                seq,
                OutboxEntry::new(
                    record.op.clone(),
                    self.node.clone(),
                    replaces.clone(),
                    status,
                    submitted_at,
                ),
            );
            submitted.push(Submitted {
                version: seq,
                operation: record.op,
                replaces,
            });
        }
        Ok(submitted)
    }

    fn check_capacity(&self, outbox: &Outbox, operations: &[Operation]) -> Result<(), SyncError> {
        let held = outbox.len();
        let adds = operations.len();
        let max = self.config.max_outbox_operations;
        if held.saturating_add(adds) > max {
            let what = match adds {
                1 => String::new(),
                n => format!(" and the call adds {n}"),
            };
            return Err(SyncError::CapacityExceeded(format!(
                "the outbox holds {held} operations{what} (max_outbox_operations = {max}); \
                 prune acknowledged or failed operations first"
            )));
        }
        let held_bytes = outbox.counts().bytes;
        let adds_bytes = operations
            .iter()
            .fold(0u64, |sum, op| sum.saturating_add(op.payload_bytes()));
        let max_bytes = self.config.max_outbox_bytes;
        if held_bytes.saturating_add(adds_bytes) > max_bytes {
            let what = match operations {
                [one] => format!("the operation on key {:?}", one.key.as_str()),
                many => format!("the {} operations", many.len()),
            };
            return Err(SyncError::CapacityExceeded(format!(
                "the outbox holds {held_bytes} bytes and {what} adds {adds_bytes} \
                 (max_outbox_bytes = {max_bytes})"
            )));
        }
        Ok(())
    }

    /// The outbox sequence of `sync_id`, or `sync operation not found: <id>`.
    fn find(&self, core: &EngineCore, sync_id: &str) -> Result<u64, SyncError> {
        let not_found = || SyncError::NotFound(sync_id.chars().take(300).collect());
        let (origin, seq) = parse_sync_id(sync_id).ok_or_else(not_found)?;
        match core.outbox.get(seq) {
            Some(entry) if entry.origin.as_str() == origin => Ok(seq),
            _ => Err(not_found()),
        }
    }

    /// Logs the annotation `make` makes; a store without a log keeps no notes, so then it is
    /// not even made (an ACK of a memory store is otherwise mostly this).
    fn log(&self, make: impl FnOnce() -> Annotation, step: &'static str) -> Result<(), SyncError> {
        let mut store = self.store.lock();
        if !store.is_logged() {
            return Ok(());
        }
        store.note(&make().encode()).map_err(SyncError::store(step))
    }

    /// Queues a pending operation (one submitted with `auto_queue` off). Queueing a queued
    /// operation is a no-op; an operation in flight, acknowledged or failed cannot be queued.
    pub fn queue_operation(&self, sync_id: &str) -> Result<(), SyncError> {
        let mut core = self.lock();
        let seq = self.find(&core, sync_id)?;
        match core.outbox.get(seq).map(|e| e.status) {
            Some(SyncStatus::Pending) => {
                self.log(|| Annotation::Queued(vec![seq]), "queue")?;
                core.outbox.queue(seq);
                Ok(())
            }
            Some(SyncStatus::Queued) => Ok(()),
            Some(status) => Err(SyncError::QueueFailed(format!(
                "sync operation {sync_id} is {}; only pending operations can be queued",
                status_name(status)
            ))),
            None => unreachable!("find returned a present sequence"),
        }
    }

    /// Hands out up to `batch_size` queued operations, oldest first. With `require_ack` they
    /// are in flight until acknowledged or their `ack_timeout` passes; without, they count as
    /// acknowledged. The WAL is synced first, so an operation another node may have seen is
    /// never lost here, whatever the durability mode.
    pub fn next_batch(&self) -> Result<Vec<SyncEnvelope>, SyncError> {
        self.next_batch_with(|entry| entry.to_envelope())
    }

    /// [`SyncEngine::next_batch`], each envelope handed to `make` as the outbox holds it, so
    /// that a caller (the C ABI) can build its own form of the batch without making envelopes.
    pub(crate) fn next_batch_with<T>(
        &self,
        mut make: impl FnMut(EnvelopeRef<'_>) -> T,
    ) -> Result<Vec<T>, SyncError> {
        let mut core = self.lock();
        let mut store = self.store.lock();
        let now = store.now_ms();
        let seqs = core.outbox.select_batch(now, self.config.batch_size);
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        // In durable mode every write is already on disk; in fast mode, sync before an
        // operation can reach another node.
        if !self.durable() {
            store.sync_wal().map_err(SyncError::store("batch"))?;
        }
        if !self.config.require_ack {
            store
                .note(&Annotation::Acknowledged(seqs.clone()).encode())
                .map_err(SyncError::store("batch"))?;
        }
        drop(store);
        let deadline = now.saturating_add(millis(self.config.ack_timeout));
        let mut batch = Vec::with_capacity(seqs.len());
        for seq in seqs {
            if self.config.require_ack {
                core.outbox.mark_in_flight(seq, now, deadline);
            } else {
                core.outbox.mark_acknowledged(seq, Some(now));
            }
            batch.extend(core.outbox.get(seq).map(&mut make));
        }
        Ok(batch)
    }

    /// Marks `sync_id` acknowledged, whatever its status (a late ACK for an operation that was
    /// re-queued or failed still proves delivery).
    pub fn receive_ack(&self, sync_id: &str) -> Result<AckOutcome, SyncError> {
        let mut core = self.lock();
        let seq = self.find(&core, sync_id)?;
        if core.outbox.get(seq).map(|e| e.status) == Some(SyncStatus::Acknowledged) {
            return Ok(AckOutcome::AlreadyAcknowledged);
        }
        self.log(|| Annotation::Acknowledged(vec![seq]), "ACK")?;
        core.outbox.mark_acknowledged(seq, None);
        Ok(AckOutcome::Acknowledged)
    }

    /// Acknowledges many sync ids in one call, logged as one transition (one WAL record per
    /// 65 536 ids). Ids the outbox does not hold are counted, not errors: ACKs may arrive after
    /// a prune, or twice.
    pub fn receive_acks<S: AsRef<str>>(&self, sync_ids: &[S]) -> Result<AckReport, SyncError> {
        let mut core = self.lock();
        let mut report = AckReport::default();
        let mut seqs = Vec::with_capacity(sync_ids.len());
        for id in sync_ids {
            match self.find(&core, id.as_ref()) {
                Ok(seq)
                    if core.outbox.get(seq).map(|e| e.status) == Some(SyncStatus::Acknowledged) =>
                {
                    report.already_acknowledged += 1
                }
                Ok(seq) => seqs.push(seq),
                Err(_) => report.unknown += 1,
            }
        }
        // An id listed twice is acknowledged once.
        seqs.sort_unstable();
        let listed = seqs.len();
        seqs.dedup();
        report.already_acknowledged += listed - seqs.len();
        self.log_then_apply(
            &mut core,
            &seqs,
            Annotation::Acknowledged,
            "ACK",
            |outbox, seq| outbox.mark_acknowledged(seq, None),
        )?;
        report.acknowledged = seqs.len();
        Ok(report)
    }

    /// Re-queues in-flight operations whose ACK deadline passed, while they have retries left,
    /// to be sent again after an exponential, jittered back-off (`retry_interval` doubling up to
    /// `retry_backoff_max`); the others are marked failed (their local writes stay in the
    /// store). Returns how many were re-queued.
    pub fn retry_expired(&self) -> Result<usize, SyncError> {
        let mut core = self.lock();
        let now = self.store.lock().now_ms();
        let (retry, fail): (Vec<u64>, Vec<u64>) =
            core.outbox.expired(now).into_iter().partition(|&seq| {
                core.outbox
                    .get(seq)
                    .is_some_and(|e| e.retry_count < self.config.max_retries)
            });
        self.log_then_apply(
            &mut core,
            &fail,
            Annotation::Failed,
            "retry",
            Outbox::mark_failed,
        )?;
        let base = millis(self.config.retry_interval);
        let cap = millis(self.config.retry_backoff_max);
        let salt = node_salt(self.node.as_str());
        for &seq in &retry {
            let attempt = core.outbox.get(seq).map_or(1, |e| e.retry_count + 1);
            let delay = retry_delay_ms(base, cap, attempt, salt ^ seq);
            core.outbox.schedule_retry(seq, now.saturating_add(delay));
        }
        core.total_retries += retry.len() as u64;
        Ok(retry.len())
    }

    /// Queues a failed operation again, with a fresh retry budget. Errors: not found, or
    /// `RetryFailed` when the operation is not failed.
    pub fn requeue_failed(&self, sync_id: &str) -> Result<(), SyncError> {
        let mut core = self.lock();
        let seq = self.find(&core, sync_id)?;
        match core.outbox.get(seq).map(|e| e.status) {
            Some(SyncStatus::Failed) => {
                self.log(|| Annotation::Requeued(vec![seq]), "requeue")?;
                core.outbox.requeue_failed(seq);
                Ok(())
            }
            Some(status) => Err(SyncError::RetryFailed(format!(
                "sync operation {sync_id} is {}; only failed operations can be re-queued",
                status_name(status)
            ))),
            None => unreachable!("find returned a present sequence"),
        }
    }

    /// Queues every failed operation again; returns how many.
    pub fn requeue_all_failed(&self) -> Result<usize, SyncError> {
        let mut core = self.lock();
        let seqs = core.outbox.failed();
        self.log_then_apply(
            &mut core,
            &seqs,
            Annotation::Requeued,
            "requeue",
            Outbox::requeue_failed,
        )?;
        Ok(seqs.len())
    }

    /// Removes acknowledged operations from the outbox; returns how many.
    pub fn prune_completed(&self) -> Result<usize, SyncError> {
        self.prune(Outbox::acknowledged)
    }

    /// Removes failed operations from the outbox (their local writes stay in the store);
    /// returns how many.
    pub fn prune_failed(&self) -> Result<usize, SyncError> {
        self.prune(Outbox::failed)
    }

    fn prune(&self, select: fn(&Outbox) -> Vec<u64>) -> Result<usize, SyncError> {
        let mut core = self.lock();
        let seqs = select(&core.outbox);
        self.log_then_apply(
            &mut core,
            &seqs,
            Annotation::Pruned,
            "prune",
            Outbox::remove,
        )?;
        Ok(seqs.len())
    }

    /// Logs `annotation` for `seqs` (in chunks that keep records small), applying `apply` to
    /// each chunk once it is logged: on error, what was logged is applied and nothing else.
    fn log_then_apply(
        &self,
        core: &mut EngineCore,
        seqs: &[u64],
        annotation: fn(Vec<u64>) -> Annotation,
        step: &'static str,
        apply: fn(&mut Outbox, u64),
    ) -> Result<(), SyncError> {
        for chunk in seqs.chunks(MAX_SEQS_PER_ANNOTATION) {
            self.log(|| annotation(chunk.to_vec()), step)?;
            for &seq in chunk {
                apply(&mut core.outbox, seq);
            }
        }
        Ok(())
    }

    /// Compacts the store's log (see [`StoreEngine::compact`]): the outbox and the versions
    /// seen are kept in the checkpoint in the form a restart rebuilds. Submits and other calls
    /// on other threads keep going meanwhile.
    pub fn compact(&self) -> Result<crate::store::CompactionReport, SyncError> {
        self.store.compact().map_err(SyncError::store("compact"))
    }

    /// The engine's counters, in O(1).
    pub fn state(&self) -> SyncState {
        let core = self.lock();
        let counts = core.outbox.counts();
        let now = self.store.lock().now_ms();
        let oldest_age = core
            .outbox
            .oldest_unacknowledged_at()
            .map_or(0, |at| now.saturating_sub(at));
        SyncState {
            outbox_size: core.outbox.len() as u64,
            pending_count: counts.pending,
            queued_count: counts.queued,
            in_flight_count: counts.in_flight,
            acknowledged_count: counts.acknowledged,
            failed_count: counts.failed,
            outbox_bytes: counts.bytes,
            unacknowledged_bytes: counts.unacknowledged_bytes,
            oldest_unacknowledged_age_ms: oldest_age,
            last_submitted_version: core.next_seq - 1,
            last_applied_remote_version: core.last_applied_remote_version,
            total_retries: core.total_retries,
            remote_applied_count: core.remote_applied,
            remote_ignored_count: core.remote_ignored,
            remote_duplicate_count: core.remote_duplicates,
            conflict_count: core.conflicts,
        }
    }

    /// Every outbox entry, oldest first (O(n): for inspection, not for hot paths).
    pub fn outbox(&self) -> Vec<SyncEnvelope> {
        let core = self.lock();
        core.outbox
            .seqs()
            .filter_map(|seq| core.outbox.envelope(seq))
            .collect()
    }

    /// One outbox entry.
    pub fn outbox_entry(&self, sync_id: &str) -> Result<SyncEnvelope, SyncError> {
        let core = self.lock();
        let seq = self.find(&core, sync_id)?;
        Ok(core
            .outbox
            .envelope(seq)
            .expect("find returned a present sequence"))
    }
}

impl Drop for SyncEngine {
    fn drop(&mut self) {
        let mut core = std::mem::take(self.core.get_mut().unwrap_or_else(|e| e.into_inner()));
        let mut store = self.store.lock();
        // A clean close gives back the unused part of the reserved block, so that a restart
        // continues the numbering without a gap. If that write fails, the larger mark stands:
        // a gap, never a reuse.
        let issued = core.next_seq - 1;
        if core.reserved_seq > issued && store.set_sequence_mark(issued).is_ok() {
            core.reserved_seq = issued;
        }
        let (saved, shared) = core.save();
        store.release_ownership(Handover {
            saved: Some(saved),
            shared,
            logged: Vec::new(),
        });
    }
}

fn status_name(status: SyncStatus) -> &'static str {
    match status {
        SyncStatus::Pending => "pending",
        SyncStatus::Queued => "queued",
        SyncStatus::InFlight => "in flight",
        SyncStatus::Acknowledged => "acknowledged",
        SyncStatus::Failed => "failed",
    }
}

/// Refuses a delete carrying a value, naming the operation's position in a batch.
fn check_local(operations: &[Operation]) -> Result<(), SyncError> {
    let many = operations.len() > 1;
    for (index, operation) in operations.iter().enumerate() {
        if operation.kind == OperationKind::Delete && !operation.value.is_empty() {
            let at = if many {
                format!("operation {index}: ")
            } else {
                String::new()
            };
            return Err(SyncError::InvalidLocalOperation(format!(
                "{at}delete of key {:?} carries a {}-byte value",
                operation.key.as_str(),
                operation.value.len()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    #[test]
    fn a_damaged_log_after_a_saved_state_leaves_the_handover_whole() {
        let mut core = EngineCore::default();
        let op = Operation::put(Key::new("k").unwrap(), Value::from_string("v").unwrap());
        let origin = NodeId::new("node-a").unwrap();
        let entry = OutboxEntry::new(op, origin, None, SyncStatus::Queued, 0);
        core.outbox.insert(1, entry);
        core.next_seq = 2;
        let (saved, shared) = core.save();
        let mut handover = Handover {
            saved: Some(saved),
            shared,
            logged: vec![Logged::Note(vec![0xff])],
        };
        let first = EngineCore::recover(&mut handover, 0, &mut |_| {}).unwrap_err();
        assert_eq!(handover.shared.len(), 1, "the shared write is still there");
        let again = EngineCore::recover(&mut handover, 0, &mut |_| {}).unwrap_err();
        assert_eq!(first.to_string(), again.to_string());
        handover.logged.clear();
        let core = EngineCore::recover(&mut handover, 0, &mut |_| {}).unwrap();
        assert_eq!(core.outbox.len(), 1);
    }
}
