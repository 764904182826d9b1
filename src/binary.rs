//! Little-endian binary encoding shared by the WAL and the sync journal.
//!
//! Integers are fixed-width little-endian; strings and byte arrays are a `u32` length followed
//! by the bytes, as in the C++ module's V1 wire format.

use std::fmt;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a [`Writer`] appends: a byte vector, or a buffer that stays inline while short.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Appends encoded values to a sink (a byte vector unless said otherwise).
pub struct Writer<'a, S: Sink = Vec<u8>> {
    out: &'a mut S,
}

impl<'a, S: Sink> Writer<'a, S> {
    pub fn new(out: &'a mut S) -> Writer<'a, S> {
        Writer { out }
    }

    pub fn u8(&mut self, v: u8) {
        self.out.put(&[v]);
    }

    pub fn u32(&mut self, v: u32) {
        self.out.put(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.out.put(&v.to_le_bytes());
    }

    /// A length-prefixed byte array. Callers bound lengths far below 4 GiB (keys 64 KiB,
    /// values 64 MiB), so the cast cannot truncate.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.out.put(v);
    }

    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
}

/// Reads encoded values from a byte slice, failing (never panicking) on short or bad input.
pub struct Reader<'a> {
    /// The bytes not read yet.
    rest: &'a [u8],
    /// The length of the whole input, for the offsets in messages.
    total: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: data,
            total: data.len(),
        }
    }

    /// The next `n` bytes. Inlined, with the message built out of line: a frame's operation
    /// reads a dozen fields, and a call plus two bounds checks per field was a tenth of
    /// decoding it.
    #[inline]
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        let Some((head, tail)) = self.rest.split_at_checked(n) else {
            return Err(self.truncated(n, what));
        };
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes.
    #[inline]
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let Some((head, tail)) = self.rest.split_first_chunk::<N>() else {
            return Err(self.truncated(N, what));
        };
        self.rest = tail;
        Ok(*head)
    }

    #[cold]
    fn truncated(&self, n: usize, what: &str) -> DecodeError {
        DecodeError(format!(
            "truncated {what}: needs {n} bytes at offset {}, {} left",
            self.total - self.rest.len(),
            self.rest.len()
        ))
    }

    #[inline]
    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    #[inline]
    pub fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    #[inline]
    pub fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    #[inline]
    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }

    pub fn str(&mut self, what: &str) -> Result<&'a str, DecodeError> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| DecodeError(format!("{what} is not valid UTF-8")))
    }

    /// How many bytes are not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The bytes not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self, what: &str) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError(format!(
                "{} unexpected trailing bytes after {what}",
                self.rest.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_short_input() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.u8(1);
        w.u32(7);
        w.u64(u64::MAX);
        w.str("user:1");
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u32("b").unwrap(), 7);
        assert_eq!(r.u64("c").unwrap(), u64::MAX);
        assert_eq!(r.str("d").unwrap(), "user:1");
        r.finish("record").unwrap();
        let mut short = Reader::new(&buf[..buf.len() - 1]);
        short.u8("a").unwrap();
        short.u32("b").unwrap();
        short.u64("c").unwrap();
        // The key's length (6) was read at offset 13; its bytes start at 17, 5 of them left.
        assert_eq!(
            short.str("key").unwrap_err().0,
            "truncated key: needs 6 bytes at offset 17, 5 left"
        );
        let mut empty = Reader::new(&[]);
        assert_eq!(
            empty.u64("stamp").unwrap_err().0,
            "truncated stamp: needs 8 bytes at offset 0, 0 left"
        );
        let mut trailing = Reader::new(&buf);
        trailing.u8("a").unwrap();
        assert_eq!(trailing.remaining(), buf.len() - 1);
        assert!(trailing
            .finish("record")
            .unwrap_err()
            .0
            .starts_with("22 unexpected"));
        assert_eq!(trailing.rest(), &buf[1..]);
        trailing.finish("record").unwrap();
    }

    #[test]
    fn huge_length_prefix_is_an_error_not_an_allocation() {
        let buf = [0xff, 0xff, 0xff, 0xff, 1];
        assert!(Reader::new(&buf).bytes("value").is_err());
    }
}
