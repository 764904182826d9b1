//! Checking and converting C arguments. Every helper fails with a message naming the argument.

use std::ffi::CStr;
use std::os::raw::c_char;

use super::error::Failure;
use super::types::*;
use crate::store::{Key, StoreError, MAX_VALUE_BYTES};

/// A shared reference to a handle.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is a live handle.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(what))
}

/// An out-pointer to write the result into.
///
/// # Safety
/// `ptr` is NULL or valid for writes of a `T`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller guarantees a non-NULL `ptr` is writable.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(what))
}

/// A NUL-terminated C string as bytes (UTF-8 is checked by the engine type it becomes).
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn c_bytes<'a>(ptr: *const c_char, what: &str) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// A NUL-terminated C string as the text of a store key, checked as UTF-8 (the store's
/// message), for a key made together with its value (`Operation::from_parts`).
///
/// # Safety
/// As [`c_bytes`].
pub(crate) unsafe fn c_key_text<'a>(
    ptr: *const c_char,
) -> Result<Result<&'a str, StoreError>, Failure> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_bytes(ptr, "key") }?;
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8 (see `c_str`).
        return Ok(Ok(unsafe { std::str::from_utf8_unchecked(bytes) }));
    }
    Ok(Key::check_utf8(bytes))
}

/// A NUL-terminated C string that must be UTF-8; `status` is returned when it is not.
///
/// # Safety
/// As [`c_bytes`].
pub(crate) unsafe fn c_str<'a>(
    ptr: *const c_char,
    what: &str,
    status: sa_status,
) -> Result<&'a str, Failure> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_bytes(ptr, what) }?;
    if bytes.is_ascii() {
        // Ids and keys are nearly always ASCII: checked a word at a time, several times
        // faster than the general UTF-8 check on short strings.
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            status,
            format!(
                "{what} is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// `len` bytes at `ptr` (NULL allowed when `len` is 0). The length is checked against the
/// value limit before the memory is touched.
///
/// # Safety
/// When `len > 0`, `ptr` points to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn value_bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
    status: sa_status,
) -> Result<&'a [u8], Failure> {
    if len > MAX_VALUE_BYTES {
        return Err(Failure::new(
            status,
            format!("{what} of {len} bytes exceeds the limit of {MAX_VALUE_BYTES} bytes"),
        ));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-NULL, `len` readable bytes per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Copies `text` into a fixed C buffer, NUL-terminated.
pub(crate) fn copy_to_buffer(text: &str, buffer: &mut [c_char]) {
    // SAFETY: the buffer is a live, writable slice of `len` bytes.
    unsafe { write_text(buffer.as_mut_ptr().cast(), buffer.len(), &[text]) };
}

/// Writes `parts`, one after the other, NUL-terminated and cut to fit, into the `capacity`
/// bytes at `out`.
///
/// # Safety
/// `out` is valid for writes of `capacity` (> 0) bytes.
pub(crate) unsafe fn write_text(out: *mut u8, capacity: usize, parts: &[&str]) {
    let mut n = 0;
    for part in parts {
        let take = part.len().min(capacity - 1 - n);
        // SAFETY: `n + take < capacity` bytes from `out` are writable per the contract; the
        // source is a live string that cannot overlap the caller's buffer.
        unsafe { std::ptr::copy_nonoverlapping(part.as_ptr(), out.add(n), take) };
        n += take;
    }
    // SAFETY: `n < capacity`.
    unsafe { out.add(n).write(0) };
}

/// A string kept with a trailing NUL, for views that C can print directly.
#[derive(Debug, Clone)]
pub(crate) struct CText(Vec<u8>);

impl CText {
    pub fn new(text: &str) -> CText {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        CText(bytes)
    }

    pub fn view(&self) -> sa_str {
        sa_str {
            ptr: self.0.as_ptr().cast(),
            len: self.0.len() - 1,
        }
    }
}

static EMPTY: [u8; 1] = [0];

/// A view of bytes; never a NULL pointer.
pub(crate) fn bytes_view(bytes: &[u8]) -> sa_bytes {
    sa_bytes {
        ptr: if bytes.is_empty() {
            EMPTY.as_ptr()
        } else {
            bytes.as_ptr()
        },
        len: bytes.len(),
    }
}
