//! Time: an injectable physical clock and the hybrid logical clock (HLC) that stamps writes.
//!
//! Wall-clock milliseconds alone cannot order writes (two writes in one millisecond, clocks that
//! step backwards, peers whose clocks are skewed). An HLC keeps the wall-clock meaning of a stamp
//! while guaranteeing that every stamp it issues is greater than every stamp it has issued or
//! observed before.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// A point in hybrid logical time: wall-clock milliseconds in the high 48 bits and a logical
/// counter in the low 16 bits. Packing both into one `u64` makes the order total and cheap, and
/// gives the C ABI and the wire a single integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Stamp(u64);

impl Stamp {
    /// The smallest stamp: older than any write.
    pub const ZERO: Stamp = Stamp(0);
    const LOGICAL_BITS: u32 = 16;
    /// The largest wall-clock value a stamp can hold (about the year 10889).
    pub const MAX_WALL_MS: u64 = (1 << (64 - Self::LOGICAL_BITS)) - 1;

    /// A stamp from its parts; `wall_ms` is clamped to [`Stamp::MAX_WALL_MS`].
    pub fn new(wall_ms: u64, logical: u16) -> Stamp {
        Stamp((wall_ms.min(Self::MAX_WALL_MS) << Self::LOGICAL_BITS) | u64::from(logical))
    }

    /// The stamp whose packed representation is `raw` (as returned by [`Stamp::raw`]).
    pub const fn from_raw(raw: u64) -> Stamp {
        Stamp(raw)
    }

    /// The packed representation: `wall_ms << 16 | logical`.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Wall-clock milliseconds since the Unix epoch.
    pub const fn wall_ms(self) -> u64 {
        self.0 >> Self::LOGICAL_BITS
    }

    /// The logical counter that orders stamps within one millisecond.
    pub const fn logical(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.wall_ms(), self.logical())
    }
}

/// The hybrid clock has issued its greatest stamp: no later local event can be ordered after
/// it. Reachable only with a physical clock at the top of the stamp range (about the year
/// 10889), such as a misset manual clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the hybrid clock is exhausted: no stamp after {last} exists (the physical clock reads \
     {physical_ms} ms, at or past the largest representable {max} ms)",
    max = Stamp::MAX_WALL_MS
)]
pub struct ClockExhausted {
    /// The last stamp issued or observed.
    pub last: Stamp,
    /// The physical reading at the time.
    pub physical_ms: u64,
}

/// `d` in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A source of physical time in milliseconds since the Unix epoch.
///
/// Injected everywhere time matters (stamps, ACK deadlines, retry back-off) so that tests and
/// simulations are deterministic.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        // A clock set before 1970 reads as the epoch; the HLC still only moves forward.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            // Seconds and sub-second millis, not `as_millis`: no 128-bit division on a call
            // every write makes.
            .map_or(0, |d| {
                d.as_secs()
                    .saturating_mul(1000)
                    .saturating_add(u64::from(d.subsec_millis()))
            })
    }
}

/// A clock that moves only when told to: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
}

impl ManualClock {
    /// A manual clock reading `now_ms`.
    pub fn new(now_ms: u64) -> ManualClock {
        ManualClock {
            now_ms: AtomicU64::new(now_ms),
        }
    }

    /// Sets the reading; it may go backwards, as a real wall clock can.
    pub fn set(&self, now_ms: u64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the reading forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = millis(by);
        self.now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(by))
            })
            .ok();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// The hybrid logical clock: issues strictly increasing stamps that track physical time.
#[derive(Debug, Clone)]
pub struct HybridClock {
    source: Arc<dyn Clock>,
    last: Stamp,
}

impl HybridClock {
    /// An HLC over `source` that has issued nothing yet.
    pub fn new(source: Arc<dyn Clock>) -> HybridClock {
        HybridClock {
            source,
            last: Stamp::ZERO,
        }
    }

    /// Physical time from the source, in milliseconds.
    pub fn physical_ms(&self) -> u64 {
        self.source.now_ms()
    }

    /// Replaces the physical source; stamps stay monotonic across the switch.
    pub fn set_source(&mut self, source: Arc<dyn Clock>) {
        self.source = source;
    }

    /// The next stamp for a local event: greater than every stamp issued or observed so far.
    /// Fails, changing nothing, only when the greatest stamp has been reached.
    pub fn tick(&mut self) -> Result<Stamp, ClockExhausted> {
        self.tick_at(self.source.now_ms())
    }

    /// [`HybridClock::tick`] at `reading`, a reading of the source the caller just took (a
    /// caller that needs the physical time too reads the clock once).
    pub fn tick_at(&mut self, reading: u64) -> Result<Stamp, ClockExhausted> {
        let physical = reading.min(Stamp::MAX_WALL_MS);
        let next = if physical > self.last.wall_ms() {
            Stamp::new(physical, 0)
        } else if self.last.logical() < u16::MAX {
            Stamp::new(self.last.wall_ms(), self.last.logical() + 1)
        } else if self.last.wall_ms() < Stamp::MAX_WALL_MS {
            // 65 536 events in one millisecond: borrow the next millisecond.
            Stamp::new(self.last.wall_ms() + 1, 0)
        } else {
            return Err(ClockExhausted {
                last: self.last,
                physical_ms: reading,
            });
        };
        self.last = next;
        Ok(next)
    }

    /// Records a stamp seen elsewhere (a remote write, a replayed record), so that later local
    /// stamps order after it.
    pub fn observe(&mut self, seen: Stamp) {
        self.last = self.last.max(seen);
    }

    /// The high-water mark: the greatest stamp issued or observed.
    pub fn last(&self) -> Stamp {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_packs_wall_and_logical() {
        let s = Stamp::new(1_700_000_000_000, 7);
        assert_eq!(s.wall_ms(), 1_700_000_000_000);
        assert_eq!(s.logical(), 7);
        assert_eq!(Stamp::from_raw(s.raw()), s);
        assert!(Stamp::new(5, 0) > Stamp::new(4, u16::MAX));
        assert_eq!(Stamp::new(u64::MAX, 0).wall_ms(), Stamp::MAX_WALL_MS);
    }

    #[test]
    fn hlc_is_strictly_monotonic_even_when_the_wall_clock_stalls_or_steps_back() {
        let wall = Arc::new(ManualClock::new(1_000));
        let mut hlc = HybridClock::new(wall.clone());
        let a = hlc.tick().unwrap();
        let b = hlc.tick().unwrap();
        wall.set(500);
        let c = hlc.tick().unwrap();
        wall.set(2_000);
        let d = hlc.tick().unwrap();
        assert!(a < b && b < c && c < d, "{a} {b} {c} {d}");
        assert_eq!(a, Stamp::new(1_000, 0));
        assert_eq!(c, Stamp::new(1_000, 2));
        assert_eq!(d, Stamp::new(2_000, 0));
    }

    #[test]
    fn hlc_orders_after_observed_remote_stamps() {
        let wall = Arc::new(ManualClock::new(1_000));
        let mut hlc = HybridClock::new(wall);
        hlc.observe(Stamp::new(9_000, 3));
        assert_eq!(hlc.tick(), Ok(Stamp::new(9_000, 4)));
    }

    #[test]
    fn hlc_borrows_a_millisecond_when_the_logical_counter_is_full() {
        let wall = Arc::new(ManualClock::new(10));
        let mut hlc = HybridClock::new(wall);
        hlc.observe(Stamp::new(10, u16::MAX));
        assert_eq!(hlc.tick(), Ok(Stamp::new(11, 0)));
    }

    #[test]
    fn hlc_at_the_top_of_the_range_refuses_instead_of_repeating_or_going_back() {
        let wall = Arc::new(ManualClock::new(u64::MAX));
        let mut hlc = HybridClock::new(wall);
        let mut last = Stamp::ZERO;
        for _ in 0..=u32::from(u16::MAX) {
            let next = hlc.tick().unwrap();
            assert!(next > last, "{next} after {last}");
            last = next;
        }
        assert_eq!(last, Stamp::new(Stamp::MAX_WALL_MS, u16::MAX));
        let err = hlc.tick().unwrap_err();
        assert_eq!(err.last, last);
        assert!(err.to_string().contains("exhausted"), "{err}");
        assert_eq!(hlc.last(), last, "a refused tick changes nothing");
    }

    #[test]
    fn manual_clock_advances() {
        let c = ManualClock::new(5);
        c.advance(Duration::from_millis(10));
        assert_eq!(c.now_ms(), 15);
    }
}
