//! The sync configuration as a plain C struct.

use std::os::raw::c_char;
use std::time::Duration;

use super::args::{c_str, copy_to_buffer};
use super::error::{guard, Failure};
use super::sized::{read_in, spans, Growable, SizedOut};
use super::store::durability;
use super::types::*;
use crate::sync::{ConflictPolicy, SyncConfig};

/// Sync settings. Set `struct_size = sizeof(sa_sync_config)`, fill with
/// `sa_sync_config_durable` or `sa_sync_config_fast`, then change fields. Durations are
/// milliseconds. As every growable struct (see the top of this header): the library reads only
/// the caller's `struct_size` bytes and gives the fields after them the durable preset's
/// values; the smallest size accepted ends with `node_id`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_sync_config {
    pub struct_size: u32,
    /// This node's id, NUL-terminated UTF-8 (1–256 bytes, no whitespace or control chars).
    pub node_id: [c_char; SA_NODE_ID_BUFFER],
    /// `SA_DURABLE` or `SA_FAST`: when a submitted write returns.
    pub durability: i32,
    /// Queue operations as they are submitted.
    pub auto_queue: bool,
    /// Keep sent operations in flight until acknowledged.
    pub require_ack: bool,
    pub ack_timeout_ms: u64,
    /// Wait before the first re-send; each later re-send waits twice as long, up to
    /// `retry_backoff_max_ms`, the upper half jittered.
    pub retry_interval_ms: u64,
    /// Re-sends allowed after the first send.
    pub max_retries: u32,
    /// `SA_POLICY_*`.
    pub conflict_policy: i32,
    /// Most operations per batch (1–65536).
    pub batch_size: u32,
    pub max_outbox_operations: u64,
    pub max_outbox_bytes: u64,
    /// Remote stamps further ahead of the local clock are rejected.
    pub max_clock_skew_ms: u64,
    /// The longest wait between two re-sends.
    pub retry_backoff_max_ms: u64,
}

fn to_c(config: &SyncConfig) -> sa_sync_config {
    let mut c = sa_sync_config {
        struct_size: std::mem::size_of::<sa_sync_config>() as u32,
        node_id: [0; SA_NODE_ID_BUFFER],
        durability: c_value::<sa_durability, _>(config.durability),
        auto_queue: config.auto_queue,
        require_ack: config.require_ack,
        ack_timeout_ms: crate::clock::millis(config.ack_timeout),
        retry_interval_ms: crate::clock::millis(config.retry_interval),
        max_retries: config.max_retries,
        conflict_policy: c_value::<sa_conflict_policy, _>(config.conflict_policy),
        batch_size: config.batch_size as u32,
        max_outbox_operations: config.max_outbox_operations as u64,
        max_outbox_bytes: config.max_outbox_bytes,
        max_clock_skew_ms: crate::clock::millis(config.max_clock_skew),
        retry_backoff_max_ms: crate::clock::millis(config.retry_backoff_max),
    };
    copy_to_buffer(&config.node_id, &mut c.node_id);
    c
}

// SAFETY: repr(C), starts with `struct_size: u32`; every field is an integer, a char array or a
// bool.
unsafe impl Growable for sa_sync_config {
    const NAME: &'static str = "sa_sync_config";
    const MIN_SIZE: usize = std::mem::offset_of!(sa_sync_config, node_id) + SA_NODE_ID_BUFFER;

    fn spans(&self) -> Vec<(usize, usize)> {
        spans!(self, sa_sync_config; node_id, durability, auto_queue, require_ack,
            ack_timeout_ms, retry_interval_ms, max_retries, conflict_policy, batch_size,
            max_outbox_operations, max_outbox_bytes, max_clock_skew_ms, retry_backoff_max_ms)
    }

    fn set_struct_size(&mut self, size: u32) {
        self.struct_size = size;
    }
}

/// Reads a config from C (`struct_size` bytes of it; the durable preset for the rest) and
/// converts it, checking every field.
///
/// # Safety
/// `ptr` is NULL (rejected) or valid for reads of its stated `struct_size` bytes.
pub(crate) unsafe fn read_config(ptr: *const sa_sync_config) -> Result<SyncConfig, Failure> {
    let defaults = to_c(&SyncConfig::durable(""));
    // SAFETY: forwarded contract.
    from_c(&unsafe { read_in(ptr, "config", defaults, sa_sync_config::MIN_SIZE) }?)
}

/// The conflict policy `code`; `status` (with `what` naming the argument or field) if it is
/// not an `SA_POLICY_*` value.
pub(crate) fn policy(code: i32, what: &str, status: sa_status) -> Result<ConflictPolicy, Failure> {
    engine_value::<sa_conflict_policy, _>(code)
        .ok_or_else(|| Failure::new(status, format!("{what} {code} is not an SA_POLICY_* value")))
}

/// Converts a full C config to the engine's, checking the enum fields.
fn from_c(c: &sa_sync_config) -> Result<SyncConfig, Failure> {
    if !c.node_id.contains(&0) {
        return Err(Failure::new(
            SA_ERR_INVALID_NODE_ID,
            "config node_id is not NUL-terminated",
        ));
    }
    // SAFETY: the buffer holds a NUL (checked above) and lives for this call.
    let node_id = unsafe { c_str(c.node_id.as_ptr(), "config node_id", SA_ERR_INVALID_NODE_ID) }?;
    let conflict_policy = policy(
        c.conflict_policy,
        "invalid sync context: config field conflict_policy",
        SA_ERR_INVALID_CONTEXT,
    )?;
    Ok(SyncConfig {
        node_id: node_id.to_string(),
        durability: durability(
            c.durability,
            "invalid sync context: config field durability",
            SA_ERR_INVALID_CONTEXT,
        )?,
        auto_queue: c.auto_queue,
        require_ack: c.require_ack,
        ack_timeout: Duration::from_millis(c.ack_timeout_ms),
        retry_interval: Duration::from_millis(c.retry_interval_ms),
        retry_backoff_max: Duration::from_millis(c.retry_backoff_max_ms),
        max_retries: c.max_retries,
        conflict_policy,
        batch_size: c.batch_size as usize,
        max_outbox_operations: usize::try_from(c.max_outbox_operations).unwrap_or(usize::MAX),
        max_outbox_bytes: c.max_outbox_bytes,
        max_clock_skew: Duration::from_millis(c.max_clock_skew_ms),
    })
}

fn fill(
    node_id: *const c_char,
    out_config: *mut sa_sync_config,
    preset: fn(&str) -> SyncConfig,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid per the header contract.
        let node = unsafe { c_str(node_id, "node_id", SA_ERR_INVALID_NODE_ID) }?;
        crate::node::NodeId::new(node)?;
        let preset = to_c(&preset(node));
        // SAFETY: as above.
        unsafe { SizedOut::new(out_config, "out_config") }?.write(preset);
        Ok(())
    })
}

/// Fills `*out_config` with the durable preset for `node_id` (NUL-terminated), writing only the
/// `out_config->struct_size` bytes the caller set (see the top of this header): writes on disk
/// before they return, ACKs required, last-write-wins. This function is where the preset's
/// values (batch size, retries, timeouts, outbox caps, clock skew) come from: read them from
/// the struct it fills, never copy them; a minor version may tune them.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL, bad `struct_size`: nothing written),
/// `SA_ERR_INVALID_NODE_ID`.
#[no_mangle]
pub extern "C" fn sa_sync_config_durable(
    node_id: *const c_char,
    out_config: *mut sa_sync_config,
) -> sa_status {
    fill(node_id, out_config, SyncConfig::durable)
}

/// Checks every field of `config` as `sa_sync_new` would, without building an engine.
/// Errors: `SA_ERR_INVALID_ARGUMENT` (NULL, bad struct_size), `SA_ERR_INVALID_NODE_ID`,
/// `SA_ERR_INVALID_CONTEXT` (the message names the bad field).
#[no_mangle]
pub extern "C" fn sa_sync_config_validate(config: *const sa_sync_config) -> sa_status {
    guard(|| {
        // SAFETY: `config` is NULL (rejected) or a valid struct per the header contract.
        let config = unsafe { read_config(config) }?;
        config.validate()?;
        Ok(())
    })
}

/// Like `sa_sync_config_durable`, but writes return once handed to the OS, ACKs are not
/// required (a batch counts as delivered) and batches are larger (as the C++ module's fast
/// preset); read the values from the struct it fills.
#[no_mangle]
pub extern "C" fn sa_sync_config_fast(
    node_id: *const c_char,
    out_config: *mut sa_sync_config,
) -> sa_status {
    fill(node_id, out_config, SyncConfig::fast)
}
