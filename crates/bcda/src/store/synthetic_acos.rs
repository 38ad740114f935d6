//! The `synthetic_acos` table: ACOs served from the procedural generator
//! (the sandbox), with the parameters that define their data.

use time::Date;
use uuid::Uuid;

use super::{Db, StoreError, with_pool};
use crate::clock::{from_epoch_ms, to_epoch_ms};

/// The parameters of a synthetic ACO's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticAcoRecord {
    /// World seed: with the ACO's CMS ID it determines every generated record.
    pub seed: u64,
    /// Members of the newest attribution file.
    pub beneficiaries: u32,
    /// The first year claims are generated for (earlier years have none).
    pub first_service_year: i32,
    /// The day the attribution history is laid out against.
    pub anchor: Date,
    /// The newest attribution file belongs to the previous performance year.
    pub stale_attribution: bool,
    /// Percent (1-100) of the full per-year claim rates (`synthetic::FULL_CLAIMS_DENSITY` is 100).
    pub claims_density: u8,
}

/// Makes `aco_id` synthetic with these parameters (replacing earlier ones).
pub async fn upsert(db: &Db, aco_id: Uuid, record: &SyntheticAcoRecord) -> Result<(), StoreError> {
    let anchor = to_epoch_ms(record.anchor.midnight().assume_utc());
    with_pool!(db, |pool| {
        sqlx::query(
            "INSERT INTO synthetic_acos (aco_id, seed, beneficiaries, first_service_year, anchor_date, stale_attribution, claims_density) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (aco_id) DO UPDATE SET seed = excluded.seed, beneficiaries = excluded.beneficiaries, \
             first_service_year = excluded.first_service_year, anchor_date = excluded.anchor_date, \
             stale_attribution = excluded.stale_attribution, claims_density = excluded.claims_density",
        )
        .bind(aco_id.to_string())
        // The seed's bits, reinterpreted: both databases store signed 64-bit integers.
        .bind(i64::from_ne_bytes(record.seed.to_ne_bytes()))
        .bind(i64::from(record.beneficiaries))
        .bind(i64::from(record.first_service_year))
        .bind(anchor)
        .bind(record.stale_attribution)
        .bind(i64::from(record.claims_density))
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The synthetic parameters of `aco_id`, if it is synthetic.
pub async fn find(db: &Db, aco_id: Uuid) -> Result<Option<SyntheticAcoRecord>, StoreError> {
    let row: Option<(i64, i64, i64, i64, bool, i64)> = with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT seed, beneficiaries, first_service_year, anchor_date, stale_attribution, claims_density \
             FROM synthetic_acos WHERE aco_id = $1",
        )
        .bind(aco_id.to_string())
        .fetch_optional(pool)
        .await?
    });
    row.map(
        |(seed, beneficiaries, first_service_year, anchor, stale, density)| {
            let corrupt =
                |what: &str| StoreError::Corrupt(format!("synthetic_acos.{what} out of range"));
            Ok(SyntheticAcoRecord {
                seed: u64::from_ne_bytes(seed.to_ne_bytes()),
                beneficiaries: u32::try_from(beneficiaries)
                    .map_err(|_| corrupt("beneficiaries"))?,
                first_service_year: i32::try_from(first_service_year)
                    .map_err(|_| corrupt("first_service_year"))?,
                anchor: from_epoch_ms(anchor).date(),
                stale_attribution: stale,
                claims_density: u8::try_from(density)
                    .ok()
                    .filter(|d| (1..=100).contains(d))
                    .ok_or_else(|| corrupt("claims_density"))?,
            })
        },
    )
    .transpose()
}
