//! What one connection is doing, as its watchdog sees it.
//!
//! A connection is always in one [`Phase`]; the phase and when it began
//! decide when the connection is cut off (see `connection.rs`). Three
//! wrappers move it between phases: [`TrackedIo`] sees the first bytes of a
//! request head, the service sees the head parsed, [`RequestBody`] sees the
//! request body end and [`ResponseBody`] sees the response end.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// Where a connection is between two requests or inside one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No request: waiting for the first byte of the next one.
    Idle,
    /// Reading a request head (from its first byte, or from the accept for
    /// a new connection).
    Head,
    /// The head is parsed; the request body is still arriving.
    Body,
    /// A handler runs or its response is being sent.
    Busy,
}

impl Phase {
    /// Whether closing the connection in this phase loses no request:
    /// nothing has reached a handler yet.
    pub fn nothing_in_flight(self) -> bool {
        matches!(self, Phase::Idle | Phase::Head)
    }

    /// A word for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Head => "request head",
            Phase::Body => "request body",
            Phase::Busy => "busy",
        }
    }
}

/// A phase and when it began.
#[derive(Debug, Clone, Copy)]
pub struct Activity {
    /// What the connection is doing: idle, reading a head or a body, or busy with a request.
    pub phase: Phase,
    /// When it began; for [`Phase::Body`], when the request's head began, so
    /// one deadline covers head and body.
    pub since: Instant,
}

/// Moves one connection between phases; shared by its wrappers.
#[derive(Debug)]
pub struct Tracker(watch::Sender<Activity>);

impl Tracker {
    /// A tracker for a connection just accepted: its first request head is
    /// due from now.
    pub fn new() -> (Arc<Self>, watch::Receiver<Activity>) {
        let (tx, rx) = watch::channel(Activity {
            phase: Phase::Head,
            since: Instant::now(),
        });
        (Arc::new(Self(tx)), rx)
    }

    /// Bytes arrived: on an idle connection, a request head has begun.
    fn bytes_read(&self) {
        self.0.send_if_modified(|a| {
            let starts = a.phase == Phase::Idle;
            if starts {
                *a = Activity {
                    phase: Phase::Head,
                    since: Instant::now(),
                };
            }
            starts
        });
    }

    /// hyper parsed a head; `body_done` when the request has no body left.
    pub fn head_parsed(&self, body_done: bool) {
        self.0.send_modify(|a| {
            // A pipelined head already buffered never passed through Head.
            let head_began = if a.phase == Phase::Head {
                a.since
            } else {
                Instant::now()
            };
            *a = if body_done {
                Activity {
                    phase: Phase::Busy,
                    since: Instant::now(),
                }
            } else {
                Activity {
                    phase: Phase::Body,
                    since: head_began,
                }
            };
        });
    }

    /// The request body ended (or the handler dropped it).
    fn body_finished(&self) {
        self.0.send_if_modified(|a| {
            let was_reading = a.phase == Phase::Body;
            if was_reading {
                a.phase = Phase::Busy;
            }
            was_reading
        });
    }

    /// The response was sent: the connection waits for its next request.
    fn response_finished(&self) {
        self.0.send_modify(|a| {
            *a = Activity {
                phase: Phase::Idle,
                since: Instant::now(),
            };
        });
    }
}

/// The socket, reporting reads to the tracker.
#[derive(Debug)]
pub struct TrackedIo {
    inner: TcpStream,
    tracker: Arc<Tracker>,
}

impl TrackedIo {
    /// Wraps an accepted socket.
    pub fn new(inner: TcpStream, tracker: Arc<Tracker>) -> Self {
        Self { inner, tracker }
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.tracker.bytes_read();
        }
        result
    }
}

impl AsyncWrite for TrackedIo {
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

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Calls a tracker method once, when dropped or when told.
#[derive(Debug)]
struct OnDone {
    tracker: Option<Arc<Tracker>>,
    done: fn(&Tracker),
}

impl OnDone {
    fn fire(&mut self) {
        if let Some(tracker) = self.tracker.take() {
            (self.done)(&tracker);
        }
    }
}

impl Drop for OnDone {
    fn drop(&mut self) {
        self.fire();
    }
}

/// A request body that reports its end (or being dropped unread).
#[derive(Debug)]
pub struct RequestBody {
    inner: Incoming,
    done: OnDone,
}

impl RequestBody {
    /// Wraps hyper's body of one request.
    pub fn new(inner: Incoming, tracker: Arc<Tracker>) -> Self {
        Self {
            inner,
            done: OnDone {
                tracker: Some(tracker),
                done: Tracker::body_finished,
            },
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_frame(cx);
        let ended = match &result {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            this.done.fire();
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that reports its end (or being dropped).
#[derive(Debug)]
pub struct ResponseBody {
    inner: axum::body::Body,
    done: OnDone,
}

impl ResponseBody {
    /// Wraps the router's body of one response.
    pub fn new(inner: axum::body::Body, tracker: Arc<Tracker>) -> Self {
        Self {
            inner,
            done: OnDone {
                tracker: Some(tracker),
                done: Tracker::response_finished,
            },
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(result, Poll::Ready(None | Some(Err(_)))) {
            this.done.fire();
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
