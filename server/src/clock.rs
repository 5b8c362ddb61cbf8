//! The server's clock: the one place that reads the system time.
//!
//! Everything that needs the time of day (nonce expiry, certificate validity, CRL times, invite
//! expiry, audit timestamps, received-at times) gets it from a [`Clock`] handed in: the
//! application state holds one ([`crate::AppState::clock`]), the authority holds the same one,
//! and the rules in [`crate::domain`] take `now_ms` as an argument. Tests hand in a
//! [`FixedClock`].
//!
//! `std::time::Instant` is still read where durations are measured, not times of day: request
//! timing for metrics and the log (`api::observe`), connection deadlines and rate-limited
//! logging (`conn/`), and the group-commit thread's busy window (`store/group_commit.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that says what it is told (tests).
#[derive(Debug, Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    /// A clock standing at `now_ms`.
    pub fn at(now_ms: u64) -> Self {
        Self(AtomicU64::new(now_ms))
    }

    /// Moves the clock to `now_ms`.
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::Relaxed);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_past_2026_and_a_fixed_clock_moves_when_told() {
        assert!(SystemClock.now_ms() > 1_767_225_600_000);
        let clock = FixedClock::at(5);
        assert_eq!(clock.now_ms(), 5);
        clock.set(9);
        assert_eq!(clock.now_ms(), 9);
    }
}
