//! Values of the store: opaque bytes.

use std::fmt;
use std::hash::{Hash, Hasher};

use super::error::StoreError;
use crate::shared_bytes::SharedBytes;

/// The largest value accepted, in bytes (64 MiB).
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// A value of at most [`MAX_VALUE_BYTES`] bytes.
///
/// Cloning is cheap: every copy of a value shares one allocation (with the key it was written
/// at, when both were made together).
#[derive(Clone)]
pub struct Value(SharedBytes);

impl Value {
    /// A value holding `bytes`.
    pub fn new(bytes: &[u8]) -> Result<Value, StoreError> {
        Value::check(bytes)?;
        Ok(Value(SharedBytes::new(0, bytes)))
    }

    /// Whether `bytes` may be a value.
    pub(crate) fn check(bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.len() > MAX_VALUE_BYTES {
            return Err(StoreError::InvalidValue(format!(
                "value of {} bytes exceeds the limit of {MAX_VALUE_BYTES} bytes",
                bytes.len()
            )));
        }
        Ok(())
    }

    /// The value after the key in `shared` (see `Key::with_value`).
    pub(crate) fn from_shared(shared: SharedBytes) -> Value {
        Value(shared)
    }

    pub(crate) fn shared(&self) -> &SharedBytes {
        &self.0
    }

    /// A value holding the UTF-8 bytes of `text`.
    pub fn from_string(text: &str) -> Result<Value, StoreError> {
        Value::new(text.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.tail()
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// The bytes as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

/// The empty value, sharing one allocation with every other.
impl Default for Value {
    fn default() -> Value {
        Value(SharedBytes::empty())
    }
}

/// Equality and hash are those of the bytes.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(text) if text.len() <= 64 => write!(f, "{text:?}"),
            _ => write!(f, "<{} bytes>", self.len()),
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
        assert_eq!(Value::default(), Value::new(&[]).unwrap());
        let too_big = vec![0u8; MAX_VALUE_BYTES + 1];
        assert!(Value::new(&too_big).is_err());
    }
}
