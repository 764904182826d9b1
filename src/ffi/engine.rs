//! The sync engine handle.

use std::os::raw::c_char;

use super::args::{c_key_text, c_str, handle, out, value_bytes, write_text};
use super::batch::{sa_batch, sa_envelope_view, ENVELOPE_VIEW_MIN_INPUT};
use super::clock::sa_clock;
use super::config::{read_config, sa_sync_config};
use super::error::{guard, Failure};
use super::sized::{growable, read_in_zeroed, SizedOut};
use super::store::sa_store;
use super::types::*;
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Operation, OperationKind, WriteId};
use crate::sync::operation::decimal;
use crate::sync::{RemoteOperation, Submitted, SyncContext, SyncEngine, SyncScheduler, SyncState};

/// The sync engine. Thread-safe: any number of threads may call functions on one engine; each
/// call is atomic. It keeps its store alive.
pub struct sa_sync {
    pub(crate) engine: SyncEngine,
}

/// What `sa_sync_submit` assigned.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_submitted {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// The operation's version (never reused, even across restarts).
    pub version: u64,
    /// Its hybrid-clock stamp.
    pub stamp: u64,
    /// Its sync id, `<node>-<version>`, NUL-terminated.
    pub sync_id: [c_char; SA_SYNC_ID_MAX],
    /// The write replaced locally (the key held a value or tombstone): a receiver holding that
    /// write applies this one as its causal successor. Same as in the batch envelope.
    pub has_replaces: bool,
    pub replaces_stamp: u64,
    /// Origin of the replaced write, NUL-terminated ("" for a direct store write).
    pub replaces_origin: [c_char; SA_NODE_ID_BUFFER],
}

/// An operation received from another node. Strings are NUL-terminated UTF-8, borrowed for the
/// duration of the call. `sa_remote_op_from_view` fills one from a batch envelope.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_remote_op {
    /// Set by the caller to `sizeof` this struct, before the call that fills it and in a
    /// struct it passes in (see the top of this header).
    pub struct_size: u32,
    pub sync_id: *const c_char,
    pub origin: *const c_char,
    pub version: u64,
    pub stamp: u64,
    /// `SA_OP_PUT` or `SA_OP_DELETE`.
    pub op_type: i32,
    pub key: *const c_char,
    /// May be NULL when `value_len` is 0.
    pub value: *const u8,
    pub value_len: usize,
    /// The operation replaced an earlier write at its origin (enables causal detection).
    pub has_replaces: bool,
    pub replaces_stamp: u64,
    /// Origin of the replaced write; NULL or "" for a direct store write.
    pub replaces_origin: *const c_char,
}

/// What `sa_sync_receive_remote` did.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_apply_result {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// `SA_APPLIED`, `SA_IGNORED` or `SA_DUPLICATE`.
    pub outcome: i32,
    pub conflict_detected: bool,
    /// `SA_REASON_*`, or 0 for a duplicate caught by deduplication.
    pub reason: i32,
    /// Store version of the applied write (0 when not applied).
    pub store_version: u64,
}

/// Every counter of the engine (see the module doc's "Sync state"), filled by
/// `sa_sync_state`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_sync_state_info {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    pub outbox_size: u64,
    pub pending_count: u64,
    pub queued_count: u64,
    pub in_flight_count: u64,
    pub acknowledged_count: u64,
    pub failed_count: u64,
    pub outbox_bytes: u64,
    pub last_submitted_version: u64,
    pub last_applied_remote_version: u64,
    pub total_retries: u64,
    pub remote_applied_count: u64,
    pub remote_ignored_count: u64,
    pub remote_duplicate_count: u64,
    pub conflict_count: u64,
    /// Key + value bytes of the operations not acknowledged yet.
    pub unacknowledged_bytes: u64,
    /// How long ago the oldest unacknowledged operation was submitted (0 when none): a value
    /// that keeps growing means propagation is stuck.
    pub oldest_unacknowledged_age_ms: u64,
}

/// What one `sa_sync_tick` did. `batch` is owned by the caller: free it with `sa_batch_free`;
/// the tick has work when `sa_batch_len(batch) > 0`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_tick_result {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    pub retried_count: u64,
    pub pruned_count: u64,
    pub batch: *mut sa_batch,
}

pub(crate) fn op_kind(op_type: i32, invalid: sa_status) -> Result<OperationKind, Failure> {
    engine_value::<sa_op_type, _>(op_type).ok_or_else(|| {
        Failure::new(
            invalid,
            format!("operation type {op_type} is neither SA_OP_PUT (1) nor SA_OP_DELETE (2)"),
        )
    })
}

/// Builds an engine on `store` with `config`, recovering the outbox from the store's WAL.
/// `*out_sync` receives a handle to free with `sa_sync_free`. A store serves one engine at a
/// time. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL, bad struct_size), `SA_ERR_INVALID_NODE_ID`,
/// `SA_ERR_INVALID_CONTEXT` (a bad config field, named in the message; store already in use),
/// `SA_ERR_CORRUPT`.
#[no_mangle]
pub extern "C" fn sa_sync_new(
    store: *const sa_store,
    config: *const sa_sync_config,
    out_sync: *mut *mut sa_sync,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: as above.
        let config = unsafe { read_config(config) }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_sync, "out_sync") }?;
        let engine = SyncEngine::new(&SyncContext::new(&store.inner, config))?;
        *slot = Box::into_raw(Box::new(sa_sync { engine }));
        Ok(())
    })
}

/// Applies a local put (`SA_OP_PUT`, `value_len` bytes at `value`) or delete (`SA_OP_DELETE`,
/// `value_len` must be 0) of `key` to the store and tracks it for propagation. On success
/// `*out_submitted` holds the version, stamp and sync id. On error nothing changed.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_INVALID_OPERATION` (bad type, key not
/// UTF-8/empty/over 64 KiB, value over 64 MiB, delete with a value), `SA_ERR_CAPACITY_EXCEEDED`,
/// `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_submit(
    sync: *const sa_sync,
    op_type: i32,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
    out_submitted: *mut sa_submitted,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let operation = unsafe { local_operation(op_type, key, value, value_len) }?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_submitted, "out_submitted") }?;
        let submitted = sync.engine.submit_local(operation)?;
        let node = sync.engine.node_id();
        match slot.whole() {
            // SAFETY: `out` is the caller's whole, writable struct (checked by SizedOut).
            Some(out) => unsafe { write_submitted(out, &submitted, node) },
            None => slot.write(submitted_to_c(&submitted, node)),
        }
        Ok(())
    })
}

/// A local operation from its C arguments, checked.
///
/// # Safety
/// `key` is NULL or NUL-terminated; `value` points to `value_len` readable bytes (or is NULL
/// when `value_len` is 0).
pub(crate) unsafe fn local_operation(
    op_type: i32,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
) -> Result<Operation, Failure> {
    let kind = op_kind(op_type, SA_ERR_INVALID_OPERATION)?;
    // SAFETY: per the contract.
    let key = unsafe { c_key_text(key) }??;
    // SAFETY: per the contract.
    let value = unsafe { value_bytes(value, value_len, "value", SA_ERR_INVALID_OPERATION) }?;
    Ok(Operation::from_parts(kind, key, value)?)
}

/// What a submit assigned, for C; the sync id is written straight into the struct.
pub(crate) fn submitted_to_c(submitted: &Submitted, node: &NodeId) -> sa_submitted {
    // SAFETY: all-zero is a valid sa_submitted (plain numbers, false, NUL bytes).
    let mut result: sa_submitted = unsafe { std::mem::zeroed() };
    // SAFETY: `result` is a whole, writable sa_submitted.
    unsafe { write_submitted(&mut result, submitted, node) };
    result
}

/// What a submit assigned, written straight into a caller's whole struct, field by field: no
/// 584-byte struct built, zeroed and copied per submit. Array bytes after each NUL are left as
/// they are.
///
/// # Safety
/// `out` is valid for writes of a whole `sa_submitted`.
pub(crate) unsafe fn write_submitted(out: *mut sa_submitted, submitted: &Submitted, node: &NodeId) {
    let replaced = submitted.replaces.as_ref();
    let mut digits = [0u8; 20];
    let version = decimal(submitted.version, &mut digits);
    let origin = replaced.and_then(|r| r.origin.as_ref());
    // SAFETY: per the contract; raw field writes, so no reference to the caller's bytes
    // (possibly not a valid `sa_submitted`, e.g. a non-0/1 bool) is ever made.
    unsafe {
        use std::ptr::addr_of_mut;
        addr_of_mut!((*out).struct_size).write(std::mem::size_of::<sa_submitted>() as u32);
        addr_of_mut!((*out).version).write(submitted.version);
        addr_of_mut!((*out).stamp).write(submitted.operation.timestamp.raw());
        write_text(
            addr_of_mut!((*out).sync_id).cast(),
            SA_SYNC_ID_MAX,
            &[node.as_str(), "-", version],
        );
        addr_of_mut!((*out).has_replaces).write(replaced.is_some());
        addr_of_mut!((*out).replaces_stamp).write(replaced.map_or(0, |r| r.stamp.raw()));
        write_text(
            addr_of_mut!((*out).replaces_origin).cast(),
            SA_NODE_ID_BUFFER,
            &[origin.map_or("", |o| o.as_str())],
        );
    }
}

fn sync_id_arg<'a>(sync_id: *const c_char) -> Result<&'a str, Failure> {
    // SAFETY: `sync_id` is NULL (rejected) or NUL-terminated per the header contract.
    unsafe { c_str(sync_id, "sync_id", SA_ERR_NOT_FOUND) }
}

/// Queues a pending operation (submitted with `auto_queue` off); a queued one is left as is.
/// Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_NOT_FOUND`, `SA_ERR_QUEUE_FAILED` (in flight,
/// acknowledged or failed), `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_queue(sync: *const sa_sync, sync_id: *const c_char) -> sa_status {
    guard(|| {
        // SAFETY: `sync` is NULL (rejected) or a live handle.
        let sync = unsafe { handle(sync, "sync") }?;
        sync.engine.queue_operation(sync_id_arg(sync_id)?)?;
        Ok(())
    })
}

/// Hands out up to `batch_size` queued operations, oldest first, in a new batch (possibly
/// empty) stored in `*out_batch`; free it with `sa_batch_free`. With `require_ack` they are
/// in flight until acknowledged; without, they count as acknowledged.
/// Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_next_batch(
    sync: *const sa_sync,
    out_batch: *mut *mut sa_batch,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_batch, "out_batch") }?;
        let batch = sa_batch::next(&sync.engine)?;
        *slot = Box::into_raw(Box::new(batch));
        Ok(())
    })
}

/// Lists every outbox entry, oldest first, with its current status and retry count, in a new
/// batch stored in `*out_batch` (free with `sa_batch_free`). For inspection: O(outbox size),
/// and it changes nothing. Errors: `SA_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn sa_sync_outbox(sync: *const sa_sync, out_batch: *mut *mut sa_batch) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_batch, "out_batch") }?;
        *slot = Box::into_raw(Box::new(sa_batch::new(sync.engine.outbox())));
        Ok(())
    })
}

/// Marks `sync_id` acknowledged (in any status: a late ACK still proves delivery).
/// `out_outcome` (may be NULL) receives `SA_ACK_ACKNOWLEDGED` or `SA_ACK_ALREADY_ACKNOWLEDGED`.
/// Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_NOT_FOUND`, `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_ack(
    sync: *const sa_sync,
    sync_id: *const c_char,
    out_outcome: *mut i32,
) -> sa_status {
    guard(|| {
        // SAFETY: `sync` is NULL (rejected) or a live handle.
        let sync = unsafe { handle(sync, "sync") }?;
        let outcome = c_value::<sa_ack_outcome, _>(sync.engine.receive_ack(sync_id_arg(sync_id)?)?);
        // SAFETY: `out_outcome` is NULL (allowed) or writable.
        if let Some(slot) = unsafe { out_outcome.as_mut() } {
            *slot = outcome;
        }
        Ok(())
    })
}

fn count_call(
    sync: *const sa_sync,
    out_count: *mut usize,
    call: fn(&SyncEngine) -> Result<usize, crate::sync::SyncError>,
) -> sa_status {
    guard(|| {
        // SAFETY: `sync` is NULL (rejected) or a live handle.
        let sync = unsafe { handle(sync, "sync") }?;
        let count = call(&sync.engine)?;
        // SAFETY: `out_count` is NULL (allowed) or writable.
        if let Some(slot) = unsafe { out_count.as_mut() } {
            *slot = count;
        }
        Ok(())
    })
}

/// Re-queues in-flight operations whose ACK timeout passed, while retries remain, to be sent
/// again after an exponential back-off: re-send n waits `retry_interval_ms · 2^(n-1)`, capped
/// at `retry_backoff_max_ms`, the upper half of it jittered (deterministically per operation).
/// The others become failed (their local writes stay in the store). `out_retried` (may be
/// NULL) receives how many were re-queued. Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_retry_expired(
    sync: *const sa_sync,
    out_retried: *mut usize,
) -> sa_status {
    count_call(sync, out_retried, SyncEngine::retry_expired)
}

/// Queues a failed operation again, with a fresh retry budget.
/// Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_NOT_FOUND`, `SA_ERR_RETRY_FAILED` (the operation
/// is not failed), `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_requeue_failed(
    sync: *const sa_sync,
    sync_id: *const c_char,
) -> sa_status {
    guard(|| {
        // SAFETY: `sync` is NULL (rejected) or a live handle.
        let sync = unsafe { handle(sync, "sync") }?;
        sync.engine.requeue_failed(sync_id_arg(sync_id)?)?;
        Ok(())
    })
}

/// Queues every failed operation again; `out_requeued` (may be NULL) receives how many.
/// Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_requeue_all_failed(
    sync: *const sa_sync,
    out_requeued: *mut usize,
) -> sa_status {
    count_call(sync, out_requeued, SyncEngine::requeue_all_failed)
}

/// Removes acknowledged operations from the outbox; `out_pruned` (may be NULL) receives how
/// many. Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_prune_completed(
    sync: *const sa_sync,
    out_pruned: *mut usize,
) -> sa_status {
    count_call(sync, out_pruned, SyncEngine::prune_completed)
}

/// Removes failed operations from the outbox (their local writes stay in the store);
/// `out_pruned` (may be NULL) receives how many. Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_prune_failed(sync: *const sa_sync, out_pruned: *mut usize) -> sa_status {
    count_call(sync, out_pruned, SyncEngine::prune_failed)
}

/// Fills `*out_op` from a batch envelope view, so it can be handed to another engine's
/// `sa_sync_receive_remote`. The pointers borrow the view's batch: keep it alive meanwhile.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL).
#[no_mangle]
pub extern "C" fn sa_remote_op_from_view(
    view: *const sa_envelope_view,
    out_op: *mut sa_remote_op,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let v = unsafe { read_in_zeroed(view, "view", ENVELOPE_VIEW_MIN_INPUT) }?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_op, "out_op") }?;
        slot.write(sa_remote_op {
            struct_size: 0,
            sync_id: v.sync_id.ptr,
            origin: v.origin.ptr,
            version: v.version,
            stamp: v.stamp,
            op_type: v.op_type,
            key: v.key.ptr,
            value: v.value.ptr,
            value_len: v.value.len,
            has_replaces: v.has_replaces,
            replaces_stamp: v.replaces_stamp,
            replaces_origin: v.replaces_origin.ptr,
        });
        Ok(())
    })
}

/// A remote operation's C struct, converted: ids stay borrowed from the caller's strings.
/// Inlined: the converted operation (over 100 bytes) is then built where it is used, not
/// copied out through a `Result` (about 50 instructions of a remote apply's 1 900).
#[inline(always)]
fn remote_operation<'a>(op: &sa_remote_op) -> Result<RemoteOperation<'a>, Failure> {
    let invalid = SA_ERR_INVALID_REMOTE_OPERATION;
    let in_context = |e: crate::store::StoreError| {
        Failure::new(invalid, format!("invalid remote operation: {e}"))
    };
    // SAFETY: the strings of `op` are NULL (rejected) or NUL-terminated per the contract.
    let sync_id = unsafe { c_str(op.sync_id, "sync_id", invalid) }?;
    // SAFETY: as above.
    let origin = unsafe { c_str(op.origin, "origin", invalid) }?;
    let kind = op_kind(op.op_type, invalid)?;
    // SAFETY: as above.
    let key = unsafe { c_key_text(op.key) }?.map_err(in_context)?;
    // SAFETY: `value` points to `value_len` bytes per the contract.
    let value = unsafe { value_bytes(op.value, op.value_len, "value", invalid) }?;
    let operation = Operation::from_parts(kind, key, value)
        .map_err(in_context)?
        .with_timestamp(Stamp::from_raw(op.stamp));
    let mut remote = RemoteOperation {
        sync_id,
        origin_node_id: origin,
        version: op.version,
        operation,
        replaces: None,
    };
    if op.has_replaces {
        let replaced_origin = if op.replaces_origin.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated per the contract.
            let text = unsafe { c_str(op.replaces_origin, "replaces_origin", invalid) }?;
            if text.is_empty() {
                None
            } else {
                Some(NodeId::new(text).map_err(|e| {
                    Failure::new(
                        invalid,
                        format!("invalid remote operation: replaces_origin: {e}"),
                    )
                })?)
            }
        };
        remote.replaces = Some(WriteId {
            stamp: Stamp::from_raw(op.replaces_stamp),
            origin: replaced_origin,
        });
    }
    Ok(remote)
}

/// Validates and applies an operation from another node, deciding conflicts with the
/// configured policy; `*out_result` says what happened. A redelivered operation is
/// `SA_DUPLICATE` and changes nothing. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL),
/// `SA_ERR_INVALID_REMOTE_OPERATION` (empty sync id, bad origin, version 0, stamp too far
/// ahead, bad key/value/type; the store is untouched), `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_receive_remote(
    sync: *const sa_sync,
    op: *const sa_remote_op,
    out_result: *mut sa_apply_result,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let remote = remote_operation(&unsafe { read_in_zeroed(op, "op", REMOTE_OP_MIN_INPUT) }?)?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_result, "out_result") }?;
        let result = sync.engine.receive_remote(remote)?;
        slot.write(sa_apply_result {
            struct_size: 0,
            outcome: c_value::<sa_outcome, _>(result.outcome),
            conflict_detected: result.conflict_detected,
            reason: result.reason.map_or(0, c_value::<sa_reason, _>),
            store_version: result.store_version.unwrap_or(0),
        });
        Ok(())
    })
}

// Output structs: any size from struct_size itself up; the tick's batch must fit (it is owned
// by the caller, who must be able to free it).
growable!(sa_submitted, min: 4; version, stamp, sync_id, has_replaces, replaces_stamp, replaces_origin);
growable!(sa_apply_result, min: 4; outcome, conflict_detected, reason, store_version);
growable!(sa_sync_state_info, min: 4; outbox_size, pending_count, queued_count, in_flight_count,
    acknowledged_count, failed_count, outbox_bytes, last_submitted_version,
    last_applied_remote_version, total_retries, remote_applied_count, remote_ignored_count,
    remote_duplicate_count, conflict_count, unacknowledged_bytes, oldest_unacknowledged_age_ms);
growable!(sa_remote_op, min: 4; sync_id, origin, version, stamp, op_type, key, value, value_len,
    has_replaces, replaces_stamp, replaces_origin);
/// The fields `sa_sync_receive_remote` needs: through `value_len` (the replaced write is
/// optional: none when the caller's struct ends before it).
const REMOTE_OP_MIN_INPUT: usize =
    std::mem::offset_of!(sa_remote_op, value_len) + std::mem::size_of::<usize>();
growable!(sa_tick_result, min: std::mem::size_of::<sa_tick_result>(); retried_count, pruned_count, batch);

fn state_to_c(s: SyncState) -> sa_sync_state_info {
    sa_sync_state_info {
        struct_size: 0,
        outbox_size: s.outbox_size,
        pending_count: s.pending_count,
        queued_count: s.queued_count,
        in_flight_count: s.in_flight_count,
        acknowledged_count: s.acknowledged_count,
        failed_count: s.failed_count,
        outbox_bytes: s.outbox_bytes,
        last_submitted_version: s.last_submitted_version,
        last_applied_remote_version: s.last_applied_remote_version,
        total_retries: s.total_retries,
        remote_applied_count: s.remote_applied_count,
        remote_ignored_count: s.remote_ignored_count,
        remote_duplicate_count: s.remote_duplicate_count,
        conflict_count: s.conflict_count,
        unacknowledged_bytes: s.unacknowledged_bytes,
        oldest_unacknowledged_age_ms: s.oldest_unacknowledged_age_ms,
    }
}

/// Fills `*out_state` with every counter, in O(1). Errors: `SA_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn sa_sync_state(
    sync: *const sa_sync,
    out_state: *mut sa_sync_state_info,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_state, "out_state") }?;
        slot.write(state_to_c(sync.engine.state()));
        Ok(())
    })
}

/// One scheduler tick: retry expired operations, prune acknowledged ones if `prune`, then take
/// the next batch. `out_tick->batch` must be freed with `sa_batch_free`.
/// Errors: `SA_ERR_INVALID_ARGUMENT`, `SA_ERR_IO` (`*out_tick` is not written).
#[no_mangle]
pub extern "C" fn sa_sync_tick(
    sync: *const sa_sync,
    prune: bool,
    out_tick: *mut sa_tick_result,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_tick, "out_tick") }?;
        let tick = SyncScheduler::new(&sync.engine).tick(prune)?;
        slot.write(sa_tick_result {
            struct_size: 0,
            retried_count: tick.retried_count as u64,
            pruned_count: tick.pruned_count as u64,
            batch: Box::into_raw(Box::new(sa_batch::new(tick.batch))),
        });
        Ok(())
    })
}

/// Makes the engine (and its store) read physical time from `clock`, for deterministic tests
/// and simulations. Errors: `SA_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn sa_sync_set_clock(sync: *const sa_sync, clock: *const sa_clock) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or a live handle.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let clock = unsafe { handle(clock, "clock") }?;
        sync.engine.store().set_clock(clock.inner.clone());
        Ok(())
    })
}

/// Frees an engine (NULL is a no-op). Its outbox state stays with the store, so a new engine
/// on the same store continues where a restart would: operations in flight are queued again,
/// activity counters start at zero. No other call on this handle may be in flight.
#[no_mangle]
pub extern "C" fn sa_sync_free(sync: *mut sa_sync) {
    if !sync.is_null() {
        // SAFETY: a non-NULL `sync` came from sa_sync_new and is freed once.
        super::error::guard_value((), || drop(unsafe { Box::from_raw(sync) }));
    }
}
