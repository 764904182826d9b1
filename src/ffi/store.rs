//! Store handles and entries.

use std::os::raw::c_char;

use super::args::{bytes_view, c_bytes, c_str, handle, out, value_bytes, CText};
use super::clock::sa_clock;
use super::engine::op_kind;
use super::error::{guard, guard_value, Failure};
use super::sized::{growable, SizedOut};
use super::types::*;
use crate::store::{
    ApplyResult, Durability, Entries, Entry, Key, Operation, StoreConfig, StoreEngine,
};

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

/// Opens a store with the library's defaults for the settings it does not take (compaction
/// threshold, tombstone retention: `sa_store_open_with` takes them). `wal_path`
/// (NUL-terminated) is the write-ahead log, created if missing and replayed if present (a torn
/// tail is cut; see `sa_store_replay_report`); NULL opens a memory-only store. `durability` is
/// `SA_DURABLE` or `SA_FAST` (for direct store writes; sync writes follow the sync config). On
/// success `*out_store` receives a handle to free with `sa_store_free`; on error it is not
/// written.
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
        super::store_config::open_into(config, slot)
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
    let empty = empty_str();
    guard_value(empty, || {
        // SAFETY: `entry` is NULL (handled) or a live handle.
        unsafe { entry.as_ref() }
            .and_then(|e| e.origin.as_ref())
            .map_or(empty, CText::view)
    })
}

/// An empty, NUL-terminated string view.
fn empty_str() -> sa_str {
    static EMPTY: &[u8] = b"\0";
    sa_str {
        ptr: EMPTY.as_ptr().cast(),
        len: 0,
    }
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

/// What a direct store write (`sa_store_put`, `sa_store_remove`, `sa_store_apply`) did.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_store_write_result {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// The store's sequence number for this write (monotonic per store).
    pub version: u64,
    /// The hybrid-clock stamp the store gave the write (wall ms << 16 | logical).
    pub stamp: u64,
    /// The key had no live value before and has one now.
    pub created: bool,
    /// The key had a live value before and has one now.
    pub updated: bool,
    /// The key had a live value before and is deleted now (false for a delete of an absent
    /// key, which still leaves a tombstone and takes a version).
    pub deleted: bool,
}

growable!(sa_store_write_result, min: 4; version, stamp, created, updated, deleted);

impl From<ApplyResult> for sa_store_write_result {
    fn from(r: ApplyResult) -> sa_store_write_result {
        sa_store_write_result {
            struct_size: 0,
            version: r.version,
            stamp: r.timestamp.raw(),
            created: r.created,
            updated: r.updated,
            deleted: r.deleted,
        }
    }
}

/// Applies a put (`SA_OP_PUT`, `value_len` bytes at `value`; `value` may be NULL when
/// `value_len` is 0) or a delete (`SA_OP_DELETE`, `value_len` must be 0) of `key`
/// (NUL-terminated UTF-8) directly to the store, stamped by the store's clock, logged with the
/// store's durability mode. On success `*out_result` says what the write did.
///
/// Direct writes are LOCAL: they survive restarts but no sync engine propagates them, even one
/// built on this store. A later `sa_sync_submit` of the same key does propagate, and carries
/// the direct write as the write it replaced. Thread-safe. On error nothing changed.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL argument), `SA_ERR_INVALID_OPERATION` (bad type, key
/// not UTF-8/empty/over 64 KiB, value over 64 MiB, delete with a value), `SA_ERR_IO`.
#[no_mangle]
pub extern "C" fn sa_store_apply(
    store: *const sa_store,
    op_type: i32,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
    out_result: *mut sa_store_write_result,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_result, "out_result") }?;
        let kind = op_kind(op_type, SA_ERR_INVALID_OPERATION)?;
        // SAFETY: as above.
        let key = Key::check_utf8(unsafe { c_bytes(key, "key") }?)?;
        // SAFETY: as above.
        let value = unsafe { value_bytes(value, value_len, "value", SA_ERR_INVALID_OPERATION) }?;
        let operation = Operation::from_parts(kind, key, value)?;
        slot.write(store.inner.apply_operation(operation)?.into());
        Ok(())
    })
}

/// Puts `value_len` bytes at `value` (NULL allowed when `value_len` is 0) at `key`: a direct,
/// local write, as `sa_store_apply` with `SA_OP_PUT` (same errors).
#[no_mangle]
pub extern "C" fn sa_store_put(
    store: *const sa_store,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
    out_result: *mut sa_store_write_result,
) -> sa_status {
    sa_store_apply(
        store,
        sa_op_type::SA_OP_PUT.into(),
        key,
        value,
        value_len,
        out_result,
    )
}

/// Deletes `key`, leaving a tombstone: a direct, local write, as `sa_store_apply` with
/// `SA_OP_DELETE` (same errors). Deleting an absent key succeeds with `deleted` false.
#[no_mangle]
pub extern "C" fn sa_store_remove(
    store: *const sa_store,
    key: *const c_char,
    out_result: *mut sa_store_write_result,
) -> sa_status {
    sa_store_apply(
        store,
        sa_op_type::SA_OP_DELETE.into(),
        key,
        std::ptr::null(),
        0,
        out_result,
    )
}

/// An iteration over a store's live keys under a prefix, in ascending byte order of the key
/// (`sa_store_iter_new`). Not thread-safe: one thread at a time may use an iterator (different
/// iterators on one store may be used from different threads, alongside writers).
pub struct sa_store_iter {
    entries: Entries,
    /// The entry the last `sa_store_iter_next` returned; its views borrow from here.
    current: Option<(Entry, CText, Option<CText>)>,
}

/// One entry returned by `sa_store_iter_next`: borrowed views, valid until the next
/// `sa_store_iter_next` or `sa_store_iter_free` on the same iterator.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_entry_view {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    /// The key (UTF-8, NUL-terminated).
    pub key: sa_str,
    /// The value bytes.
    pub value: sa_bytes,
    /// The store version of the write that produced the value.
    pub version: u64,
    /// The hybrid-clock stamp of that write.
    pub stamp: u64,
    /// The node that made that write; empty for a direct store write.
    pub origin: sa_str,
}

growable!(sa_entry_view, min: 4; key, value, version, stamp, origin);

/// Starts an iteration over the live entries whose key starts with `prefix` (NUL-terminated
/// UTF-8; "" for every key). `*out_iter` receives a handle to free with `sa_store_iter_free`;
/// it keeps the store alive (and its WAL locked against reopening) until freed, so the store
/// handle may be freed first.
///
/// Semantics: keys come in ascending byte order, each at most once; deleted keys are skipped.
/// It is NOT a snapshot: the iterator reads the store in small chunks under its lock and
/// resumes after the last key returned. Writes during the iteration (from any thread) are safe:
/// a key live for the whole iteration is returned; a key written or deleted meanwhile may or
/// may not be, and an entry shows the key's state when its chunk was read. Creating is
/// O(1); each step is amortized O(log n), plus any tombstones stepped over.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL argument, prefix not UTF-8).
#[no_mangle]
pub extern "C" fn sa_store_iter_new(
    store: *const sa_store,
    prefix: *const c_char,
    out_iter: *mut *mut sa_store_iter,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let store = unsafe { handle(store, "store") }?;
        // SAFETY: as above.
        let prefix = unsafe { c_str(prefix, "prefix", SA_ERR_INVALID_ARGUMENT) }?;
        // SAFETY: as above.
        let slot = unsafe { out(out_iter, "out_iter") }?;
        *slot = Box::into_raw(Box::new(sa_store_iter {
            entries: store.inner.entries(prefix),
            current: None,
        }));
        Ok(())
    })
}

/// Advances the iterator. When an entry is left, `*out_has_item` is true and `*out_entry`
/// views it (valid until the next call on this iterator or its free); at the end,
/// `*out_has_item` is false, `*out_entry` is left unchanged, and later calls keep returning
/// the end. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL argument; nothing is advanced).
#[no_mangle]
pub extern "C" fn sa_store_iter_next(
    iter: *mut sa_store_iter,
    out_entry: *mut sa_entry_view,
    out_has_item: *mut bool,
) -> sa_status {
    guard(|| {
        // SAFETY: `iter` is NULL (rejected) or a live handle used by one thread at a time.
        let iter = unsafe { iter.as_mut() }.ok_or_else(|| Failure::null("iter"))?;
        // SAFETY: each out-pointer is NULL (rejected) or writable.
        let entry_slot = unsafe { SizedOut::new(out_entry, "out_entry") }?;
        // SAFETY: as above.
        let has_slot = unsafe { out(out_has_item, "out_has_item") }?;
        iter.current = iter.entries.next().map(|entry| {
            let key = CText::new(entry.key.as_str());
            let origin = entry.origin.as_ref().map(|o| CText::new(o.as_str()));
            (entry, key, origin)
        });
        *has_slot = iter.current.is_some();
        if let Some((entry, key, origin)) = &iter.current {
            entry_slot.write(sa_entry_view {
                struct_size: 0,
                key: key.view(),
                value: bytes_view(entry.value.as_bytes()),
                version: entry.version,
                stamp: entry.timestamp.raw(),
                origin: origin.as_ref().map_or_else(empty_str, CText::view),
            });
        }
        Ok(())
    })
}

/// Frees an iterator (NULL is a no-op); views it returned become invalid.
#[no_mangle]
pub extern "C" fn sa_store_iter_free(iter: *mut sa_store_iter) {
    if !iter.is_null() {
        // SAFETY: a non-NULL `iter` came from sa_store_iter_new and is freed once.
        guard_value((), || drop(unsafe { Box::from_raw(iter) }));
    }
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
