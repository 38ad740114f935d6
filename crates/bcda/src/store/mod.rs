//! Database access: SQLite and PostgreSQL behind one type.
//!
//! [`Db`] holds a pool for one of the two backends. Each query is written
//! once, in SQL that both dialects accept (`$1` placeholders, integers for
//! times), and run through [`with_pool!`], which expands the same code for
//! each backend so that every value gets its native type. The few
//! dialect-specific statements live next to the code that needs them, named
//! as such. No HTTP types appear in this layer.

pub mod access_tokens;
pub mod acos;
pub mod attribution_files;
pub mod client_assertion_ids;
pub mod credentials;
pub mod job_files;
pub mod jobs;
mod migrations;
pub mod opt_outs;
pub mod resource_packs;
pub mod resources;
pub mod signing_keys;
pub mod synthetic_acos;
pub mod task_signal;
pub mod tasks;
pub mod url_signing_keys;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::DatabaseUrl;

/// A failure talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded migrations (`migrations/<backend>/`) failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A value read back from the database is not what the schema promises.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database is unreachable or refusing work for the moment
    /// (down, restarting, out of connections, locked, or out of disk), as
    /// opposed to a statement that would fail the same way every time. The
    /// former is worth a retry: the API answers it 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => sqlx_unavailable(e),
            StoreError::Migration(_) | StoreError::Corrupt(_) => false,
        }
    }
}

fn sqlx_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(e) => {
            let Some(code) = e.code() else {
                return false;
            };
            if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended result codes; the primary code is the low byte.
                // BUSY, LOCKED, IOERR, FULL, CANTOPEN.
                code.parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
            } else {
                // SQLSTATE: class 08 connection exception, 53 insufficient
                // resources, 57P01-57P03 shutting down / not yet accepting.
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(&*code, "57P01" | "57P02" | "57P03")
            }
        }
        _ => false,
    }
}

/// A connection pool to one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    /// An embedded SQLite file (the zero-configuration default).
    Sqlite(SqlitePool),
    /// A PostgreSQL server (for several processes sharing one database).
    Postgres(PgPool),
}

/// Runs the same block against whichever pool `db` holds. Inside the block
/// `pool` is a `&SqlitePool` or a `&PgPool`, so rows and binds get each
/// backend's native types while the code is written once.
#[macro_export]
#[doc(hidden)]
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub use with_pool;

/// Implements `sqlx::FromRow` for a record type on both backends' rows from
/// one mapping body (`|row| ...` returning `Result<Self, sqlx::Error>`).
#[macro_export]
#[doc(hidden)]
macro_rules! impl_from_row {
    ($ty:ty, |$row:ident| $body:expr) => {
        impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for $ty {
            fn from_row($row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
                #[allow(unused_imports)]
                use sqlx::Row as _;
                $body
            }
        }
        impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for $ty {
            fn from_row($row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                #[allow(unused_imports)]
                use sqlx::Row as _;
                $body
            }
        }
    };
}
pub use impl_from_row;

/// How long a statement waits for the database by default: for a pooled
/// connection (PostgreSQL down or every connection busy) and for SQLite's
/// write lock. Short enough that a client hears 503 and retries rather than
/// hanging, long enough to ride out a busy moment or a quick restart.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

impl Db {
    /// Opens the database named by `url`, or the SQLite file `bcda.db` in
    /// `data_dir` when no URL is given (created readable by the owner
    /// only: it holds beneficiary identifiers). Statements wait at most
    /// `wait` for a connection or a lock. Does not migrate.
    pub async fn connect(
        url: Option<&DatabaseUrl>,
        data_dir: &Path,
        wait: Duration,
    ) -> Result<Self, StoreError> {
        match url {
            Some(DatabaseUrl::Postgres(url)) => {
                let options = PgConnectOptions::from_str(url)?;
                Self::connect_postgres(options, 16, wait).await
            }
            Some(DatabaseUrl::Sqlite(url)) => {
                let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
                Self::connect_sqlite(options, wait).await
            }
            None => {
                let file = data_dir.join("bcda.db");
                let narrowed =
                    crate::files::private::prepare_sqlite_file(&file).map_err(sqlx::Error::Io)?;
                if let Some(old) = narrowed {
                    tracing::warn!(
                        file = %file.display(),
                        old_mode = format!("{old:o}"),
                        "the database was readable by other users; its mode is now 600"
                    );
                }
                let options = SqliteConnectOptions::new()
                    .filename(file)
                    .create_if_missing(true);
                Self::connect_sqlite(options, wait).await
            }
        }
    }

    /// Opens a SQLite database with the settings the server relies on;
    /// writers wait at most `wait` for the write lock.
    pub async fn connect_sqlite(
        options: SqliteConnectOptions,
        wait: Duration,
    ) -> Result<Self, StoreError> {
        let options = options
            // WAL lets readers (status polls, downloads) run while a writer commits.
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across process crashes in WAL mode; only an OS
            // crash can lose the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            // Writers queue for the single write lock instead of failing at
            // once, but not for ever: past the wait the API answers 503.
            .busy_timeout(wait)
            .foreign_keys(true)
            // 64 KiB pages (SQLite's largest; it applies when the file is
            // created): a stored resource (about 12 KB of JSON) then fits in
            // its page instead of a chain of 4 KiB overflow pages, and the
            // store is read and written in a sixteenth of the system calls.
            // Measured on a 2,000-beneficiary ACO: imports 1.3-1.9 x and
            // stored exports 1.2-1.4 x faster than at the default 4 KiB
            // (docs/BENCHMARKS.md, issue 17).
            .page_size(65_536)
            // A checkpoint once the WAL holds 4 MiB, as at SQLite's default
            // (1,000 pages of 4 KiB): counted in 64 KiB pages, the default
            // would let the WAL grow to 64 MiB between checkpoints.
            .pragma("wal_autocheckpoint", "64");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(wait)
            .connect_with(options)
            .await?;
        Ok(Db::Sqlite(pool))
    }

    /// Opens a PostgreSQL pool of at most `max_connections`; a statement
    /// waits at most `wait` for a connection (and for a new one to be
    /// made, when the server is down).
    pub async fn connect_postgres(
        options: PgConnectOptions,
        max_connections: u32,
        wait: Duration,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(wait)
            .connect_with(options)
            .await?;
        Ok(Db::Postgres(pool))
    }

    /// Applies every migration not yet applied. Safe to run from several
    /// processes at once: the migrator takes a database-wide lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrations::run(self).await
    }

    /// A short name for the backend, for logs and messages.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// The connection pool's use now: open connections, idle ones, and the
    /// most it may open (the `bcda_db_pool_*` gauges).
    pub fn pool_stats(&self) -> PoolStats {
        with_pool!(self, |pool| PoolStats {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        })
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}

/// A connection pool's use at one moment ([`Db::pool_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// A transaction on either backend, for writes that must land together
/// (an import of a whole file, for instance).
#[derive(Debug)]
pub enum Tx {
    /// A SQLite transaction, begun `IMMEDIATE`: it holds the database's write lock throughout.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// A PostgreSQL transaction (plain `BEGIN`); see [`Tx::serialize_on`] for serializing twins.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same block against whichever connection `tx` holds; inside,
/// `conn` is a `&mut SqliteConnection` or a `&mut PgConnection`.
#[macro_export]
#[doc(hidden)]
macro_rules! with_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}
pub use with_tx;

impl Db {
    /// Begins a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of one failing when
    /// its read lock cannot be upgraded.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

impl Tx {
    /// Rolls back now. Prefer this to dropping a transaction that took a
    /// lock ([`Tx::serialize_on`]): a dropped transaction's rollback is only
    /// queued on its pooled connection, so on PostgreSQL the advisory lock
    /// would stay held until that connection is next used.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// Serializes this transaction with every other one that names the same
    /// `key` (e.g. `"kickoff:<aco id>"`) until it commits or rolls back, so a
    /// check and the write it guards cannot interleave with a twin request.
    ///
    /// PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of
    /// the key (`hashtextextended`; a collision only serializes two
    /// unrelated keys, never lets two of the same through). SQLite: nothing
    /// to do, since [`Db::begin`] already holds the database's single write
    /// lock (`BEGIN IMMEDIATE`) for the whole transaction.
    pub async fn serialize_on(&mut self, key: &str) -> Result<(), StoreError> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// Commits, releasing any lock the transaction took.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// Maps a unique-constraint violation to `Ok(None)` and passes other results
/// through, for inserts whose conflict is an expected, reportable outcome.
pub(crate) fn unique_violation_as_none<T>(
    result: Result<T, sqlx::Error>,
) -> Result<Option<T>, StoreError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}
