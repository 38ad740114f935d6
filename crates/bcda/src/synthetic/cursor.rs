//! One beneficiary's resources of one type, in export order, rendered a
//! few at a time.
//!
//! The claims are generated (and sorted) up front, but their JSON is
//! written only when asked for, straight into the caller's buffer. A
//! super-utilizer with thousands of claims therefore costs the claim
//! models (a few megabytes) rather than tens of megabytes of JSON, and no
//! resource gets an allocation of its own on the export path.

use time::OffsetDateTime;

use super::SyntheticResource;
use super::claims::Claim;
use super::pac::PacClaim;
use super::population::Beneficiary;
use super::records::RecordVersion;
use super::render;
use crate::domain::ApiVersion;

/// What one resource is rendered from.
// Nearly every item is a claim (a beneficiary has at most one Patient and
// three Coverages): boxing the claims would cost an allocation per claim to
// save space on a handful.
#[derive(Debug, Clone)]
pub(super) enum Body {
    /// The Patient, as of one record version.
    Patient(RecordVersion),
    /// The Coverage of one part (`a`, `b`, `d`), as of one record version.
    Coverage(char, RecordVersion),
    /// One claim as an ExplanationOfBenefit.
    Eob(Claim),
    /// A partially adjudicated claim as a `Claim` (R4 only).
    PacClaim(PacClaim),
    /// A partially adjudicated claim as a `ClaimResponse` (R4 only).
    PacResponse(PacClaim),
    /// A partially adjudicated claim as an ExplanationOfBenefit (API v3
    /// only).
    PacEob(PacClaim),
}

/// One resource not yet rendered.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    /// `meta.lastUpdated`.
    pub(super) last_updated: OffsetDateTime,
    /// The resource's `id`; breaks ties in `last_updated` (byte order).
    pub(super) id: String,
    /// What to render.
    pub(super) body: Body,
}

/// A beneficiary's resources of one type, sorted by (`lastUpdated`, id),
/// rendered on demand. Iterating yields each as its own
/// [`SyntheticResource`]; [`ResourceCursor::write_lines`] appends NDJSON to
/// a shared buffer instead.
#[derive(Debug, Clone)]
pub struct ResourceCursor {
    bene: Option<Beneficiary>,
    version: ApiVersion,
    pending: Vec<Pending>,
    next: usize,
}

impl ResourceCursor {
    /// A cursor over `pending`, sorted here into export order.
    pub(super) fn new(bene: Beneficiary, version: ApiVersion, mut pending: Vec<Pending>) -> Self {
        pending.sort_by(|a, b| {
            a.last_updated
                .cmp(&b.last_updated)
                .then_with(|| a.id.as_bytes().cmp(b.id.as_bytes()))
        });
        Self {
            bene: Some(bene),
            version,
            pending,
            next: 0,
        }
    }

    /// A cursor with nothing in it.
    pub(super) fn empty(version: ApiVersion) -> Self {
        Self {
            bene: None,
            version,
            pending: Vec::new(),
            next: 0,
        }
    }

    /// Resources not yet rendered.
    pub fn remaining(&self) -> usize {
        self.pending.len() - self.next
    }

    /// Whether every resource has been rendered.
    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    /// Renders resources as NDJSON lines (each followed by `\n`) onto `out`
    /// until `out` holds at least `limit` bytes or none remain; returns how
    /// many it wrote.
    pub fn write_lines(&mut self, out: &mut Vec<u8>, limit: usize) -> usize {
        let mut written = 0;
        while out.len() < limit && self.render_next(out).is_some() {
            out.push(b'\n');
            written += 1;
        }
        written
    }

    /// Renders the next resource onto `out` (no newline); returns its
    /// `(lastUpdated, id)`.
    fn render_next(&mut self, out: &mut Vec<u8>) -> Option<(OffsetDateTime, &str)> {
        let bene = self.bene.as_ref()?;
        let item = self.pending.get(self.next)?;
        self.next += 1;
        match &item.body {
            Body::Patient(rv) => render::patient::patient(out, self.version, bene, *rv),
            Body::Coverage(part, rv) => {
                render::coverage::coverage(out, self.version, bene, *part, *rv)
            }
            Body::Eob(claim) => render::eob::eob(out, self.version, claim, bene),
            Body::PacClaim(p) => render::claim::claim(out, p, bene),
            Body::PacResponse(p) => render::claim_response::claim_response(out, p, bene),
            Body::PacEob(p) => render::pac_eob::eob(out, p, bene),
        }
        Some((item.last_updated, &item.id))
    }
}

impl Iterator for ResourceCursor {
    type Item = SyntheticResource;

    fn next(&mut self) -> Option<SyntheticResource> {
        let mut json = Vec::with_capacity(8_192);
        let (last_updated, id) = self.render_next(&mut json)?;
        Some(SyntheticResource {
            id: id.to_owned(),
            last_updated,
            json,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining(), Some(self.remaining()))
    }
}
