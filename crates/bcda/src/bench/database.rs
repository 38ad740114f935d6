//! The database of one run (`--database`): a fresh SQLite file in the run's
//! data directory, or a fresh schema `bench_<uuid>` in the PostgreSQL
//! database of `DATABASE_URL`, reached through its `search_path` (as the
//! integration tests isolate themselves), dropped after the run unless the
//! data is kept.

use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use sqlx::Connection as _;

use super::child::ChildDatabase;
use crate::config::DatabaseUrl;
use crate::store::{DEFAULT_WAIT, Db};

/// Which database the benchmark runs on.
#[derive(Clone, PartialEq, Eq)]
pub enum BenchDatabase {
    /// SQLite: `bcda.db` in each run's fresh data directory.
    Sqlite,
    /// PostgreSQL at this `postgres://` URL (`DATABASE_URL`): each run in
    /// a fresh schema of its own.
    Postgres(String),
}

impl fmt::Debug for BenchDatabase {
    // The URL may carry a password; show only the kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl BenchDatabase {
    /// The name used in reports: `sqlite` or `postgres`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BenchDatabase::Sqlite => "sqlite",
            BenchDatabase::Postgres(_) => "postgres",
        }
    }

    /// Opens a fresh database for one run whose data directory is
    /// `data_dir` (which must exist). Not migrated yet: opening the
    /// application migrates.
    pub(super) async fn open_run(&self, data_dir: &Path) -> anyhow::Result<RunDatabase> {
        match self {
            BenchDatabase::Sqlite => Ok(RunDatabase {
                db: Db::connect(None, data_dir, DEFAULT_WAIT).await?,
                child: ChildDatabase::Sqlite,
                schema: None,
            }),
            BenchDatabase::Postgres(url) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                execute(url, &format!("CREATE SCHEMA {schema}"))
                    .await
                    .with_context(|| format!("cannot create schema {schema} in DATABASE_URL"))?;
                eprintln!("bench: PostgreSQL schema {schema}");
                let scoped = scoped_url(url, &schema);
                let db = match Db::connect(
                    Some(&DatabaseUrl::Postgres(scoped.clone())),
                    data_dir,
                    DEFAULT_WAIT,
                )
                .await
                {
                    Ok(db) => db,
                    Err(e) => {
                        let _ = execute(url, &format!("DROP SCHEMA {schema} CASCADE")).await;
                        return Err(e.into());
                    }
                };
                Ok(RunDatabase {
                    db,
                    child: ChildDatabase::Postgres(scoped),
                    schema: Some(Schema {
                        name: schema,
                        url: url.clone(),
                    }),
                })
            }
        }
    }
}

/// A run's PostgreSQL schema and the URL it was made through.
struct Schema {
    name: String,
    url: String,
}

/// One run's database: the pool the benchmark (and its server) uses, and
/// how child processes reach the same data.
pub(super) struct RunDatabase {
    /// The pool.
    pub db: Db,
    /// The same database for a `bcda` child process.
    pub child: ChildDatabase,
    schema: Option<Schema>,
}

impl RunDatabase {
    /// Closes the pool and drops the run's PostgreSQL schema, unless
    /// `keep` (then its name is printed on stderr).
    pub async fn finish(self, keep: bool) -> anyhow::Result<()> {
        self.db.close().await;
        let Some(schema) = self.schema else {
            return Ok(());
        };
        if keep {
            eprintln!(
                "bench: kept PostgreSQL schema {} (drop it with DROP SCHEMA {} CASCADE)",
                schema.name, schema.name
            );
            return Ok(());
        }
        execute(&schema.url, &format!("DROP SCHEMA {} CASCADE", schema.name))
            .await
            .with_context(|| format!("cannot drop schema {}", schema.name))
    }
}

/// `url` with every connection's `search_path` set to `schema` (a libpq
/// `options` parameter, which sqlx's URL parser reads).
fn scoped_url(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Runs one statement on a connection of its own. `sql` is built only
/// from the benchmark's own schema names (`bench_` and a UUID's hex).
async fn execute(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    let mut connection = sqlx::PgConnection::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut connection)
        .await?;
    connection.close().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_goes_into_the_url_and_the_url_stays_out_of_debug() {
        assert_eq!(
            scoped_url("postgres://u:p@h/db", "bench_1"),
            "postgres://u:p@h/db?options=-c%20search_path%3Dbench_1"
        );
        assert_eq!(
            scoped_url("postgres://u:p@h/db?sslmode=disable", "bench_1"),
            "postgres://u:p@h/db?sslmode=disable&options=-c%20search_path%3Dbench_1"
        );
        let db = BenchDatabase::Postgres("postgres://u:secret@h/db".to_owned());
        assert_eq!(format!("{db:?}"), "postgres");
    }
}
