//! Receiving operations from other nodes: validation, deduplication, conflict resolution and
//! the store write, one operation at a time or many in one call.

use std::collections::HashSet;
use std::hash::BuildHasher;

use super::{EngineCore, RemoteApplyResult, RemoteOutcome, SyncEngine};
use crate::clock::{millis, Stamp};
use crate::node::NodeId;
use crate::small_bytes::SmallBytes;
use crate::store::engine::StoreCore;
use crate::store::{Key, OperationKind, WriteId, WriteRecord, WriteRef};
use crate::sync::conflict::{ConflictResolver, Resolution, ResolutionReason};
use crate::sync::error::SyncError;
use crate::sync::journal::{Annotation, Tracking};
use crate::sync::operation::{RemoteOperation, SyncOperation};

/// A chunk of a batch larger than this many key + value bytes is logged before the next
/// operation is added: records stay far below the WAL's largest.
const MAX_CHUNK_BYTES: u64 = 16 << 20;

/// The outcome of one operation of a batch, or why it was refused.
pub type RemoteResult = Result<RemoteApplyResult, SyncError>;

/// Remote writes decided and waiting to be logged together.
#[derive(Default)]
struct PendingWrites {
    records: Vec<WriteRecord>,
    /// Per record: its operation's position in the batch, version and resolution.
    decided: Vec<(usize, u64, Resolution)>,
    /// The keys the records write (as hashes: two keys sharing one only make an operation wait
    /// needlessly), and each origin's highest version among them: an operation on one of those
    /// keys, or not above that version, is decided only once they are applied.
    keys: HashSet<u64, foldhash::fast::RandomState>,
    key_hasher: foldhash::fast::RandomState,
    newest: Vec<(NodeId, u64)>,
    bytes: u64,
}

impl PendingWrites {
    fn with_capacity(operations: usize) -> PendingWrites {
        let mut pending = PendingWrites::default();
        pending.records.reserve(operations);
        pending.decided.reserve(operations);
        pending.keys.reserve(operations);
        pending
    }

    fn key_hash(&self, key: &Key) -> u64 {
        self.key_hasher.hash_one(key.as_bytes())
    }

    fn must_wait(&self, origin: &NodeId, remote: &RemoteOperation<'_>, key_hash: u64) -> bool {
        if self.records.is_empty() {
            return false;
        }
        self.bytes + remote.operation.payload_bytes() > MAX_CHUNK_BYTES
            || self.keys.contains(&key_hash)
            || self
                .newest
                .iter()
                .any(|(id, version)| id == origin && remote.version <= *version)
    }

    /// The node id of `origin` if a pending write came from it.
    fn origin(&self, origin: &str) -> Option<&NodeId> {
        self.newest
            .iter()
            .map(|(id, _)| id)
            .find(|id| id.as_str() == origin)
    }

    fn add(
        &mut self,
        index: usize,
        version: u64,
        resolution: Resolution,
        record: WriteRecord,
        key_hash: u64,
    ) {
        let origin = record
            .writer
            .as_ref()
            .expect("remote writes have an origin");
        match self.newest.iter_mut().find(|(id, _)| id == origin) {
            Some((_, newest)) => *newest = (*newest).max(version),
            None => self.newest.push((origin.clone(), version)),
        }
        self.keys.insert(key_hash);
        self.bytes += record.op.payload_bytes();
        self.decided.push((index, version, resolution));
        self.records.push(record);
    }
}

impl SyncEngine {
    /// Checks a remote operation and returns its origin as a node id: `known` (an origin
    /// handled before, validated then) or one validated now, kept in `first_seen`. Borrowed,
    /// not cloned: each clone of a node id is an atomic count update, a few nanoseconds.
    fn validate_remote<'k>(
        &self,
        known: Option<&'k NodeId>,
        first_seen: &'k mut Option<NodeId>,
        remote: &RemoteOperation<'_>,
    ) -> Result<&'k NodeId, SyncError> {
        let invalid = SyncError::InvalidRemoteOperation;
        if remote.sync_id.is_empty() {
            return Err(invalid("empty sync id".into()));
        }
        let id = remote.sync_id;
        let origin = match known {
            Some(known) => known,
            None => first_seen.insert(NodeId::new(remote.origin_node_id).map_err(|e| {
                invalid(format!(
                    "sync operation {id}: origin {:?}: {}",
                    e.value, e.reason
                ))
            })?),
        };
        // Two nodes sharing an id (e.g. both built from a default config) would silently drop
        // each other's writes as duplicates; refuse instead, naming the id.
        if *origin == self.node {
            return Err(invalid(format!(
                "sync operation {id}: origin {origin} is this node's own id; \
                 every node needs a distinct node id"
            )));
        }
        if remote.version == 0 {
            return Err(invalid(format!(
                "sync operation {id} from {origin}: version 0 is not a valid version"
            )));
        }
        let op = &remote.operation;
        if op.kind == OperationKind::Delete && !op.value.is_empty() {
            return Err(invalid(format!(
                "sync operation {id}: delete of key {:?} carries a value",
                op.key.as_str()
            )));
        }
        Ok(origin)
    }

    /// Refuses a stamp further ahead of the local clock than `max_clock_skew`. A stamp whose
    /// wall time the clock has already reached (issued or accepted before) moves it no further
    /// and passes without reading the physical clock (`physical` is then not called): a node
    /// catching up on older writes reads it once, not per operation.
    fn check_skew(
        &self,
        remote: &RemoteOperation<'_>,
        origin: &NodeId,
        high_water: Stamp,
        physical: impl FnOnce() -> u64,
    ) -> Result<(), SyncError> {
        let wall = remote.operation.timestamp.wall_ms();
        if wall <= high_water.wall_ms() {
            return Ok(());
        }
        let physical = physical();
        let max_skew = millis(self.config.max_clock_skew);
        if wall > physical.saturating_add(max_skew) {
            return Err(SyncError::InvalidRemoteOperation(format!(
                "sync operation {} from {origin} is stamped {} ms ahead of the local clock \
                 (max_clock_skew = {max_skew} ms)",
                remote.sync_id,
                wall - physical
            )));
        }
        Ok(())
    }

    /// The store record of an applied remote write: the write and, for a log, the version
    /// it came with (recovery rebuilds the versions seen from it).
    fn remote_record(
        store: &StoreCore,
        remote: RemoteOperation<'_>,
        origin: NodeId,
    ) -> WriteRecord {
        let extension = if store.is_logged() {
            Tracking::Remote {
                version: remote.version,
            }
            .encode()
        } else {
            SmallBytes::default()
        };
        WriteRecord {
            op: remote.operation,
            writer: Some(origin),
            extension,
        }
    }

    /// Validates and applies an operation from another node, deciding conflicts with the
    /// configured policy. Invalid operations (including one whose origin is this node's own
    /// id) are errors and change nothing; an operation already handled is reported as a
    /// duplicate and changes nothing.
    pub fn receive_remote_operation(
        &self,
        remote: &SyncOperation,
    ) -> Result<RemoteApplyResult, SyncError> {
        self.receive_remote(remote.as_remote())
    }

    /// [`SyncEngine::receive_remote_operation`] for an operation whose ids are borrowed.
    pub fn receive_remote(
        &self,
        remote: RemoteOperation<'_>,
    ) -> Result<RemoteApplyResult, SyncError> {
        let mut guard = self.lock();
        let core = &mut *guard;
        let known = core.seen.known_mut(remote.origin_node_id);
        let mut first_seen = None;
        let origin =
            self.validate_remote(known.as_deref().map(|k| &k.id), &mut first_seen, &remote)?;
        if known.as_ref().is_some_and(|k| k.contains(remote.version)) {
            core.remote_duplicates += 1;
            return Ok(RemoteApplyResult::duplicate());
        }
        let mut store = self.store.lock();
        self.check_skew(&remote, origin, store.clock_high_water(), || store.now_ms())?;
        let (stamp, version) = (remote.operation.timestamp, remote.version);
        let resolution = self.resolve(&store, &remote, origin);
        let store_version = if resolution.apply_remote {
            let record = Self::remote_record(&store, remote, origin.clone());
            let applied = store
                .write(&record, self.durable())
                .map_err(SyncError::store("remote apply"))?;
            Some(applied.version)
        } else {
            note_seen(&mut store, origin, version, stamp)?;
            None
        };
        store.observe_stamp(stamp);
        drop(store);
        if let Some(known) = known {
            known.insert(version);
        } else if let Some(origin) = first_seen {
            core.seen.insert(&origin, version);
        }
        Ok(count_outcome(core, resolution, version, store_version))
    }

    /// Receives many remote operations in one call, in order; each gets the outcome it would
    /// get from [`SyncEngine::receive_remote`] alone. The writes are logged together: one WAL
    /// record (and in durable mode one fdatasync) for the batch, more only when an operation
    /// must see an earlier one of the batch applied first (same key, or its origin's versions
    /// not increasing) or the batch exceeds 16 MiB. An invalid operation gets its error in its
    /// slot and does not stop the others; an I/O failure stops the call and is returned (the
    /// writes logged before it stay applied and, unacknowledged, come back as duplicates).
    pub fn receive_remote_many(
        &self,
        remotes: Vec<RemoteOperation<'_>>,
    ) -> Result<Vec<RemoteResult>, SyncError> {
        let mut guard = self.lock();
        let core = &mut *guard;
        let mut store = self.store.lock();
        // At most one reading for the whole call: it is atomic, as at one instant.
        let mut physical = None;
        let mut results: Vec<RemoteResult> = Vec::with_capacity(remotes.len());
        let mut pending = PendingWrites::with_capacity(remotes.len());
        for remote in remotes {
            let index = results.len();
            let known = core.seen.known_mut(remote.origin_node_id);
            // An origin first seen in this batch is validated once, not per operation.
            let known_id = match &known {
                Some(known) => Some(&known.id),
                None => pending.origin(remote.origin_node_id),
            };
            let mut first_seen = None;
            let origin = match self.validate_remote(known_id, &mut first_seen, &remote) {
                // Owned: the write's record keeps it.
                Ok(origin) => origin.clone(),
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let mut seen = known.is_some_and(|k| k.contains(remote.version));
            let key_hash = pending.key_hash(&remote.operation.key);
            if !seen && pending.must_wait(&origin, &remote, key_hash) {
                self.log_pending(core, &mut store, &mut pending, &mut results)?;
                seen = core.seen.contains(&origin, remote.version);
            }
            if seen {
                core.remote_duplicates += 1;
                results.push(Ok(RemoteApplyResult::duplicate()));
                continue;
            }
            let high_water = store.clock_high_water();
            let reading = || *physical.get_or_insert_with(|| store.now_ms());
            if let Err(e) = self.check_skew(&remote, &origin, high_water, reading) {
                results.push(Err(e));
                continue;
            }
            let (stamp, version) = (remote.operation.timestamp, remote.version);
            let resolution = self.resolve(&store, &remote, &origin);
            store.observe_stamp(stamp);
            if resolution.apply_remote {
                let record = Self::remote_record(&store, remote, origin);
                pending.add(index, version, resolution, record, key_hash);
                // Filled in once the write is logged.
                results.push(Ok(RemoteApplyResult::duplicate()));
            } else {
                // The log keeps the order of the decisions.
                self.log_pending(core, &mut store, &mut pending, &mut results)?;
                note_seen(&mut store, &origin, version, stamp)?;
                core.seen.insert(&origin, version);
                results.push(Ok(count_outcome(core, resolution, version, None)));
            }
        }
        self.log_pending(core, &mut store, &mut pending, &mut results)?;
        Ok(results)
    }

    /// What the configured policy decides for `remote` against the key's current write.
    fn resolve(
        &self,
        store: &StoreCore,
        remote: &RemoteOperation<'_>,
        origin: &NodeId,
    ) -> Resolution {
        let remote_write = WriteRef {
            stamp: remote.operation.timestamp,
            origin: Some(origin),
        };
        ConflictResolver::decide(
            store
                .current_write(&remote.operation.key)
                .map(WriteId::borrowed),
            remote_write,
            remote.replaces.as_ref().map(WriteId::borrowed),
            self.config.conflict_policy,
        )
    }

    /// Logs the pending writes as one record, applies them, and fills in their results.
    fn log_pending(
        &self,
        core: &mut EngineCore,
        store: &mut StoreCore,
        pending: &mut PendingWrites,
        results: &mut [RemoteResult],
    ) -> Result<(), SyncError> {
        if pending.records.is_empty() {
            return Ok(());
        }
        let applied = store
            .write_many(&pending.records, self.durable())
            .map_err(SyncError::store("remote apply"))?;
        core.seen
            .insert_all(pending.records.iter().zip(&pending.decided).map(
                |(record, &(_, version, _))| {
                    let origin = record.writer.as_ref();
                    (origin.expect("remote writes have an origin"), version)
                },
            ));
        pending.records.clear();
        for ((index, version, resolution), applied) in pending.decided.drain(..).zip(applied) {
            results[index] = Ok(count_outcome(
                core,
                resolution,
                version,
                Some(applied.version),
            ));
        }
        pending.keys.clear();
        pending.newest.clear();
        pending.bytes = 0;
        Ok(())
    }
}

/// Logs that `origin`'s `version` was handled without a store write (ignored, or the write
/// already here), so that a restart still knows it.
fn note_seen(
    store: &mut StoreCore,
    origin: &NodeId,
    version: u64,
    stamp: crate::clock::Stamp,
) -> Result<(), SyncError> {
    let seen = Annotation::RemoteSeen {
        origin: origin.clone(),
        version,
        stamp,
    };
    store
        .note(&seen.encode())
        .map_err(SyncError::store("remote apply"))
}

/// Counts a decided remote operation and gives its result.
fn count_outcome(
    core: &mut EngineCore,
    resolution: Resolution,
    version: u64,
    store_version: Option<u64>,
) -> RemoteApplyResult {
    if resolution.conflict_detected {
        core.conflicts += 1;
    }
    let outcome = if resolution.apply_remote {
        core.remote_applied += 1;
        core.last_applied_remote_version = version;
        RemoteOutcome::Applied
    } else if resolution.reason == ResolutionReason::SameWrite {
        core.remote_duplicates += 1;
        RemoteOutcome::Duplicate
    } else {
        core.remote_ignored += 1;
        RemoteOutcome::Ignored
    };
    RemoteApplyResult {
        outcome,
        conflict_detected: resolution.conflict_detected,
        reason: Some(resolution.reason),
        store_version,
    }
}
