//! CMS file formats: CCLF attribution packages, 1-800-MEDICARE opt-out
//! files, CSV attribution, and their file names. Pure parsing and writing;
//! no database.
//!
//! Layouts follow docs/REFERENCES.md, "CMS file formats" (formats as BCDA
//! parses them); section names cited in this module refer to it.
//! The rules every reader here keeps:
//!
//! * Streaming: readers are iterators over a [`std::io::BufRead`], holding
//!   one line at a time (lines longer than the format allows are an error,
//!   not an allocation), so memory does not grow with the file.
//! * Nothing is skipped or truncated silently: a malformed line, a field
//!   too long to write, a count that does not add up is a [`FormatError`]
//!   naming the line and field. The first error ends an iterator.
//! * Errors quote at most the offending field's value: these files hold
//!   names, birth dates and addresses.

mod error;
mod fixed;

pub mod cclf;
pub mod cclf_archive;
pub mod csv_attribution;
pub mod deflate_segments;
pub mod mbi;
pub mod names;
pub mod ndjson;
pub mod opt_out_file;
pub mod stored_body;

pub use error::{FormatError, TooLarge};
