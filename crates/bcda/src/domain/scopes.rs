//! SMART system scopes: which resource types an access token may export.
//!
//! Tokens obtained with SMART Backend Services carry the scopes granted at
//! `/auth/token` (`system/*.read`, `system/Patient.read`, and the SMART v2
//! forms `system/*.rs`, `system/Patient.rs`); BCDA's Basic-auth tokens carry
//! none and keep full access, as in BCDA. The token endpoint parses what a
//! client asks for ([`Scopes::grant`]); the kick-off asks the token's scopes
//! whether a type may be exported ([`Scopes::allows`]).

use super::ResourceType;

/// The resource types a token may read: every type (a Basic-auth token,
/// or `system/*.read`), or those its scopes name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    /// `None`: every type (no scope, or a wildcard scope). Otherwise the
    /// granted types, in [`ResourceType::ALL`]'s order, without repeats.
    types: Option<Vec<ResourceType>>,
    /// The granted scopes as the client wrote them, space-separated (empty
    /// for a token without scopes): the token response's `scope` and the
    /// token's `scope` claim.
    text: String,
}

impl Scopes {
    /// Full access without scopes: what a Basic-auth token carries.
    pub fn full() -> Self {
        Self {
            types: None,
            text: String::new(),
        }
    }

    /// What may be granted of a requested `scope` parameter
    /// (space-separated, RFC 6749 §3.3). Read scopes at system level are
    /// granted: `system/<T>.read`, `system/<T>.*`, and SMART v2
    /// permissions that include `r` (`system/<T>.rs`, `system/<T>.cruds`),
    /// where `<T>` is `*` or a type this server exports. Everything else
    /// is left out without complaint (OAuth lets a server grant less than
    /// was asked): other types, write-only permissions, `patient/` and
    /// `user/` scopes, `launch`, and SMART v2 scopes narrowed by a query
    /// (`?category=...`), which an export could not honour. `None` when
    /// nothing could be granted (the token endpoint's `invalid_scope`).
    pub fn grant(requested: &str) -> Option<Self> {
        let mut wildcard = false;
        let mut types = Vec::new();
        let mut granted = Vec::new();
        for scope in requested.split_ascii_whitespace() {
            let Some(target) = read_scope_target(scope) else {
                continue;
            };
            match target {
                ScopeTarget::Every => wildcard = true,
                ScopeTarget::One(t) => {
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
            }
            if !granted.contains(&scope) {
                granted.push(scope);
            }
        }
        if granted.is_empty() {
            return None;
        }
        let types = (!wildcard).then(|| {
            ResourceType::ALL
                .into_iter()
                .filter(|t| types.contains(t))
                .collect()
        });
        Some(Self {
            types,
            text: granted.join(" "),
        })
    }

    /// The scopes a token's `scope` claim carries: `None` (no claim) is full
    /// access; a claim that grants nothing (which this server never signs)
    /// grants nothing.
    pub fn from_claim(claim: Option<&str>) -> Self {
        match claim {
            None => Self::full(),
            Some(text) => Self::grant(text).unwrap_or(Self {
                types: Some(Vec::new()),
                text: String::new(),
            }),
        }
    }

    /// Whether the token may export `resource_type`.
    pub fn allows(&self, resource_type: ResourceType) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.contains(&resource_type))
    }

    /// Whether these are a Basic-auth token's full access (no scopes).
    pub fn is_full(&self) -> bool {
        self.types.is_none() && self.text.is_empty()
    }

    /// The granted scopes, space-separated (empty without scopes).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// What one read scope covers.
enum ScopeTarget {
    /// `system/*.…`: every type.
    Every,
    /// `system/<Type>.…`.
    One(ResourceType),
}

/// The types a single scope grants read access to, if it is a system-level
/// read scope on a type this server knows.
fn read_scope_target(scope: &str) -> Option<ScopeTarget> {
    let rest = scope.strip_prefix("system/")?;
    let (resource, permission) = rest.split_once('.')?;
    if !grants_read(permission) {
        return None;
    }
    if resource == "*" {
        return Some(ScopeTarget::Every);
    }
    ResourceType::parse(resource).map(ScopeTarget::One)
}

/// SMART v1 `read` or `*`, or a SMART v2 permission string: some of
/// `c r u d s` in that order, each at most once, including `r`.
fn grants_read(permission: &str) -> bool {
    if permission == "read" || permission == "*" {
        return true;
    }
    let mut rest = permission;
    let mut any = false;
    let mut read = false;
    for letter in ['c', 'r', 'u', 'd', 's'] {
        if let Some(after) = rest.strip_prefix(letter) {
            rest = after;
            any = true;
            read |= letter == 'r';
        }
    }
    any && rest.is_empty() && read
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceType::*;

    fn types(scopes: &Scopes) -> Vec<ResourceType> {
        ResourceType::ALL
            .into_iter()
            .filter(|t| scopes.allows(*t))
            .collect()
    }

    #[test]
    fn wildcards_grant_every_type() {
        for request in [
            "system/*.read",
            "system/*.rs",
            "system/*.*",
            "system/*.cruds",
        ] {
            let scopes = Scopes::grant(request).expect(request);
            assert_eq!(types(&scopes), ResourceType::ALL.to_vec(), "{request}");
            assert_eq!(scopes.as_str(), request);
            assert!(!scopes.is_full());
        }
    }

    #[test]
    fn named_types_grant_those_types_only() {
        let scopes =
            Scopes::grant("system/Patient.read system/ExplanationOfBenefit.rs").expect("granted");
        assert_eq!(types(&scopes), vec![Patient, ExplanationOfBenefit]);
        assert_eq!(
            scopes.as_str(),
            "system/Patient.read system/ExplanationOfBenefit.rs"
        );
    }

    #[test]
    fn what_cannot_be_granted_is_left_out() {
        let scopes = Scopes::grant(
            "launch patient/*.read user/Coverage.read system/Observation.read \
             system/Coverage.write system/Coverage.c system/Coverage.rs?status=active \
             system/Coverage.sr system/Coverage.rr system/Coverage.x \
             system/Coverage.read system/Coverage.read",
        )
        .expect("granted");
        assert_eq!(types(&scopes), vec![Coverage]);
        assert_eq!(scopes.as_str(), "system/Coverage.read");
    }

    #[test]
    fn nothing_grantable_is_none() {
        for request in [
            "",
            "   ",
            "system/Observation.read",
            "patient/*.read",
            "system/*.write",
            "system/*",
            "system/*.s",
        ] {
            assert_eq!(Scopes::grant(request), None, "{request:?}");
        }
    }

    #[test]
    fn claims_round_trip() {
        assert!(Scopes::from_claim(None).is_full());
        assert_eq!(types(&Scopes::from_claim(None)), ResourceType::ALL.to_vec());
        let scopes = Scopes::from_claim(Some("system/Patient.rs"));
        assert_eq!(types(&scopes), vec![Patient]);
        assert_eq!(types(&Scopes::from_claim(Some("patient/*.read"))), vec![]);
    }
}
