//! Immutable bytes shared behind a thin (8-byte) handle: one allocation holds the reference
//! count, the length, where a head part ends and the bytes. A write's key and value live in
//! one such allocation (made *joined*: the key is the head), so that the store's slot, the
//! outbox's entry and every entry read back share it, and a write costs one allocation, not
//! two.
//!
//! A standard `Arc<[u8]>` handle is 16 bytes (pointer and length) and a key plus a value would
//! take two of them; `triomphe::ThinArc` keeps the length in the allocation, which std cannot
//! do without unsafe code (allowed only in `src/ffi`). The text of a key is checked as UTF-8
//! when it is read as text (`Key::as_str`): hot paths read its bytes.

use std::fmt;
use std::sync::LazyLock;

use triomphe::ThinArc;

#[derive(Clone)]
pub(crate) struct SharedBytes(ThinArc<Header, u8>);

/// Fits beside the length the allocation keeps anyway (16 bytes for both).
#[derive(Clone, Copy)]
struct Header {
    /// Where the head ends.
    split: u32,
    /// Made by [`SharedBytes::concat`].
    joined: bool,
}

/// The allocation every empty value shares: a delete's value costs no allocation.
static EMPTY: LazyLock<SharedBytes> = LazyLock::new(|| SharedBytes::new(0, &[]));

impl SharedBytes {
    /// `bytes`, whose head is the first `split` of them.
    pub fn new(split: u32, bytes: &[u8]) -> SharedBytes {
        let header = Header {
            split,
            joined: false,
        };
        SharedBytes(ThinArc::from_header_and_slice(header, bytes))
    }

    /// No bytes.
    pub fn empty() -> SharedBytes {
        EMPTY.clone()
    }

    /// `first` (the head) then `second`, joined in one allocation.
    pub fn concat(first: &[u8], second: &[u8]) -> SharedBytes {
        /// Up to this size the bytes are gathered on the stack; a larger value pays one more
        /// allocation, small beside copying it.
        const ON_STACK: usize = 256;
        let header = Header {
            split: u32::try_from(first.len()).expect("the head is a key (at most 64 KiB)"),
            joined: true,
        };
        let total = first.len() + second.len();
        if total <= ON_STACK {
            let mut gathered = [0u8; ON_STACK];
            gathered[..first.len()].copy_from_slice(first);
            gathered[first.len()..total].copy_from_slice(second);
            return SharedBytes(ThinArc::from_header_and_slice(header, &gathered[..total]));
        }
        let gathered = [first, second].concat();
        SharedBytes(ThinArc::from_header_and_slice(header, &gathered))
    }

    fn split(&self) -> usize {
        self.0.header.header.split as usize
    }

    /// Whether these bytes were made by [`SharedBytes::concat`].
    pub fn is_joined(&self) -> bool {
        self.0.header.header.joined
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0.slice
    }

    /// The bytes of the head.
    pub fn head(&self) -> &[u8] {
        &self.0.slice[..self.split()]
    }

    /// The bytes after the head.
    pub fn tail(&self) -> &[u8] {
        &self.0.slice[self.split()..]
    }

    /// Whether both handles share one allocation.
    pub fn same(&self, other: &SharedBytes) -> bool {
        self.0.ptr() == other.0.ptr()
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes, head {}>", self.bytes().len(), self.split())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_sharing() {
        let both = SharedBytes::concat(b"key", b"value");
        assert_eq!((both.head(), both.tail()), (&b"key"[..], &b"value"[..]));
        assert_eq!(both.bytes(), b"keyvalue");
        assert!(both.is_joined() && !SharedBytes::new(3, b"key").is_joined());
        assert!(both.same(&both.clone()));
        assert!(!both.same(&SharedBytes::concat(b"key", b"value")));
        let alone = SharedBytes::new(0, b"v");
        assert_eq!((alone.head(), alone.tail()), (&b""[..], &b"v"[..]));
        assert!(SharedBytes::empty().same(&SharedBytes::empty()));
        let large = vec![7u8; 1000];
        let joined = SharedBytes::concat(b"k", &large);
        assert_eq!((joined.head(), joined.tail()), (&b"k"[..], &large[..]));
        assert_eq!(std::mem::size_of::<Option<SharedBytes>>(), 8);
    }
}
