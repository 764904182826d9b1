//! Short byte strings held inline: the bytes the owning layer attaches to each write (its
//! extension: a few bytes of tracking, logged with the write) cost no allocation of their own,
//! where a `Vec` cost a malloc and a free per write, about a tenth of a logged write's work.

use std::fmt;
use std::ops::Deref;

/// The longest byte string held inline (the enum is then as large as a `Vec`).
const INLINE: usize = 22;

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

/// Immutable bytes, inline when at most 22.
#[derive(Clone, PartialEq, Eq)]
pub struct SmallBytes(Repr);

impl SmallBytes {
    pub fn new(bytes: &[u8]) -> SmallBytes {
        let mut builder = SmallBytesBuilder::default();
        builder.push(bytes);
        builder.finish()
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(bytes) => bytes,
        }
    }
}

impl Default for SmallBytes {
    fn default() -> SmallBytes {
        SmallBytes(Repr::Inline {
            len: 0,
            bytes: [0; INLINE],
        })
    }
}

impl Deref for SmallBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_bytes(), f)
    }
}

/// Builds [`SmallBytes`] in place: inline until it outgrows the inline room.
#[derive(Default)]
pub struct SmallBytesBuilder {
    len: usize,
    inline: [u8; INLINE],
    spilled: Vec<u8>,
}

impl SmallBytesBuilder {
    pub fn push(&mut self, bytes: &[u8]) {
        if self.spilled.is_empty() && self.len + bytes.len() <= INLINE {
            self.inline[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline[..self.len]);
            }
            self.spilled.extend_from_slice(bytes);
        }
    }

    pub fn finish(self) -> SmallBytes {
        if self.spilled.is_empty() {
            SmallBytes(Repr::Inline {
                len: self.len as u8,
                bytes: self.inline,
            })
        } else {
            SmallBytes(Repr::Heap(self.spilled.into_boxed_slice()))
        }
    }
}

impl crate::binary::Sink for SmallBytesBuilder {
    fn put(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_any_length_and_builds_what_new_makes() {
        let data: Vec<u8> = (0..100u8).collect();
        for len in [0, 1, 9, 21, 22, 23, 64, 100] {
            let made = SmallBytes::new(&data[..len]);
            assert_eq!(made.as_bytes(), &data[..len]);
            let mut builder = SmallBytesBuilder::default();
            for chunk in data[..len].chunks(5) {
                builder.push(chunk);
            }
            assert_eq!(builder.finish(), made, "{len} bytes");
        }
        assert!(SmallBytes::default().is_empty());
        assert_eq!(
            std::mem::size_of::<SmallBytes>(),
            std::mem::size_of::<Vec<u8>>()
        );
    }
}
