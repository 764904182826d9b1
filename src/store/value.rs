//! Values of the store: opaque bytes.

use std::fmt;
use std::sync::Arc;

use super::error::StoreError;

/// The largest value accepted, in bytes (64 MiB).
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// A value of at most [`MAX_VALUE_BYTES`] bytes.
///
/// Cloning is cheap: every copy of a value shares one allocation.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Value(Arc<[u8]>);

impl Value {
    /// A value holding `bytes`.
    pub fn new(bytes: &[u8]) -> Result<Value, StoreError> {
        if bytes.len() > MAX_VALUE_BYTES {
            return Err(StoreError::InvalidValue(format!(
                "value of {} bytes exceeds the limit of {MAX_VALUE_BYTES} bytes",
                bytes.len()
            )));
        }
        Ok(Value(Arc::from(bytes)))
    }

    /// A value holding the UTF-8 bytes of `text`.
    pub fn from_string(text: &str) -> Result<Value, StoreError> {
        Value::new(text.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(text) if text.len() <= 64 => write!(f, "{text:?}"),
            _ => write!(f, "<{} bytes>", self.0.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_views() {
        let v = Value::from_string("Gaspard").unwrap();
        assert_eq!(v.as_bytes(), b"Gaspard");
        assert_eq!(v.to_string_lossy(), "Gaspard");
        assert!(Value::new(&[]).unwrap().is_empty());
        let too_big = vec![0u8; MAX_VALUE_BYTES + 1];
        assert!(Value::new(&too_big).is_err());
    }
}
