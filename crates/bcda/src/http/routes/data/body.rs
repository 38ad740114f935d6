//! The response body: a byte range of a stored file, as stored (gzip) or
//! inflated, streamed in fixed-size chunks.
//!
//! A producer task reads one chunk at a time on the blocking pool and hands
//! it to the response through a bounded channel. Memory per download is at
//! most `CHANNEL_CHUNKS + 1` chunks plus the inflater's window, whatever
//! the file's size; a blocking thread is held only while a chunk is read, so
//! a slow client ties up an idle async task, not a thread. When the client
//! goes away the receiver is dropped, the next send fails and reading stops.

use std::io::{self, BufReader, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use flate2::read::MultiGzDecoder;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::chunk_pool::ChunkPool;
use super::range::ByteRange;
use crate::files::StoredBody;

/// Bytes per chunk read and sent. Each chunk costs a trip to the blocking
/// pool and a write call, so bigger chunks are faster: 256 KiB carried
/// 1.12-1.16 GB/s of gzip over loopback where 64 KiB carried 0.92-1.03
/// (docs/BENCHMARKS.md, issue 17). With [`CHANNEL_CHUNKS`] a download holds
/// at most four chunks: 1 MiB.
const CHUNK_BYTES: usize = 256 * 1024;

/// Chunks read ahead of the client: two keep the next read overlapping the
/// socket write.
const CHANNEL_CHUNKS: usize = 2;

/// The buffers chunks are read into, shared by every download. Twelve idle
/// buffers (3 MiB) cover the chunks four downloads have in flight (queued,
/// being written, being read).
static CHUNKS: ChunkPool = ChunkPool::new(CHUNK_BYTES, 12);

/// Which form of the file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The stored gzip bytes.
    Gzip,
    /// The NDJSON, inflated on the fly.
    Identity,
}

/// A body carrying `range` of a stored file in `form`: `stored` starts at
/// `range.first` for the gzip form and at the file's first byte for the
/// NDJSON (which is inflated from the start). `to_end` says the range ends
/// at the form's last byte: the NDJSON form then checks, before sending its
/// last chunk, that the gzip ends there whole (its CRC and length match).
/// Runs inside the caller's tracing span, so failures are logged with the
/// request's id.
pub fn stream(stored: StoredBody, form: Form, range: ByteRange, to_end: bool) -> Body {
    let stored = match (stored, form) {
        // An object store's ranged read is already the bytes to send: passed
        // on chunk by chunk as they arrive, with no thread in between.
        (StoredBody::Stream(chunks), Form::Gzip) => {
            return Body::from_stream(Forward {
                chunks,
                remaining: range.len(),
            });
        }
        (stored, _) => stored,
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let check_end = to_end && form == Form::Identity;
    tokio::spawn(produce(stored, form, range, check_end, tx).in_current_span());
    Body::from_stream(ChunkStream { rx })
}

/// The receiving end, as the `Stream` a body is made of.
struct ChunkStream {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl futures_core::Stream for ChunkStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// An object store's byte stream as a body of exactly `remaining` bytes:
/// one that ends early ends in an error, so the connection is cut rather
/// than a short file passing as whole.
struct Forward {
    chunks: futures_util::stream::BoxStream<'static, object_store::Result<Bytes>>,
    remaining: u64,
}

impl futures_core::Stream for Forward {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.chunks.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(mut chunk))) => {
                if chunk.len() as u64 > self.remaining {
                    // Bounded by `remaining`, so the cast cannot truncate.
                    chunk.truncate(self.remaining as usize);
                }
                self.remaining -= chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => {
                tracing::error!(%error, "export file could not be read; download cut short");
                self.remaining = 0;
                Poll::Ready(Some(Err(io::Error::other(error.to_string()))))
            }
            Poll::Ready(None) => {
                tracing::error!(
                    "export file is shorter than its recorded length; download cut short"
                );
                self.remaining = 0;
                Poll::Ready(Some(Err(shorter_than_recorded())))
            }
        }
    }
}

/// A reader positioned at the first byte to send.
type Reader = Box<dyn Read + Send>;

/// Feeds `tx` with `range.len()` bytes, then ends. A failure is sent as an
/// error so the connection is cut: the client sees a truncated transfer
/// (its Content-Length is not met) rather than a short file that looks whole.
async fn produce(
    stored: StoredBody,
    form: Form,
    range: ByteRange,
    check_end: bool,
    tx: mpsc::Sender<io::Result<Bytes>>,
) {
    let runtime = tokio::runtime::Handle::current();
    let mut source = match blocking(move || position(stored, runtime, form, range.first)).await {
        Ok(reader) => reader,
        Err(error) => return fail(&tx, error).await,
    };
    let mut remaining = range.len();
    while remaining > 0 {
        // Bounded by CHUNK_BYTES, so the cast cannot truncate.
        let want = remaining.min(CHUNK_BYTES as u64) as usize;
        let last = want as u64 == remaining;
        let step = blocking(move || {
            let chunk = read_chunk(&mut source, want)?;
            if last && check_end {
                // The inflater checks the CRC and length only at the
                // member's end: damage that still inflates to at least the
                // recorded length would otherwise pass unnoticed.
                expect_end(&mut source)?;
            }
            Ok((source, chunk))
        })
        .await;
        let chunk = match step {
            Ok((back, chunk)) => {
                source = back;
                chunk
            }
            Err(error) => return fail(&tx, error).await,
        };
        remaining -= chunk.len() as u64;
        if tx.send(Ok(chunk)).await.is_err() {
            tracing::debug!("client went away mid-download");
            return;
        }
    }
}

/// Logs a read failure and passes it on to cut the response.
async fn fail(tx: &mpsc::Sender<io::Result<Bytes>>, error: io::Error) {
    tracing::error!(%error, "export file could not be read; download cut short");
    // If the client is gone already there is nobody to tell.
    let _ = tx.send(Err(error)).await;
}

/// Runs blocking file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| Err(io::Error::other(join)))
}

/// Opens the form's reader at byte `first`: the stored bytes were opened
/// there; for NDJSON, inflating from the start and discarding what
/// precedes it (gzip has no random access).
fn position(
    stored: StoredBody,
    runtime: tokio::runtime::Handle,
    form: Form,
    first: u64,
) -> io::Result<Reader> {
    let file = stored.into_reader(runtime)?;
    match form {
        Form::Gzip => Ok(file),
        Form::Identity => {
            // Multi-member so that files written as concatenated gzip
            // members (one per batch) inflate whole.
            let mut inflated = MultiGzDecoder::new(BufReader::with_capacity(CHUNK_BYTES, file));
            let skipped = io::copy(&mut (&mut inflated).take(first), &mut io::sink())?;
            if skipped < first {
                return Err(shorter_than_recorded());
            }
            Ok(Box::new(inflated))
        }
    }
}

/// Reads exactly `want` (at most [`CHUNK_BYTES`]) bytes (the file must
/// have them: its length is recorded and promised in Content-Length) into
/// a pooled buffer. A fresh buffer per chunk, freed on another thread,
/// halved download speed, and zeroing each cost a tenth of the server's
/// CPU. A read that fails drops its buffer: no chunk ever holds bytes it
/// did not read.
fn read_chunk(source: &mut Reader, want: usize) -> io::Result<Bytes> {
    let mut buffer = CHUNKS.take();
    let want = want.min(buffer.len());
    let mut filled = 0;
    while filled < want {
        match source.read(&mut buffer[filled..want]) {
            Ok(0) => return Err(shorter_than_recorded()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(CHUNKS.chunk(buffer, want))
}

/// Reads past the last byte sent: the stream must end there cleanly.
fn expect_end(reader: &mut Reader) -> io::Result<()> {
    let mut probe = [0u8; 1];
    loop {
        match reader.read(&mut probe) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "file is longer than its recorded length",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn shorter_than_recorded() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "file is shorter than its recorded length",
    )
}
