//! What a token's SMART scopes allow of an export: the one place the rule
//! lives, for the kick-off and for everything that touches a job after it.
//!
//! - **Kick-off**: a `_type` naming a type the scopes do not allow is a 403
//!   naming it; without `_type`, the defaults are those the scopes allow
//!   (none left: a 403 naming them). These come *after* BCDA's own `_type`
//!   checks: an unknown name (`export::request`, 400 `invalid resource
//!   type`) and a type outside the ACO's data sets (`export::entitlement`,
//!   400 `unauthorized resource type`) are reported first, so a typo or an
//!   entitlement problem is never mistaken for a scope problem, and
//!   existing clients (Basic-auth tokens, full access) see exactly BCDA's
//!   answers.
//! - **Status, manifest, cancel and files**: the Bulk Data IG asks that
//!   they be protected "with an access token with scopes that cover all
//!   resources being exported": a token whose scopes miss any type of the
//!   job gets a 403 there ([`check_job`], called by the jobs routes' one
//!   ownership check).
//!
//! Basic-auth tokens carry full access ([`Scopes::full`]), so nothing here
//! changes what they see.

use crate::domain::{ResourceType, Scopes};

/// Types an access token's scopes do not allow (a 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The access token's scopes do not allow {}", names(.0))]
pub struct OutOfScope(pub Vec<ResourceType>);

fn names(types: &[ResourceType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The types a kick-off exports under `scopes`. `given` is the client's
/// `_type` list (empty: none given), `resolved` what BCDA's rules made of it
/// (the given types, or the ACO's defaults for the version).
pub fn kickoff_types(
    scopes: &Scopes,
    given: &[ResourceType],
    resolved: Vec<ResourceType>,
) -> Result<Vec<ResourceType>, OutOfScope> {
    let (allowed, refused): (Vec<ResourceType>, Vec<ResourceType>) =
        resolved.into_iter().partition(|t| scopes.allows(*t));
    if !given.is_empty() && !refused.is_empty() {
        return Err(OutOfScope(refused));
    }
    if allowed.is_empty() {
        return Err(OutOfScope(refused));
    }
    Ok(allowed)
}

/// Whether `scopes` cover every type a job exports; if not, the types they
/// miss.
pub fn check_job(scopes: &Scopes, job_types: &[ResourceType]) -> Result<(), OutOfScope> {
    let missing: Vec<ResourceType> = job_types
        .iter()
        .copied()
        .filter(|t| !scopes.allows(*t))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(OutOfScope(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceType::{Coverage, ExplanationOfBenefit as Eob, Patient};

    fn scoped(scope: &str) -> Scopes {
        Scopes::grant(scope).expect("grantable")
    }

    #[test]
    fn a_given_type_outside_the_scopes_is_named() {
        let scopes = scoped("system/Patient.read system/Coverage.rs");
        assert_eq!(
            kickoff_types(&scopes, &[Patient, Eob], vec![Patient, Eob]),
            Err(OutOfScope(vec![Eob]))
        );
        assert_eq!(
            OutOfScope(vec![Eob]).to_string(),
            "The access token's scopes do not allow ExplanationOfBenefit"
        );
        assert_eq!(
            kickoff_types(&scopes, &[Coverage], vec![Coverage]),
            Ok(vec![Coverage])
        );
    }

    #[test]
    fn defaults_are_narrowed_to_the_scopes() {
        let scopes = scoped("system/Patient.read system/Coverage.rs");
        assert_eq!(
            kickoff_types(&scopes, &[], vec![Patient, Coverage, Eob]),
            Ok(vec![Patient, Coverage])
        );
        // Scopes for types the version or ACO has none of leave nothing.
        let claims_only = scoped("system/Claim.read");
        assert_eq!(
            kickoff_types(&claims_only, &[], vec![Patient, Coverage, Eob]),
            Err(OutOfScope(vec![Patient, Coverage, Eob]))
        );
        assert_eq!(
            OutOfScope(vec![Patient, Coverage]).to_string(),
            "The access token's scopes do not allow Patient, Coverage"
        );
    }

    #[test]
    fn full_access_changes_nothing() {
        let full = Scopes::full();
        assert_eq!(
            kickoff_types(&full, &[], vec![Patient, Coverage, Eob]),
            Ok(vec![Patient, Coverage, Eob])
        );
        assert_eq!(check_job(&full, &[Patient, Coverage, Eob]), Ok(()));
        let wildcard = scoped("system/*.read");
        assert_eq!(check_job(&wildcard, &[Patient, Eob]), Ok(()));
    }

    #[test]
    fn a_job_needs_scopes_covering_all_its_types() {
        let scopes = scoped("system/Patient.read");
        assert_eq!(check_job(&scopes, &[Patient]), Ok(()));
        assert_eq!(
            check_job(&scopes, &[Patient, Coverage, Eob]),
            Err(OutOfScope(vec![Coverage, Eob]))
        );
    }
}
