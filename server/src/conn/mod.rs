//! Connection limits: deadlines for slow or silent clients, a global and a per-address limit on
//! open connections, backoff when accepting fails, and rate-limited logging of all of it. A
//! TLS-terminating proxy cannot do this for Vouch (channel binding and client certificates must
//! end here), so the server does it itself; `tls::serve` puts the parts together.

pub mod activity;
pub mod admission;
pub mod body;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::LimitConfig;

pub use activity::{Activity, Deadlines, Watched};
pub use admission::{Admission, Refusal, Ticket};
pub use body::{BodyFinished, TimedBody};

/// Descriptors kept back from the connection limit for the server's own use: the store's files,
/// refused connections being closed, the log, the admin and housekeeping work.
pub const RESERVED_DESCRIPTORS: usize = 64;

/// The connection limits of a running server.
#[derive(Debug)]
pub struct ConnLimits {
    /// TLS handshake deadline.
    pub handshake: Duration,
    /// Deadlines while waiting for a request.
    pub deadlines: Deadlines,
    /// Deadline for a request body, from the end of its head.
    pub body: Duration,
    /// The connection counts.
    pub admission: Arc<Admission>,
}

impl ConnLimits {
    /// From `[limits]`, with the global limit also kept within the open-file limit.
    pub fn from_config(limits: &LimitConfig) -> Self {
        let secs = Duration::from_secs;
        let mut max_total = limits.max_connections;
        if let Some(budget) = descriptor_budget() {
            if budget < max_total {
                tracing::warn!(
                    configured = max_total,
                    allowed = budget.max(1),
                    "the open-file limit (ulimit -n) allows fewer connections than \
                     limits.max_connections; raise it to serve more"
                );
                max_total = budget.max(1);
            }
        }
        tracing::info!(
            max_connections = max_total,
            max_connections_per_address = limits.max_connections_per_address,
            "connection limits"
        );
        Self {
            handshake: secs(limits.handshake_timeout_secs),
            deadlines: Deadlines {
                header: secs(limits.header_timeout_secs),
                idle: secs(limits.idle_timeout_secs),
            },
            body: secs(limits.body_timeout_secs),
            admission: Admission::new(max_total, limits.max_connections_per_address),
        }
    }
}

/// How many connections the open-file limit leaves room for: the soft limit, less what is open
/// now and [`RESERVED_DESCRIPTORS`]. `None` if there is no limit or it cannot be read.
pub fn descriptor_budget() -> Option<usize> {
    let soft = soft_descriptor_limit()?;
    let open = open_descriptors().unwrap_or(32);
    Some(soft.saturating_sub(open + RESERVED_DESCRIPTORS))
}

#[cfg(unix)]
fn soft_descriptor_limit() -> Option<usize> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit.current.and_then(|n| usize::try_from(n).ok())
}

#[cfg(not(unix))]
fn soft_descriptor_limit() -> Option<usize> {
    None
}

fn open_descriptors() -> Option<usize> {
    ["/proc/self/fd", "/dev/fd"]
        .iter()
        .find_map(|dir| std::fs::read_dir(dir).ok())
        .map(Iterator::count)
}

/// Lets a repeated log line through at most once per period, counting what it held back.
#[derive(Debug)]
pub struct QuietLog {
    every: Duration,
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl QuietLog {
    /// At most one line per `every`.
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::new(None),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if a line may be written now (`n` lines were held back since the last one).
    pub fn allow(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.held_back.swap(0, Ordering::Relaxed))
    }
}

/// How long the accept loop pauses after an error.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    next: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// An accept succeeded.
    pub fn reset(&mut self) {
        self.next = Duration::ZERO;
    }

    /// The pause after `error`: none for an error of that one connection (it is gone), else
    /// growing from 10 ms to 1 s while errors repeat. Out of descriptors or memory, retrying at
    /// once only spins: the error stays until a connection closes.
    pub fn after(&mut self, error: &io::Error) -> Duration {
        use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
        if matches!(
            error.kind(),
            ConnectionAborted | ConnectionReset | ConnectionRefused
        ) {
            return Duration::ZERO;
        }
        self.next = (self.next * 2).clamp(Self::FIRST, Self::MAX);
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_second_and_resets() {
        let mut backoff = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(24);
        let pauses: Vec<_> = (0..10).map(|_| backoff.after(&emfile)).collect();
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[9], Duration::from_secs(1));
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(backoff.after(&aborted), Duration::ZERO);
        backoff.reset();
        assert_eq!(backoff.after(&emfile), Duration::from_millis(10));
    }

    #[test]
    fn quiet_log_holds_back_repeats() {
        let log = QuietLog::new(Duration::from_secs(60));
        assert_eq!(log.allow(), Some(0));
        assert_eq!(log.allow(), None);
        assert_eq!(log.allow(), None);
        *log.last.lock().unwrap() = Some(Instant::now() - Duration::from_secs(61));
        assert_eq!(log.allow(), Some(2));
    }

    #[test]
    fn the_descriptor_budget_is_below_the_limit() {
        if let (Some(budget), Some(soft)) = (descriptor_budget(), soft_descriptor_limit()) {
            assert!(budget + RESERVED_DESCRIPTORS <= soft);
        }
    }
}
