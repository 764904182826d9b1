//! Wire formats at the boundary: byte buffers handed to C (`sa_buf`), V2 frames, V1 frames.

use std::cell::RefCell;
use std::os::raw::c_char;

use super::args::{c_str, handle, out, CText};
use super::batch::{sa_batch, sa_envelope_view, ENVELOPE_VIEW_MIN_INPUT};
use super::engine::sa_sync;
use super::error::{guard, Failure};
use super::sized::{growable, read_in_zeroed, SizedOut};
use super::types::*;
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Operation, OperationKind};
use crate::sync::SyncOperation;
use crate::wire::{
    encode_operations_frame, v1_frame_for_operation, v1_hello_frame, OperationError, WireError,
};

/// Bytes owned by the caller (a frame, a JSON document): `len` bytes at `ptr`. `ptr` is NULL
/// when `len` is 0. Free with `sa_buf_free` exactly once; never with `free()`.
#[repr(C)]
pub struct sa_buf {
    pub ptr: *mut u8,
    pub len: usize,
}

impl sa_buf {
    pub(crate) fn from_vec(bytes: Vec<u8>) -> sa_buf {
        if bytes.is_empty() {
            return sa_buf {
                ptr: std::ptr::null_mut(),
                len: 0,
            };
        }
        let len = bytes.len();
        let ptr = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
        sa_buf { ptr, len }
    }
}

/// Frees the bytes of `*buf` and resets it to `{NULL, 0}`. NULL, or a buffer already reset,
/// is a no-op. Thread-safe for distinct buffers.
#[no_mangle]
pub extern "C" fn sa_buf_free(buf: *mut sa_buf) {
    super::error::guard_value((), || {
        // SAFETY: `buf` is NULL (no-op) or points to an sa_buf filled by this library.
        let Some(buf) = (unsafe { buf.as_mut() }) else {
            return;
        };
        if !buf.ptr.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(buf.ptr, buf.len);
            // SAFETY: ptr/len came from `Box<[u8]>::into_raw` in `sa_buf::from_vec` and are
            // freed once: the buffer is reset right after.
            drop(unsafe { Box::from_raw(slice) });
        }
        buf.ptr = std::ptr::null_mut();
        buf.len = 0;
    })
}

pub(crate) fn wire_failure(e: WireError) -> Failure {
    match e {
        WireError::Malformed(_) | WireError::UnsupportedVersion { .. } => {
            Failure::new(SA_ERR_MALFORMED_FRAME, e.to_string())
        }
        WireError::TooLarge(_) => Failure::new(SA_ERR_INVALID_ARGUMENT, e.to_string()),
        WireError::Engine(e) => e.into(),
    }
}

/// Encodes every envelope of `batch` as one V2 operations frame (format in
/// `docs/wire-format.md`) into `*out_frame`; free it with `sa_buf_free`. The frame carries
/// everything a receiver needs, including the origin, so it may be relayed. Thread-safe.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL; a frame over `SA_WIRE_MAX_BODY_BYTES`).
#[no_mangle]
pub extern "C" fn sa_batch_encode(batch: *const sa_batch, out_frame: *mut sa_buf) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let batch = unsafe { handle(batch, "batch") }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_frame, "out_frame") }?;
        let frame = encode_operations_frame(batch.envelopes().map(|e| &e.operation))
            .map_err(wire_failure)?;
        *slot = sa_buf::from_vec(frame);
        Ok(())
    })
}

/// What `sa_sync_receive_frame` did with the operations of a frame.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct sa_receive_report {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    pub applied: usize,
    /// Evaluated and not applied (older, or lost a conflict).
    pub ignored: usize,
    /// Already handled before.
    pub duplicate: usize,
    /// Refused by validation; not acknowledged. Each one is described by
    /// `sa_last_receive_error(i, ...)` for `i < invalid`.
    pub invalid: usize,
}

growable!(sa_receive_report, min: 4; applied, ignored, duplicate, invalid);
growable!(sa_operation_error, min: 4; index, sync_id, message);

/// Why one operation of a received frame was refused. Strings are borrowed from thread-local
/// storage: valid until the next `sa_sync_receive_frame` on the same thread.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_operation_error {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// Position of the operation in the frame (0-based).
    pub index: usize,
    pub sync_id: sa_str,
    /// The engine's message, naming the offending value.
    pub message: sa_str,
}

struct StoredError {
    index: usize,
    sync_id: CText,
    message: CText,
}

thread_local! {
    static RECEIVE_ERRORS: RefCell<Vec<StoredError>> = const { RefCell::new(Vec::new()) };
}

fn store_receive_errors(errors: &[OperationError]) {
    RECEIVE_ERRORS.with(|slot| {
        *slot.borrow_mut() = errors
            .iter()
            .map(|e| StoredError {
                index: e.index,
                sync_id: CText::new(&e.sync_id),
                message: CText::new(&e.message.replace('\0', "\\0")),
            })
            .collect();
    });
}

/// Applies every valid operation of a V2 operations frame (`len` bytes at `frame`, received
/// from another node) and fills `*out_report`; `*out_ack_frame` receives the V2 ACK frame to
/// send back (listing applied, ignored and duplicate ids; free it with `sa_buf_free`). The
/// refused operations are described by `sa_last_receive_error` until the next call of this
/// function on the same thread. Thread-safe.
///
/// A frame that fails to decode changes nothing. On an engine failure (`SA_ERR_IO`) the
/// operations before it stay applied; not being acknowledged, they come back as duplicates.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_MALFORMED_FRAME` (truncated, bad magic,
/// unknown version, bad tag, bad length, trailing bytes, invalid UTF-8, a field over its
/// limit: the message names it), `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_receive_frame(
    sync: *const sa_sync,
    frame: *const u8,
    len: usize,
    out_report: *mut sa_receive_report,
    out_ack_frame: *mut sa_buf,
) -> sa_status {
    store_receive_errors(&[]);
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let bytes = unsafe { frame_bytes(frame, len) }?;
        // SAFETY: as above.
        let report_slot = unsafe { SizedOut::new(out_report, "out_report") }?;
        // SAFETY: as above.
        let ack_slot = unsafe { out(out_ack_frame, "out_ack_frame") }?;
        let (report, ack) = sync.engine.receive_frame(bytes).map_err(wire_failure)?;
        store_receive_errors(&report.errors);
        report_slot.write(sa_receive_report {
            struct_size: 0,
            applied: report.applied,
            ignored: report.ignored,
            duplicate: report.duplicate,
            invalid: report.invalid,
        });
        *ack_slot = sa_buf::from_vec(ack);
        Ok(())
    })
}

/// Fills `*out_error` with refused operation `index` (0-based, below the last report's
/// `invalid`) of the last `sa_sync_receive_frame` on this thread. Errors:
/// `SA_ERR_INVALID_ARGUMENT` (NULL, `index` out of range).
#[no_mangle]
pub extern "C" fn sa_last_receive_error(
    index: usize,
    out_error: *mut sa_operation_error,
) -> sa_status {
    guard(|| {
        // SAFETY: NULL (rejected) or writable.
        let slot = unsafe { SizedOut::new(out_error, "out_error") }?;
        RECEIVE_ERRORS.with(|errors| {
            let errors = errors.borrow();
            let e = errors.get(index).ok_or_else(|| {
                Failure::new(
                    SA_ERR_INVALID_ARGUMENT,
                    format!(
                        "index {index} is out of range: the last received frame had {} refused \
                         operations",
                        errors.len()
                    ),
                )
            })?;
            slot.write(sa_operation_error {
                struct_size: 0,
                index: e.index,
                sync_id: e.sync_id.view(),
                message: e.message.view(),
            });
            Ok(())
        })
    })
}

/// Acknowledges every sync id listed in a V2 ACK frame (`len` bytes at `frame`).
/// `*out_acknowledged` (may be NULL) receives how many operations became acknowledged; ids
/// already acknowledged or no longer in the outbox are skipped. A frame that fails to decode
/// changes nothing. Thread-safe. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL),
/// `SA_ERR_MALFORMED_FRAME`, `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_ack_frame(
    sync: *const sa_sync,
    frame: *const u8,
    len: usize,
    out_acknowledged: *mut usize,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let bytes = unsafe { frame_bytes(frame, len) }?;
        let report = sync.engine.ack_frame(bytes).map_err(wire_failure)?;
        // SAFETY: NULL (allowed) or writable.
        if let Some(slot) = unsafe { out_acknowledged.as_mut() } {
            *slot = report.acknowledged;
        }
        Ok(())
    })
}

/// `len` bytes at `ptr` (NULL allowed when `len` is 0).
///
/// # Safety
/// When `len > 0`, `ptr` points to `len` readable bytes that stay valid for `'a`.
unsafe fn frame_bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null("frame"));
    }
    // SAFETY: non-NULL, `len` readable bytes per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The V1 Hello frame a node sends after connecting to a C++ node (`from_node_id` = `node_id`,
/// everything else empty), into `*out_frame` (free with `sa_buf_free`). Thread-safe.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_INVALID_NODE_ID`.
#[no_mangle]
pub extern "C" fn sa_v1_hello_frame(node_id: *const c_char, out_frame: *mut sa_buf) -> sa_status {
    guard(|| {
        // SAFETY: NULL (rejected) or NUL-terminated per the header contract.
        let node_id = unsafe { c_str(node_id, "node_id", SA_ERR_INVALID_NODE_ID) }?;
        let node_id = NodeId::new(node_id)?;
        // SAFETY: NULL (rejected) or writable.
        let slot = unsafe { out(out_frame, "out_frame") }?;
        *slot = sa_buf::from_vec(v1_hello_frame(&node_id).map_err(wire_failure)?);
        Ok(())
    })
}

/// A view's string as UTF-8.
///
/// # Safety
/// `s.ptr` is NULL or points to `s.len` readable bytes.
unsafe fn view_str<'a>(s: sa_str, what: &str) -> Result<&'a str, Failure> {
    if s.ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-NULL, `len` readable bytes per the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr.cast::<u8>(), s.len) };
    std::str::from_utf8(bytes).map_err(|_| {
        Failure::new(
            SA_ERR_INVALID_ARGUMENT,
            format!("{what} is not valid UTF-8"),
        )
    })
}

fn operation_of_view(v: &sa_envelope_view) -> Result<SyncOperation, Failure> {
    let invalid = |m: String| Failure::new(SA_ERR_INVALID_ARGUMENT, m);
    let kind: OperationKind = engine_value::<sa_op_type, _>(v.op_type).ok_or_else(|| {
        invalid(format!(
            "envelope op_type {} is not SA_OP_PUT or SA_OP_DELETE",
            v.op_type
        ))
    })?;
    // SAFETY: the view's strings and bytes are valid per the header contract.
    let key = unsafe { view_str(v.key, "envelope key") }?;
    let value: &[u8] = if v.value.len == 0 {
        &[]
    } else if v.value.ptr.is_null() {
        return Err(Failure::null("envelope value"));
    } else {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(v.value.ptr, v.value.len) }
    };
    let operation = Operation::from_parts(kind, key, value)
        .map_err(|e| invalid(format!("envelope: {e}")))?
        .with_timestamp(Stamp::from_raw(v.stamp));
    // SAFETY: as above.
    let sync_id = unsafe { view_str(v.sync_id, "envelope sync_id") }?;
    // SAFETY: as above.
    let origin = unsafe { view_str(v.origin, "envelope origin") }?;
    Ok(SyncOperation::remote(sync_id, origin, v.version, operation))
}

/// The V1 SyncBatch frame carrying `envelope` (from `sa_batch_get`) to the C++ node
/// `to_node_id`, byte for byte as the C++ transport writes it, into `*out_frame` (free with
/// `sa_buf_free`). V1 carries the stamp's milliseconds only, no replaced write, and the
/// envelope's origin as the sender. Thread-safe. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL, a
/// view not from a batch, a frame over `SA_V1_MAX_FRAME_BYTES`).
#[no_mangle]
pub extern "C" fn sa_v1_frame_for_envelope(
    envelope: *const sa_envelope_view,
    to_node_id: *const c_char,
    out_frame: *mut sa_buf,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let view = unsafe { read_in_zeroed(envelope, "envelope", ENVELOPE_VIEW_MIN_INPUT) }?;
        // SAFETY: as above.
        let to = unsafe { c_str(to_node_id, "to_node_id", SA_ERR_INVALID_NODE_ID) }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_frame, "out_frame") }?;
        let op = operation_of_view(&view)?;
        *slot = sa_buf::from_vec(v1_frame_for_operation(&op, to).map_err(wire_failure)?);
        Ok(())
    })
}

/// Handles one complete V1 frame (`len` bytes, length prefix included) the way the C++
/// transport's dispatcher does, and puts the reply frame into `*out_reply` (free with
/// `sa_buf_free`; `{NULL, 0}` when none is due): Hello and Pong → no reply; Ping → Pong with
/// the same correlation id; SyncBatch → the operation is applied (origin = sender, sync id =
/// correlation id, stamp from its milliseconds with `version mod 2^16` as logical part) and an
/// Ack is the reply; Ack → its sync id is
/// acknowledged (an id not in the outbox is ignored). Thread-safe.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_MALFORMED_FRAME` (nothing changed),
/// `SA_ERR_INVALID_REMOTE_OPERATION` (nothing applied, no ACK), `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_sync_handle_v1_frame(
    sync: *const sa_sync,
    frame: *const u8,
    len: usize,
    out_reply: *mut sa_buf,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let bytes = unsafe { frame_bytes(frame, len) }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_reply, "out_reply") }?;
        let reply = sync.engine.handle_v1_frame(bytes).map_err(wire_failure)?;
        *slot = sa_buf::from_vec(reply);
        Ok(())
    })
}

/// The engine's counters as a JSON object (field names in the README, same as
/// `sa_sync_state_info`), UTF-8 in `*out_json` (free with `sa_buf_free`). Thread-safe.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL).
#[no_mangle]
pub extern "C" fn sa_sync_state_json(sync: *const sa_sync, out_json: *mut sa_buf) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_json, "out_json") }?;
        *slot = sa_buf::from_vec(crate::json::state_json(&sync.engine.state()));
        Ok(())
    })
}

/// Every outbox entry, oldest first, as a JSON array of envelope objects (field names in the
/// README; values in `value_hex`), UTF-8 in `*out_json` (free with `sa_buf_free`). O(outbox
/// size), for inspection. Thread-safe. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL).
#[no_mangle]
pub extern "C" fn sa_sync_outbox_json(sync: *const sa_sync, out_json: *mut sa_buf) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let sync = unsafe { handle(sync, "sync") }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_json, "out_json") }?;
        *slot = sa_buf::from_vec(crate::json::envelopes_json(&sync.engine.outbox()));
        Ok(())
    })
}

/// The envelopes of `batch` as a JSON array (same objects as `sa_sync_outbox_json`), UTF-8 in
/// `*out_json` (free with `sa_buf_free`). Thread-safe. Errors: `SA_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn sa_batch_json(batch: *const sa_batch, out_json: *mut sa_buf) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let batch = unsafe { handle(batch, "batch") }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_json, "out_json") }?;
        *slot = sa_buf::from_vec(crate::json::envelopes_json(batch.envelopes()));
        Ok(())
    })
}
