//! Standalone conflict resolution.

use std::os::raw::c_char;

use super::args::c_str;
use super::error::{guard, Failure};
use super::sized::{growable, SizedOut};
use super::types::*;
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::WriteId;
use crate::sync::ConflictResolver;

/// A conflict decision: exactly one of `apply_remote` and `keep_local` is true.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_resolution {
    /// Set by the caller to `sizeof` this struct before the call (see the top of this header).
    pub struct_size: u32,
    pub conflict_detected: bool,
    pub apply_remote: bool,
    pub keep_local: bool,
    /// `SA_REASON_*`.
    pub reason: i32,
}

growable!(sa_resolution, min: 4; conflict_detected, apply_remote, keep_local, reason);

/// Decides whether a remote write (`remote_stamp` by `remote_node`) replaces the local one
/// (`local_stamp` by `local_node`; pass `has_local = false` when the key is unknown locally,
/// and then `local_stamp` and `local_node` are ignored and `local_node` may be NULL) under
/// `policy` (`SA_POLICY_*`). Deterministic: same inputs, same decision. Node ids are
/// NUL-terminated. Errors: `SA_ERR_INVALID_ARGUMENT` (NULL, unknown policy),
/// `SA_ERR_INVALID_NODE_ID`.
#[no_mangle]
pub extern "C" fn sa_conflict_resolve(
    policy: i32,
    has_local: bool,
    local_stamp: u64,
    local_node: *const c_char,
    remote_stamp: u64,
    remote_node: *const c_char,
    out_resolution: *mut sa_resolution,
) -> sa_status {
    guard(|| {
        let policy = super::config::policy(policy, "policy", SA_ERR_INVALID_ARGUMENT)?;
        let node = |p, what| -> Result<NodeId, Failure> {
            // SAFETY: NULL (rejected) or NUL-terminated per the header contract.
            Ok(NodeId::new(unsafe {
                c_str(p, what, SA_ERR_INVALID_NODE_ID)
            }?)?)
        };
        // Without a local write there is nothing to name: `local_node` is ignored (may be NULL).
        let local = if has_local {
            Some(WriteId {
                stamp: Stamp::from_raw(local_stamp),
                origin: Some(node(local_node, "local_node")?),
            })
        } else {
            None
        };
        let remote = WriteId {
            stamp: Stamp::from_raw(remote_stamp),
            origin: Some(node(remote_node, "remote_node")?),
        };
        // SAFETY: `out_resolution` is NULL (rejected) or writable.
        let slot = unsafe { SizedOut::new(out_resolution, "out_resolution") }?;
        let r = ConflictResolver::decide(
            local.as_ref().map(WriteId::borrowed),
            remote.borrowed(),
            None,
            policy,
        );
        slot.write(sa_resolution {
            struct_size: 0,
            conflict_detected: r.conflict_detected,
            apply_remote: r.apply_remote,
            keep_local: r.keep_local,
            reason: c_value::<sa_reason, _>(r.reason),
        });
        Ok(())
    })
}
