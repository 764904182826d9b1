//! Retry back-off: how long a timed-out operation waits before it is sent again.
//!
//! Exponential (each re-send waits twice as long as the previous one, up to a cap) so that a
//! peer that is down is not hammered, with "equal jitter" (half of the delay fixed, half spread)
//! so that operations that timed out together do not all come back together. The jitter is a
//! hash of the operation and attempt, not a random draw: the same run always schedules the same
//! retries, which keeps tests and simulations deterministic.

/// Delay in ms before re-send number `attempt` (1 for the first re-send) of the operation
/// identified by `salt`: `base · 2^(attempt-1)` capped at `cap`, of which the upper half is
/// jittered.
pub(crate) fn retry_delay_ms(base_ms: u64, cap_ms: u64, attempt: u32, salt: u64) -> u64 {
    let exponent = attempt.saturating_sub(1).min(63);
    let delay = base_ms
        .saturating_mul(1u64 << exponent)
        .min(cap_ms.max(base_ms));
    let half = delay / 2;
    half + mix(salt ^ u64::from(attempt).rotate_left(32)) % (delay - half + 1)
}

/// A salt for a node's operations: FNV-1a of its id, so nodes with equal sequences spread
/// differently.
pub(crate) fn node_salt(node_id: &str) -> u64 {
    node_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64 finaliser: spreads nearby inputs over the whole range.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_half_of_it_jittered() {
        for attempt in 1..=12 {
            let full = (100u64 << (attempt - 1)).min(5_000);
            let d = retry_delay_ms(100, 5_000, attempt, 42);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d} not in [{}, {full}]",
                full / 2
            );
        }
        assert!(
            retry_delay_ms(100, 5_000, 1_000, 7) <= 5_000,
            "no overflow on huge attempts"
        );
    }

    #[test]
    fn deterministic_per_operation_and_spread_across_operations() {
        assert_eq!(
            retry_delay_ms(1_000, 60_000, 3, 9),
            retry_delay_ms(1_000, 60_000, 3, 9)
        );
        let distinct: std::collections::HashSet<u64> = (0..100)
            .map(|seq| retry_delay_ms(1_000, 60_000, 3, seq))
            .collect();
        assert!(
            distinct.len() > 50,
            "jitter spreads retries: {}",
            distinct.len()
        );
        assert_ne!(node_salt("node-a"), node_salt("node-b"));
    }

    #[test]
    fn a_zero_interval_means_immediate_retry() {
        assert_eq!(retry_delay_ms(0, 0, 5, 1), 0);
    }
}
