//! The deterministic synthetic Medicare world: beneficiaries, attribution
//! history, opt-outs, and their FHIR resources (STU3 and R4), generated
//! procedurally from a seed.
//!
//! Everything is a pure function of (seed, CMS id, pool index, ...) through
//! stable sub-seeds (`rng.rs`), so any beneficiary is generated on its own,
//! in any order, on any machine, with identical bytes. Demographics and
//! claims never depend on the anchor day; only the attribution layout, the
//! opt-out events and which partially adjudicated claims fall in the
//! 90-day window before it do, so re-anchoring the sandbox keeps every
//! resource it still serves byte-identical. The model follows docs/REFERENCES.md, "Synthetic data
//! model".

mod attribution_history;
mod claims;
mod codes;
mod cursor;
mod geo;
mod ids;
pub mod mbi;
pub mod npi;
mod opt_outs;
pub mod pac;
mod population;
mod providers;
mod records;
mod render;
mod rng;
mod timeline;

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};

use crate::domain::{ApiVersion, EobFacts, EobFilter, ResourceType};

pub use crate::domain::part2::is_part2_diagnosis;
pub use attribution_history::AttributionFile;
pub use cursor::ResourceCursor;
pub use opt_outs::{OptOutEvent, OptOutPreference};
pub use pac::PacSource;
pub use population::{Beneficiary, PartD, Sex};

use attribution_history::Layout;
use cursor::{Body, Pending};
use ids::Namespace;
use population::{Profile, Special};
use rng::{Seed, hash_bytes};

/// Full claims density, in percent: every claim the model plans. The
/// default of `bcda synthetic` and the benchmark.
pub const FULL_CLAIMS_DENSITY: u8 = 100;

/// One generated FHIR resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticResource {
    /// The resource's `id`, derived from the seed: the same on every run.
    pub id: String,
    /// Its `meta.lastUpdated`.
    pub last_updated: OffsetDateTime,
    /// One minified FHIR resource, no trailing newline.
    pub json: Vec<u8>,
}

/// The two resources a partially adjudicated claim is served as (BFD v2
/// only; `ResourceType::Claim` and `ClaimResponse` through
/// [`SyntheticAco::cursor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PacResource {
    /// The claim as submitted: `Claim`.
    Claim,
    /// Its processing status: `ClaimResponse` (same id as the Claim).
    ClaimResponse,
}

impl PacResource {
    /// Both, in the order exports list them.
    pub const ALL: [PacResource; 2] = [PacResource::Claim, PacResource::ClaimResponse];

    /// The FHIR resource type name.
    pub fn as_str(self) -> &'static str {
        match self {
            PacResource::Claim => "Claim",
            PacResource::ClaimResponse => "ClaimResponse",
        }
    }
}

/// What an exporter needs to know about one partially adjudicated claim
/// without rendering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacSummary {
    /// The id of both its Claim and its ClaimResponse (`f-...`, `m-...`).
    pub id: String,
    /// FISS or MCS.
    pub source: PacSource,
    /// `meta.lastUpdated` of both resources.
    pub last_updated: OffsetDateTime,
    /// The billable period's end (what `service-date` bounds compare).
    pub service_end: Date,
    /// Carries a 42 CFR Part 2 substance use disorder diagnosis: BCDA never
    /// exports it (BFD's `excludeSAMHSA=true`); a store keeps it.
    pub samhsa: bool,
}

/// Which of a beneficiary's resources a cursor ([`SyntheticAco::cursor`])
/// yields: the bounds of one export query, every one applied before a
/// resource is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Only resources with `meta.lastUpdated` after this (`_since`).
    pub since: Option<OffsetDateTime>,
    /// Only resources with `meta.lastUpdated` at or before this.
    pub until: OffsetDateTime,
    /// The moment whose world is shown (an export's transaction time):
    /// Patient and Coverage are their newest versions loaded by then, as a
    /// store holding only current versions has them, and are then kept
    /// only if that version's `lastUpdated` is within `until`. Usually
    /// `until` itself; later when `until` is an earlier bound (`_until`, or
    /// partially adjudicated claims read as of a job's creation).
    pub as_of: OffsetDateTime,
    /// Claims only (EOB, Claim, ClaimResponse): those whose billable period
    /// ended on or before this day (Group/runout's cap).
    pub claims_through: Option<Date>,
    /// API v3 ExplanationOfBenefits only (ignored elsewhere): the tags,
    /// outcome and service dates kept. `None`: every one.
    pub eob_filter: Option<EobFilter>,
    /// Leave out claims that are 42 CFR Part 2 data: what every BCDA export
    /// asks BFD for (`excludeSAMHSA=true`, v3's `_security:not=42CFRPart2`).
    pub exclude_samhsa: bool,
}

impl Selection {
    /// Every resource loaded by `until`, 42 CFR Part 2 claims included:
    /// what a store of the world holds.
    pub fn everything(until: OffsetDateTime) -> Self {
        Selection {
            since: None,
            until,
            as_of: until,
            claims_through: None,
            eob_filter: None,
            exclude_samhsa: false,
        }
    }

    /// Whether a claim loaded at `last_updated` (at or before `until`; the
    /// caller has checked), whose service ended on `service_end`, flagged
    /// `part2` and, as an API v3 ExplanationOfBenefit, with `v3_facts`, is
    /// selected. (`since` is applied to every resource by the cursor.)
    fn keeps_claim(&self, v3_facts: Option<EobFacts>, service_end: Date, part2: bool) -> bool {
        self.claims_through.is_none_or(|cap| service_end <= cap)
            && !(self.exclude_samhsa && part2)
            && match (self.eob_filter, v3_facts) {
                (Some(filter), Some(facts)) => filter.matches(facts, service_end),
                _ => true,
            }
    }

    /// Whether an API v3 ExplanationOfBenefit with `facts` can be selected
    /// at all (so claims of that kind need not even be generated).
    fn may_keep(&self, facts: EobFacts) -> bool {
        self.eob_filter.is_none_or(|f| f.facts.contains(facts))
    }
}

/// One synthetic ACO: its beneficiary pool, attribution history, opt-outs
/// and every beneficiary's resources.
#[derive(Debug, Clone)]
pub struct SyntheticAco {
    cms_id: String,
    seed: u64,
    beneficiaries: u32,
    first_service_year: i32,
    anchor: Date,
    stale_attribution: bool,
    claims_density: u8,
    world: Seed,
    ns: Namespace,
    layout: Layout,
}

impl SyntheticAco {
    /// `anchor`: the day the world's attribution history is laid out against (the sandbox start day).
    /// `stale_attribution`: this ACO's newest default attribution file belongs to the previous performance year.
    ///
    /// # Panics
    /// If the pool (current plus former members) would exceed ten million.
    pub fn new(
        cms_id: &str,
        seed: u64,
        beneficiaries: u32,
        first_service_year: i32,
        anchor: Date,
        stale_attribution: bool,
    ) -> Self {
        let world = Seed::new(seed).num(hash_bytes(cms_id.as_bytes()));
        let layout = Layout::new(world, beneficiaries, anchor, stale_attribution);
        assert!(
            u64::from(layout.pool_size()) < ids::MAX_POOL,
            "synthetic ACOs hold at most ten million beneficiaries"
        );
        SyntheticAco {
            cms_id: cms_id.to_string(),
            seed,
            beneficiaries,
            first_service_year,
            anchor,
            stale_attribution,
            claims_density: FULL_CLAIMS_DENSITY,
            world,
            ns: Namespace::new(seed, cms_id),
            layout,
        }
    }

    /// The same ACO with `percent` (clamped to 1..=100) of the full claim
    /// rates: fewer claims per beneficiary, each built as at full density.
    /// Beneficiaries, attribution, Patient and Coverage are unchanged.
    pub fn with_claims_density(mut self, percent: u8) -> Self {
        self.claims_density = percent.clamp(1, FULL_CLAIMS_DENSITY);
        self
    }

    /// Percent of the full claim rates this ACO's beneficiaries have.
    pub fn claims_density(&self) -> u8 {
        self.claims_density
    }

    /// The ACO's CMS id.
    pub fn cms_id(&self) -> &str {
        &self.cms_id
    }

    /// The world seed given to [`SyntheticAco::new`]; with the CMS ID it fixes every record.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Members of the newest default attribution file, exactly.
    pub fn beneficiaries(&self) -> u32 {
        self.beneficiaries
    }

    /// The first service year claims are generated for.
    pub fn first_service_year(&self) -> i32 {
        self.first_service_year
    }

    /// The day the attribution history is laid out against.
    pub fn anchor(&self) -> Date {
        self.anchor
    }

    /// Whether the newest default file belongs to the previous performance year.
    pub fn stale_attribution(&self) -> bool {
        self.stale_attribution
    }

    /// Current members plus former (churned-out) members; indices `0..pool_size`.
    pub fn pool_size(&self) -> u32 {
        self.layout.pool_size()
    }

    fn profile(&self, index: u32) -> Option<Profile> {
        (index < self.pool_size())
            .then(|| Profile::generate(self.world, self.ns, index, index < self.beneficiaries))
    }

    /// The beneficiary at a pool index (`None` past the pool).
    pub fn beneficiary(&self, index: u32) -> Option<Beneficiary> {
        self.profile(index).map(|p| p.bene)
    }

    /// The pool index whose current MBI is `mbi` (decoded, no table).
    pub fn index_of_mbi(&self, mbi: &str) -> Option<u32> {
        self.ns
            .decode_mbi(mbi, false)
            .filter(|&i| i < self.pool_size())
    }

    /// The pool index whose historic (replaced) MBI is `mbi`.
    pub fn index_of_historic_mbi(&self, mbi: &str) -> Option<u32> {
        self.ns
            .decode_mbi(mbi, true)
            .filter(|&i| i < self.pool_size())
            .filter(|&i| {
                self.beneficiary(i)
                    .is_some_and(|b| b.historic_mbi.as_deref() == Some(mbi))
            })
    }

    /// The pool index of a bene id (bene ids count down from index 0's), if it is in the pool.
    pub fn index_of_bene_id(&self, bene_id: i64) -> Option<u32> {
        // bene ids count down from index 0's: the offset is the index.
        let offset = self.ns.bene_id(0).checked_sub(bene_id)?;
        u32::try_from(offset).ok().filter(|&i| i < self.pool_size())
    }

    /// False for a deliberate few beneficiaries BFD does not know (BCDA
    /// writes an error line for them).
    pub fn has_claims_record(&self, index: u32) -> bool {
        index < self.pool_size() && Special::of(index) != Special::UnknownToBfd
    }

    /// Whether BFD holds a Patient for the beneficiary at `until`: known to
    /// BFD at all, and its first record loaded by then. What a claims
    /// source can resolve at a job's transaction time.
    pub fn has_patient_at(&self, index: u32, until: OffsetDateTime) -> bool {
        if !self.has_claims_record(index) {
            return false;
        }
        self.profile(index).is_some_and(|p| {
            records::version_at(
                &p.bene,
                p.seed.label("record-load"),
                p.bene.part_a_start,
                self.first_service_year,
                until,
            )
            .is_some()
        })
    }

    /// Every attribution file, oldest first.
    pub fn attribution_files(&self) -> Vec<AttributionFile> {
        self.layout.files()
    }

    /// The pool indices in `file`, ascending (empty for a file not of this ACO).
    pub fn attribution_members(&self, file: &AttributionFile) -> Vec<u32> {
        self.layout.members(file)
    }

    /// Whether pool member `index` is in `file` (cheap: one member's tenure,
    /// not the roster).
    pub fn is_attribution_member(&self, file: &AttributionFile, index: u32) -> bool {
        self.layout.contains(file, index)
    }

    /// Every 1-800-MEDICARE preference event, sorted by (effective date, index).
    pub fn opt_out_events(&self) -> Vec<OptOutEvent> {
        opt_outs::events(
            self.world,
            self.beneficiaries,
            self.pool_size(),
            self.anchor,
        )
    }

    /// Every resource of one type and version for one beneficiary with
    /// `meta.lastUpdated <= until`, sorted by (last_updated, id) ascending
    /// (byte order of id breaks ties). Empty if `!has_claims_record`. What
    /// a store holds: claims with a 42 CFR Part 2 diagnosis included (an
    /// export leaves them out: [`SyntheticAco::cursor`]); on API v3 the
    /// ExplanationOfBenefits of partially adjudicated claims too.
    pub fn resources(
        &self,
        index: u32,
        version: ApiVersion,
        resource_type: ResourceType,
        until: OffsetDateTime,
    ) -> Vec<SyntheticResource> {
        self.cursor(index, version, resource_type, &Selection::everything(until))
            .collect()
    }

    /// The resources of [`SyntheticAco::resources`] as of `selection.as_of`
    /// that `selection` keeps
    /// (`lastUpdated` in `(since, until]`, claims ended by `claims_through`,
    /// on v3 the ExplanationOfBenefits `eob_filter` allows, and with
    /// `exclude_samhsa` no claim carrying a 42 CFR Part 2 diagnosis or DRG),
    /// not yet rendered: the cursor renders them on demand, so a
    /// beneficiary with thousands of claims never has all of their JSON in
    /// memory at once, and an excluded claim is never rendered.
    ///
    /// On API v3 the ExplanationOfBenefits are the adjudicated claims
    /// (tagged NationalClaimsHistory, or DDPS for Part D events) and the
    /// partially adjudicated ones of [`Self::pac_claims`] (SharedSystem),
    /// in one `(lastUpdated, id)` order; Claim and ClaimResponse exist on
    /// v2 only.
    pub fn cursor(
        &self,
        index: u32,
        version: ApiVersion,
        resource_type: ResourceType,
        selection: &Selection,
    ) -> ResourceCursor {
        let Selection { since, as_of, .. } = *selection;
        // Nothing loaded after `as_of` exists in the world shown.
        let until = selection.until.min(as_of);
        let pac = match resource_type {
            ResourceType::Claim => Some(PacResource::Claim),
            ResourceType::ClaimResponse => Some(PacResource::ClaimResponse),
            _ => None,
        };
        if let Some(resource) = pac {
            // Partially adjudicated data exists on v2 only.
            return match version {
                ApiVersion::V2 => self.pac_cursor(index, resource, selection),
                ApiVersion::V1 | ApiVersion::V3 => ResourceCursor::empty(version),
            };
        }
        if !self.has_claims_record(index) {
            return ResourceCursor::empty(version);
        }
        let Some(p) = self.profile(index) else {
            return ResourceCursor::empty(version);
        };
        let bene = &p.bene;
        let mut pending = Vec::new();
        match resource_type {
            // Served by the partially adjudicated cursor above.
            ResourceType::Claim | ResourceType::ClaimResponse => {}
            ResourceType::Patient => {
                let seed = p.seed.label("record-load");
                if let Some(rv) = records::version_at(
                    bene,
                    seed,
                    bene.part_a_start,
                    self.first_service_year,
                    as_of,
                )
                .filter(|rv| rv.last_updated <= until)
                {
                    pending.push(Pending {
                        last_updated: rv.last_updated,
                        id: bene.bene_id.to_string(),
                        body: Body::Patient(rv),
                    });
                }
            }
            ResourceType::Coverage => {
                let parts = [
                    ('a', Some(bene.part_a_start)),
                    ('b', bene.part_b_start),
                    ('d', bene.part_d.as_ref().map(|d| d.start)),
                ];
                for (part, start) in parts {
                    let Some(start) = start else { continue };
                    let seed = p.seed.label("record-load").num(u64::from(part));
                    if let Some(rv) =
                        records::version_at(bene, seed, start, self.first_service_year, as_of)
                            .filter(|rv| rv.last_updated <= until)
                    {
                        pending.push(Pending {
                            last_updated: rv.last_updated,
                            id: format!("part-{part}-{}", bene.bene_id),
                            body: Body::Coverage(part, rv),
                        });
                    }
                }
            }
            ResourceType::ExplanationOfBenefit => {
                let v3 = version == ApiVersion::V3;
                // A v3 export of SharedSystem claims only never builds the
                // years of adjudicated claims.
                if !v3 || selection.may_keep(EobFacts::NCH) || selection.may_keep(EobFacts::DDPS) {
                    pending.extend(
                        self.claims_until(&p, until)
                            .into_iter()
                            // The billable period's end, as rendered.
                            .filter(|(_, _, claim)| {
                                selection.keeps_claim(
                                    v3.then(|| claim.eob_facts()),
                                    claim.thru,
                                    claim.is_part2(),
                                )
                            })
                            .map(|(last_updated, id, claim)| Pending {
                                last_updated,
                                id,
                                body: Body::Eob(claim),
                            }),
                    );
                }
                if v3 && selection.may_keep(EobFacts::SHARED_SYSTEM) {
                    pending.extend(
                        pac::window_claims(self.ns, &p, self.anchor, self.claims_density)
                            .into_iter()
                            .filter(|c| {
                                c.last_updated <= until
                                    && selection.keeps_claim(
                                        Some(c.eob_facts()),
                                        c.claim.thru,
                                        c.samhsa,
                                    )
                            })
                            .map(|c| Pending {
                                last_updated: c.last_updated,
                                id: c.id(),
                                body: Body::PacEob(c),
                            }),
                    );
                }
            }
        }
        // `_since` is applied before rendering: what it excludes costs
        // nothing but the claim model.
        if let Some(since) = since {
            pending.retain(|r| r.last_updated > since);
        }
        ResourceCursor::new(p.bene, version, pending)
    }

    /// The partially adjudicated claims of one beneficiary: FISS and MCS
    /// claims received in the 90 days up to the anchor day and not yet
    /// final, whatever their `lastUpdated`, sorted by (lastUpdated, id).
    /// Empty if `!has_claims_record`. Each is served as a Claim and a
    /// ClaimResponse with the same id and lastUpdated ([`Self::pac_cursor`]).
    pub fn pac_claims(&self, index: u32) -> Vec<PacSummary> {
        let mut out: Vec<PacSummary> = self
            .pac_models(index)
            .into_iter()
            .map(|p| PacSummary {
                id: p.id(),
                source: p.source,
                last_updated: p.last_updated,
                service_end: p.claim.thru,
                samhsa: p.samhsa,
            })
            .collect();
        out.sort_by(|a, b| {
            a.last_updated
                .cmp(&b.last_updated)
                .then_with(|| a.id.as_bytes().cmp(b.id.as_bytes()))
        });
        out
    }

    /// Every Claim or ClaimResponse of one beneficiary with
    /// `meta.lastUpdated <= until`, SAMHSA-flagged ones included (what a
    /// store holds), in export order. R4 (v2) only.
    pub fn pac_resources(
        &self,
        index: u32,
        resource: PacResource,
        until: OffsetDateTime,
    ) -> Vec<SyntheticResource> {
        self.pac_cursor(index, resource, &Selection::everything(until))
            .collect()
    }

    /// The partially adjudicated resources an export of one beneficiary
    /// sends, rendered on demand like [`Self::cursor`]: `lastUpdated` in
    /// `(since, until]`, the billable period ended by `claims_through` (the
    /// runout cap) if given, and, with `exclude_samhsa` (what every BCDA
    /// export asks for), no claim carrying a 42 CFR Part 2 diagnosis;
    /// excluded claims are never rendered. (`eob_filter` is v3's, which
    /// serves these claims as ExplanationOfBenefits instead.)
    pub fn pac_cursor(
        &self,
        index: u32,
        resource: PacResource,
        selection: &Selection,
    ) -> ResourceCursor {
        let Selection {
            since,
            claims_through,
            exclude_samhsa,
            ..
        } = *selection;
        let until = selection.until.min(selection.as_of);
        if !self.has_claims_record(index) {
            return ResourceCursor::empty(ApiVersion::V2);
        }
        let Some(p) = self.profile(index) else {
            return ResourceCursor::empty(ApiVersion::V2);
        };
        let pending = pac::window_claims(self.ns, &p, self.anchor, self.claims_density)
            .into_iter()
            .filter(|c| c.last_updated <= until && since.is_none_or(|s| c.last_updated > s))
            .filter(|c| claims_through.is_none_or(|cap| c.claim.thru <= cap))
            .filter(|c| !(exclude_samhsa && c.samhsa))
            .map(|c| Pending {
                last_updated: c.last_updated,
                id: c.id(),
                body: match resource {
                    PacResource::Claim => Body::PacClaim(c),
                    PacResource::ClaimResponse => Body::PacResponse(c),
                },
            })
            .collect();
        let bene = p.bene;
        ResourceCursor::new(bene, ApiVersion::V2, pending)
    }

    /// The beneficiary's partially adjudicated claim models, unsorted.
    fn pac_models(&self, index: u32) -> Vec<pac::PacClaim> {
        if !self.has_claims_record(index) {
            return Vec::new();
        }
        let Some(p) = self.profile(index) else {
            return Vec::new();
        };
        pac::window_claims(self.ns, &p, self.anchor, self.claims_density)
    }

    /// EOB counts by `eob-type` code (`CARRIER`, `PDE`, ...) for one
    /// beneficiary with `meta.lastUpdated <= until`, without rendering.
    pub fn eob_counts(&self, index: u32, until: OffsetDateTime) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        if !self.has_claims_record(index) {
            return counts;
        }
        if let Some(p) = self.profile(index) {
            for (_, _, c) in self.claims_until(&p, until) {
                *counts.entry(c.kind.eob_type()).or_insert(0) += 1;
            }
        }
        counts
    }

    fn claims_until(
        &self,
        p: &Profile,
        until: OffsetDateTime,
    ) -> Vec<(OffsetDateTime, String, claims::Claim)> {
        let last_year = until.to_offset(time::UtcOffset::UTC).year();
        let mut out = Vec::new();
        for year in self.first_service_year..=last_year {
            for claim in claims::year_claims(self.ns, p, year, self.claims_density) {
                if claim.last_updated <= until {
                    out.push((claim.last_updated, claim.id(), claim));
                }
            }
        }
        out
    }
}
