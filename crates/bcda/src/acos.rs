//! Administering ACOs: creation, the data they are entitled to, and the
//! deny list.

use crate::clock::Clock;
use crate::domain::DataSets;
use crate::store::acos::{self as store, AcoRecord};
use crate::store::{Db, StoreError};

/// Why an ACO command failed.
#[derive(Debug, thiserror::Error)]
pub enum AcoError {
    /// The CMS ID is not of an accepted form.
    #[error(
        "invalid CMS ID {0:?}: expected 3 to 20 characters of capital letters, digits and hyphens, starting with a letter (e.g. A9994)"
    )]
    InvalidCmsId(String),
    /// The name is empty or too long.
    #[error("invalid ACO name: it must be 1 to 200 characters")]
    InvalidName,
    /// The CMS ID is taken.
    #[error("an ACO with CMS ID {0} already exists")]
    Exists(String),
    /// No ACO has that CMS ID.
    #[error("no ACO with CMS ID {0}")]
    Unknown(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a CMS ID: the forms CMS uses (A9994, D0001, V994, TEST001,
/// GUIDE-0001, ...) all fit 3 to 20 capital letters, digits and hyphens.
pub fn validate_cms_id(cms_id: &str) -> Result<(), AcoError> {
    let ok = (3..=20).contains(&cms_id.len())
        && cms_id.starts_with(|c: char| c.is_ascii_uppercase())
        && cms_id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AcoError::InvalidCmsId(cms_id.to_owned()))
    }
}

/// Creates an ACO entitled to `data_sets` after checking its CMS ID and
/// name (trimmed, 1 to 200 characters); fails if the CMS ID exists.
pub async fn create(
    db: &Db,
    clock: &dyn Clock,
    cms_id: &str,
    name: &str,
    data_sets: DataSets,
) -> Result<AcoRecord, AcoError> {
    validate_cms_id(cms_id)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AcoError::InvalidName);
    }
    store::insert(db, cms_id, name, data_sets, clock.now())
        .await?
        .ok_or_else(|| AcoError::Exists(cms_id.to_owned()))
}

/// Puts an ACO on the deny list (`deny = true`) or takes it off. Its
/// credentials still obtain tokens; every authenticated request answers 403.
pub async fn set_denied(
    db: &Db,
    clock: &dyn Clock,
    cms_id: &str,
    deny: bool,
) -> Result<AcoRecord, AcoError> {
    store::set_denied(db, cms_id, deny.then(|| clock.now()))
        .await?
        .ok_or_else(|| AcoError::Unknown(cms_id.to_owned()))
}

/// Sets the kinds of claims data an ACO may export (its next kick-offs'
/// default and allowed types).
pub async fn set_data_sets(
    db: &Db,
    cms_id: &str,
    data_sets: DataSets,
) -> Result<AcoRecord, AcoError> {
    store::set_data_sets(db, cms_id, data_sets)
        .await?
        .ok_or_else(|| AcoError::Unknown(cms_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cms_ids() {
        for ok in [
            "A9994",
            "D0001",
            "V994",
            "TEST001",
            "GUIDE-0001",
            "SBXBD001",
        ] {
            assert!(validate_cms_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A9",
            "a9994",
            "9994A",
            "A 9994",
            "A9994;DROP",
            "ABCDEFGHIJKLMNOPQRSTU",
        ] {
            assert!(validate_cms_id(bad).is_err(), "{bad}");
        }
    }
}
