//! A partially adjudicated claim as API v3 serves it: an R4
//! `ExplanationOfBenefit` tagged `SharedSystem` / `NotFinalAction` with
//! outcome `partial` (BFD's v3 server has no Claim or ClaimResponse).
//!
//! It carries what the claim's v2 `Claim` and `ClaimResponse` say, built
//! from the same pieces (`claim.rs`, `claim_response.rs`): same id
//! (`f-...`, `m-...`), `meta.lastUpdated` and security labels; the billing
//! provider contained as `#provider-org`; the shared system's status,
//! receipt and status dates as extensions; diagnoses, procedures and
//! service lines with their dates. What an ExplanationOfBenefit needs and
//! a Claim words otherwise: the patient and coverage are references to the
//! export's Patient and Coverage (as the adjudicated EOBs'), and the total
//! is the submitted charge. Nothing is paid yet, so there is no `payment`.

use time::UtcOffset;

use super::claim::{
    contained_provider, contained_reference, diagnoses, id_field, items, open_meta, pac_header,
    procedures, service_type_extension, supporting_info,
};
use super::claim_response::status_extensions;
use super::datatypes::{concept, eob_tags};
use super::json::JsonWriter;
use super::references::{coverage_reference, patient_reference};
use super::systems::HL7_ADJ;
use crate::synthetic::pac::{PacClaim, PacSource};
use crate::synthetic::population::Beneficiary;

/// Appends the API v3 ExplanationOfBenefit of `p` to `out`.
pub(crate) fn eob(out: &mut Vec<u8>, p: &PacClaim, bene: &Beneficiary) {
    let mut writer = JsonWriter::new(out);
    let w = &mut writer;
    let fiss = p.source == PacSource::Fiss;
    let c = &p.claim;
    w.begin_object();
    w.str_field("resourceType", "ExplanationOfBenefit");
    id_field(w, p);
    open_meta(w, p);
    eob_tags(w, p.eob_facts());
    w.end_object();
    w.array("contained");
    contained_provider(w, p);
    w.end_array();
    w.array("extension");
    if fiss {
        service_type_extension(w, p);
    }
    status_extensions(w, p);
    w.end_array();
    pac_header(w, p);
    patient_reference(w, "patient", bene.bene_id);
    w.object("billablePeriod");
    w.date_field("start", c.from);
    w.date_field("end", c.thru);
    w.end_object();
    w.date_time_field("created", p.last_updated.to_offset(UtcOffset::UTC));
    w.object("insurer");
    w.object("identifier");
    w.str_field("value", "CMS");
    w.end_object();
    w.end_object();
    contained_reference(w, "provider", "#provider-org");
    w.str_field("outcome", p.eob_facts().outcome.code());
    if fiss {
        supporting_info(w, p);
    }
    diagnoses(w, p);
    procedures(w, p);
    // The Medicare part that pays for the claim's kind of service.
    w.array("insurance");
    w.begin_object();
    w.bool_field("focal", true);
    coverage_reference(w, c.kind.part(), bene.bene_id);
    w.end_object();
    w.end_array();
    items(w, p);
    w.array("total");
    w.begin_object();
    concept(
        w,
        "category",
        HL7_ADJ,
        "submitted",
        Some("Submitted Amount"),
    );
    w.object("amount");
    w.money_field("value", c.totals.charge);
    w.str_field("currency", "USD");
    w.end_object();
    w.end_object();
    w.end_array();
    w.end_object();
}
