//! The R4 `Claim` of a partially adjudicated claim, in the shape BFD v2
//! serves for FISS (institutional) and MCS (professional) claims, plus what
//! FHIR R4 requires and BFD leaves out (docs/REFERENCES.md, "Partially
//! adjudicated claims"): an `insurance` on MCS claims and a
//! `productOrService` on every FISS revenue line.
//!
//! The pieces the PAC resources share (the contained patient and provider,
//! the security labels, the claim identifier and type, diagnoses and
//! lines) live here too; the ClaimResponse and API v3's ExplanationOfBenefit
//! renderers (`claim_response.rs`, `pac_eob.rs`) use them.

use time::UtcOffset;

use super::datatypes::{coding, concept};
use super::json::JsonWriter;
use super::references::npi_identifier_fields;
use super::systems::{C4BB_ID, US_MBI};
use crate::synthetic::pac::{PacClaim, PacSource};
use crate::synthetic::population::Beneficiary;

/// Blue Button FISS variables (`.../variables/fiss/<name>`).
pub(crate) const FISS_VAR: &str = "https://bluebutton.cms.gov/resources/variables/fiss/";
/// Blue Button MCS variables.
pub(crate) const MCS_VAR: &str = "https://bluebutton.cms.gov/resources/variables/mcs/";
const CLAIM_TYPE: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
const HCPCS_RELEASE: &str = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";
const HCPCS_CD: &str = "https://bluebutton.cms.gov/resources/variables/hcpcs_cd";
const ICD10_CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
const ICD10_PCS: &str = "http://www.cms.gov/Medicare/Coding/ICD10";
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// Appends the Claim of `p` to `out`.
pub(crate) fn claim(out: &mut Vec<u8>, p: &PacClaim, bene: &Beneficiary) {
    let mut writer = JsonWriter::new(out);
    let w = &mut writer;
    let fiss = p.source == PacSource::Fiss;
    let c = &p.claim;
    w.begin_object();
    w.str_field("resourceType", "Claim");
    id_field(w, p);
    meta(w, p);
    w.array("contained");
    contained_patient(w, p.source, bene);
    contained_provider(w, p);
    w.end_array();
    if fiss {
        w.array("extension");
        service_type_extension(w, p);
        w.end_array();
    }
    pac_header(w, p);
    contained_reference(w, "patient", "#patient");
    w.object("billablePeriod");
    w.date_field("start", c.from);
    w.date_field("end", c.thru);
    w.end_object();
    w.date_time_field("created", p.last_updated.to_offset(UtcOffset::UTC));
    contained_reference(w, "provider", "#provider-org");
    concept(
        w,
        "priority",
        "http://terminology.hl7.org/CodeSystem/processpriority",
        "normal",
        Some("Normal"),
    );
    if fiss {
        supporting_info(w, p);
    }
    diagnoses(w, p);
    procedures(w, p);
    insurance(w, p.source);
    items(w, p);
    w.object("total");
    w.money_field("value", c.totals.charge);
    w.str_field("currency", "USD");
    w.end_object();
    w.end_object();
}

/// FISS: the service classification (the type of bill's second digit), an
/// element of `extension`.
pub(crate) fn service_type_extension(w: &mut JsonWriter<'_>, p: &PacClaim) {
    ext_coding(
        w,
        FISS_VAR,
        "serv-typ-cd",
        p.claim.type_of_bill.get(1..2).unwrap_or(""),
    );
}

/// FISS: the ICD-10-PCS procedures, if any (MCS claims carry none).
pub(crate) fn procedures(w: &mut JsonWriter<'_>, p: &PacClaim) {
    let c = &p.claim;
    if p.source != PacSource::Fiss || c.procedures.is_empty() {
        return;
    }
    w.array("procedure");
    for (i, (code, _, day)) in c.procedures.iter().enumerate() {
        w.begin_object();
        w.int_field("sequence", i as i64 + 1);
        w.date_time_field("date", day.midnight().assume_utc());
        concept(w, "procedureCodeableConcept", ICD10_PCS, code, None);
        w.end_object();
    }
    w.end_array();
}

/// `"id":"f-<number>"`.
pub(crate) fn id_field(w: &mut JsonWriter<'_>, p: &PacClaim) {
    w.key("id");
    let mut buf = [0u8; 24];
    let n = pac_id_bytes(p, &mut buf);
    w.ascii(&buf[..n]);
}

/// Writes `f-<number>` / `m-<number>` into `buf`; returns its length.
pub(crate) fn pac_id_bytes(p: &PacClaim, buf: &mut [u8; 24]) -> usize {
    buf[0] = p.source.prefix().as_bytes()[0];
    buf[1] = b'-';
    let digits = number_bytes(p.number);
    let first = digits.iter().position(|&b| b != b'0').unwrap_or(19);
    let tail = &digits[first..];
    buf[2..2 + tail.len()].copy_from_slice(tail);
    2 + tail.len()
}

/// A number as 20 zero-padded digits.
fn number_bytes(n: u64) -> [u8; 20] {
    let mut out = [b'0'; 20];
    let mut n = n;
    for i in (0..20).rev() {
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// `meta`: the weekly load time, and the confidentiality labels BFD puts on
/// claims: `N` (normal), or `R` (restricted) with the 42 CFR Part 2 act
/// code for substance use disorder claims.
pub(crate) fn meta(w: &mut JsonWriter<'_>, p: &PacClaim) {
    open_meta(w, p);
    w.end_object();
}

/// [`meta`] left open for what follows `security` (an API v3 EOB's `tag`).
pub(crate) fn open_meta(w: &mut JsonWriter<'_>, p: &PacClaim) {
    w.object("meta");
    w.instant_field("lastUpdated", p.last_updated);
    w.array("security");
    if p.samhsa {
        coding(w, CONFIDENTIALITY, "R", Some("Restricted"));
        coding(w, ACT_CODE, "42CFRPart2", Some("42 CFR Part 2"));
    } else {
        coding(w, CONFIDENTIALITY, "N", Some("Normal"));
    }
    w.end_array();
}

/// The claim's unique identifier: FISS `dcn` or MCS `icn`.
pub(crate) fn identifier(w: &mut JsonWriter<'_>, p: &PacClaim) {
    w.array("identifier");
    w.begin_object();
    concept(w, "type", C4BB_ID, "uc", Some("Unique Claim ID"));
    w.key("system");
    match p.source {
        PacSource::Fiss => w.ascii_pair(FISS_VAR.as_bytes(), b"dcn"),
        PacSource::Mcs => w.ascii_pair(MCS_VAR.as_bytes(), b"icn"),
    }
    w.key("value");
    let mut buf = [0u8; 24];
    let n = pac_id_bytes(p, &mut buf);
    w.ascii(&buf[2..n]);
    w.end_object();
    w.end_array();
}

/// What every rendering of a partially adjudicated claim (Claim,
/// ClaimResponse, v3 ExplanationOfBenefit) writes after its extensions:
/// identifier, `status` active, type, `use` claim.
pub(crate) fn pac_header(w: &mut JsonWriter<'_>, p: &PacClaim) {
    identifier(w, p);
    w.str_field("status", "active");
    claim_type(w, p.source);
    w.str_field("use", "claim");
}

/// `"type"`: institutional (FISS) or professional (MCS).
pub(crate) fn claim_type(w: &mut JsonWriter<'_>, source: PacSource) {
    match source {
        PacSource::Fiss => concept(
            w,
            "type",
            CLAIM_TYPE,
            "institutional",
            Some("Institutional"),
        ),
        PacSource::Mcs => concept(w, "type", CLAIM_TYPE, "professional", Some("Professional")),
    }
}

/// `"key":{"reference":"#..."}`.
pub(crate) fn contained_reference(w: &mut JsonWriter<'_>, key: &str, reference: &'static str) {
    w.object(key);
    w.const_field("reference", reference);
    w.end_object();
}

/// `{"url":base+name,"valueCoding":{"system":base+name,"code":code}}`.
pub(crate) fn ext_coding(w: &mut JsonWriter<'_>, base: &'static str, name: &str, code: &str) {
    w.begin_object();
    w.key("url");
    w.ascii_pair(base.as_bytes(), name.as_bytes());
    w.object("valueCoding");
    w.key("system");
    w.ascii_pair(base.as_bytes(), name.as_bytes());
    w.str_field("code", code);
    w.end_object();
    w.end_object();
}

/// `{"url":base+name,"valueDate":date}`.
pub(crate) fn ext_date(w: &mut JsonWriter<'_>, base: &'static str, name: &str, day: time::Date) {
    w.begin_object();
    w.key("url");
    w.ascii_pair(base.as_bytes(), name.as_bytes());
    w.date_field("valueDate", day);
    w.end_object();
}

/// A short text built on the stack (names are a few dozen bytes).
struct Text {
    buf: [u8; 160],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Text {
            buf: [0; 160],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// The first `n` characters of `s`.
fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// The patient as the shared systems know them (an MBI, the name as the
/// system keeps it, sex; FISS also the birth date), contained as
/// `#patient`: partially adjudicated data is keyed by MBI, not bene id.
pub(crate) fn contained_patient(w: &mut JsonWriter<'_>, source: PacSource, bene: &Beneficiary) {
    w.begin_object();
    w.str_field("resourceType", "Patient");
    w.str_field("id", "patient");
    w.array("identifier");
    w.begin_object();
    concept(w, "type", V2_0203, "MC", Some("Patient's Medicare Number"));
    w.str_field("system", US_MBI);
    w.str_field("value", &bene.mbi);
    w.end_object();
    w.end_array();
    let middle = bene.middle_name.as_deref().map(|m| first_chars(m, 1));
    let mut first = Text::new();
    let mut mid = Text::new();
    if let Some(m) = middle {
        mid.push(m.as_bytes());
        mid.push(b".");
    }
    let (family, format): (&str, &[u8]) = match source {
        // FISS keeps up to 10 characters of the first name, the middle
        // initial and 15 of the last; MCS the initials and 6 of the last.
        PacSource::Fiss => {
            first.push(first_chars(&bene.first_name, 10).as_bytes());
            (
                first_chars(&bene.last_name, 15),
                b"[max 10 chars of first], [middle initial], [max 15 chars of last]",
            )
        }
        PacSource::Mcs => {
            first.push(first_chars(&bene.first_name, 1).as_bytes());
            first.push(b".");
            (
                first_chars(&bene.last_name, 6),
                b"[first initial], [middle initial], [max 6 chars of last]",
            )
        }
    };
    let mut text = Text::new();
    text.push(first.as_str().as_bytes());
    if middle.is_some() {
        text.push(b" ");
        text.push(mid.as_str().as_bytes());
    }
    text.push(b" ");
    text.push(family.as_bytes());
    text.push(b" (");
    text.push(format);
    text.push(b")");
    w.array("name");
    w.begin_object();
    w.str_field("text", text.as_str());
    w.str_field("family", family);
    w.array("given");
    w.string(first.as_str());
    if middle.is_some() {
        w.string(mid.as_str());
    }
    w.end_array();
    w.end_object();
    w.end_array();
    w.str_field("gender", bene.sex.fhir_gender());
    if source == PacSource::Fiss {
        w.date_field("birthDate", bene.birth_date);
    }
    w.end_object();
}

/// The billing provider, contained as `#provider-org`: the facility (CCN,
/// tax id, NPI) for FISS, the practitioner's billing group (specialty, tax
/// id, NPI) for MCS. Tax ids are included because BCDA asks BFD for them
/// (`includeTaxNumbers=true`).
pub(crate) fn contained_provider(w: &mut JsonWriter<'_>, p: &PacClaim) {
    let c = &p.claim;
    w.begin_object();
    w.str_field("resourceType", "Organization");
    w.str_field("id", "provider-org");
    let (npi, tin) = match (p.source, c.organization) {
        (PacSource::Fiss, Some(org)) => (org.npi, 300_000_000 + (org.npi % 600_000_000) as u32),
        _ => (c.practitioner.npi, c.practitioner.tin),
    };
    if p.source == PacSource::Mcs {
        w.array("extension");
        ext_coding(
            w,
            MCS_VAR,
            "bill-prov-spec",
            c.practitioner.specialty_code(),
        );
        w.end_array();
    }
    w.array("identifier");
    if let (PacSource::Fiss, Some(org)) = (p.source, c.organization) {
        w.begin_object();
        concept(w, "type", V2_0203, "PRN", Some("Provider number"));
        w.key("system");
        w.ascii_pair(FISS_VAR.as_bytes(), b"meda-prov-6");
        w.key("value");
        w.ascii(&org.ccn());
        w.end_object();
    }
    w.begin_object();
    concept(w, "type", V2_0203, "TAX", Some("Tax ID number"));
    w.key("system");
    match p.source {
        PacSource::Fiss => w.ascii_pair(FISS_VAR.as_bytes(), b"fed-tax-nb"),
        PacSource::Mcs => w.ascii_pair(MCS_VAR.as_bytes(), b"bill-prov-ein"),
    }
    w.key("value");
    // Tax ids are nine digits.
    w.ascii(&number_bytes(u64::from(tin))[11..]);
    w.end_object();
    w.begin_object();
    npi_identifier_fields(w, true, npi);
    w.end_object();
    w.end_array();
    w.end_object();
}

/// FISS: the claim frequency (the type of bill's third digit) and, for
/// inpatient stays, the DRG.
pub(crate) fn supporting_info(w: &mut JsonWriter<'_>, p: &PacClaim) {
    let c = &p.claim;
    w.array("supportingInfo");
    w.begin_object();
    w.int_field("sequence", 1);
    concept(
        w,
        "category",
        "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType",
        "typeofbill",
        Some("Type of Bill"),
    );
    w.object("code");
    w.array("coding");
    w.begin_object();
    w.key("system");
    w.ascii_pair(FISS_VAR.as_bytes(), b"freq-cd");
    w.str_field("code", c.type_of_bill.get(2..3).unwrap_or(""));
    w.end_object();
    w.end_array();
    w.end_object();
    w.end_object();
    if let Some(drg) = c.drg {
        w.begin_object();
        w.int_field("sequence", 2);
        w.object("category");
        w.array("coding");
        coding(
            w,
            "http://terminology.hl7.org/CodeSystem/claiminformationcategory",
            "info",
            Some("Information"),
        );
        coding(
            w,
            "https://bluebutton.cms.gov/resources/codesystem/information",
            "https://bluebutton.cms.gov/resources/variables/clm_drg_cd",
            Some("Claim Diagnosis Related Group Code (or MS-DRG Code)"),
        );
        w.end_array();
        w.end_object();
        concept(
            w,
            "code",
            "https://bluebutton.cms.gov/resources/variables/clm_drg_cd",
            drg.drg,
            None,
        );
        w.end_object();
    }
    w.end_array();
}

/// The diagnoses, principal first (FISS types it, and gives an inpatient
/// stay's present-on-admission indicator).
pub(crate) fn diagnoses(w: &mut JsonWriter<'_>, p: &PacClaim) {
    let c = &p.claim;
    let inpatient = c.stay.is_some() && p.source == PacSource::Fiss;
    w.array("diagnosis");
    for (i, dx) in c.diagnoses.iter().enumerate() {
        w.begin_object();
        w.int_field("sequence", i as i64 + 1);
        concept(w, "diagnosisCodeableConcept", ICD10_CM, dx.code, None);
        if i == 0 && p.source == PacSource::Fiss {
            w.array("type");
            w.begin_object();
            w.array("coding");
            coding(
                w,
                "http://terminology.hl7.org/CodeSystem/ex-diagnosistype",
                "principal",
                Some("Principal Diagnosis"),
            );
            w.end_array();
            w.end_object();
            w.end_array();
        }
        if inpatient {
            w.object("onAdmission");
            w.array("coding");
            w.begin_object();
            w.key("system");
            w.ascii_pair(FISS_VAR.as_bytes(), b"diag-poa-ind");
            w.str_field("code", "y");
            w.end_object();
            w.end_array();
            w.end_object();
        }
        w.end_object();
    }
    w.end_array();
}

/// Medicare as the focal payer. FISS names it as BFD does (`payers-name`);
/// BFD gives MCS claims no insurance, which R4 requires, so they get the
/// same shape without the FISS variable.
fn insurance(w: &mut JsonWriter<'_>, source: PacSource) {
    w.array("insurance");
    w.begin_object();
    w.int_field("sequence", 1);
    w.bool_field("focal", true);
    w.object("coverage");
    w.object("identifier");
    if source == PacSource::Fiss {
        w.key("system");
        w.ascii_pair(FISS_VAR.as_bytes(), b"payers-name");
    }
    w.str_field("value", "MEDICARE");
    w.end_object();
    w.end_object();
    w.end_object();
    w.end_array();
}

/// The service lines: FISS revenue lines with their service day, MCS
/// lines with their service period (elements a Claim and an
/// ExplanationOfBenefit item share).
pub(crate) fn items(w: &mut JsonWriter<'_>, p: &PacClaim) {
    let c = &p.claim;
    w.array("item");
    for (i, line) in c.lines.iter().enumerate() {
        w.begin_object();
        w.int_field("sequence", i as i64 + 1);
        match p.source {
            PacSource::Fiss => {
                if let Some(rev) = line.revenue {
                    w.object("revenue");
                    w.array("coding");
                    w.begin_object();
                    w.key("system");
                    w.ascii_pair(FISS_VAR.as_bytes(), b"rev-cd");
                    w.str_field("code", rev);
                    w.end_object();
                    w.end_array();
                    w.end_object();
                }
                match line.hcpcs {
                    Some(h) => concept(w, "productOrService", HCPCS_CD, h, None),
                    // Room and board and packaged lines carry no HCPCS; R4
                    // needs a productOrService all the same.
                    None => concept(
                        w,
                        "productOrService",
                        "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "not-applicable",
                        Some("Not Applicable"),
                    ),
                }
                modifier(w, line.modifier);
                w.date_field("servicedDate", line.from);
                w.object("quantity");
                w.int_field("value", i64::from(line.qty));
                w.end_object();
            }
            PacSource::Mcs => {
                w.array("diagnosisSequence");
                w.int(1);
                w.end_array();
                concept(
                    w,
                    "productOrService",
                    HCPCS_RELEASE,
                    line.hcpcs.unwrap_or(""),
                    None,
                );
                modifier(w, line.modifier);
                w.object("servicedPeriod");
                w.date_field("start", line.from);
                w.date_field("end", line.thru);
                w.end_object();
            }
        }
        w.end_object();
    }
    w.end_array();
}

fn modifier(w: &mut JsonWriter<'_>, m: Option<&'static str>) {
    let Some(m) = m else { return };
    w.array("modifier");
    w.begin_object();
    w.array("coding");
    w.begin_object();
    w.const_field("system", HCPCS_RELEASE);
    w.str_field("version", "1");
    w.str_field("code", m);
    w.end_object();
    w.end_array();
    w.end_object();
    w.end_array();
}
