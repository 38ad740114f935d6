//! The fixed provider pool: practitioners per (state, specialty) and
//! organisations (hospitals, SNFs, home health agencies, hospices,
//! pharmacies, DME suppliers) per state, each with a Luhn-valid NPI.
//!
//! The pool is the same for every ACO and seed (real providers treat many
//! ACOs' patients), and each beneficiary keeps preferred providers, so care
//! teams repeat the way they do in real claims.

use super::codes::SPECIALTIES;
use super::geo::{STATES, place_of_state};
use super::npi;

/// Practitioners per (state, specialty).
pub(crate) const PER_SPECIALTY: u32 = 12;
/// Organisations per (state, kind).
pub(crate) const PER_KIND: u32 = 8;

/// An individual provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Practitioner {
    pub(crate) npi: u64,
    /// Index into [`SPECIALTIES`].
    pub(crate) specialty: usize,
    /// The billing group's taxpayer id (nine digits).
    pub(crate) tin: u32,
}

impl Practitioner {
    /// Practitioner `k` of a specialty in a state.
    pub(crate) fn new(state: usize, specialty: usize, k: u32) -> Self {
        let id = ((state % STATES.len()) * SPECIALTIES.len() + specialty % SPECIALTIES.len())
            as u32
            * PER_SPECIALTY
            + k % PER_SPECIALTY;
        Practitioner {
            npi: npi::from_base(130_000_000 + id * 37),
            specialty: specialty % SPECIALTIES.len(),
            // Practitioners bill in groups of three under one TIN.
            tin: 200_000_000 + (id / 3) * 7_919,
        }
    }

    /// The `prvdr_spclty` code.
    pub(crate) fn specialty_code(&self) -> &'static str {
        SPECIALTIES[self.specialty].0
    }
}

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrgKind {
    Hospital,
    Snf,
    HomeHealth,
    Hospice,
    Pharmacy,
    DmeSupplier,
}

impl OrgKind {
    fn ordinal(self) -> u32 {
        match self {
            OrgKind::Hospital => 0,
            OrgKind::Snf => 1,
            OrgKind::HomeHealth => 2,
            OrgKind::Hospice => 3,
            OrgKind::Pharmacy => 4,
            OrgKind::DmeSupplier => 5,
        }
    }

    /// The CCN serial range of the kind (42 CFR 413.65 numbering blocks).
    fn ccn_base(self) -> u32 {
        match self {
            OrgKind::Hospital => 1,
            OrgKind::Snf => 5_000,
            OrgKind::HomeHealth => 7_000,
            OrgKind::Hospice => 1_500,
            OrgKind::Pharmacy | OrgKind::DmeSupplier => 0,
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            OrgKind::Hospital => &[
                "SYNTHETIC GENERAL HOSPITAL",
                "MERCY HEALTH & REHAB CENTER",
                "ST. LUKE'S MEDICAL CENTER",
                "SYNTHETIC <TEST> REGIONAL HOSPITAL",
                "VALLEY VIEW HOSPITAL",
                "UNIVERSITY MEDICAL CENTER",
            ],
            OrgKind::Snf => &[
                "GREEN MEADOWS NURSING & REHAB",
                "SUNRISE SKILLED NURSING CENTER",
                "OAK HILL CARE CENTER",
            ],
            OrgKind::HomeHealth => &[
                "SYNTHETIC HOME HEALTH <EAST>",
                "VISITING NURSES ASSOCIATION",
                "CAREFIRST HOME HEALTH",
            ],
            OrgKind::Hospice => &["COMFORT CARE HOSPICE", "SERENITY HOSPICE & PALLIATIVE CARE"],
            OrgKind::Pharmacy => &[
                "SYNTHETIC PHARMACY #1024",
                "MAIN STREET DRUGS",
                "SMITH & SONS PHARMACY",
                "VALUE RX",
            ],
            OrgKind::DmeSupplier => &["SYNTHETIC MEDICAL SUPPLY", "HOME OXYGEN & EQUIPMENT CO"],
        }
    }
}

/// An organisational provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Organization {
    pub(crate) kind: OrgKind,
    pub(crate) npi: u64,
    pub(crate) name: &'static str,
    /// Index into [`STATES`].
    pub(crate) state: usize,
    serial: u32,
}

impl Organization {
    /// Organisation `k` of a kind in a state.
    pub(crate) fn new(kind: OrgKind, state: usize, k: u32) -> Self {
        let state = state % STATES.len();
        let k = k % PER_KIND;
        let id = (state as u32 * 6 + kind.ordinal()) * PER_KIND + k;
        let names = kind.names();
        Organization {
            kind,
            npi: npi::from_base(160_000_000 + id * 41),
            name: names[(k as usize + state) % names.len()],
            state,
            serial: kind.ccn_base() + k,
        }
    }

    /// The CMS Certification Number (`prvdr_num`): SSA state code + serial.
    pub(crate) fn ccn(&self) -> [u8; 6] {
        let ssa = place_of_state(self.state).ssa_state.as_bytes();
        let s = self.serial;
        [
            ssa[0],
            ssa[1],
            b'0' + (s / 1000 % 10) as u8,
            b'0' + (s / 100 % 10) as u8,
            b'0' + (s / 10 % 10) as u8,
            b'0' + (s % 10) as u8,
        ]
    }

    /// USPS state code.
    pub(crate) fn state_code(&self) -> &'static str {
        STATES[self.state]
    }

    /// The ZIP code of the organisation's city.
    pub(crate) fn zip(&self) -> u32 {
        let place = place_of_state(self.state);
        place.zip5_base + self.serial % place.zip_span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_npis_are_valid_and_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for state in 0..STATES.len() {
            for s in 0..SPECIALTIES.len() {
                for k in 0..PER_SPECIALTY {
                    let p = Practitioner::new(state, s, k);
                    assert!(npi::is_valid(&p.npi.to_string()));
                    assert!(seen.insert(p.npi));
                }
            }
            for kind in [
                OrgKind::Hospital,
                OrgKind::Snf,
                OrgKind::HomeHealth,
                OrgKind::Hospice,
                OrgKind::Pharmacy,
                OrgKind::DmeSupplier,
            ] {
                for k in 0..PER_KIND {
                    let o = Organization::new(kind, state, k);
                    assert!(npi::is_valid(&o.npi.to_string()));
                    assert!(seen.insert(o.npi));
                    assert!(o.ccn().iter().all(u8::is_ascii_digit));
                }
            }
        }
    }
}
