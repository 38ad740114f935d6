//! Typed settings parsed from flags and environment variables.
//!
//! Every setting is a clap flag with an environment variable behind it. Bad
//! values are rejected at start with a message naming the flag or variable
//! (see `cli::parse_args`); nothing falls back silently to a default.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the database is: PostgreSQL, or an explicit SQLite URL. Absent, the
/// SQLite file in the data directory is used.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://` or `postgresql://`.
    Postgres(String),
    /// `sqlite:`.
    Sqlite(String),
}

impl fmt::Debug for DatabaseUrl {
    // The URL may carry a password; show only what kind it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(_) => f.write_str("DatabaseUrl::Postgres(..)"),
            DatabaseUrl::Sqlite(url) => write!(f, "DatabaseUrl::Sqlite({url:?})"),
        }
    }
}

/// Parses `DATABASE_URL` / `--database-url`.
pub fn parse_database_url(value: &str) -> Result<DatabaseUrl, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(DatabaseUrl::Postgres(value.to_owned()))
    } else if value.starts_with("sqlite:") {
        Ok(DatabaseUrl::Sqlite(value.to_owned()))
    } else {
        Err("expected a postgres://... or sqlite:... URL".to_owned())
    }
}

/// Parses a listen address such as `127.0.0.1:3000` or `[::1]:3000`.
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| "expected HOST:PORT with a numeric IP address, e.g. 127.0.0.1:3000".to_owned())
}

/// Parses a whole number that must be at least 1.
pub fn parse_positive(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of at least 1".to_owned()),
    }
}

/// Parses a positive duration: a whole number with a unit, `s`
/// (seconds), `m` (minutes), `h` (hours) or `d` (days), e.g. `15m`; a bare
/// number is seconds.
pub fn parse_duration(value: &str) -> Result<std::time::Duration, String> {
    const EXPECTED: &str =
        "expected a whole number of seconds, or one with a unit: 90s, 15m, 1h, 1d";
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(EXPECTED.to_owned()),
    };
    match number.parse::<u64>() {
        Ok(n) if n >= 1 => n
            .checked_mul(seconds_per_unit)
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| EXPECTED.to_owned()),
        _ => Err(EXPECTED.to_owned()),
    }
}

/// Parses a calendar date written `YYYY-MM-DD`.
pub fn parse_date(value: &str) -> Result<time::Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value, &format).map_err(|_| "expected a date as YYYY-MM-DD".to_owned())
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the current span's fields.
    Json,
}

/// The data directory and the paths inside it.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wraps a data directory path (not created until [`DataDir::ensure`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory as given (not canonicalized); the other paths are joined onto it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the directory if it is missing.
    ///
    /// The directory holds beneficiary data: it is created owner-only
    /// (0700), and an existing one that others may read is narrowed to
    /// that, with a warning in the log.
    pub fn ensure(&self) -> std::io::Result<()> {
        if let Some(old) = crate::files::private::secure_dir(&self.root)? {
            tracing::warn!(
                data_dir = %self.root.display(),
                old_mode = format!("{old:o}"),
                "the data directory was readable by other users; its mode is now 700"
            );
        }
        Ok(())
    }

    /// The default location of the key file that seals signing keys.
    pub fn default_key_file(&self) -> PathBuf {
        self.root.join("signing-keys.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert!(matches!(
            parse_database_url("postgres://u:p@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(matches!(
            parse_database_url("sqlite:/tmp/x.db"),
            Ok(DatabaseUrl::Sqlite(_))
        ));
        assert!(parse_database_url("mysql://h/db").is_err());
        assert!(
            !format!(
                "{:?}",
                DatabaseUrl::Postgres("postgres://u:secret@h/db".into())
            )
            .contains("secret")
        );
    }

    #[test]
    fn listen_and_numbers() {
        assert!(parse_listen("127.0.0.1:0").is_ok());
        assert!(parse_listen("localhost").is_err());
        assert_eq!(parse_positive("5"), Ok(5));
        assert!(parse_positive("0").is_err());
        assert!(parse_positive("x").is_err());
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("900"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in [
            "",
            "0",
            "0m",
            "m",
            "15 m",
            "15min",
            "-5",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
