//! One connection's deadlines. The connection is either waiting for the client (for the first
//! byte of its next request, or for the rest of a head) or has requests in progress; only the
//! first has a deadline here (request bodies have theirs in [`super::body`]), and a watchdog
//! closes the connection when it passes. The IO wrapper [`Watched`] reports bytes read and, when
//! the server closes a connection whose request body it did not read, reads and discards a
//! bounded amount after its TLS close_notify, so the client can finish sending and read the
//! answer instead of meeting a reset.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use super::admission::Ticket;

/// After answering a request whose body it left unread, the server reads and discards at most
/// this long, waiting for the client to finish sending and close.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// ... and at most this many bytes.
pub const LINGER_BYTES: u64 = 32 * 1024 * 1024;

/// The per-connection deadlines, from `[limits]`.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// For a whole request head, from its first byte.
    pub header: Duration,
    /// For the first byte of the next request.
    pub idle: Duration,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    waiting_since: Instant,
    head_started: Option<Instant>,
    /// Set once the server has decided to close the connection after the current answer.
    close_after: bool,
    /// Set while lingering: its own bounds apply, not the watchdog's.
    lingering: bool,
}

/// What one connection is doing, shared by its IO wrapper, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    changed: Notify,
    ticket: Ticket,
    deadlines: Deadlines,
}

impl Activity {
    /// A connection that has just finished its handshake and waits for its first request.
    pub fn new(ticket: Ticket, deadlines: Deadlines) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                waiting_since: Instant::now(),
                head_started: None,
                close_after: false,
                lingering: false,
            }),
            changed: Notify::new(),
            ticket,
            deadlines,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes arrived: if the connection was idle, a request head has started.
    fn bytes_read(&self) {
        let mut state = self.lock();
        if state.in_flight == 0 && state.head_started.is_none() && !state.lingering {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request head has arrived; the request is in progress until the guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        let mut state = self.lock();
        state.in_flight += 1;
        state.head_started = None;
        if state.in_flight == 1 {
            self.ticket.busy();
        }
        drop(state);
        self.changed.notify_one();
        RequestGuard {
            activity: self.clone(),
        }
    }

    fn request_finished(&self) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.waiting_since = Instant::now();
            self.ticket.waiting();
        }
        drop(state);
        self.changed.notify_one();
    }

    /// The answer will close the connection with a request body unread: linger on close.
    pub fn close_after_answer(&self) {
        self.lock().close_after = true;
    }

    fn start_lingering(&self) -> bool {
        let mut state = self.lock();
        if state.close_after && !state.lingering {
            state.lingering = true;
            drop(state);
            self.changed.notify_one();
            return true;
        }
        false
    }

    /// When the connection must be closed for waiting too long, and why; `None` while requests
    /// are in progress or the connection lingers.
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        let state = self.lock();
        if state.in_flight > 0 || state.lingering {
            return None;
        }
        Some(match state.head_started {
            Some(t) => (t + self.deadlines.header, "request head timed out"),
            None => (state.waiting_since + self.deadlines.idle, "idle timeout"),
        })
    }

    /// Completes, with the reason, when the connection must be closed: a deadline passed, or
    /// it was evicted to make room for another.
    pub async fn expired(&self) -> &'static str {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let deadline = self.deadline();
            let sleep = async {
                match deadline {
                    Some((at, why)) => {
                        tokio::time::sleep_until(at).await;
                        why
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                why = sleep => {
                    // Re-checked: a request may have started just as the deadline passed.
                    if self.deadline().is_some_and(|(at, _)| at <= Instant::now()) {
                        return why;
                    }
                }
                () = &mut changed => {}
                () = self.ticket.evicted() => return "evicted to make room for another connection",
            }
        }
    }
}

/// A request in progress; dropping it (when its answer is ready) ends it.
#[derive(Debug)]
pub struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.activity.request_finished();
    }
}

#[derive(Debug)]
struct Linger {
    until: Pin<Box<Sleep>>,
    bytes: u64,
}

/// The connection's stream, reporting reads to its [`Activity`] and lingering on close.
#[derive(Debug)]
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
    linger: Option<Linger>,
}

impl<S> Watched<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            activity,
            linger: None,
        }
    }
}

impl<S: AsyncRead + Unpin> Watched<S> {
    /// Reads and discards until the client closes, or the linger bounds are reached.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(linger) = self.linger.as_mut() else {
            return Poll::Ready(());
        };
        let mut chunk = [0u8; 8192];
        loop {
            if linger.bytes >= LINGER_BYTES || linger.until.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            let mut buf = ReadBuf::new(&mut chunk);
            match ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => linger.bytes += buf.filled().len() as u64,
                // The client closed (or broke) the connection: nothing more to wait for.
                _ => return Poll::Ready(()),
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    /// TLS close_notify and TCP FIN (the inner stream's shutdown), then, if the server left a
    /// request body unread, the bounded drain: closing a socket with unread data makes the
    /// kernel send a reset, and the client would lose the answer.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            if !this.activity.start_lingering() {
                return Poll::Ready(Ok(()));
            }
            this.linger = Some(Linger {
                until: Box::pin(tokio::time::sleep(LINGER_TIME)),
                bytes: 0,
            });
        }
        ready!(this.poll_drain(cx));
        Poll::Ready(Ok(()))
    }
}
