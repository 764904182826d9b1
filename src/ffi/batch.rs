//! Batches: envelopes handed out by the engine, read through borrowed views.

use std::os::raw::c_char;

use super::args::{bytes_view, handle, CText};
use super::error::{guard, guard_value, Failure};
use super::sized::{growable, SizedOut};
use super::types::*;
use crate::sync::SyncEnvelope;

/// One envelope with the NUL-terminated copies its view points into.
struct BatchItem {
    envelope: SyncEnvelope,
    sync_id: CText,
    origin: CText,
    key: CText,
    replaces_origin: Option<CText>,
}

/// A batch of envelopes (possibly empty), owned by the caller; free with `sa_batch_free`.
/// Immutable, so any number of threads may read it.
pub struct sa_batch {
    items: Vec<BatchItem>,
}

impl sa_batch {
    /// The envelopes, in batch order.
    pub(crate) fn envelopes(&self) -> impl Iterator<Item = &SyncEnvelope> {
        self.items.iter().map(|item| &item.envelope)
    }

    pub(crate) fn new(envelopes: Vec<SyncEnvelope>) -> sa_batch {
        let items = envelopes
            .into_iter()
            .map(|envelope| {
                let op = &envelope.operation;
                BatchItem {
                    sync_id: CText::new(&op.sync_id),
                    origin: CText::new(&op.origin_node_id),
                    key: CText::new(op.operation.key.as_str()),
                    replaces_origin: op
                        .replaces
                        .as_ref()
                        .and_then(|r| r.origin.as_ref())
                        .map(|o| CText::new(o.as_str())),
                    envelope,
                }
            })
            .collect();
        sa_batch { items }
    }
}

/// A borrowed view of one envelope: strings are NUL-terminated, everything is valid until
/// the batch is freed. Fields map one to one to a remote operation (`sa_remote_op_from_view`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_envelope_view {
    /// Set by the caller to `sizeof` this struct, before the call that fills it and in a
    /// struct it passes in (see the top of this header).
    pub struct_size: u32,
    pub sync_id: sa_str,
    pub origin: sa_str,
    pub version: u64,
    /// Hybrid-clock stamp: wall ms << 16 | logical counter.
    pub stamp: u64,
    /// `SA_OP_PUT` or `SA_OP_DELETE`.
    pub op_type: i32,
    pub key: sa_str,
    pub value: sa_bytes,
    /// `SA_STATUS_*` at the time the batch was made.
    pub status: i32,
    /// Re-sends after the first send.
    pub retry_count: u32,
    /// The operation replaced an earlier write at its origin.
    pub has_replaces: bool,
    pub replaces_stamp: u64,
    /// Origin of the replaced write (empty for a direct store write).
    pub replaces_origin: sa_str,
}

growable!(sa_envelope_view, min: 4; sync_id, origin, version, stamp, op_type, key, value, status,
    retry_count, has_replaces, replaces_stamp, replaces_origin);

/// The fields a function reading a view needs: through `value` (the replaced write is optional).
pub(crate) const ENVELOPE_VIEW_MIN_INPUT: usize =
    std::mem::offset_of!(sa_envelope_view, value) + std::mem::size_of::<sa_bytes>();

/// The number of envelopes; 0 for NULL.
#[no_mangle]
pub extern "C" fn sa_batch_len(batch: *const sa_batch) -> usize {
    // SAFETY: `batch` is NULL (handled) or a live handle.
    guard_value(0, || unsafe { batch.as_ref() }.map_or(0, |b| b.items.len()))
}

/// Fills `*out_view` with envelope `index` (0-based). Errors: `SA_ERR_INVALID_ARGUMENT` (NULL
/// argument, or `index` out of range — the message gives the batch length).
#[no_mangle]
pub extern "C" fn sa_batch_get(
    batch: *const sa_batch,
    index: usize,
    out_view: *mut sa_envelope_view,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let batch = unsafe { handle(batch, "batch") }?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_view, "out_view") }?;
        let item = batch.items.get(index).ok_or_else(|| {
            Failure::new(
                SA_ERR_INVALID_ARGUMENT,
                format!(
                    "index {index} is out of range for a batch of {}",
                    batch.items.len()
                ),
            )
        })?;
        let envelope = &item.envelope;
        let op = &envelope.operation;
        static EMPTY: &[u8] = b"\0";
        slot.write(sa_envelope_view {
            struct_size: 0,
            sync_id: item.sync_id.view(),
            origin: item.origin.view(),
            version: op.version,
            stamp: op.operation.timestamp.raw(),
            op_type: c_value::<sa_op_type, _>(op.operation.kind),
            key: item.key.view(),
            value: bytes_view(op.operation.value.as_bytes()),
            status: c_value::<sa_outbox_status, _>(envelope.status),
            retry_count: envelope.retry_count,
            has_replaces: op.replaces.is_some(),
            replaces_stamp: op.replaces.as_ref().map_or(0, |r| r.stamp.raw()),
            replaces_origin: item.replaces_origin.as_ref().map_or(
                sa_str {
                    ptr: EMPTY.as_ptr().cast::<c_char>(),
                    len: 0,
                },
                CText::view,
            ),
        });
        Ok(())
    })
}

/// Frees a batch (NULL is a no-op). Views into it become invalid.
#[no_mangle]
pub extern "C" fn sa_batch_free(batch: *mut sa_batch) {
    if !batch.is_null() {
        // SAFETY: a non-NULL `batch` came from this library and is freed once.
        guard_value((), || drop(unsafe { Box::from_raw(batch) }));
    }
}
