//! An export task's data path: batches read (or generated) on one thread and
//! compressed on another, both the task's own for its whole run.
//!
//! The producer fills a batch while the consumer (the calling thread)
//! compresses and hashes the previous one; emptied buffers go back to the
//! producer. Handing each batch to whichever pool thread was free instead
//! spread a task's compressor state and buffers over dozens of threads, cold
//! in every cache, and left cores idle at each hand-off.

use std::sync::mpsc;

use tokio::runtime::Handle;

use super::TaskError;
use super::ndjson::NdjsonWriter;
use crate::claims::{BatchPart, ResourceBatch, ResourceStream};

/// Why a pipeline stopped before its stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// The worker's lease on the task was lost.
    LeaseLost,
    /// The job is no longer active (cancelled, failed, gone).
    JobInactive,
}

/// Streams every batch of `stream` into `writer`, asking `should_stop`
/// before each batch; blocks until done. Runs on a thread that may block
/// (never an async worker); the stored source reaches the database through
/// `runtime`. The stream keeps the batch buffers for reuse.
pub fn pump(
    runtime: &Handle,
    stream: &mut ResourceStream,
    writer: &mut NdjsonWriter,
    mut should_stop: impl FnMut() -> Result<Option<Interruption>, TaskError>,
) -> Result<Option<Interruption>, TaskError> {
    let mut returned = Vec::new();
    let producing = &mut *stream;
    let outcome = std::thread::scope(|scope| {
        // One batch may wait ready while the next fills: the two threads
        // rarely wait for each other.
        let (full_tx, full_rx) = mpsc::sync_channel::<ResourceBatch>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let producer = std::thread::Builder::new()
            .name("bcda-export-read".into())
            .spawn_scoped(scope, move || {
                loop {
                    while let Ok(buffer) = empty_rx.try_recv() {
                        producing.recycle(buffer);
                    }
                    let Some(batch) = producing.next_batch_blocking(runtime)? else {
                        return Ok::<_, TaskError>(());
                    };
                    if full_tx.send(batch).is_err() {
                        // The consumer stopped early.
                        return Ok(());
                    }
                }
            })
            .map_err(|e| TaskError::Retryable(format!("cannot start an export thread: {e}")))?;

        let mut consumed = Ok(None);
        for batch in full_rx.iter() {
            match should_stop() {
                Ok(None) => {}
                stop => {
                    consumed = stop;
                    break;
                }
            }
            if let Err(e) = write_batch(writer, &batch) {
                consumed = Err(e);
                break;
            }
            if let Err(mpsc::SendError(buffer)) = empty_tx.send(batch.ndjson) {
                returned.push(buffer);
            }
        }
        // Unblocks a producer waiting to hand over a batch.
        drop(full_rx);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(TaskError::Retryable("an export thread panicked".into())));
        // A write failure or a stop is what the task must act on; else
        // whatever ended the producer early.
        match (consumed, produced) {
            (Ok(None), produced) => produced.map(|()| None),
            (consumed, _) => consumed,
        }
    });
    for buffer in returned {
        stream.recycle(buffer);
    }
    outcome
}

/// Writes a batch's parts in order: lines compressed, packs copied.
fn write_batch(writer: &mut NdjsonWriter, batch: &ResourceBatch) -> Result<(), TaskError> {
    for part in batch.parts() {
        match part {
            BatchPart::Ndjson(ndjson, lines) => writer.write_ndjson(ndjson, lines),
            BatchPart::Pack {
                deflated,
                text,
                lines,
            } => writer.write_pack(deflated, text, lines),
        }
        .map_err(|e| match e.kind() {
            // A damaged pack fails the same way every time.
            std::io::ErrorKind::InvalidData => TaskError::Permanent(e.to_string()),
            _ => TaskError::Files(e.to_string()),
        })?;
    }
    Ok(())
}
