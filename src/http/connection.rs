//! Step 1, and every server step: what a connection may cost. A client that sends its headers
//! slowly, dribbles a body, sits idle on a kept-alive connection or never reads its answer would
//! otherwise hold a task, a socket and buffers for as long as it likes, and enough of them hold
//! the server. Each limit has a flag (and an environment variable); `--help` shows the defaults.
//!
//! | limit | flag (env) | default | what happens |
//! |---|---|---|---|
//! | request headers, also the wait for the next request on a kept-alive connection | `--header-timeout` (`HEADER_TIMEOUT_SECONDS`) | 10 s | the connection is closed (hyper's `header_read_timeout`) |
//! | the whole request body, counted from the end of its headers | `--body-timeout` (`BODY_TIMEOUT_SECONDS`) | 30 s | 408 Request Timeout (the body reads fail with [`BodyTimedOut`]) |
//! | a response the client does not read | `--write-timeout` (`WRITE_TIMEOUT_SECONDS`) | 30 s | the connection is dropped (no write progress for that long) |
//! | connections served at once | `--max-connections` (`MAX_CONNECTIONS`) | 256 | further ones wait in the listen queue |
//!
//! hyper times the headers, on the coarse clock of `http::timer` (which also times the body);
//! the body deadline and the write timeout are the two small wrappers below, since neither hyper nor tower-http has a whole-body deadline (tower-http's
//! `RequestBodyTimeout` restarts at every frame, so a body dribbled one byte at a time never
//! ends) or a write timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::http::timer::{CoarseSleep, CoarseTimer};

/// The limits, as flags every server step shares (flattened into `ServerArgs`).
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Seconds a client has to send a request's headers, on a new connection or on an idle
    /// kept-alive one; then the connection is closed.
    #[arg(long = "header-timeout", env = "HEADER_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a client has to send a whole request body (counted from the end of its headers);
    /// then 408 Request Timeout.
    #[arg(long = "body-timeout", env = "BODY_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Seconds a response may wait for a client that does not read it; then the connection is
    /// dropped.
    #[arg(long = "write-timeout", env = "WRITE_TIMEOUT_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub write_timeout: u64,
    /// Connections served at once; more wait in the listen queue until one closes.
    #[arg(long = "max-connections", env = "MAX_CONNECTIONS", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_connections: u64,
    /// Seconds between a shutdown signal and the drain: new connections are refused at once,
    /// kept-alive ones are still served, answers to requests that arrive meanwhile with
    /// `Connection: close`, so a proxy closes
    /// them itself (0, the default: drain at once). Set it above the proxy's upstream
    /// keep-alive timeout (docs/production.md).
    #[arg(long = "shutdown-delay", env = "SHUTDOWN_DELAY_SECONDS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub shutdown_delay: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: 10,
            body_timeout: 30,
            write_timeout: 30,
            max_connections: 256,
            shutdown_delay: 0,
        }
    }
}

/// A request body's reads failed because the whole body did not arrive within `--body-timeout`.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimedOut(pub Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} s",
            self.0.as_secs()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

pin_project_lite::pin_project! {
    /// A request body that must be complete by a deadline fixed when the request started.
    pub struct DeadlineBody<B> {
        #[pin]
        inner: B,
        #[pin]
        deadline: CoarseSleep,
        limit: Duration,
    }
}

impl<B> DeadlineBody<B> {
    /// `inner`, which must end within `limit` from now (on `timer`'s clock).
    pub fn new(inner: B, timer: &CoarseTimer, limit: Duration) -> Self {
        Self {
            inner,
            deadline: timer.sleep(limit),
            limit,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.deadline.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut(*this.limit).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection whose writes must make progress: a write that stays pending (the client reads
/// nothing, the socket buffer is full) for `limit` fails with `TimedOut`, and hyper drops the
/// connection. Reads pass through (hyper times the headers itself).
#[derive(Debug)]
pub struct WriteTimeout<T> {
    io: T,
    stalled: Pin<Box<Sleep>>,
    waiting: bool,
    limit: Duration,
}

impl<T> WriteTimeout<T> {
    /// `io` with writes that may stall for at most `limit`.
    pub fn new(io: T, limit: Duration) -> Self {
        Self {
            io,
            stalled: Box::pin(tokio::time::sleep(limit)),
            waiting: false,
            limit,
        }
    }
}

impl<T: AsyncWrite + Unpin> WriteTimeout<T> {
    /// Runs one write-side poll under the stall timer.
    fn timed<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        match op(Pin::new(&mut self.io), cx) {
            Poll::Ready(result) => {
                self.waiting = false;
                Poll::Ready(result)
            }
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    self.stalled.as_mut().reset(Instant::now() + self.limit);
                }
                match self.stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the client read nothing for {} s", self.limit.as_secs()),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.timed(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.timed(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.timed(cx, |io, cx| io.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.timed(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
