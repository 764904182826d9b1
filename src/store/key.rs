//! Keys of the store.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use super::error::StoreError;

/// The longest key accepted, in bytes (64 KiB).
pub const MAX_KEY_BYTES: usize = 64 * 1024;

/// A validated key: non-empty UTF-8 of at most [`MAX_KEY_BYTES`] bytes.
///
/// Cloning is cheap: every copy of a key (the store's, and those layers above keep) shares one allocation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<str>);

impl Key {
    /// Validates `value` as a key.
    pub fn new(value: &str) -> Result<Key, StoreError> {
        if value.is_empty() {
            return Err(StoreError::InvalidKey("key is empty".into()));
        }
        if value.len() > MAX_KEY_BYTES {
            return Err(StoreError::InvalidKey(format!(
                "key of {} bytes exceeds the limit of {MAX_KEY_BYTES} bytes",
                value.len()
            )));
        }
        Ok(Key(Arc::from(value)))
    }

    /// Validates raw bytes (from C or the wire) as a UTF-8 key.
    pub fn from_utf8(bytes: &[u8]) -> Result<Key, StoreError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            StoreError::InvalidKey(format!(
                "key is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        Key::new(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lets sorted and hashed collections of keys be searched by `&str`; consistent with `Eq`,
/// `Ord` and `Hash`, which all compare the text.
impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        assert_eq!(Key::new("user:1").unwrap().as_str(), "user:1");
        assert!(Key::new("")
            .unwrap_err()
            .to_string()
            .contains("key is empty"));
        assert!(Key::new(&"k".repeat(MAX_KEY_BYTES)).is_ok());
        let long = Key::new(&"k".repeat(MAX_KEY_BYTES + 1)).unwrap_err();
        assert!(long.to_string().contains("65537 bytes"), "{long}");
        let bad = Key::from_utf8(b"ab\xffcd").unwrap_err();
        assert!(bad.to_string().contains("offset 2"), "{bad}");
    }
}
