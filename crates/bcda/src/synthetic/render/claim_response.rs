//! The R4 `ClaimResponse` of a partially adjudicated claim, as BFD v2
//! serves it: the shared system's status, receipt and status dates, the
//! outcome BFD maps the status to, and a reference to the Claim of the same
//! id. No items: BFD lists line adjudications only for denial reasons,
//! which claims still in process do not have.

use time::UtcOffset;

use super::claim::{
    FISS_VAR, MCS_VAR, contained_patient, contained_reference, ext_coding, ext_date, id_field,
    meta, pac_header, pac_id_bytes,
};
use super::json::JsonWriter;
use crate::synthetic::pac::{PacClaim, PacSource};
use crate::synthetic::population::Beneficiary;

/// Appends the ClaimResponse of `p` to `out`.
pub(crate) fn claim_response(out: &mut Vec<u8>, p: &PacClaim, bene: &Beneficiary) {
    let mut writer = JsonWriter::new(out);
    let w = &mut writer;
    w.begin_object();
    w.str_field("resourceType", "ClaimResponse");
    id_field(w, p);
    meta(w, p);
    w.array("contained");
    contained_patient(w, p.source, bene);
    w.end_array();
    w.array("extension");
    status_extensions(w, p);
    w.end_array();
    pac_header(w, p);
    contained_reference(w, "patient", "#patient");
    w.date_time_field("created", p.last_updated.to_offset(UtcOffset::UTC));
    w.object("insurer");
    w.object("identifier");
    w.str_field("value", "CMS");
    w.end_object();
    w.end_object();
    w.object("request");
    w.key("reference");
    let mut buf = [0u8; 24];
    let n = pac_id_bytes(p, &mut buf);
    w.ascii_pair(b"Claim/", &buf[..n]);
    w.end_object();
    w.str_field("outcome", p.status.outcome);
    w.end_object();
}

/// The shared system's status code, receipt date and status date: elements
/// of `extension`.
pub(crate) fn status_extensions(w: &mut JsonWriter<'_>, p: &PacClaim) {
    match p.source {
        PacSource::Fiss => {
            ext_coding(w, FISS_VAR, "curr-status", p.status.code);
            ext_date(w, FISS_VAR, "recd-dt-cymd", p.received);
            ext_date(w, FISS_VAR, "curr-tran-dt-cymd", p.status_date);
        }
        PacSource::Mcs => {
            ext_coding(w, MCS_VAR, "status-code", p.status.code);
            ext_date(w, MCS_VAR, "claim-receipt-date", p.received);
            ext_date(w, MCS_VAR, "status-date", p.status_date);
        }
    }
}
