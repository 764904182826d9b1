//! A seeded pseudo-random sequence for tests: reproducible mixes of operations.

/// xorshift64: fast, and the same sequence for the same seed on every machine.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A sequence starting from `seed` (not 0: zero stays zero).
    pub fn new(seed: u64) -> XorShift {
        assert_ne!(seed, 0, "xorshift needs a non-zero seed");
        XorShift(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
