//! Exponential backoff with full jitter.

use std::time::Duration;

/// The waits between attempts: before retry `n` (1-based), a uniformly random time in
/// `[0, min(cap, base * 2^(n-1))]` ("full jitter": retries from many tablets spread out instead
/// of arriving together). A server's `retry-after` raises the wait to at least that, up to a
/// minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first ceiling.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
}

/// The longest `retry-after` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Backoff {
    /// The ceiling before retry `n` (1-based): `min(cap, base * 2^(n-1))`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry `n`, given a uniformly random `u64` and the server's
    /// `retry-after`, if any.
    pub fn delay(&self, retry: u32, random: u64, retry_after: Option<Duration>) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(random % ceiling.saturating_add(1));
        match retry_after {
            Some(at_least) => jittered.max(at_least.min(MAX_RETRY_AFTER)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        };
        let c: Vec<u128> = (1..=6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(c, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(200), Duration::from_millis(1000));
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_respect_retry_after() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        };
        for r in [0u64, 1, 99, 100, 101, 12345, u64::MAX] {
            assert!(b.delay(2, r, None) <= Duration::from_millis(200));
        }
        assert_eq!(b.delay(1, 100, None), Duration::from_millis(100));
        assert_eq!(
            b.delay(1, 0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.delay(1, 0, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }
}
