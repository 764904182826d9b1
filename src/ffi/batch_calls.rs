//! Calls that take many operations at once, so that the per-call cost (crossing the boundary,
//! taking the engine lock, writing a WAL record, an fdatasync in durable mode) is paid once.

use std::os::raw::c_char;

use super::args::{c_str, handle};
use super::engine::{local_operation, sa_submitted, sa_sync, submitted_to_c, write_submitted};
use super::error::{guard, Failure};
use super::sized::{growable, Growable, SizedArray, SizedOut};
use super::types::*;

/// One local operation of `sa_sync_submit_many`: the arguments of `sa_sync_submit`. Strings
/// and bytes are borrowed for the duration of the call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_local_op {
    /// Set by the caller to `sizeof` this struct, in every element of the array (see the top
    /// of this header).
    pub struct_size: u32,
    /// `SA_OP_PUT` or `SA_OP_DELETE`.
    pub op_type: i32,
    /// NUL-terminated UTF-8.
    pub key: *const c_char,
    /// `value_len` bytes; may be NULL when `value_len` is 0 (always for a delete).
    pub value: *const u8,
    pub value_len: usize,
}

// Every field is needed: an operation has no default key.
growable!(sa_local_op, min: std::mem::size_of::<sa_local_op>(); op_type, key, value, value_len);

/// What `sa_sync_ack_many` did.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_ack_report {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// Operations that became acknowledged.
    pub acknowledged: usize,
    /// Operations that already were (a redelivered ACK, or an id listed twice).
    pub already_acknowledged: usize,
    /// Ids the outbox does not hold (pruned since, or never this node's).
    pub unknown: usize,
}

growable!(sa_ack_report, min: 4; acknowledged, already_acknowledged, unknown);

/// Prefixes a failure's message with the position of the element it is about.
fn at(index: usize) -> impl Fn(Failure) -> Failure {
    move |f| Failure::new(f.status, format!("operation {index}: {}", f.message))
}

/// Submits `count` local operations (`ops[0..count]`) in one call, in order: one engine lock,
/// one WAL record (after a crash all of them are there or none; one fdatasync in durable
/// mode). Each gets the next version, as `sa_sync_submit` would give it; a later operation on
/// a key replaces an earlier one of the same call. `count` 0 does nothing.
///
/// `ops` is an array whose stride is `ops[0].struct_size`: set `struct_size = sizeof(sa_local_op)`
/// in every element. `out_submitted` is NULL (results not wanted) or an array of `count`
/// `sa_submitted` owned by the caller, each with `struct_size = sizeof(sa_submitted)`: element
/// `i` receives what operation `i` was assigned. Nothing is allocated for the caller to free.
///
/// Thread-safe (concurrent calls are serialized; in durable mode they share fdatasyncs).
/// Errors refuse the whole call and change nothing; the message names the first bad operation
/// (`operation 3: ...`): `SA_ERR_INVALID_ARGUMENT` (NULL `sync`, NULL `ops` with `count` > 0,
/// NULL key or value, a struct_size that differs from element 0's or is invalid),
/// `SA_ERR_INVALID_OPERATION` (as `sa_sync_submit`; also a call whose WAL record would be over
/// 64 MiB: split it), `SA_ERR_CAPACITY_EXCEEDED` (the whole call does not fit the outbox
/// limits), `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_submit_many(
    sync: *const sa_sync,
    ops: *const sa_local_op,
    count: usize,
    out_submitted: *mut sa_submitted,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above; `ops` is only read.
        let ops = unsafe { SizedArray::new(ops.cast_mut(), count, "ops", sa_local_op::MIN_SIZE) }?;
        let outs = if out_submitted.is_null() {
            None
        } else {
            // SAFETY: as above.
            Some(unsafe { SizedArray::new(out_submitted, count, "out_submitted", 4) }?)
        };
        let mut operations = Vec::with_capacity(ops.len());
        for index in 0..ops.len() {
            let op = ops.read(index);
            // SAFETY: the element's pointers are valid per the header contract.
            let operation = unsafe { local_operation(op.op_type, op.key, op.value, op.value_len) }
                .map_err(at(index))?;
            operations.push(operation);
        }
        let submitted = sync.engine.submit_local_many(operations)?;
        if let Some(outs) = outs {
            let node = sync.engine.node_id();
            for (index, op) in submitted.iter().enumerate() {
                match outs.whole(index) {
                    // SAFETY: a whole, writable element of the caller's array (SizedArray).
                    Some(out) => unsafe { write_submitted(out, op, node) },
                    None => outs.write(index, submitted_to_c(op, node)),
                }
            }
        }
        Ok(())
    })
}

/// Acknowledges `count` sync ids (`sync_ids[0..count]`, NUL-terminated) in one call: one
/// engine lock, one logged transition. Ids the outbox does not hold are counted as unknown,
/// not refused (an ACK may come after a prune); an id listed twice is acknowledged once.
/// `*out_report` (may be NULL) receives the counts. `count` 0 does nothing.
///
/// Thread-safe. Errors refuse the whole call and change nothing; the message names the first
/// bad id (`operation 3: ...`): `SA_ERR_INVALID_ARGUMENT` (NULL `sync`, NULL `sync_ids` with
/// `count` > 0, a NULL id, a bad struct_size), `SA_ERR_NOT_FOUND` (an id that is not UTF-8),
/// `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_ack_many(
    sync: *const sa_sync,
    sync_ids: *const *const c_char,
    count: usize,
    out_report: *mut sa_ack_report,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let sync = unsafe { handle(sync, "sync") }?;
        let report_slot = if out_report.is_null() {
            None
        } else {
            // SAFETY: as above.
            Some(unsafe { SizedOut::new(out_report, "out_report") }?)
        };
        let pointers: &[*const c_char] = if count == 0 {
            &[]
        } else if sync_ids.is_null() {
            return Err(Failure::null("sync_ids"));
        } else {
            // SAFETY: non-NULL, `count` readable pointers per the header contract.
            unsafe { std::slice::from_raw_parts(sync_ids, count) }
        };
        let ids = pointers
            .iter()
            .enumerate()
            // SAFETY: each id is NULL (rejected) or NUL-terminated per the header contract.
            .map(|(index, &id)| {
                unsafe { c_str(id, "sync id", SA_ERR_NOT_FOUND) }.map_err(at(index))
            })
            .collect::<Result<Vec<&str>, Failure>>()?;
        let report = sync.engine.receive_acks(&ids)?;
        if let Some(slot) = report_slot {
            slot.write(sa_ack_report {
                struct_size: 0,
                acknowledged: report.acknowledged,
                already_acknowledged: report.already_acknowledged,
                unknown: report.unknown,
            });
        }
        Ok(())
    })
}
