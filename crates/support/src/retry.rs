//! When to try again: the server's `retry-after`, and exponential backoff with full jitter.

use std::time::Duration;

/// Reads a `retry-after` header value given in seconds (`"30"`, surrounding spaces allowed).
/// An HTTP date or anything else unreadable is `None`: the Vouch server sends seconds only, and
/// a caller without a hint falls back to its own backoff.
pub fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The waits between attempts: before attempt `n` (0-based count of the failures so far), a
/// uniformly random time in `[0, min(cap, base * 2^n)]`. "Full jitter": retries from many
/// clients spread out instead of arriving together. A server's `retry-after` raises the wait to
/// at least that, up to `max_retry_after` (so a wrong hint cannot park a client for a day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first ceiling.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    /// The longest `retry-after` honoured (`Duration::MAX`: any).
    pub max_retry_after: Duration,
}

impl Backoff {
    /// The ceiling before attempt `n` (0-based): `min(cap, base * 2^n)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before attempt `n` (0-based), given a uniformly random `u64` (the caller's RNG,
    /// so tests can pick it) and the server's `retry-after`, if any.
    pub fn delay(&self, attempt: u32, random: u64, retry_after: Option<Duration>) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(random % ceiling.saturating_add(1));
        match retry_after {
            Some(at_least) => jittered.max(at_least.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(base_ms: u64, cap_ms: u64) -> Backoff {
        Backoff {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn retry_after_is_whole_seconds() {
        assert_eq!(parse_retry_after(b"30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(b" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(b"0"), Some(Duration::ZERO));
        for bad in [
            &b""[..],
            b"-1",
            b"1.5",
            b"soon",
            b"Wed, 21 Oct 2015 07:28:00 GMT",
            b"\xff",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_retry_after(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = backoff(100, 1000);
        let c: Vec<u128> = (0..6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(c, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(31), Duration::from_millis(1000));
        assert_eq!(b.ceiling(200), Duration::from_millis(1000));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_reach_it() {
        let b = backoff(100, 1000);
        for r in [0u64, 1, 99, 100, 101, 12345, u64::MAX] {
            assert!(b.delay(1, r, None) <= Duration::from_millis(200));
        }
        assert_eq!(b.delay(0, 100, None), Duration::from_millis(100));
        assert_eq!(b.delay(0, 0, None), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_a_lower_bound_up_to_its_own_cap() {
        let b = backoff(100, 1000);
        assert_eq!(
            b.delay(0, 0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.delay(0, 0, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
        // A hint shorter than the jittered wait does not shorten it.
        assert_eq!(
            b.delay(0, 100, Some(Duration::from_millis(1))),
            Duration::from_millis(100)
        );
        let unbounded = Backoff {
            max_retry_after: Duration::MAX,
            ..b
        };
        assert_eq!(
            unbounded.delay(0, 0, Some(Duration::from_secs(3600))),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn huge_bounds_do_not_overflow() {
        let b = Backoff {
            base: Duration::MAX,
            cap: Duration::MAX,
            max_retry_after: Duration::MAX,
        };
        assert_eq!(b.ceiling(40), Duration::MAX);
        assert!(b.delay(40, u64::MAX, Some(Duration::MAX)) == Duration::MAX);
    }
}
