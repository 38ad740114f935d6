//! The one error type of the format layer.

use std::fmt;

/// Why a file could not be read or written.
///
/// Messages quote at most the offending field's value, never the rest of
/// the record: these files carry beneficiaries' names, dates of birth and
/// addresses, and errors end up in logs.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The content does not follow the format.
    #[error("{}", describe(*line, *field, message))]
    Invalid {
        /// 1-based line number; 0 when the problem is not tied to a line
        /// (a file name, an archive member, a count checked at the end).
        line: u64,
        /// The field, by its name in the file layout (e.g. `BENE_DOB`).
        field: Option<&'static str>,
        /// What is wrong, quoting at most the field's value.
        message: String,
    },
    /// Reading or writing the underlying stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

fn describe(line: u64, field: Option<&'static str>, message: &str) -> String {
    match (line, field) {
        (0, None) => message.to_owned(),
        (0, Some(field)) => format!("field {field}: {message}"),
        (line, None) => format!("line {line}: {message}"),
        (line, Some(field)) => format!("line {line}, field {field}: {message}"),
    }
}

impl FormatError {
    /// A problem with one field of one line.
    pub fn field(line: u64, field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            line,
            field: Some(field),
            message: message.into(),
        }
    }

    /// A problem with a whole line (0: with the whole file).
    pub fn line(line: u64, message: impl Into<String>) -> Self {
        Self::Invalid {
            line,
            field: None,
            message: message.into(),
        }
    }

    /// A problem with the file as a whole (its name, its members, a count).
    pub fn file(message: impl Into<String>) -> Self {
        Self::line(0, message)
    }

    /// The 1-based line of the problem, 0 if it is not tied to a line or
    /// is an I/O error.
    pub fn line_number(&self) -> u64 {
        match self {
            Self::Invalid { line, .. } => *line,
            Self::Io(_) => 0,
        }
    }

    /// The field of the problem, if it is tied to one.
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } => *field,
            Self::Io(_) => None,
        }
    }

    /// Prefixes the message with where it happened (e.g. an archive member
    /// name), keeping line and field.
    pub fn context(self, what: impl fmt::Display) -> Self {
        match self {
            Self::Invalid {
                line,
                field,
                message,
            } => Self::Invalid {
                line,
                field,
                message: format!("{what}: {message}"),
            },
            Self::Io(e) => Self::Io(std::io::Error::new(e.kind(), format!("{what}: {e}"))),
        }
    }
}

impl FormatError {
    /// A read error: a [`TooLarge`] raised by a bounded reader becomes the
    /// format error it stands for (a refusal, not an I/O failure).
    pub fn from_read(e: std::io::Error) -> Self {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TooLarge>())
        {
            Some(too_large) => Self::file(too_large.to_string()),
            None => Self::Io(e),
        }
    }
}

/// A stream went past the size allowed for it (see
/// `cclf_archive::BoundedRead`); carried inside an [`std::io::Error`] so
/// it passes through readers that only speak I/O errors.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} is larger than the limit of {limit} bytes")]
pub struct TooLarge {
    /// What was being read (e.g. an archive member's name).
    pub what: String,
    /// The limit in bytes.
    pub limit: u64,
}

impl From<zip::result::ZipError> for FormatError {
    fn from(e: zip::result::ZipError) -> Self {
        match e {
            zip::result::ZipError::Io(io) => Self::Io(io),
            other => Self::file(format!("not a readable zip archive: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_and_field() {
        let e = FormatError::field(
            12,
            "BENE_DOB",
            "invalid date \"2019-13-01\" (expected YYYY-MM-DD)",
        );
        assert_eq!(
            e.to_string(),
            "line 12, field BENE_DOB: invalid date \"2019-13-01\" (expected YYYY-MM-DD)"
        );
        assert_eq!(
            FormatError::line(3, "too short").to_string(),
            "line 3: too short"
        );
        assert_eq!(FormatError::file("no CCLF8").to_string(), "no CCLF8");
        assert_eq!(
            FormatError::line(3, "too short")
                .context("member X")
                .to_string(),
            "line 3: member X: too short"
        );
    }
}
