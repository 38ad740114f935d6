//! Which ACOs may use API v3: every ACO, or only those listed
//! (`--v3-acos`; BCDA's production `v3_enabled_acos`). Others are refused
//! with a 403 on the routes BCDA guards with its `V3AccessControl`: the
//! kick-offs and the jobs list.

use std::collections::BTreeSet;

use crate::domain::ApiVersion;

/// The 403 text for an ACO outside the list (BCDA's).
pub const V3_NOT_ENABLED: &str = "V3 access not enabled for this ACO";

/// Who may use API v3.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V3Access(Option<BTreeSet<String>>);

impl V3Access {
    /// Every ACO may (the default, and the sandbox's).
    pub const OPEN: V3Access = V3Access(None);

    /// Only the ACOs in a comma-separated list of CMS IDs (spaces around
    /// items ignored). An empty list is refused: to close v3 to everyone
    /// would need no ACO at all, which is a mistake more likely than an
    /// intent.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut ids = BTreeSet::new();
        for item in list.split(',').map(str::trim) {
            let well_formed = !item.is_empty()
                && item.len() <= 20
                && item.starts_with(|c: char| c.is_ascii_uppercase())
                && item
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
            if !well_formed {
                return Err(format!(
                    "invalid CMS ID {item:?} in the v3 ACO list: expected comma-separated CMS IDs such as A9994,D0001"
                ));
            }
            ids.insert(item.to_owned());
        }
        Ok(V3Access(Some(ids)))
    }

    /// Whether the ACO `cms_id` may use `version` (v1 and v2 are never
    /// restricted here).
    pub fn allows(&self, version: ApiVersion, cms_id: &str) -> bool {
        match (&self.0, version) {
            (Some(ids), ApiVersion::V3) => ids.contains(cms_id),
            _ => true,
        }
    }

    /// Whether v3 is open to every ACO.
    pub fn is_open(&self) -> bool {
        self.0.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_access_allows_everyone() {
        assert!(V3Access::OPEN.allows(ApiVersion::V3, "A9994"));
        assert!(V3Access::default().is_open());
    }

    #[test]
    fn a_list_restricts_v3_only() {
        let access = V3Access::parse("A9994, D0001").expect("list");
        assert!(access.allows(ApiVersion::V3, "A9994"));
        assert!(access.allows(ApiVersion::V3, "D0001"));
        assert!(!access.allows(ApiVersion::V3, "A9990"));
        assert!(access.allows(ApiVersion::V1, "A9990"));
        assert!(access.allows(ApiVersion::V2, "A9990"));
        assert!(!access.is_open());
    }

    #[test]
    fn bad_lists_are_refused() {
        for bad in ["", "A9994,", "a9994", "A9994;D0001", "9994"] {
            let message = V3Access::parse(bad).expect_err(bad);
            assert!(message.contains("v3 ACO list"), "{message}");
        }
    }
}
