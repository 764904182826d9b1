//! The standalone ACK tracker.

use std::os::raw::c_char;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::args::{c_str, handle, out};
use super::clock::sa_clock;
use super::error::{guard, guard_value, Failure};
use super::types::*;
use crate::clock::{Clock, SystemClock};
use crate::sync::AckTracker;

/// Tracks sync ids waiting for an ACK, each with a deadline. Thread-safe (internally locked).
pub struct sa_ack_tracker {
    inner: Mutex<AckTracker>,
}

impl sa_ack_tracker {
    fn lock(&self) -> MutexGuard<'_, AckTracker> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn tracker_ref<'a>(t: *const sa_ack_tracker) -> Result<&'a sa_ack_tracker, Failure> {
    // SAFETY: `t` is NULL (rejected) or a live handle per the header contract.
    unsafe { handle(t, "tracker") }
}

fn id_arg<'a>(sync_id: *const c_char) -> Result<&'a str, Failure> {
    // SAFETY: NULL (rejected) or NUL-terminated per the header contract.
    unsafe { c_str(sync_id, "sync_id", SA_ERR_ACK_TRACKING) }
}

/// Creates an empty tracker. Timeouts are measured on `clock` (NULL: the system clock; the
/// tracker keeps its own reference). Free with `sa_ack_tracker_free`.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL `out_tracker`).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_new(
    clock: *const sa_clock,
    out_tracker: *mut *mut sa_ack_tracker,
) -> sa_status {
    guard(|| {
        // SAFETY: `out_tracker` is NULL (rejected) or writable.
        let slot = unsafe { out(out_tracker, "out_tracker") }?;
        // SAFETY: `clock` is NULL (system clock) or a live handle.
        let source: Arc<dyn Clock> = match unsafe { clock.as_ref() } {
            Some(c) => c.inner.clone(),
            None => Arc::new(SystemClock),
        };
        *slot = Box::into_raw(Box::new(sa_ack_tracker {
            inner: Mutex::new(AckTracker::with_clock(source)),
        }));
        Ok(())
    })
}

/// Tracks `sync_id` for `timeout_ms` from now; tracking an id again replaces its entry.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_ACK_TRACKING` (empty or non-UTF-8 id).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_track(
    tracker: *const sa_ack_tracker,
    sync_id: *const c_char,
    timeout_ms: u64,
) -> sa_status {
    guard(|| {
        let t = tracker_ref(tracker)?;
        t.lock()
            .track(id_arg(sync_id)?, Duration::from_millis(timeout_ms))?;
        Ok(())
    })
}

fn query(
    tracker: *const sa_ack_tracker,
    sync_id: *const c_char,
    out_flag: *mut bool,
    out_name: &str,
    ask: fn(&mut AckTracker, &String) -> bool,
) -> sa_status {
    guard(|| {
        let t = tracker_ref(tracker)?;
        let id = id_arg(sync_id)?.to_string();
        // SAFETY: `out_flag` is NULL (rejected) or writable.
        let slot = unsafe { out(out_flag, out_name) }?;
        *slot = ask(&mut t.lock(), &id);
        Ok(())
    })
}

/// Marks `sync_id` acknowledged; `*out_known` is false if it was not tracked.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_ack(
    tracker: *const sa_ack_tracker,
    sync_id: *const c_char,
    out_known: *mut bool,
) -> sa_status {
    query(tracker, sync_id, out_known, "out_known", |t, id| t.ack(id))
}

/// `*out_waiting`: `sync_id` is tracked and neither acknowledged nor timed out.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_ACK_TRACKING` (id not UTF-8).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_is_waiting(
    tracker: *const sa_ack_tracker,
    sync_id: *const c_char,
    out_waiting: *mut bool,
) -> sa_status {
    query(tracker, sync_id, out_waiting, "out_waiting", |t, id| {
        t.is_waiting(id)
    })
}

/// `*out_acknowledged`: `sync_id` was acknowledged and not pruned yet.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_ACK_TRACKING` (id not UTF-8).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_acknowledged(
    tracker: *const sa_ack_tracker,
    sync_id: *const c_char,
    out_acknowledged: *mut bool,
) -> sa_status {
    query(
        tracker,
        sync_id,
        out_acknowledged,
        "out_acknowledged",
        |t, id| t.acknowledged(id),
    )
}

/// Stops tracking `sync_id`; `*out_known` is false if it was not tracked.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL), `SA_ERR_ACK_TRACKING` (id not UTF-8).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_erase(
    tracker: *const sa_ack_tracker,
    sync_id: *const c_char,
    out_known: *mut bool,
) -> sa_status {
    query(tracker, sync_id, out_known, "out_known", |t, id| {
        t.erase(id)
    })
}

/// Marks every waiting id whose deadline passed as timed out; `out_expired` (may be NULL)
/// receives how many. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL tracker).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_collect_expired(
    tracker: *const sa_ack_tracker,
    out_expired: *mut usize,
) -> sa_status {
    guard(|| {
        let expired = tracker_ref(tracker)?.lock().collect_expired().len();
        // SAFETY: `out_expired` is NULL (allowed) or writable.
        if let Some(slot) = unsafe { out_expired.as_mut() } {
            *slot = expired;
        }
        Ok(())
    })
}

/// Forgets acknowledged ids; `out_removed` (may be NULL) receives how many.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL tracker).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_prune_received(
    tracker: *const sa_ack_tracker,
    out_removed: *mut usize,
) -> sa_status {
    guard(|| {
        let removed = tracker_ref(tracker)?.lock().prune_received();
        // SAFETY: `out_removed` is NULL (allowed) or writable.
        if let Some(slot) = unsafe { out_removed.as_mut() } {
            *slot = removed;
        }
        Ok(())
    })
}

/// Forgets every id. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL).
#[no_mangle]
pub extern "C" fn sa_ack_tracker_clear(tracker: *const sa_ack_tracker) -> sa_status {
    guard(|| {
        tracker_ref(tracker)?.lock().clear();
        Ok(())
    })
}

/// Number of tracked ids, in every status; 0 for NULL.
#[no_mangle]
pub extern "C" fn sa_ack_tracker_size(tracker: *const sa_ack_tracker) -> usize {
    guard_value(0, || {
        // SAFETY: NULL (handled) or a live handle.
        unsafe { tracker.as_ref() }.map_or(0, |t| t.lock().size())
    })
}

/// Frees a tracker (NULL is a no-op). No other call on this handle may be in flight.
#[no_mangle]
pub extern "C" fn sa_ack_tracker_free(tracker: *mut sa_ack_tracker) {
    if !tracker.is_null() {
        // SAFETY: a non-NULL handle came from sa_ack_tracker_new and is freed once.
        guard_value((), || drop(unsafe { Box::from_raw(tracker) }));
    }
}
