//! Status names, the last error message, and the library version.

use std::os::raw::c_char;

use super::error::{guard_value, last_error_ptr};
use super::types::*;

/// The static name of a status code (`"SA_OK"`, `"SA_ERR_NOT_FOUND"`, ...), or
/// `"SA_UNKNOWN_STATUS"` for a value that is not one. Never NULL; never freed.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn sa_status_str(status: i32) -> *const c_char {
    // The names come from the enum itself (see codes.rs), never from a second list.
    let name = sa_status::try_from(status).map_or("SA_UNKNOWN_STATUS\0", sa_status::c_name);
    name.as_ptr().cast()
}

/// The message of the last failed call on the calling thread (`""` after a successful call),
/// NUL-terminated UTF-8 naming the offending value, e.g.
/// `"sync operation not found: node-a-42"`. Borrowed: valid until the next `sa_` call on this
/// thread; never NULL; do not free. Thread-safe (each thread has its own).
#[no_mangle]
pub extern "C" fn sa_last_error_message() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    guard_value(EMPTY.as_ptr().cast(), last_error_ptr)
}

/// The library version, e.g. `"0.2.0"` (same as `SA_SYNC_VERSION_*`). Static; never freed.
#[no_mangle]
pub extern "C" fn sa_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_constants_match_the_wire_module() {
        use crate::wire;
        assert_eq!(SA_WIRE_FORMAT_VERSION, wire::FORMAT_VERSION);
        assert_eq!(SA_WIRE_HEADER_BYTES, wire::HEADER_BYTES);
        assert_eq!(SA_WIRE_MAX_BODY_BYTES, wire::MAX_FRAME_BODY_BYTES);
        assert_eq!(SA_V1_MAX_FRAME_BYTES, wire::V1_MAX_FRAME_BYTES);
    }

    #[test]
    fn version_macros_match_the_crate_version() {
        let expected =
            format!("{SA_SYNC_VERSION_MAJOR}.{SA_SYNC_VERSION_MINOR}.{SA_SYNC_VERSION_PATCH}");
        assert_eq!(expected, env!("CARGO_PKG_VERSION"));
    }
}
