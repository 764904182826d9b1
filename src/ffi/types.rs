//! Plain C types shared by several functions: status codes, enums as integer constants,
//! borrowed string and byte views.

use std::os::raw::c_char;

/// Result of every fallible function: `SA_OK` (0) or an error code. The detailed message of
/// the last error on the calling thread is returned by `sa_last_error_message()`.
pub type sa_status = i32;
/// Success.
pub const SA_OK: sa_status = 0;
/// A required pointer was NULL, or an argument is out of range.
pub const SA_ERR_INVALID_ARGUMENT: sa_status = 1;
/// The engine cannot be built from this store and configuration.
pub const SA_ERR_INVALID_CONTEXT: sa_status = 2;
/// A node id is empty, too long, not UTF-8, or contains whitespace/control characters.
pub const SA_ERR_INVALID_NODE_ID: sa_status = 3;
/// A local operation was refused (invalid key or value, unknown type); nothing changed.
pub const SA_ERR_INVALID_OPERATION: sa_status = 4;
/// A remote operation was refused (empty sync id, bad origin, an origin equal to this node's
/// own id, version 0, clock skew, invalid key or value); the store is untouched.
pub const SA_ERR_INVALID_REMOTE_OPERATION: sa_status = 5;
/// No such sync operation (`sync operation not found: <id>`).
pub const SA_ERR_NOT_FOUND: sa_status = 6;
/// The operation cannot be queued in its current status.
pub const SA_ERR_QUEUE_FAILED: sa_status = 7;
/// The operation cannot be retried in its current status.
pub const SA_ERR_RETRY_FAILED: sa_status = 8;
/// Conflict resolution could not decide safely.
pub const SA_ERR_CONFLICT: sa_status = 9;
/// The store rejected a write.
pub const SA_ERR_STORE_APPLY: sa_status = 10;
/// ACK tracking refused the request (e.g. an empty sync id).
pub const SA_ERR_ACK_TRACKING: sa_status = 11;
/// The outbox is at `max_outbox_operations` or `max_outbox_bytes`; nothing was written.
pub const SA_ERR_CAPACITY_EXCEEDED: sa_status = 12;
/// A WAL read, write or sync failed.
pub const SA_ERR_IO: sa_status = 13;
/// The WAL (or a file beside it) holds damaged data that is not a torn tail; nothing was
/// truncated. The message names the file, the byte offset and the damage.
pub const SA_ERR_CORRUPT: sa_status = 14;
/// A bug in the library (a caught panic). The handle stays usable.
pub const SA_ERR_INTERNAL: sa_status = 15;
/// The WAL is open in another store handle (this process or another); only one handle may
/// hold a WAL at a time. Nothing was opened.
pub const SA_ERR_IN_USE: sa_status = 16;
/// Bytes received from another node do not form a valid frame (truncated, bad magic, unknown
/// format version, bad tag or length, trailing bytes, invalid UTF-8, a field over its limit);
/// the message names the problem. Nothing was applied.
pub const SA_ERR_MALFORMED_FRAME: sa_status = 17;

/// Store operation types (`int32_t` arguments).
pub const SA_OP_PUT: i32 = 1;
pub const SA_OP_DELETE: i32 = 2;

/// Durability modes (`int32_t`): `SA_DURABLE` returns once the WAL record is on disk
/// (fdatasync); `SA_FAST` once it is handed to the OS (survives a crash, not a power cut).
pub const SA_DURABLE: i32 = 1;
pub const SA_FAST: i32 = 2;

/// Conflict policies (`int32_t`).
pub const SA_POLICY_LAST_WRITE_WINS: i32 = 1;
pub const SA_POLICY_KEEP_LOCAL: i32 = 2;
pub const SA_POLICY_KEEP_REMOTE: i32 = 3;

/// Outbox statuses of an operation (`int32_t`).
pub const SA_STATUS_PENDING: i32 = 1;
pub const SA_STATUS_QUEUED: i32 = 2;
pub const SA_STATUS_IN_FLIGHT: i32 = 3;
pub const SA_STATUS_ACKNOWLEDGED: i32 = 4;
pub const SA_STATUS_FAILED: i32 = 5;

/// Outcomes of receiving a remote operation (`int32_t`).
pub const SA_APPLIED: i32 = 1;
pub const SA_IGNORED: i32 = 2;
pub const SA_DUPLICATE: i32 = 3;

/// Outcomes of an ACK (`int32_t`).
pub const SA_ACK_ACKNOWLEDGED: i32 = 1;
pub const SA_ACK_ALREADY_ACKNOWLEDGED: i32 = 2;

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
pub const SA_SYNC_VERSION_MINOR: u32 = 1;
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

/// Why a conflict resolution came out as it did (`int32_t`).
pub const SA_REASON_NO_LOCAL_ENTRY: i32 = 1;
pub const SA_REASON_SAME_WRITE: i32 = 2;
pub const SA_REASON_CAUSAL_SUCCESSOR: i32 = 3;
pub const SA_REASON_SAME_ORIGIN_NEWER: i32 = 4;
pub const SA_REASON_SAME_ORIGIN_OLDER: i32 = 5;
pub const SA_REASON_REMOTE_WINS: i32 = 6;
pub const SA_REASON_LOCAL_WINS: i32 = 7;
pub const SA_REASON_POLICY_KEEP_LOCAL: i32 = 8;
pub const SA_REASON_POLICY_KEEP_REMOTE: i32 = 9;
