//! `bcda client`: the ACO's side of BCDA. A resumable, verifying,
//! incremental downloader of bulk exports that speaks only BCDA's documented
//! API, so it works against BCDA itself as well as against bcda-rs.
//!
//! It uses nothing of the server's internals: `scripts/layers` keeps it
//! apart. The parts, in the order a run meets them:
//!
//! - [`session`]: the HTTP conversation, with access tokens obtained and
//!   renewed before they expire (and after a 401), transient failures
//!   retried with backoff, and server errors turned into messages.
//! - [`kickoff`]: starts the export; a 429 (another export of the ACO is
//!   running) is answered by following that job when it is the same request,
//!   or waiting for it and starting again when it is not.
//! - [`poll`]: follows the job, honouring `Retry-After`.
//! - [`download`] and [`verify`]: each file to a temporary name, resumed
//!   with `Range` + `If-Range`, checked against the manifest before it gets
//!   its final name.
//! - [`state`]: what a run has done, on disk beside the files, so a second
//!   run (or `bcda client resume`) continues instead of starting over.
//! - [`export`]: one export into one directory; [`sync`]: the daily pattern,
//!   each run's `_since` the previous run's `transactionTime`.
//! - [`summary`]: what arrived, per resource type.
//! - [`progress`]: progress bars on a terminal, plain lines otherwise.

pub mod download;
pub mod error;
pub mod export;
pub mod kickoff;
pub mod manifest;
pub mod poll;
pub mod progress;
pub mod request;
pub mod session;
pub mod state;
pub mod summary;
pub mod sync;
pub mod verify;

pub use error::ClientError;
