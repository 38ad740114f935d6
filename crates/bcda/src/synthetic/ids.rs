//! The identifiers of one synthetic world: bene ids, MBIs, HICNs, claim ids.
//!
//! Every ACO (per seed) gets a namespace number derived from a hash of its
//! seed and CMS id; identifiers combine the namespace with the pool index, so
//! they are unique across ACOs as far as the 32,400 namespaces allow, and
//! each decodes back to its index without a table.

use super::mbi;
use super::rng::{Seed, hash_bytes};

/// Pool indices must stay below this (ten million beneficiaries per ACO).
pub(crate) const MAX_POOL: u64 = 10_000_000;
/// Namespaces: the MBI space divided by two kinds (current, historic) of
/// `MAX_POOL` numbers each.
const NAMESPACES: u64 = mbi::CAPACITY / (2 * MAX_POOL);

/// The identifier namespace of one (seed, CMS id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Namespace {
    ns: u64,
}

impl Namespace {
    pub(crate) fn new(seed: u64, cms_id: &str) -> Self {
        let h = Seed::new(seed).num(hash_bytes(cms_id.as_bytes())).0;
        Namespace { ns: h % NAMESPACES }
    }

    fn global(self, index: u32) -> u64 {
        self.ns * MAX_POOL + u64::from(index)
    }

    /// The BFD bene id: negative, 14 digits, like Synthea's `-10000000000001`.
    pub(crate) fn bene_id(self, index: u32) -> i64 {
        -((10_000_000_000_000 + self.global(index)) as i64)
    }

    pub(crate) fn mbi(self, index: u32) -> String {
        mbi::encode(2 * self.ns * MAX_POOL + u64::from(index))
    }

    pub(crate) fn historic_mbi(self, index: u32) -> String {
        mbi::encode((2 * self.ns + 1) * MAX_POOL + u64::from(index))
    }

    /// The pool index whose current (`historic == false`) or historic MBI is
    /// `mbi`, before any check against the pool size.
    pub(crate) fn decode_mbi(self, mbi: &str, historic: bool) -> Option<u32> {
        let v = mbi::decode(mbi)?;
        let block = 2 * self.ns + u64::from(historic);
        (v / MAX_POOL == block).then_some((v % MAX_POOL) as u32)
    }

    /// A legacy HICN in the synthetic `T` + nine digits + `A` form.
    pub(crate) fn hicn(self, index: u32) -> String {
        format!("T{:02}{:07}A", self.ns % 100, index)
    }

    /// A claim id (also used for PDE ids): negative, unique per
    /// (beneficiary, service year, sequence number within the year).
    pub(crate) fn claim_id(self, index: u32, year: i32, seq: u32) -> i64 {
        -((100_000_000_000_000_000 + self.claim_key(index, year, seq)) as i64)
    }

    /// The claim group id of the same claim.
    pub(crate) fn claim_group_id(self, index: u32, year: i32, seq: u32) -> i64 {
        -((500_000_000_000_000_000 + self.claim_key(index, year, seq)) as i64)
    }

    /// The number of a partially adjudicated claim (FISS claim id or MCS
    /// ICN): unique per (beneficiary, receipt week, number within the week);
    /// `n` below 100 (FISS and MCS take separate halves).
    pub(crate) fn pac_number(self, index: u32, week: i64, n: u32) -> u64 {
        let week = week.rem_euclid(10_000) as u64;
        self.global(index) * 1_000_000 + week * 100 + u64::from(n.min(99))
    }

    fn claim_key(self, index: u32, year: i32, seq: u32) -> u64 {
        let y = (year - 2000).clamp(0, 99) as u64;
        self.global(index) * 1_000_000 + y * 10_000 + u64::from(seq.min(9_999))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbis_decode_to_their_index_and_kind() {
        let ns = Namespace::new(42, "A9994");
        for index in [0u32, 1, 49, 9_999_999] {
            assert_eq!(ns.decode_mbi(&ns.mbi(index), false), Some(index));
            assert_eq!(ns.decode_mbi(&ns.historic_mbi(index), true), Some(index));
            assert_eq!(ns.decode_mbi(&ns.historic_mbi(index), false), None);
        }
        let other = Namespace::new(42, "A9990");
        assert_ne!(ns, other);
        assert_eq!(other.decode_mbi(&ns.mbi(3), false), None);
    }

    #[test]
    fn ids_are_negative_and_distinct() {
        let ns = Namespace::new(1, "A9994");
        assert!(ns.bene_id(0) < 0);
        assert_eq!(ns.bene_id(0).to_string().len(), 15); // '-' + 14 digits
        assert_ne!(ns.claim_id(0, 2024, 1), ns.claim_id(0, 2024, 2));
        assert_ne!(ns.claim_id(0, 2024, 1), ns.claim_id(0, 2023, 1));
        assert_ne!(ns.claim_id(0, 2024, 1), ns.claim_group_id(0, 2024, 1));
        assert_eq!(ns.hicn(12).len(), 11);
    }
}
