//! Schema migrations, one set per backend, embedded in the binary.
//!
//! The SQL files live in `migrations/{sqlite,postgres}/` beside this crate's
//! `Cargo.toml`. They are fed to sqlx's migrator (which records applied
//! versions with checksums and takes a lock so concurrent processes cannot
//! race) without sqlx's proc-macros, which would compile SQLite and the
//! PostgreSQL driver a second time into the macro.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::future::Future;
use std::pin::Pin;

use super::{Db, StoreError};

/// One migration: version, description, SQL.
type Embedded = (i64, &'static str, &'static str);

const SQLITE: &[Embedded] = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "claims data",
        include_str!("../../migrations/sqlite/0002_claims_data.sql"),
    ),
    (
        3,
        "exports",
        include_str!("../../migrations/sqlite/0003_exports.sql"),
    ),
    (
        4,
        "service dates",
        include_str!("../../migrations/sqlite/0004_service_dates.sql"),
    ),
    (
        5,
        "fair queue",
        include_str!("../../migrations/sqlite/0005_fair_queue.sql"),
    ),
    (
        6,
        "claims density",
        include_str!("../../migrations/sqlite/0006_claims_density.sql"),
    ),
    (
        7,
        "aco data sets",
        include_str!("../../migrations/sqlite/0007_aco_data_sets.sql"),
    ),
    (
        8,
        "samhsa",
        include_str!("../../migrations/sqlite/0008_samhsa.sql"),
    ),
    (
        9,
        "job eob filter",
        include_str!("../../migrations/sqlite/0009_job_eob_filter.sql"),
    ),
    (
        10,
        "eob facts",
        include_str!("../../migrations/sqlite/0010_eob_facts.sql"),
    ),
    (
        11,
        "client keys",
        include_str!("../../migrations/sqlite/0011_client_keys.sql"),
    ),
    (
        12,
        "job until and patients",
        include_str!("../../migrations/sqlite/0012_job_until_and_patients.sql"),
    ),
    (
        13,
        "url signing keys",
        include_str!("../../migrations/sqlite/0013_url_signing_keys.sql"),
    ),
    (
        14,
        "job file cohort",
        include_str!("../../migrations/sqlite/0014_job_file_cohort.sql"),
    ),
    (
        15,
        "resource packs",
        include_str!("../../migrations/sqlite/0015_resource_packs.sql"),
    ),
];

const POSTGRES: &[Embedded] = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "claims data",
        include_str!("../../migrations/postgres/0002_claims_data.sql"),
    ),
    (
        3,
        "exports",
        include_str!("../../migrations/postgres/0003_exports.sql"),
    ),
    (
        4,
        "service dates",
        include_str!("../../migrations/postgres/0004_service_dates.sql"),
    ),
    (
        5,
        "fair queue",
        include_str!("../../migrations/postgres/0005_fair_queue.sql"),
    ),
    (
        6,
        "claims density",
        include_str!("../../migrations/postgres/0006_claims_density.sql"),
    ),
    (
        7,
        "aco data sets",
        include_str!("../../migrations/postgres/0007_aco_data_sets.sql"),
    ),
    (
        8,
        "samhsa",
        include_str!("../../migrations/postgres/0008_samhsa.sql"),
    ),
    (
        9,
        "job eob filter",
        include_str!("../../migrations/postgres/0009_job_eob_filter.sql"),
    ),
    (
        10,
        "eob facts",
        include_str!("../../migrations/postgres/0010_eob_facts.sql"),
    ),
    (
        11,
        "client keys",
        include_str!("../../migrations/postgres/0011_client_keys.sql"),
    ),
    (
        12,
        "job until and patients",
        include_str!("../../migrations/postgres/0012_job_until_and_patients.sql"),
    ),
    (
        13,
        "url signing keys",
        include_str!("../../migrations/postgres/0013_url_signing_keys.sql"),
    ),
    (
        14,
        "job file cohort",
        include_str!("../../migrations/postgres/0014_job_file_cohort.sql"),
    ),
    (
        15,
        "resource packs",
        include_str!("../../migrations/postgres/0015_resource_packs.sql"),
    ),
];

/// A migration source over one embedded list.
#[derive(Debug)]
struct EmbeddedSource(&'static [Embedded]);

impl<'s> MigrationSource<'s> for EmbeddedSource {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        sqlx::SqlSafeStr::into_sql_str(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(super) async fn run(db: &Db) -> Result<(), StoreError> {
    match db {
        Db::Sqlite(pool) => {
            Migrator::new(EmbeddedSource(SQLITE))
                .await?
                .run(pool)
                .await?
        }
        Db::Postgres(pool) => {
            Migrator::new(EmbeddedSource(POSTGRES))
                .await?
                .run(pool)
                .await?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let versions = |list: &[Embedded]| list.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
