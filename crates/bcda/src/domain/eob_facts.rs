//! What API v3 knows about each ExplanationOfBenefit, and which of them an
//! export asks for.
//!
//! BFD's v3 server tags every EOB with the system it came from
//! (`System-Type`) and whether the claim is final (`Final-Action`), and
//! gives it an `outcome`; `_typeFilter` selects on those and on the service
//! date. An EOB's tags and outcome take one of a few combinations
//! ([`EobFacts`], twelve at most), so any `_typeFilter` over them reduces to
//! a set of allowed combinations ([`FactSet`], a 12-bit mask): the parser
//! evaluates its clauses once per combination, the generator tests a claim
//! before rendering it, and the store tests a small integer column in SQL.

use serde::{Deserialize, Serialize};
use time::Date;

/// The code system of the claim-source tags.
pub const SYSTEM_TYPE_SYSTEM: &str = "https://bluebutton.cms.gov/fhir/CodeSystem/System-Type";

/// The code system of the final-action tags.
pub const FINAL_ACTION_SYSTEM: &str = "https://bluebutton.cms.gov/fhir/CodeSystem/Final-Action";

/// Where a claim came from (`meta.tag` in [`SYSTEM_TYPE_SYSTEM`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemType {
    /// The National Claims History: adjudicated Part A and B claims.
    NationalClaimsHistory,
    /// The Drug Data Processing System: Part D prescription drug events.
    Ddps,
    /// The shared systems (FISS, MCS): partially adjudicated claims.
    SharedSystem,
}

impl SystemType {
    /// Every system type, in BFD's order of codes.
    pub const ALL: [SystemType; 3] = [
        SystemType::SharedSystem,
        SystemType::NationalClaimsHistory,
        SystemType::Ddps,
    ];

    /// The tag's code.
    pub fn code(self) -> &'static str {
        match self {
            SystemType::NationalClaimsHistory => "NationalClaimsHistory",
            SystemType::Ddps => "DDPS",
            SystemType::SharedSystem => "SharedSystem",
        }
    }

    /// The system type of a code (exact, case-sensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    fn index(self) -> u8 {
        match self {
            SystemType::NationalClaimsHistory => 0,
            SystemType::Ddps => 1,
            SystemType::SharedSystem => 2,
        }
    }
}

/// Whether a claim is final (`meta.tag` in [`FINAL_ACTION_SYSTEM`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalAction {
    /// The claim is final.
    FinalAction,
    /// The claim may still change.
    NotFinalAction,
}

impl FinalAction {
    /// Both values.
    pub const ALL: [FinalAction; 2] = [FinalAction::FinalAction, FinalAction::NotFinalAction];

    /// The tag's code.
    pub fn code(self) -> &'static str {
        match self {
            FinalAction::FinalAction => "FinalAction",
            FinalAction::NotFinalAction => "NotFinalAction",
        }
    }

    /// The value of a code (exact, case-sensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// An EOB's `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimOutcome {
    /// Processing is complete.
    Complete,
    /// Processing is partial (a partially adjudicated claim).
    Partial,
}

impl ClaimOutcome {
    /// Both values.
    pub const ALL: [ClaimOutcome; 2] = [ClaimOutcome::Complete, ClaimOutcome::Partial];

    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            ClaimOutcome::Complete => "complete",
            ClaimOutcome::Partial => "partial",
        }
    }

    /// The value of a code (exact, case-sensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == code)
    }
}

/// An EOB's tags and outcome: what `_typeFilter`'s `_tag` and `outcome`
/// select on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EobFacts {
    /// Where the claim came from.
    pub system_type: SystemType,
    /// Whether it is final.
    pub final_action: FinalAction,
    /// Its outcome.
    pub outcome: ClaimOutcome,
}

impl EobFacts {
    /// A final claim of the National Claims History (Part A and B).
    pub const NCH: EobFacts = EobFacts {
        system_type: SystemType::NationalClaimsHistory,
        final_action: FinalAction::FinalAction,
        outcome: ClaimOutcome::Complete,
    };

    /// A final Part D event of the Drug Data Processing System.
    pub const DDPS: EobFacts = EobFacts {
        system_type: SystemType::Ddps,
        final_action: FinalAction::FinalAction,
        outcome: ClaimOutcome::Complete,
    };

    /// A partially adjudicated claim of the shared systems.
    pub const SHARED_SYSTEM: EobFacts = EobFacts {
        system_type: SystemType::SharedSystem,
        final_action: FinalAction::NotFinalAction,
        outcome: ClaimOutcome::Partial,
    };

    /// Every combination, in [`EobFacts::index`] order.
    pub fn all() -> impl Iterator<Item = EobFacts> {
        (0..FactSet::COMBINATIONS).filter_map(Self::from_index)
    }

    /// The combination's number, `0..12`: what the store keeps in
    /// `resources.eob_facts` and [`FactSet`] a bit for.
    pub fn index(self) -> u8 {
        let final_action = match self.final_action {
            FinalAction::FinalAction => 0,
            FinalAction::NotFinalAction => 1,
        };
        let outcome = match self.outcome {
            ClaimOutcome::Complete => 0,
            ClaimOutcome::Partial => 1,
        };
        self.system_type.index() * 4 + final_action * 2 + outcome
    }

    /// The combination numbered `index` (see [`EobFacts::index`]).
    pub fn from_index(index: u8) -> Option<Self> {
        let system_type = match index / 4 {
            0 => SystemType::NationalClaimsHistory,
            1 => SystemType::Ddps,
            2 => SystemType::SharedSystem,
            _ => return None,
        };
        Some(EobFacts {
            system_type,
            final_action: if index & 2 == 0 {
                FinalAction::FinalAction
            } else {
                FinalAction::NotFinalAction
            },
            outcome: if index & 1 == 0 {
                ClaimOutcome::Complete
            } else {
                ClaimOutcome::Partial
            },
        })
    }
}

/// A set of [`EobFacts`] combinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FactSet(u16);

impl FactSet {
    /// How many combinations there are.
    pub const COMBINATIONS: u8 = 12;

    /// Every combination.
    pub const ALL: FactSet = FactSet((1 << Self::COMBINATIONS) - 1);

    /// No combination.
    pub const NONE: FactSet = FactSet(0);

    /// The combinations for which `keep` holds.
    pub fn from_fn(keep: impl Fn(EobFacts) -> bool) -> Self {
        FactSet(
            EobFacts::all()
                .filter(|f| keep(*f))
                .fold(0, |bits, f| bits | 1 << f.index()),
        )
    }

    /// Whether `facts` is in the set.
    pub fn contains(self, facts: EobFacts) -> bool {
        self.0 & (1 << facts.index()) != 0
    }

    /// The combinations in both sets.
    pub fn intersect(self, other: FactSet) -> FactSet {
        FactSet(self.0 & other.0)
    }

    /// The mask: bit `i` is combination `i` (what a SQL query tests
    /// `resources.eob_facts` against).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// Whether no combination is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Which ExplanationOfBenefits an API v3 export contains: the combinations
/// of tags and outcome it allows, and the service dates (a claim's last day
/// of service, inclusive bounds) it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EobFilter {
    /// The allowed tag and outcome combinations.
    pub facts: FactSet,
    /// Claims whose service ended on or after this day.
    #[serde(
        with = "super::task::year_month_day::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_from: Option<Date>,
    /// Claims whose service ended on or before this day.
    #[serde(
        with = "super::task::year_month_day::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub service_through: Option<Date>,
}

impl EobFilter {
    /// Every EOB.
    pub const ALL: EobFilter = EobFilter {
        facts: FactSet::ALL,
        service_from: None,
        service_through: None,
    };

    /// Whether an EOB with `facts` whose service ended on `service_end`
    /// is kept.
    pub fn matches(&self, facts: EobFacts, service_end: Date) -> bool {
        self.facts.contains(facts)
            && self.service_from.is_none_or(|from| service_end >= from)
            && self
                .service_through
                .is_none_or(|through| service_end <= through)
    }

    /// Whether nothing can match (an export of this filter writes no EOB).
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
            || matches!((self.service_from, self.service_through), (Some(f), Some(t)) if f > t)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn every_combination_has_its_own_index() {
        let all: Vec<EobFacts> = EobFacts::all().collect();
        assert_eq!(all.len(), 12);
        for (i, f) in all.iter().enumerate() {
            assert_eq!(usize::from(f.index()), i);
            assert_eq!(EobFacts::from_index(f.index()), Some(*f));
        }
        assert_eq!(EobFacts::from_index(12), None);
    }

    #[test]
    fn fact_sets_test_membership() {
        let shared = FactSet::from_fn(|f| f.system_type == SystemType::SharedSystem);
        assert!(shared.contains(EobFacts::SHARED_SYSTEM));
        assert!(!shared.contains(EobFacts::NCH));
        assert!(
            shared
                .intersect(FactSet::from_fn(|f| f == EobFacts::NCH))
                .is_empty()
        );
        assert_eq!(FactSet::from_fn(|_| true), FactSet::ALL);
    }

    #[test]
    fn filters_bound_service_dates_inclusively() {
        let f = EobFilter {
            facts: FactSet::from_fn(|f| f == EobFacts::NCH),
            service_from: Some(date!(2024 - 01 - 01)),
            service_through: Some(date!(2024 - 12 - 31)),
        };
        assert!(f.matches(EobFacts::NCH, date!(2024 - 01 - 01)));
        assert!(f.matches(EobFacts::NCH, date!(2024 - 12 - 31)));
        assert!(!f.matches(EobFacts::NCH, date!(2025 - 01 - 01)));
        assert!(!f.matches(EobFacts::DDPS, date!(2024 - 06 - 01)));
        assert!(!f.is_empty());
        let crossed = EobFilter {
            service_from: Some(date!(2025 - 01 - 01)),
            ..f
        };
        assert!(crossed.is_empty());
    }

    #[test]
    fn filters_round_trip_through_json() {
        let f = EobFilter {
            facts: FactSet::from_fn(|f| f.system_type != SystemType::SharedSystem),
            service_from: Some(date!(2024 - 01 - 15)),
            service_through: None,
        };
        let json = serde_json::to_string(&f).expect("serialize");
        assert_eq!(json, r#"{"facts":255,"service_from":"2024-01-15"}"#);
        assert_eq!(
            serde_json::from_str::<EobFilter>(&json).expect("deserialize"),
            f
        );
    }
}
