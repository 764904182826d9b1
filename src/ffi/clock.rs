//! A manual clock handle, so C, C++ and Python tests can be deterministic.

use std::sync::Arc;

use super::args::{handle, out};
use super::error::{guard, guard_value};
use super::types::*;
use crate::clock::{Clock, ManualClock};

/// A manual physical clock (milliseconds since the Unix epoch) that moves only when told to.
/// Give it to engines with `sa_sync_set_clock` / `sa_store_set_clock` / ACK trackers; they
/// keep it alive, so it may be freed in any order. Thread-safe.
pub struct sa_clock {
    pub(crate) inner: Arc<ManualClock>,
}

/// Creates a manual clock reading `now_ms`. `*out` receives a handle to free with
/// `sa_clock_free`. Errors: `SA_ERR_INVALID_ARGUMENT` if `out` is NULL.
#[no_mangle]
pub extern "C" fn sa_clock_new_manual(now_ms: u64, out_clock: *mut *mut sa_clock) -> sa_status {
    guard(|| {
        // SAFETY: `out_clock` is NULL (rejected) or writable per the header contract.
        let slot = unsafe { out(out_clock, "out_clock") }?;
        *slot = Box::into_raw(Box::new(sa_clock {
            inner: Arc::new(ManualClock::new(now_ms)),
        }));
        Ok(())
    })
}

/// Sets the clock to `now_ms` (it may go backwards, as a wall clock can; stamps stay
/// monotonic). Errors: `SA_ERR_INVALID_ARGUMENT` if `clock` is NULL.
#[no_mangle]
pub extern "C" fn sa_clock_set(clock: *const sa_clock, now_ms: u64) -> sa_status {
    guard(|| {
        // SAFETY: `clock` is NULL (rejected) or a live handle.
        unsafe { handle(clock, "clock") }?.inner.set(now_ms);
        Ok(())
    })
}

/// Moves the clock forward by `ms`. Errors: `SA_ERR_INVALID_ARGUMENT` if `clock` is NULL.
#[no_mangle]
pub extern "C" fn sa_clock_advance(clock: *const sa_clock, ms: u64) -> sa_status {
    guard(|| {
        // SAFETY: `clock` is NULL (rejected) or a live handle.
        let clock = unsafe { handle(clock, "clock") }?;
        clock.inner.advance(std::time::Duration::from_millis(ms));
        Ok(())
    })
}

/// The clock's reading in milliseconds; 0 if `clock` is NULL.
#[no_mangle]
pub extern "C" fn sa_clock_now(clock: *const sa_clock) -> u64 {
    guard_value(0, || {
        // SAFETY: `clock` is NULL (handled) or a live handle.
        unsafe { clock.as_ref() }.map_or(0, |c| c.inner.now_ms())
    })
}

/// Frees a clock handle (NULL is a no-op). Engines using it keep their own reference.
/// No other call on this handle may be in flight.
#[no_mangle]
pub extern "C" fn sa_clock_free(clock: *mut sa_clock) {
    if !clock.is_null() {
        // SAFETY: a non-NULL `clock` came from sa_clock_new_manual and is freed once.
        guard_value((), || drop(unsafe { Box::from_raw(clock) }));
    }
}
