//! The store configuration as a plain C struct, and opening a store with it.

use std::os::raw::c_char;
use std::time::Duration;

use super::args::{c_str, out};
use super::error::{guard, Failure};
use super::sized::{growable, read_in, Growable, SizedOut};
use super::store::{durability, sa_store};
use super::types::*;
use crate::clock::millis;
use crate::store::{StoreConfig, StoreEngine};

/// Store settings for `sa_store_open_with`. Set `struct_size = sizeof(sa_store_config)`, fill
/// with `sa_store_config_default`, then change fields. As every growable struct (see the top of
/// this header): the library reads only the caller's `struct_size` bytes and gives the fields
/// after them `sa_store_config_default`'s values; the smallest size accepted ends with
/// `wal_path`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_store_config {
    pub struct_size: u32,
    /// The write-ahead log (NUL-terminated UTF-8; borrowed for the call only): created if
    /// missing, replayed if present. NULL opens a memory-only store. Default NULL.
    pub wal_path: *const c_char,
    /// `SA_DURABLE` or `SA_FAST`, for direct store writes (sync writes follow the sync config).
    /// Default `SA_DURABLE`.
    pub durability: i32,
    /// Open an existing WAL for inspection only: nothing is created, repaired or written, every
    /// write and compaction fails with `SA_ERR_IO` naming the WAL, and a store open for writing
    /// elsewhere makes the open fail with `SA_ERR_IN_USE`. Default false.
    pub read_only: bool,
    /// Automatic compaction starts, on a background thread, when the log written since the
    /// last checkpoint exceeds max(`compact_threshold_bytes`, 2 × the checkpoint's size); 0
    /// turns it off (`sa_store_compact` still works). Default: see `sa_store_config_default`.
    pub compact_threshold_bytes: u64,
    /// How long a tombstone (the mark a delete leaves) is kept at least, in ms: compaction
    /// collects older ones once sync no longer needs them (their delete is acknowledged). A
    /// write older than a collected delete that arrives later is applied: keep this above the
    /// longest time a node may stay offline. Default: see `sa_store_config_default`.
    pub tombstone_retention_ms: u64,
}

growable!(sa_store_config, min: std::mem::offset_of!(sa_store_config, wal_path)
    + std::mem::size_of::<*const c_char>(); wal_path, durability, read_only,
    compact_threshold_bytes, tombstone_retention_ms);

/// The library's defaults, as C sees them.
fn defaults() -> sa_store_config {
    let config = StoreConfig::durable("");
    sa_store_config {
        struct_size: std::mem::size_of::<sa_store_config>() as u32,
        wal_path: std::ptr::null(),
        durability: c_value::<sa_durability, _>(config.durability),
        read_only: config.read_only,
        compact_threshold_bytes: config.compact_threshold_bytes,
        tombstone_retention_ms: millis(config.tombstone_retention),
    }
}

/// Converts a full C config to the engine's, checking every field.
fn from_c(c: &sa_store_config) -> Result<StoreConfig, Failure> {
    let mut config = if c.wal_path.is_null() {
        StoreConfig::memory()
    } else {
        // SAFETY: a non-NULL `wal_path` is a NUL-terminated string per the header contract.
        let path = unsafe { c_str(c.wal_path, "config wal_path", SA_ERR_INVALID_ARGUMENT) }?;
        if c.read_only {
            StoreConfig::read_only(path)
        } else {
            StoreConfig::durable(path)
        }
    };
    config.durability = durability(
        c.durability,
        "config field durability",
        SA_ERR_INVALID_ARGUMENT,
    )?;
    config.compact_threshold_bytes = c.compact_threshold_bytes;
    config.tombstone_retention = Duration::from_millis(c.tombstone_retention_ms);
    Ok(config)
}

/// Opens a store with `config` and stores its handle in `slot`.
pub(crate) fn open_into(config: StoreConfig, slot: &mut *mut sa_store) -> Result<(), Failure> {
    let store = StoreEngine::open(config)?;
    *slot = Box::into_raw(Box::new(sa_store { inner: store }));
    Ok(())
}

/// Fills `*out_config` with the library's store defaults, writing only the
/// `out_config->struct_size` bytes the caller set: no WAL (memory only), `SA_DURABLE`, not
/// read-only, and this library's compaction threshold and tombstone retention. This function
/// is where those values come from: read them from the struct it fills, never copy them; a
/// minor version may tune them. Thread-safe.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL, bad `struct_size`: nothing written).
#[no_mangle]
pub extern "C" fn sa_store_config_default(out_config: *mut sa_store_config) -> sa_status {
    guard(|| {
        // SAFETY: `out_config` is NULL (rejected) or valid per the header contract.
        unsafe { SizedOut::new(out_config, "out_config") }?.write(defaults());
        Ok(())
    })
}

/// Opens a store as `config` says (see `sa_store_config`; `sa_store_open` is this with the
/// defaults, a path and a durability). The config and its `wal_path` are only read during the
/// call. On success `*out_store` receives a handle to free with `sa_store_free`; on error it is
/// not written and no file is created. Thread-safe.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL `config` or `out_store`, bad `struct_size`, bad
/// durability, path not UTF-8: the message names the field), `SA_ERR_IO`, `SA_ERR_CORRUPT`
/// (damage that is not a torn tail), `SA_ERR_IN_USE` (another handle has the WAL open).
#[no_mangle]
pub extern "C" fn sa_store_open_with(
    config: *const sa_store_config,
    out_store: *mut *mut sa_store,
) -> sa_status {
    guard(|| {
        // SAFETY: `config` is NULL (rejected) or valid for its stated `struct_size` bytes.
        let c = unsafe { read_in(config, "config", defaults(), sa_store_config::MIN_SIZE) }?;
        // SAFETY: `out_store` is NULL (rejected) or writable.
        let slot = unsafe { out(out_store, "out_store") }?;
        open_into(from_c(&c)?, slot)
    })
}
