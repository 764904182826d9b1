//! Keys of the store.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::error::StoreError;
use super::value::Value;
use crate::shared_bytes::SharedBytes;

/// The longest key accepted, in bytes (64 KiB).
pub const MAX_KEY_BYTES: usize = 64 * 1024;

/// A validated key: non-empty UTF-8 of at most [`MAX_KEY_BYTES`] bytes.
///
/// Cloning is cheap: every copy of a key (the store's, and those layers above keep) shares one
/// allocation, which a key written with a value shares with that value (see
/// `src/shared_bytes.rs`).
#[derive(Clone)]
pub struct Key(SharedBytes);

impl Key {
    /// Validates `value` as a key.
    pub fn new(value: &str) -> Result<Key, StoreError> {
        Key::check(value)?;
        Ok(Key(SharedBytes::new(value.len() as u32, value.as_bytes())))
    }

    /// Validates raw bytes (from C or the wire) as a UTF-8 key.
    pub fn from_utf8(bytes: &[u8]) -> Result<Key, StoreError> {
        Key::new(Key::check_utf8(bytes)?)
    }

    /// `bytes` as text if they are UTF-8 (the message of [`Key::from_utf8`] otherwise).
    pub(crate) fn check_utf8(bytes: &[u8]) -> Result<&str, StoreError> {
        std::str::from_utf8(bytes).map_err(|e| {
            StoreError::InvalidKey(format!(
                "key is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ))
        })
    }

    /// Whether `value` is a valid key.
    pub(crate) fn check(value: &str) -> Result<(), StoreError> {
        if value.is_empty() {
            return Err(StoreError::InvalidKey("key is empty".into()));
        }
        if value.len() > MAX_KEY_BYTES {
            return Err(StoreError::InvalidKey(format!(
                "key of {} bytes exceeds the limit of {MAX_KEY_BYTES} bytes",
                value.len()
            )));
        }
        Ok(())
    }

    /// A checked key and a checked value in one allocation (one write's key and value).
    pub(crate) fn with_value(key: &str, value: &[u8]) -> Result<(Key, Value), StoreError> {
        Key::check(key)?;
        Value::check(value)?;
        let shared = SharedBytes::concat(key.as_bytes(), value);
        Ok((Key(shared.clone()), Value::from_shared(shared)))
    }

    /// Whether `value` is the one this key was made with (one allocation).
    pub(crate) fn holds(&self, value: &Value) -> bool {
        self.0.same(value.shared())
    }

    /// This key made with `value`: itself when it holds it already, a fresh allocation holding
    /// both otherwise.
    pub(crate) fn with(&self, value: &Value) -> Key {
        if self.holds(value) {
            return self.clone();
        }
        Key(SharedBytes::concat(self.as_bytes(), value.as_bytes()))
    }

    /// The value held in this key's allocation (empty for a key made alone).
    pub(crate) fn joined_value(&self) -> Value {
        Value::from_shared(self.0.clone())
    }

    /// The value this key was made with, if it was made with one (see [`Key::with_value`]).
    pub(crate) fn value(&self) -> Option<Value> {
        self.0.is_joined().then(|| self.joined_value())
    }

    /// The bytes of [`Key::value`].
    pub(crate) fn value_bytes(&self) -> Option<&[u8]> {
        self.0.is_joined().then(|| self.0.tail())
    }

    /// The value bytes held in this key's allocation (none for a key made alone).
    pub(crate) fn joined_value_bytes(&self) -> &[u8] {
        self.0.tail()
    }

    /// The same key in an allocation of its own: for a holder that outlives the write the key
    /// came with, so that it does not keep that write's value alive.
    pub(crate) fn detached(&self) -> Key {
        if !self.0.is_joined() {
            return self.clone();
        }
        Key(SharedBytes::new(
            self.as_bytes().len() as u32,
            self.as_bytes(),
        ))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("keys are validated UTF-8")
    }

    /// The key's UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.head()
    }
}

/// Equality, order and hash are those of the text (byte-wise, as `str`'s).
impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Hashes as `str` does (`Hasher::write_str`, which only nightly Rust lets a hasher override,
/// writes the bytes then `0xff`), without checking the bytes as UTF-8 again: keys are hashed on
/// every write of a batch. A test keeps it equal to the text's hash.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

/// Lets sorted and hashed collections of keys be searched by `&str`; consistent with `Eq`,
/// `Ord` and `Hash`, which all compare the text.
impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
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

    #[test]
    fn hashes_as_its_text() {
        use std::hash::BuildHasher;
        let key = Key::new("user:1").unwrap();
        let foldhash = foldhash::fast::RandomState::default();
        assert_eq!(foldhash.hash_one(&key), foldhash.hash_one("user:1"));
        let std = std::collections::hash_map::RandomState::new();
        assert_eq!(std.hash_one(&key), std.hash_one("user:1"));
    }

    #[test]
    fn a_key_written_with_a_value_shares_its_allocation() {
        let (key, value) = Key::with_value("user:1", b"Gaspard").unwrap();
        assert_eq!(
            (key.as_str(), value.as_bytes()),
            ("user:1", &b"Gaspard"[..])
        );
        assert_eq!(key, Key::new("user:1").unwrap());
        assert_eq!(key.joined_value(), value);
        assert!(key.holds(&value) && key.with(&value).0.same(&key.0));
        let apart = Key::new("k").unwrap().with(&value);
        assert!(!apart.holds(&value));
        assert_eq!((apart.as_str(), apart.value()), ("k", Some(value)));
        assert_eq!(key.value(), Some(Value::from_string("Gaspard").unwrap()));
        assert_eq!(key.detached(), key);
        assert_eq!(key.detached().value(), None);
        assert_eq!(
            Key::with_value("k", b"").unwrap().0.value_bytes(),
            Some(&b""[..])
        );
        assert!(Key::with_value("", b"v").is_err());
    }
}
