//! Store handles and entries.

use std::os::raw::c_char;

use super::args::{bytes_view, c_bytes, handle, out, CText};
use super::clock::sa_clock;
use super::error::{guard, guard_value, Failure};
use super::sized::{growable, SizedOut};
use super::types::*;
use crate::store::{Durability, Entry, Key, StoreConfig, StoreEngine};

/// The local store. Thread-safe: any number of threads may call functions on one store.
pub struct sa_store {
    pub(crate) inner: StoreEngine,
}

/// One key's value as read by `sa_store_get`: an immutable copy, unaffected by later writes.
/// Thread-safe.
pub struct sa_entry {
    entry: Entry,
    origin: Option<CText>,
}

/// What opening a WAL found.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_replay_report {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// Records replayed.
    pub records: u64,
    /// Bytes of torn tail cut off the end of the WAL (0 after a clean shutdown).
    pub dropped_bytes: u64,
}

growable!(sa_replay_report, min: 4; records, dropped_bytes);

/// The durability mode `mode`; `status` (with `what` naming the argument or field) if it is
/// not one.
pub(crate) fn durability(mode: i32, what: &str, status: sa_status) -> Result<Durability, Failure> {
    engine_value::<sa_durability, _>(mode).ok_or_else(|| {
        Failure::new(
            status,
            format!("{what} {mode} is neither SA_DURABLE (1) nor SA_FAST (2)"),
        )
    })
}

/// Opens a store. `wal_path` (NUL-terminated) is the write-ahead log, created if missing and
/// replayed if present (a torn tail is cut; see `sa_store_replay_report`); NULL opens a
/// memory-only store. `durability` is `SA_DURABLE` or `SA_FAST` (for direct store writes;
/// sync writes follow the sync config). On success `*out_store` receives a handle to free with
/// `sa_store_free`; on error it is not written.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL `out_store`, bad durability, path not UTF-8),
/// `SA_ERR_IO`, `SA_ERR_CORRUPT` (damage that is not a torn tail: nothing is truncated).
#[no_mangle]
pub extern "C" fn sa_store_open(
    wal_path: *const c_char,
    durability_mode: i32,
    out_store: *mut *mut sa_store,
) -> sa_status {
    guard(|| {
        // SAFETY: `out_store` is NULL (rejected) or writable.
        let slot = unsafe { out(out_store, "out_store") }?;
        let durability = durability(durability_mode, "durability", SA_ERR_INVALID_ARGUMENT)?;
        let mut config = if wal_path.is_null() {
            StoreConfig::memory()
        } else {
            // SAFETY: non-NULL `wal_path` is a NUL-terminated string per the contract.
            let bytes = unsafe { c_bytes(wal_path, "wal_path") }?;
            let path = std::str::from_utf8(bytes).map_err(|_| {
                Failure::new(SA_ERR_INVALID_ARGUMENT, "wal_path is not valid UTF-8")
            })?;
            StoreConfig::durable(path)
        };
        config.durability = durability;
        let store = StoreEngine::open(config)?;
        *slot = Box::into_raw(Box::new(sa_store { inner: store }));
        Ok(())
    })
}

/// Reads `key` (NUL-terminated UTF-8). A live key sets `*out_entry` to an entry handle (free
/// with `sa_entry_free`); an absent or deleted key sets it to NULL and still returns `SA_OK`.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL argument), `SA_ERR_INVALID_OPERATION` (invalid key).
#[no_mangle]
pub extern "C" fn sa_store_get(
    store: *const sa_store,
    key: *const c_char,
    out_entry: *mut *mut sa_entry,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: as above.
        let key = Key::from_utf8(unsafe { c_bytes(key, "key") }?)?;
        // SAFETY: as above.
        let slot = unsafe { out(out_entry, "out_entry") }?;
        *slot = match store.inner.get(&key) {
            Some(entry) => Box::into_raw(Box::new(sa_entry {
                origin: entry.origin.as_ref().map(|o| CText::new(o.as_str())),
                entry,
            })),
            None => std::ptr::null_mut(),
        };
        Ok(())
    })
}

/// The entry's value (borrowed; valid until `sa_entry_free`). An empty view if `entry` is NULL.
#[no_mangle]
pub extern "C" fn sa_entry_value(entry: *const sa_entry) -> sa_bytes {
    guard_value(bytes_view(&[]), || {
        // SAFETY: `entry` is NULL (handled) or a live handle.
        match unsafe { entry.as_ref() } {
            Some(e) => bytes_view(e.entry.value.as_bytes()),
            None => bytes_view(&[]),
        }
    })
}

/// The store version of the write that produced the entry; 0 if `entry` is NULL.
#[no_mangle]
pub extern "C" fn sa_entry_version(entry: *const sa_entry) -> u64 {
    // SAFETY: `entry` is NULL (handled) or a live handle.
    guard_value(0, || {
        unsafe { entry.as_ref() }.map_or(0, |e| e.entry.version)
    })
}

/// The hybrid-clock stamp of that write (wall ms << 16 | logical); 0 if `entry` is NULL.
#[no_mangle]
pub extern "C" fn sa_entry_stamp(entry: *const sa_entry) -> u64 {
    // SAFETY: `entry` is NULL (handled) or a live handle.
    guard_value(0, || {
        unsafe { entry.as_ref() }.map_or(0, |e| e.entry.timestamp.raw())
    })
}

/// The node that made that write (borrowed), or an empty string for a direct store write
/// or a NULL `entry`.
#[no_mangle]
pub extern "C" fn sa_entry_origin(entry: *const sa_entry) -> sa_str {
    static EMPTY: &[u8] = b"\0";
    let empty = sa_str {
        ptr: EMPTY.as_ptr().cast(),
        len: 0,
    };
    guard_value(empty, || {
        // SAFETY: `entry` is NULL (handled) or a live handle.
        unsafe { entry.as_ref() }
            .and_then(|e| e.origin.as_ref())
            .map_or(empty, CText::view)
    })
}

/// Frees an entry (NULL is a no-op).
#[no_mangle]
pub extern "C" fn sa_entry_free(entry: *mut sa_entry) {
    if !entry.is_null() {
        // SAFETY: a non-NULL `entry` came from sa_store_get and is freed once.
        guard_value((), || drop(unsafe { Box::from_raw(entry) }));
    }
}

/// Number of live keys in `*out_len`. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL argument).
#[no_mangle]
pub extern "C" fn sa_store_len(store: *const sa_store, out_len: *mut usize) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: as above.
        *unsafe { out(out_len, "out_len") }? = store.inner.len();
        Ok(())
    })
}

/// What opening the WAL found, in `*out_report`. Errors: `SA_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn sa_store_replay_report(
    store: *const sa_store,
    out_report: *mut sa_replay_report,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let store = unsafe { handle(store, "store") }?;
        let report = store.inner.replay_report();
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_report, "out_report") }?;
        slot.write(sa_replay_report {
            struct_size: 0,
            records: report.records,
            dropped_bytes: report.dropped_bytes,
        });
        Ok(())
    })
}

/// Makes the store (and the engine on it) read physical time from `clock`. Stamps stay
/// monotonic. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL argument).
#[no_mangle]
pub extern "C" fn sa_store_set_clock(store: *const sa_store, clock: *const sa_clock) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or a live handle.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: as above.
        let clock = unsafe { handle(clock, "clock") }?;
        store.inner.set_clock(clock.inner.clone());
        Ok(())
    })
}

/// Frees a store handle (NULL is a no-op). An engine built on the store keeps it alive, so
/// handles may be freed in any order. No other call on this handle may be in flight.
#[no_mangle]
pub extern "C" fn sa_store_free(store: *mut sa_store) {
    if !store.is_null() {
        // SAFETY: a non-NULL `store` came from sa_store_open and is freed once.
        guard_value((), || drop(unsafe { Box::from_raw(store) }));
    }
}
