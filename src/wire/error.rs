//! Why bytes could not be encoded or decoded.

use crate::binary::DecodeError;
use crate::sync::SyncError;

/// A frame that cannot be encoded or decoded, or an engine failure while handling one.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The bytes do not follow the format (truncated, bad tag, bad length, trailing bytes,
    /// invalid UTF-8, a field over its limit); the message names the field.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The frame starts with a valid magic but a format version this library does not know.
    #[error("unsupported wire format version {found} (this library reads version {supported})")]
    UnsupportedVersion { found: u8, supported: u8 },
    /// A frame to encode would exceed the size limit of its format.
    #[error("frame too large: {0}")]
    TooLarge(String),
    /// The engine failed while applying a decoded frame (an I/O error, ...).
    #[error(transparent)]
    Engine(#[from] SyncError),
}

impl From<DecodeError> for WireError {
    fn from(e: DecodeError) -> WireError {
        WireError::Malformed(e.0)
    }
}
