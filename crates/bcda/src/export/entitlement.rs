//! Which resource types a kick-off exports for one ACO: the client's
//! `_type` list if it is within the ACO's data sets, or the ACO's defaults
//! for the API version (BCDA's `bulkRequest`: adjudicated ACOs get
//! Patient, Coverage and ExplanationOfBenefit; ACOs entitled to partially
//! adjudicated data also get Claim and ClaimResponse on v2).

use super::rejection::Rejection;
use crate::domain::{ApiVersion, DataSets, ResourceType};

/// The types to export: `given` (the parsed `_type` list, empty when the
/// client sent none) checked against `data`, or the defaults of `version`
/// for `data`. A given type outside the ACO's data sets is
/// [`Rejection::UnauthorizedType`], as in BCDA.
pub fn export_types(
    given: &[ResourceType],
    version: ApiVersion,
    data: DataSets,
) -> Result<Vec<ResourceType>, Rejection> {
    if let Some(refused) = given.iter().find(|t| !data.contains(t.data_set())) {
        return Err(Rejection::UnauthorizedType(refused.as_str()));
    }
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let defaults: Vec<ResourceType> = ResourceType::of_version(version)
        .iter()
        .copied()
        .filter(|t| data.contains(t.data_set()))
        .collect();
    if defaults.is_empty() {
        return Err(Rejection::NoTypesInVersion {
            data: data.to_string(),
            version: version.segment(),
        });
    }
    Ok(defaults)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceType::{Claim, ClaimResponse, Coverage, ExplanationOfBenefit as Eob, Patient};

    fn sets(list: &str) -> DataSets {
        DataSets::parse(list).expect("data sets")
    }

    #[test]
    fn defaults_follow_the_acos_data_and_the_version() {
        let adjudicated = sets("adjudicated");
        let both = DataSets::BOTH;
        let pac = sets("partially-adjudicated");
        assert_eq!(
            export_types(&[], ApiVersion::V1, adjudicated),
            Ok(vec![Patient, Coverage, Eob])
        );
        assert_eq!(
            export_types(&[], ApiVersion::V2, adjudicated),
            Ok(vec![Patient, Coverage, Eob])
        );
        assert_eq!(
            export_types(&[], ApiVersion::V1, both),
            Ok(vec![Patient, Coverage, Eob])
        );
        assert_eq!(
            export_types(&[], ApiVersion::V2, both),
            Ok(vec![Patient, Coverage, Eob, Claim, ClaimResponse])
        );
        assert_eq!(
            export_types(&[], ApiVersion::V2, pac),
            Ok(vec![Claim, ClaimResponse])
        );
        assert_eq!(
            export_types(&[], ApiVersion::V1, pac).map_err(|e| e.to_string()),
            Err(
                "this ACO's data (partially-adjudicated) has no resource types on v1; use /api/v2"
                    .to_owned()
            )
        );
    }

    #[test]
    fn given_types_must_be_within_the_acos_data() {
        let adjudicated = sets("adjudicated");
        assert_eq!(
            export_types(&[Eob, Claim], ApiVersion::V2, adjudicated).map_err(|e| e.to_string()),
            Err("unauthorized resource type Claim".to_owned())
        );
        assert_eq!(
            export_types(&[Patient], ApiVersion::V2, sets("partially-adjudicated"))
                .map_err(|e| e.to_string()),
            Err("unauthorized resource type Patient".to_owned())
        );
        assert_eq!(
            export_types(&[ClaimResponse, Patient], ApiVersion::V2, DataSets::BOTH),
            Ok(vec![ClaimResponse, Patient])
        );
    }
}
