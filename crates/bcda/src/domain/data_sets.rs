//! Which kinds of claims data an ACO is entitled to (BCDA's ACO config
//! `data`): adjudicated claims for every ACO model, partially adjudicated
//! claims (FISS and MCS, before they are final) for some (ACO REACH and
//! test models).

use std::fmt;

/// One kind of claims data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataSet {
    /// Final claims: Patient, Coverage and ExplanationOfBenefit.
    Adjudicated,
    /// Claims not yet final: Claim and ClaimResponse (API v2).
    PartiallyAdjudicated,
}

impl DataSet {
    /// Both kinds, in the order they are listed.
    pub const ALL: [DataSet; 2] = [DataSet::Adjudicated, DataSet::PartiallyAdjudicated];

    /// The name, as BCDA's config and our CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DataSet::Adjudicated => "adjudicated",
            DataSet::PartiallyAdjudicated => "partially-adjudicated",
        }
    }
}

/// The kinds of data one ACO is entitled to: never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataSets {
    adjudicated: bool,
    partially_adjudicated: bool,
}

impl Default for DataSets {
    /// Adjudicated only: what every ACO model gets.
    fn default() -> Self {
        DataSets {
            adjudicated: true,
            partially_adjudicated: false,
        }
    }
}

/// Why a list of data sets was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataSetsError {
    /// A name that is neither data set.
    #[error("unknown data set {0:?}: expected adjudicated and/or partially-adjudicated")]
    Unknown(String),
    /// Nothing was named.
    #[error("no data set given: expected adjudicated and/or partially-adjudicated")]
    Empty,
}

impl DataSets {
    /// Both data sets.
    pub const BOTH: DataSets = DataSets {
        adjudicated: true,
        partially_adjudicated: true,
    };

    /// Whether the ACO is entitled to `set`.
    pub fn contains(self, set: DataSet) -> bool {
        match set {
            DataSet::Adjudicated => self.adjudicated,
            DataSet::PartiallyAdjudicated => self.partially_adjudicated,
        }
    }

    /// Parses a comma-separated list (`adjudicated,partially-adjudicated`);
    /// items are trimmed, repeats are harmless, order does not matter.
    pub fn parse(list: &str) -> Result<Self, DataSetsError> {
        let mut sets = DataSets {
            adjudicated: false,
            partially_adjudicated: false,
        };
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match DataSet::ALL.into_iter().find(|s| s.as_str() == item) {
                Some(DataSet::Adjudicated) => sets.adjudicated = true,
                Some(DataSet::PartiallyAdjudicated) => sets.partially_adjudicated = true,
                None => return Err(DataSetsError::Unknown(item.to_owned())),
            }
        }
        if sets.adjudicated || sets.partially_adjudicated {
            Ok(sets)
        } else {
            Err(DataSetsError::Empty)
        }
    }
}

impl fmt::Display for DataSets {
    /// The stored and printed form: the names in [`DataSet::ALL`] order,
    /// comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = DataSet::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(DataSet::as_str)
            .collect();
        f.write_str(&names.join(","))
    }
}

impl std::str::FromStr for DataSets {
    type Err = DataSetsError;

    fn from_str(list: &str) -> Result<Self, DataSetsError> {
        DataSets::parse(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print_in_one_form() {
        let both = DataSets::parse("partially-adjudicated, adjudicated").expect("both");
        assert_eq!(both, DataSets::BOTH);
        assert_eq!(both.to_string(), "adjudicated,partially-adjudicated");
        let pac = DataSets::parse("partially-adjudicated").expect("pac");
        assert!(!pac.contains(DataSet::Adjudicated));
        assert!(pac.contains(DataSet::PartiallyAdjudicated));
        assert_eq!(DataSets::parse(&pac.to_string()), Ok(pac));
        assert_eq!(DataSets::default().to_string(), "adjudicated");
        assert_eq!(
            DataSets::parse("adjudicated,adjudicated"),
            Ok(DataSets::default())
        );
    }

    #[test]
    fn bad_lists_name_the_problem() {
        assert_eq!(DataSets::parse(""), Err(DataSetsError::Empty));
        assert_eq!(DataSets::parse(" , "), Err(DataSetsError::Empty));
        assert_eq!(
            DataSets::parse("adjudicated,Partially-Adjudicated"),
            Err(DataSetsError::Unknown("Partially-Adjudicated".into()))
        );
        assert_eq!(
            DataSets::parse("claims").expect_err("unknown").to_string(),
            "unknown data set \"claims\": expected adjudicated and/or partially-adjudicated"
        );
    }
}
