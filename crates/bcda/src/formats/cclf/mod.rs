//! The CCLF files BCDA reads from an attribution package: the CCLF0
//! summary, the CCLF8 beneficiary demographics, and (written for
//! completeness) the CCLF9 identifier cross-reference.

mod cclf0;
mod cclf8;
mod cclf9;

pub use cclf0::{CCLF0_HEADER, CCLF0_LINE_LEN, Cclf0Row, Cclf0Summary};
pub use cclf8::{CCLF8_RECORD_LEN, Cclf8Reader, Cclf8Record, SexCode};
pub use cclf9::{CCLF9_RECORD_LEN, Cclf9Record, XrefIndicator};

#[cfg(test)]
pub(crate) use cclf8::tests::sample as sample_cclf8;
