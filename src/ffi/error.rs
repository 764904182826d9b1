//! Errors at the boundary: a status code and a message, kept per thread for
//! `sa_last_error_message`, and the panic boundary every export runs in.

use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::types::*;
use crate::node::InvalidNodeId;
use crate::store::StoreError;
use crate::sync::{ErrorKind, SyncError};

/// A failed call: what to return and what to tell.
pub(crate) struct Failure {
    pub status: sa_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: sa_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn null(what: &str) -> Failure {
        Failure::new(SA_ERR_INVALID_ARGUMENT, format!("{what} is NULL"))
    }
}

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Failure {
        let status = match &e {
            // A store error has the status of the store error, whichever path it came through.
            SyncError::Store { source, .. } => store_status(source),
            _ => match e.kind() {
                ErrorKind::InvalidContext => SA_ERR_INVALID_CONTEXT,
                ErrorKind::InvalidNodeId => SA_ERR_INVALID_NODE_ID,
                ErrorKind::InvalidLocalOperation => SA_ERR_INVALID_OPERATION,
                ErrorKind::InvalidRemoteOperation => SA_ERR_INVALID_REMOTE_OPERATION,
                ErrorKind::NotFound => SA_ERR_NOT_FOUND,
                ErrorKind::QueueFailed => SA_ERR_QUEUE_FAILED,
                ErrorKind::RetryFailed => SA_ERR_RETRY_FAILED,
                ErrorKind::ConflictResolutionFailed => SA_ERR_CONFLICT,
                ErrorKind::StoreApplyFailed => SA_ERR_STORE_APPLY,
                ErrorKind::AckTrackingFailed => SA_ERR_ACK_TRACKING,
                ErrorKind::CapacityExceeded => SA_ERR_CAPACITY_EXCEEDED,
                ErrorKind::Io => SA_ERR_IO,
                ErrorKind::Corrupt => SA_ERR_CORRUPT,
                ErrorKind::InUse => SA_ERR_IN_USE,
            },
        };
        Failure::new(status, e.to_string())
    }
}

/// The one status of a store error, the same whether it comes from a store function or
/// through the sync engine: an invalid key or value is the caller's operation being refused
/// (`SA_ERR_INVALID_OPERATION`); `SA_ERR_STORE_APPLY` is kept for a valid write the store
/// cannot take (its clock is exhausted).
fn store_status(e: &StoreError) -> sa_status {
    match e {
        StoreError::InvalidKey(_) | StoreError::InvalidValue(_) => SA_ERR_INVALID_OPERATION,
        StoreError::Io { .. }
        | StoreError::Poisoned { .. }
        | StoreError::ReadOnly { .. }
        | StoreError::Closed => SA_ERR_IO,
        StoreError::Corrupt { .. } => SA_ERR_CORRUPT,
        StoreError::InUse { .. } => SA_ERR_IN_USE,
        StoreError::ClockExhausted(_) => SA_ERR_STORE_APPLY,
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::new(store_status(&e), e.to_string())
    }
}

impl From<InvalidNodeId> for Failure {
    fn from(e: InvalidNodeId) -> Failure {
        Failure::new(SA_ERR_INVALID_NODE_ID, e.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// Whether `LAST_ERROR` holds a message: a plain flag, so that the check every successful
    /// call makes needs no lazily initialised, destructor-carrying thread-local.
    static HAS_LAST_ERROR: Cell<bool> = const { Cell::new(false) };
}

fn set_last_error(message: &str) {
    // A message cannot carry a NUL into C; replace any (they can only come from user input).
    let clean = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = clean);
    HAS_LAST_ERROR.set(true);
}

/// A success clears the message; without allocating when it is already clear (every call
/// succeeding on a hot path).
fn clear_last_error() {
    if !HAS_LAST_ERROR.replace(false) {
        return;
    }
    LAST_ERROR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if !slot.as_bytes().is_empty() {
            *slot = CString::default();
        }
    });
}

/// The last error message of this thread, NUL-terminated; valid until the next call on it.
pub(crate) fn last_error_ptr() -> *const std::os::raw::c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// Runs one exported function's body: records the message of a failure, and turns a panic
/// into `SA_ERR_INTERNAL` instead of unwinding into C.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> sa_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear_last_error();
            SA_OK
        }
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error: {what}"));
            SA_ERR_INTERNAL
        }
    }
}

/// Like [`guard`] for functions that cannot fail but must not unwind (accessors returning a
/// value): a panic yields `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_error_has_one_status_whichever_path_it_comes_through() {
        let errors = || {
            vec![
                StoreError::InvalidKey("key is empty".into()),
                StoreError::InvalidValue("value too long".into()),
                StoreError::InUse {
                    path: "a.wal".into(),
                },
                StoreError::Poisoned {
                    path: "a.wal".into(),
                    reason: "earlier failure".into(),
                },
                StoreError::Corrupt {
                    path: "a.wal".into(),
                    offset: 7,
                    reason: "bad checksum".into(),
                },
            ]
        };
        for (direct, through_sync) in errors().into_iter().zip(errors()) {
            let direct = Failure::from(direct).status;
            let via = Failure::from(SyncError::Store {
                context: "remote apply",
                source: through_sync,
            });
            assert_eq!(direct, via.status, "{}", via.message);
        }
        assert_eq!(
            Failure::from(StoreError::InvalidKey("key is empty".into())).status,
            SA_ERR_INVALID_OPERATION
        );
    }
}
