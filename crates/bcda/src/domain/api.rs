//! What an API request speaks: its version (and so its FHIR release) and
//! the resource types an export can contain.

use super::data_sets::DataSet;

/// The API version of a request, which fixes the FHIR release spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `/api/v1`: FHIR STU3 (3.0.1).
    V1,
    /// `/api/v2`: FHIR R4 (4.0.1).
    V2,
    /// `/api/v3`: FHIR R4 (4.0.1) as BFD's v3 server speaks it: every
    /// ExplanationOfBenefit tagged with its source system, partially
    /// adjudicated claims as ExplanationOfBenefits, and `_typeFilter`.
    V3,
}

impl ApiVersion {
    /// The version a request path belongs to. Paths outside `/api/v2/`
    /// (including `/auth`, `/data` and `/_health`) use the v1 shapes, as in
    /// BCDA.
    pub fn from_path(path: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|v| {
                path.strip_prefix("/api/")
                    .and_then(|rest| rest.strip_prefix(v.segment()))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .unwrap_or(ApiVersion::V1)
    }

    /// Every version, oldest first.
    pub const ALL: [ApiVersion; 3] = [ApiVersion::V1, ApiVersion::V2, ApiVersion::V3];

    /// Whether the version speaks FHIR R4 (v2 and v3) rather than STU3.
    pub fn is_r4(self) -> bool {
        !matches!(self, ApiVersion::V1)
    }

    /// The path prefix of the version's routes, `/api/v1` and so on.
    pub fn prefix(self) -> &'static str {
        match self {
            ApiVersion::V1 => "/api/v1",
            ApiVersion::V2 => "/api/v2",
            ApiVersion::V3 => "/api/v3",
        }
    }

    /// The FHIR version string written into CapabilityStatements: `3.0.1` or `4.0.1`.
    pub fn fhir_version(self) -> &'static str {
        match self {
            ApiVersion::V1 => "3.0.1",
            ApiVersion::V2 | ApiVersion::V3 => "4.0.1",
        }
    }

    /// The path segment, `v1`, `v2` or `v3`.
    pub fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
            ApiVersion::V3 => "v3",
        }
    }
}

/// The resource types an export can contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// Beneficiary demographics.
    Patient,
    /// Medicare Part A/B/C/D enrollment.
    Coverage,
    /// Adjudicated claims of the eight claim types.
    ExplanationOfBenefit,
    /// A partially adjudicated claim as submitted (FISS or MCS; API v2).
    Claim,
    /// A partially adjudicated claim's processing status (API v2).
    ClaimResponse,
}

impl ResourceType {
    /// The adjudicated types, in the order exports list them: every ACO's
    /// default, and all that v1 serves.
    pub const ADJUDICATED: [ResourceType; 3] = [
        ResourceType::Patient,
        ResourceType::Coverage,
        ResourceType::ExplanationOfBenefit,
    ];

    /// The partially adjudicated types (v2, for entitled ACOs).
    pub const PARTIALLY_ADJUDICATED: [ResourceType; 2] =
        [ResourceType::Claim, ResourceType::ClaimResponse];

    /// Every type.
    pub const ALL: [ResourceType; 5] = [
        ResourceType::Patient,
        ResourceType::Coverage,
        ResourceType::ExplanationOfBenefit,
        ResourceType::Claim,
        ResourceType::ClaimResponse,
    ];

    /// The FHIR resource type name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Patient => "Patient",
            ResourceType::Coverage => "Coverage",
            ResourceType::ExplanationOfBenefit => "ExplanationOfBenefit",
            ResourceType::Claim => "Claim",
            ResourceType::ClaimResponse => "ClaimResponse",
        }
    }

    /// The kind of data the type belongs to (what an ACO must be entitled
    /// to).
    pub fn data_set(self) -> DataSet {
        match self {
            ResourceType::Patient | ResourceType::Coverage | ResourceType::ExplanationOfBenefit => {
                DataSet::Adjudicated
            }
            ResourceType::Claim | ResourceType::ClaimResponse => DataSet::PartiallyAdjudicated,
        }
    }

    /// Whether the type is a claim (ExplanationOfBenefit, Claim,
    /// ClaimResponse): what Group/runout's service-date cap applies to.
    pub fn is_claim(self) -> bool {
        matches!(
            self,
            ResourceType::ExplanationOfBenefit | ResourceType::Claim | ResourceType::ClaimResponse
        )
    }

    /// The types an API version serves, in export order. v3 has no Claim
    /// or ClaimResponse: partially adjudicated claims come as
    /// ExplanationOfBenefits there.
    pub fn of_version(version: ApiVersion) -> &'static [ResourceType] {
        match version {
            ApiVersion::V1 | ApiVersion::V3 => &Self::ADJUDICATED,
            ApiVersion::V2 => &Self::ALL,
        }
    }

    /// Parses a FHIR resource type name (exact, case-sensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}
