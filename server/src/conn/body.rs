//! A request body with a deadline, which also tells whether it was read to its end (the
//! server must not keep a connection whose request body it left unread).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

use crate::error::ServerError;
use vouch_protocol::wire::ErrorCode;

/// The request body handed to the router: errors with a [`ServerError::Refusal`] with `request_timeout` once its
/// deadline passes.
#[derive(Debug)]
pub struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    finished: Arc<AtomicBool>,
}

/// Whether a [`TimedBody`] was read to its end (or had none).
#[derive(Clone, Debug)]
pub struct BodyFinished(Arc<AtomicBool>);

impl BodyFinished {
    /// True if the whole body was read.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl TimedBody {
    /// `inner`, which must arrive in full within `limit`.
    pub fn new(inner: Incoming, limit: Duration) -> (Self, BodyFinished) {
        let finished = Arc::new(AtomicBool::new(inner.is_end_stream()));
        let body = Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            finished: finished.clone(),
        };
        (body, BodyFinished(finished))
    }

    fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = ServerError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ServerError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(ServerError::refuse(
                ErrorCode::BadRequest,
                format!("reading the request body: {e}"),
            )))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(ServerError::refuse(
                    ErrorCode::RequestTimeout,
                    "the request body did not arrive in time",
                )))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
