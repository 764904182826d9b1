//! Plain C types shared by several functions: limits, borrowed string and byte views, and the
//! C enums (defined in `codes`).

use std::os::raw::c_char;

pub use super::codes::sa_ack_outcome::*;
pub use super::codes::sa_conflict_policy::*;
pub use super::codes::sa_durability::*;
pub use super::codes::sa_op_type::*;
pub use super::codes::sa_outbox_status::*;
pub use super::codes::sa_outcome::*;
pub use super::codes::sa_reason::*;
pub use super::codes::sa_status::*;
pub(crate) use super::codes::{c_value, engine_value};
pub use super::codes::{
    sa_ack_outcome, sa_conflict_policy, sa_durability, sa_op_type, sa_outbox_status, sa_outcome,
    sa_reason, sa_status,
};

/// Longest node id, in bytes (without the terminating NUL).
pub const SA_NODE_ID_MAX: usize = 256;
/// Size of a buffer that holds any node id, NUL included.
pub const SA_NODE_ID_BUFFER: usize = 257;
/// Size of a buffer that holds any sync id made by this library, NUL included.
pub const SA_SYNC_ID_MAX: usize = 280;

/// V2 wire format version written and read (`docs/wire-format.md`).
pub const SA_WIRE_FORMAT_VERSION: u8 = 2;
/// Bytes of a V2 frame header (magic, version, kind, body length): read this many bytes from a
/// stream, then the body length they declare.
pub const SA_WIRE_HEADER_BYTES: usize = 10;
/// Largest V2 frame body accepted or produced, in bytes (256 MiB).
pub const SA_WIRE_MAX_BODY_BYTES: usize = 268_435_456;
/// Largest V1 message accepted or produced, in bytes (the C++ transport's default 1 MiB).
pub const SA_V1_MAX_FRAME_BYTES: usize = 1_048_576;

/// Library version: major.
pub const SA_SYNC_VERSION_MAJOR: u32 = 0;
/// Library version: minor.
pub const SA_SYNC_VERSION_MINOR: u32 = 2;
/// Library version: patch.
pub const SA_SYNC_VERSION_PATCH: u32 = 0;

/// A borrowed UTF-8 string: `len` bytes at `ptr`, followed by a NUL (so `ptr` can also be
/// printed as a C string). Valid as long as the handle it came from.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_str {
    pub ptr: *const c_char,
    pub len: usize,
}

/// Borrowed bytes: `len` bytes at `ptr` (never NULL, even when `len` is 0). Valid as long as
/// the handle it came from.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_bytes {
    pub ptr: *const u8,
    pub len: usize,
}
