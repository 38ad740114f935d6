//! ExplanationOfBenefit for both API versions from one [`Claim`]: BFD v1
//! (FHIR STU3) and BFD v2 (FHIR R4, CARIN Blue Button profiles).
//!
//! One function walks the claim in FHIR's canonical element order and
//! branches where the versions differ (STU3 `information`/`service`/
//! `careTeamLinkId`/single `insurance`/`totalCost`; R4 `supportingInfo`/
//! `productOrService`/`careTeamSequence`/`insurance[]`/`total[]` plus the
//! required `use`, `created`, `insurer`, `provider`, `outcome`). Keeping
//! both in one walk is what guarantees v1 and v2 carry the same facts.
//!
//! API v3 is the v2 rendering with BFD v3's `meta.tag`s (System-Type and
//! Final-Action); its `outcome` is v2's `complete`. (Partially adjudicated
//! claims, v3's other ExplanationOfBenefits, are `pac_eob.rs`.)
//!
//! The output is spec-valid in both versions, unlike BFD's own v1 output
//! (docs/REFERENCES.md, "BFD v1 validity"): the DRG sits in `information`
//! rather than in a code-less `diagnosis`, and no contained ReferralRequest
//! is emitted. Types use their intended codings rather than BFD fixture
//! quirks (DME is professional, HHA and outpatient institutional).

use super::amounts::*;
use super::datatypes::*;
use super::json::JsonWriter;
use super::references::*;
use super::systems::*;
use crate::domain::ApiVersion;
use crate::synthetic::claims::{Claim, ClaimKind, Family, Line};
use crate::synthetic::population::Beneficiary;
use crate::synthetic::providers::Practitioner;

const CAREIN_INFO: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType";

/// Appends the EOB of `c` in version `v` to `out`.
pub(crate) fn eob(out: &mut Vec<u8>, v: ApiVersion, c: &Claim, bene: &Beneficiary) {
    let mut writer = JsonWriter::new(out);
    let w = &mut writer;
    let family = c.kind.family();
    let v1 = v == ApiVersion::V1;
    let team = care_team_members(c);

    w.begin_object();
    w.str_field("resourceType", "ExplanationOfBenefit");
    w.key("id");
    w.ascii(c.id().as_bytes());
    open_meta(w, c.last_updated, (!v1).then(|| profile(c.kind)));
    if v == ApiVersion::V3 {
        eob_tags(w, c.eob_facts());
    }
    w.end_object();
    if !v1 && family == Family::Institutional {
        contained_provider(w, c);
    }
    extensions(w, v, c);
    identifiers(w, v, c);
    w.str_field("status", "active");
    claim_type(w, v, c);
    if !v1 {
        if family == Family::Institutional {
            let sub = if matches!(c.kind, ClaimKind::Outpatient | ClaimKind::Hha) {
                "outpatient"
            } else {
                "inpatient"
            };
            concept(
                w,
                "subType",
                "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBInstitutionalClaimSubType",
                sub,
                None,
            );
        }
        w.str_field("use", "claim");
    }
    patient_reference(w, "patient", bene.bene_id);
    w.object("billablePeriod");
    w.date_field("start", c.from);
    w.date_field("end", c.thru);
    w.end_object();
    if v1 {
        v1_parties(w, c);
        information(w, v, c);
    } else {
        w.date_time_field("created", c.last_updated.to_offset(time::UtcOffset::UTC));
        w.object("insurer");
        w.object("identifier");
        w.str_field("value", "CMS");
        w.end_object();
        w.end_object();
        v2_provider(w, c);
        w.str_field("outcome", "complete");
    }
    care_team(w, v, c, &team);
    if !v1 {
        information(w, v, c);
    }
    diagnoses(w, v, c);
    procedures(w, c);
    insurance(w, v, c, bene);
    if v1 && let Some(stay) = c.stay {
        w.object("hospitalization");
        w.date_field("start", stay.admitted);
        w.date_field("end", stay.discharged);
        w.end_object();
    }
    items(w, v, c, bene, &team);
    if v1 {
        if family == Family::Institutional {
            money(w, v, "totalCost", c.totals.charge);
        }
    } else {
        totals(w, v, c);
    }
    w.object("payment");
    match &c.rx {
        Some(rx) => w.date_field("date", rx.paid),
        None => money(w, v, "amount", c.totals.payment),
    }
    w.end_object();
    benefit_balance(w, v, c);
    w.end_object();
}

fn profile(kind: ClaimKind) -> &'static str {
    match kind {
        ClaimKind::Carrier | ClaimKind::Dme => {
            "C4BB-ExplanationOfBenefit-Professional-NonClinician"
        }
        ClaimKind::Outpatient | ClaimKind::Hha => {
            "C4BB-ExplanationOfBenefit-Outpatient-Institutional"
        }
        ClaimKind::Pde => "C4BB-ExplanationOfBenefit-Pharmacy",
        _ => "C4BB-ExplanationOfBenefit-Inpatient-Institutional",
    }
}

fn contained_provider(w: &mut JsonWriter<'_>, c: &Claim) {
    let Some(org) = c.organization else {
        return;
    };
    w.array("contained");
    w.begin_object();
    w.str_field("resourceType", "Organization");
    w.str_field("id", "provider-org");
    w.object("meta");
    w.array("profile");
    concat(w, C4BB_SD, "C4BB-Organization");
    w.end_array();
    w.end_object();
    w.array("identifier");
    w.begin_object();
    concept(
        w,
        "type",
        "http://terminology.hl7.org/CodeSystem/v2-0203",
        "PRN",
        Some("Provider number"),
    );
    w.key("value");
    w.ascii(&org.ccn());
    w.end_object();
    w.begin_object();
    npi_identifier_fields(w, true, org.npi);
    w.end_object();
    w.end_array();
    w.bool_field("active", true);
    w.str_field("name", org.name);
    w.end_object();
    w.end_array();
}

fn extensions(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    if c.kind == ClaimKind::Pde {
        return;
    }
    let t = &c.totals;
    w.array("extension");
    if v.is_r4() {
        ext_coding(w, "nch_near_line_rec_ident_cd", c.kind.near_line());
    }
    match c.kind.family() {
        Family::Professional => {
            ext_identifier(w, "carr_num", c.carrier_number);
            let mut num = Vec::with_capacity(16);
            super::json::push_int(&mut num, c.control_number as i64);
            ext_identifier(
                w,
                "carr_clm_cntl_num",
                std::str::from_utf8(&num).unwrap_or(""),
            );
            ext_coding(w, "carr_clm_pmt_dnl_cd", "1");
            ext_coding(w, "asgmntcd", if c.assigned { "A" } else { "N" });
            ext_coding(w, "carr_clm_entry_cd", "1");
            ext_money(w, v, "prpayamt", t.primary_payer);
            ext_money(w, v, "nch_clm_prvdr_pmt_amt", t.provider_payment);
            ext_money(w, v, "nch_clm_bene_pmt_amt", t.bene_payment);
            ext_money(w, v, "nch_carr_clm_sbmtd_chrg_amt", t.charge);
            ext_money(w, v, "nch_carr_clm_alowd_amt", t.allowed);
            ext_money(w, v, "carr_clm_cash_ddctbl_apld_amt", t.deductible);
        }
        Family::Institutional => {
            let tob = c.type_of_bill.as_bytes();
            ext_coding(w, "claim_query_cd", "3");
            if tob.len() == 3 {
                ext_coding(
                    w,
                    "clm_srvc_clsfctn_type_cd",
                    std::str::from_utf8(&tob[1..2]).unwrap_or(""),
                );
                ext_coding(
                    w,
                    "clm_freq_cd",
                    std::str::from_utf8(&tob[2..3]).unwrap_or(""),
                );
            }
            ext_money(w, v, "prpayamt", t.primary_payer);
            match c.kind {
                ClaimKind::Inpatient | ClaimKind::Snf => {
                    ext_money(w, v, "nch_bene_ip_ddctbl_amt", t.deductible);
                    ext_money(w, v, "nch_bene_pta_coinsrnc_lblty_am", t.coinsurance);
                    ext_money(w, v, "nch_ip_ncvrd_chrg_amt", t.noncovered);
                    ext_money(w, v, "nch_ip_tot_ddctn_amt", t.deductible + t.coinsurance);
                    if c.kind == ClaimKind::Inpatient {
                        ext_money(w, v, "clm_pass_thru_per_diem_amt", t.pass_thru_per_diem);
                    }
                }
                ClaimKind::Outpatient => {
                    ext_money(w, v, "nch_bene_ptb_ddctbl_amt", t.deductible);
                    ext_money(w, v, "nch_bene_ptb_coinsrnc_amt", t.coinsurance);
                    ext_money(w, v, "clm_op_prvdr_pmt_amt", t.provider_payment);
                    ext_money(w, v, "clm_op_bene_pmt_amt", t.bene_payment);
                }
                _ => {}
            }
        }
        Family::Pharmacy => {}
    }
    w.end_array();
}

fn identifiers(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    w.array("identifier");
    for (i, system_var) in [
        if c.kind == ClaimKind::Pde {
            "pde_id"
        } else {
            "clm_id"
        },
        "",
    ]
    .iter()
    .enumerate()
    {
        w.begin_object();
        if v.is_r4() {
            concept(w, "type", C4BB_ID, "uc", Some("Unique Claim ID"));
        }
        w.key("system");
        if i == 0 {
            concat(w, BB_VAR, system_var);
            w.int_string_field("value", c.clm_id);
        } else {
            w.string("https://bluebutton.cms.gov/resources/identifier/claim-group");
            w.int_string_field("value", c.group_id);
        }
        w.end_object();
    }
    if let Some(rx) = &c.rx {
        w.begin_object();
        if v.is_r4() {
            concept(w, "type", C4BB_ID, "uc", Some("Unique Claim ID"));
        }
        w.key("system");
        concat(w, BB_VAR, "rx_srvc_rfrnc_num");
        w.int_string_field("value", rx.rx_number as i64);
        w.end_object();
    }
    w.end_array();
}

fn claim_type(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    let (fhir_type, display) = match c.kind.family() {
        Family::Professional => ("professional", "Professional"),
        Family::Institutional => ("institutional", "Institutional"),
        Family::Pharmacy => ("pharmacy", "Pharmacy"),
    };
    w.object("type");
    w.array("coding");
    if c.kind != ClaimKind::Pde {
        var_coding(w, "nch_clm_type_cd", c.kind.nch_type());
    }
    coding(
        w,
        "https://bluebutton.cms.gov/resources/codesystem/eob-type",
        c.kind.eob_type(),
        None,
    );
    match v {
        ApiVersion::V1 => {
            coding(
                w,
                "http://hl7.org/fhir/ex-claimtype",
                fhir_type,
                Some(display),
            );
            if c.kind != ClaimKind::Pde {
                var_coding(w, "nch_near_line_rec_ident_cd", c.kind.near_line());
            }
        }
        ApiVersion::V2 | ApiVersion::V3 => coding(
            w,
            "http://terminology.hl7.org/CodeSystem/claim-type",
            fhir_type,
            Some(display),
        ),
    }
    w.end_array();
    w.end_object();
}

/// An NPI identifier: STU3 with the NPI system, R4 CARIN-typed.
fn npi_identifier(w: &mut JsonWriter<'_>, v: ApiVersion, npi: u64) {
    w.object("identifier");
    npi_identifier_fields(w, v.is_r4(), npi);
    w.end_object();
}

/// v1 `provider` (CCN), `organization` (NPI) and `facility`, by family.
fn v1_parties(w: &mut JsonWriter<'_>, c: &Claim) {
    let Some(org) = c.organization else {
        return;
    };
    match c.kind.family() {
        Family::Institutional => {
            w.object("provider");
            w.object("identifier");
            w.key("system");
            concat(w, BB_VAR, "prvdr_num");
            w.key("value");
            w.ascii(&org.ccn());
            w.end_object();
            w.end_object();
            w.object("organization");
            npi_identifier(w, ApiVersion::V1, org.npi);
            w.str_field("display", org.name);
            w.end_object();
            facility(w, ApiVersion::V1, c);
        }
        Family::Pharmacy | Family::Professional => {
            w.object("organization");
            npi_identifier(w, ApiVersion::V1, org.npi);
            w.str_field("display", org.name);
            w.end_object();
        }
    }
}

fn facility(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    let Some(org) = c.organization else {
        return;
    };
    w.object("facility");
    w.array("extension");
    ext_coding(w, "clm_fac_type_cd", c.type_of_bill.get(..1).unwrap_or("1"));
    w.end_array();
    npi_identifier(w, v, org.npi);
    w.end_object();
}

/// v2 `provider` (required): the contained organisation, the supplier or
/// pharmacy, or the rendering practitioner; then `facility`.
fn v2_provider(w: &mut JsonWriter<'_>, c: &Claim) {
    w.object("provider");
    match (c.kind.family(), c.organization) {
        (Family::Institutional, Some(_)) => w.str_field("reference", "#provider-org"),
        (_, Some(org)) => {
            npi_identifier(w, ApiVersion::V2, org.npi);
            w.str_field("display", org.name);
        }
        (_, None) => npi_identifier(w, ApiVersion::V2, c.practitioner.npi),
    }
    w.end_object();
    if c.kind.family() == Family::Institutional {
        facility(w, ApiVersion::V2, c);
    }
}

/// The care team: distinct line performers (professional), attending and
/// operating (institutional), or the prescriber (PDE). The role says which.
fn care_team_members(c: &Claim) -> Vec<(Practitioner, Role)> {
    let mut team: Vec<(Practitioner, Role)> = Vec::with_capacity(4);
    match c.kind.family() {
        Family::Professional => {
            for l in &c.lines {
                if let Some(p) = l.performer
                    && !team.iter().any(|(t, _)| *t == p)
                {
                    team.push((p, Role::Performing));
                }
            }
        }
        Family::Institutional => {
            team.push((c.practitioner, Role::Attending));
            if let Some(op) = c.operating {
                team.push((op, Role::Operating));
            }
        }
        Family::Pharmacy => team.push((c.practitioner, Role::Prescribing)),
    }
    team
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Performing,
    Attending,
    Operating,
    Prescribing,
}

fn care_team(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim, team: &[(Practitioner, Role)]) {
    w.array("careTeam");
    for (i, (p, role)) in team.iter().enumerate() {
        w.begin_object();
        w.int_field("sequence", i as i64 + 1);
        w.object("provider");
        npi_identifier(w, v, p.npi);
        w.end_object();
        if v == ApiVersion::V1 {
            w.bool_field("responsible", i == 0);
            let (code, display) = if *role == Role::Operating {
                ("assist", "Assisting Provider")
            } else {
                ("primary", "Primary provider")
            };
            concept(
                w,
                "role",
                "http://hl7.org/fhir/claimcareteamrole",
                code,
                Some(display),
            );
        } else {
            let (code, display) = match role {
                Role::Performing => ("performing", "Performing provider"),
                Role::Attending => ("attending", "Attending"),
                Role::Operating => ("operating", "Operating"),
                Role::Prescribing => ("prescribing", "Prescribing provider"),
            };
            concept(
                w,
                "role",
                "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimCareTeamRole",
                code,
                Some(display),
            );
        }
        if c.kind.family() != Family::Institutional {
            var_concept(w, "qualification", "prvdr_spclty", p.specialty_code());
        }
        w.end_object();
    }
    w.end_array();
}

/// One `information` (STU3) / `supportingInfo` (R4) entry's category.
fn info_category(w: &mut JsonWriter<'_>, v: ApiVersion, carin: Option<&str>, var: &str) {
    w.object("category");
    w.array("coding");
    if v.is_r4() {
        match carin {
            Some(code) => coding(w, CAREIN_INFO, code, None),
            None => coding(
                w,
                "http://terminology.hl7.org/CodeSystem/claiminformationcategory",
                "info",
                Some("Information"),
            ),
        }
    }
    w.begin_object();
    w.const_field(
        "system",
        "https://bluebutton.cms.gov/resources/codesystem/information",
    );
    w.key("code");
    concat(w, BB_VAR, var);
    w.end_object();
    w.end_array();
    w.end_object();
}

fn info_code(w: &mut JsonWriter<'_>, var: &str, code: &str, display: Option<&str>) {
    w.object("code");
    w.array("coding");
    w.begin_object();
    w.key("system");
    concat(w, BB_VAR, var);
    w.str_field("code", code);
    if let Some(d) = display {
        w.str_field("display", d);
    }
    w.end_object();
    w.end_array();
    w.end_object();
}

fn information(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    w.array(if v == ApiVersion::V1 {
        "information"
    } else {
        "supportingInfo"
    });
    let mut seq = 0;
    let mut next = |w: &mut JsonWriter<'_>| {
        seq += 1;
        w.begin_object();
        w.int_field("sequence", seq);
    };
    if let Some(rx) = &c.rx {
        let codes: [(&str, &str, Option<&str>); 4] = [
            (
                "brnd_gnrc_cd",
                if rx.drug.brand { "B" } else { "G" },
                Some("brandgenericindicator"),
            ),
            ("daw_prod_slctn_cd", "0", None),
            ("dspnsng_stus_cd", "P", None),
            ("drug_cvrg_stus_cd", "C", None),
        ];
        for (var, code, carin) in codes {
            next(w);
            info_category(w, v, carin, var);
            info_code(w, var, code, None);
            w.end_object();
        }
        if v.is_r4() {
            for (carin, var, value) in [
                ("dayssupply", "days_suply_num", rx.days_supply),
                ("refillnum", "fill_num", rx.fill_number),
            ] {
                next(w);
                info_category(w, v, Some(carin), var);
                w.object("valueQuantity");
                w.int_field("value", i64::from(value));
                w.end_object();
                w.end_object();
            }
        }
        w.end_array();
        return;
    }
    next(w);
    info_category(w, v, Some("clmrecvddate"), "nch_wkly_proc_dt");
    w.date_field("timingDate", c.processed);
    w.end_object();
    if v.is_r4() && !c.type_of_bill.is_empty() {
        next(w);
        info_category(w, v, Some("typeofbill"), "clm_freq_cd");
        concept(
            w,
            "code",
            "https://www.nubc.org/CodeSystem/TypeOfBill",
            c.type_of_bill,
            None,
        );
        w.end_object();
    }
    if let Some(stay) = c.stay {
        if v.is_r4() {
            next(w);
            info_category(w, v, Some("admissionperiod"), "clm_admsn_dt");
            w.object("timingPeriod");
            w.date_field("start", stay.admitted);
            w.date_field("end", stay.discharged);
            w.end_object();
            w.end_object();
        }
        for (carin, var, code) in [
            ("admtype", "clm_ip_admsn_type_cd", stay.admission_type),
            ("pointoforigin", "clm_src_ip_admsn_cd", stay.source),
            (
                "discharge-status",
                "ptnt_dschrg_stus_cd",
                stay.discharge_status,
            ),
        ] {
            next(w);
            info_category(w, v, Some(carin), var);
            info_code(w, var, code, None);
            w.end_object();
        }
    }
    if let Some(drg) = c.drg {
        next(w);
        info_category(w, v, None, "clm_drg_cd");
        info_code(w, "clm_drg_cd", drg.drg, Some(drg.drg_display));
        w.end_object();
    }
    w.end_array();
}

fn diagnoses(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    if c.diagnoses.is_empty() {
        return;
    }
    w.array("diagnosis");
    for (i, dx) in c.diagnoses.iter().enumerate() {
        w.begin_object();
        w.int_field("sequence", i as i64 + 1);
        w.object("diagnosisCodeableConcept");
        w.array("coding");
        if v.is_r4() {
            coding(
                w,
                "http://hl7.org/fhir/sid/icd-10-cm",
                dx.code,
                Some(dx.display),
            );
        }
        coding(
            w,
            "http://hl7.org/fhir/sid/icd-10",
            dx.code,
            Some(dx.display),
        );
        w.end_array();
        w.end_object();
        w.array("type");
        w.begin_object();
        w.array("coding");
        match (v, i == 0) {
            (ApiVersion::V1, true) => coding(
                w,
                "https://bluebutton.cms.gov/resources/codesystem/diagnosis-type",
                "principal",
                Some(
                    "The single medical diagnosis that is most relevant to the patient's chief complaint or need for treatment.",
                ),
            ),
            (ApiVersion::V1, false) => coding(
                w,
                "https://bluebutton.cms.gov/resources/codesystem/diagnosis-type",
                "other",
                Some("A diagnosis that is not the principal one."),
            ),
            (ApiVersion::V2 | ApiVersion::V3, true) => coding(
                w,
                "http://terminology.hl7.org/CodeSystem/ex-diagnosistype",
                "principal",
                Some("Principal Diagnosis"),
            ),
            (ApiVersion::V2 | ApiVersion::V3, false) => coding(
                w,
                "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimDiagnosisType",
                "other",
                Some("Other"),
            ),
        }
        w.end_array();
        w.end_object();
        w.end_array();
        if v.is_r4() && c.kind == ClaimKind::Inpatient {
            concept(
                w,
                "onAdmission",
                "https://www.nubc.org/CodeSystem/PresentOnAdmission",
                "Y",
                None,
            );
        }
        w.end_object();
    }
    w.end_array();
}

fn procedures(w: &mut JsonWriter<'_>, c: &Claim) {
    if c.procedures.is_empty() {
        return;
    }
    w.array("procedure");
    for (i, (code, display, date)) in c.procedures.iter().enumerate() {
        w.begin_object();
        w.int_field("sequence", i as i64 + 1);
        w.date_time_field(
            "date",
            time::PrimitiveDateTime::new(*date, time::Time::MIDNIGHT).assume_utc(),
        );
        w.object("procedureCodeableConcept");
        w.array("coding");
        coding(
            w,
            "http://www.cms.gov/Medicare/Coding/ICD10",
            code,
            Some(display),
        );
        w.end_array();
        w.end_object();
        w.end_object();
    }
    w.end_array();
}

fn insurance(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim, bene: &Beneficiary) {
    if v == ApiVersion::V1 {
        w.object("insurance");
    } else {
        w.array("insurance");
        w.begin_object();
        w.bool_field("focal", true);
    }
    if let (Some(_), Some(d)) = (&c.rx, &bene.part_d) {
        w.object("coverage");
        w.array("extension");
        ext_identifier(w, "plan_cntrct_rec_id", &d.contract_id);
        ext_identifier(w, "plan_pbp_rec_num", &d.pbp_id);
        w.end_array();
        w.key("reference");
        let mut s = Vec::with_capacity(40);
        s.extend_from_slice(b"Coverage/part-d-");
        super::json::push_int(&mut s, bene.bene_id);
        w.ascii(&s);
        w.end_object();
    } else {
        coverage_reference(w, c.kind.part(), bene.bene_id);
    }
    w.end_object();
    if v.is_r4() {
        w.end_array();
    }
}

fn items(
    w: &mut JsonWriter<'_>,
    v: ApiVersion,
    c: &Claim,
    bene: &Beneficiary,
    team: &[(Practitioner, Role)],
) {
    let v1 = v == ApiVersion::V1;
    w.array("item");
    if let Some(rx) = &c.rx {
        w.begin_object();
        w.int_field("sequence", 1);
        w.array(if v1 {
            "careTeamLinkId"
        } else {
            "careTeamSequence"
        });
        w.int(1);
        w.end_array();
        w.object(if v1 { "service" } else { "productOrService" });
        w.array("coding");
        coding(
            w,
            "http://hl7.org/fhir/sid/ndc",
            rx.drug.ndc,
            Some(rx.drug.name),
        );
        w.end_array();
        w.end_object();
        w.date_field("servicedDate", c.from);
        w.object("quantity");
        w.array("extension");
        ext_quantity(w, "fill_num", i64::from(rx.fill_number));
        ext_quantity(w, "days_suply_num", i64::from(rx.days_supply));
        w.end_array();
        w.int_field("value", i64::from(rx.quantity));
        w.end_object();
        w.array("adjudication");
        for (a, amount) in [
            (&PDE_PLAN_PD, rx.plan_paid),
            (&PDE_NCVRD_PLAN_PD, 0),
            (&PDE_PTNT_PAY, rx.patient_pay),
            (&PDE_OTHR_TROOP, rx.other_troop),
            (&PDE_LICS, rx.lics),
            (&PDE_PLRO, rx.plro),
            (&PDE_TOT_RX, rx.total_cost),
            (&PDE_GDC_BLW, rx.gdc_below),
            (&PDE_GDC_ABV, rx.gdc_above),
            (&PDE_GAP_DSCNT, rx.gap_discount),
        ] {
            adjudication(w, v, a, amount);
        }
        w.end_array();
        w.end_object();
        w.end_array();
        return;
    }
    for (i, line) in c.lines.iter().enumerate() {
        w.begin_object();
        w.int_field("sequence", i as i64 + 1);
        match c.kind.family() {
            Family::Professional => professional_line(w, v, c, line, team),
            _ => institutional_line(w, v, c, line),
        }
        w.end_object();
    }
    let _ = bene;
    w.end_array();
}

fn hcpcs(w: &mut JsonWriter<'_>, v: ApiVersion, line: &Line) {
    w.object(if v == ApiVersion::V1 {
        "service"
    } else {
        "productOrService"
    });
    w.array("coding");
    match line.hcpcs {
        Some(code) => coding(
            w,
            "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
            code,
            None,
        ),
        None => coding(
            w,
            "http://terminology.hl7.org/CodeSystem/data-absent-reason",
            "not-applicable",
            Some("Not Applicable"),
        ),
    }
    w.end_array();
    w.end_object();
    if let Some(m) = line.modifier {
        w.array("modifier");
        w.begin_object();
        w.array("coding");
        coding(
            w,
            "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
            m,
            None,
        );
        w.end_array();
        w.end_object();
        w.end_array();
    }
}

fn professional_line(
    w: &mut JsonWriter<'_>,
    v: ApiVersion,
    c: &Claim,
    line: &Line,
    team: &[(Practitioner, Role)],
) {
    let v1 = v == ApiVersion::V1;
    let member = line
        .performer
        .and_then(|p| team.iter().position(|(t, _)| *t == p))
        .unwrap_or(0);
    w.array(if v1 {
        "careTeamLinkId"
    } else {
        "careTeamSequence"
    });
    w.int(member as i64 + 1);
    w.end_array();
    w.array(if v1 {
        "diagnosisLinkId"
    } else {
        "diagnosisSequence"
    });
    w.int(1);
    w.end_array();
    var_concept(w, "category", "line_cms_type_srvc_cd", line.type_srvc);
    hcpcs(w, v, line);
    w.object("servicedPeriod");
    w.date_field("start", line.from);
    w.date_field("end", line.thru);
    w.end_object();
    w.object("locationCodeableConcept");
    if let Some(org) = c.organization {
        w.array("extension");
        ext_coding(w, "prvdr_state_cd", org.state_code());
        let zip = format!("{:05}", org.zip());
        ext_coding(w, "prvdr_zip", &zip);
        w.end_array();
    }
    w.array("coding");
    var_coding(w, "line_place_of_srvc_cd", line.pos);
    w.end_array();
    w.end_object();
    w.object("quantity");
    w.int_field("value", i64::from(line.qty));
    w.end_object();
    let (to_provider, to_bene) = if c.assigned {
        (line.payment, 0)
    } else {
        (0, line.payment)
    };
    w.array("adjudication");
    for (a, amount) in [
        (&LINE_NCH_PMT, line.payment),
        (&LINE_BENE_PMT, to_bene),
        (&LINE_PRVDR_PMT, to_provider),
        (&LINE_DDCTBL, line.deductible),
        (&LINE_PRMRY_PD, line.primary_payer),
        (&LINE_COINS, line.coinsurance),
        (&LINE_SBMTD, line.charge),
        (&LINE_ALOWD, line.allowed),
    ] {
        adjudication(w, v, a, amount);
    }
    w.end_array();
}

fn institutional_line(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim, line: &Line) {
    w.object("revenue");
    w.array("coding");
    var_coding(w, "rev_cntr", line.revenue.unwrap_or("0001"));
    if v.is_r4() {
        coding(
            w,
            "https://www.nubc.org/CodeSystem/RevenueCodes",
            line.revenue.unwrap_or("0001"),
            None,
        );
    }
    w.end_array();
    w.end_object();
    if v.is_r4() || line.hcpcs.is_some() {
        hcpcs(w, v, line);
    }
    w.date_field("servicedDate", line.from);
    if let Some(org) = c.organization {
        w.object("locationAddress");
        w.str_field("state", org.state_code());
        w.end_object();
    }
    w.object("quantity");
    w.int_field("value", i64::from(line.qty));
    w.end_object();
    w.array("adjudication");
    for (a, amount) in [
        (&REV_RATE, line.allowed),
        (&REV_TOT_CHRG, line.charge),
        (&REV_NCVRD, line.noncovered),
        (&REV_PMT, line.payment),
        (&REV_PRVDR_PMT, line.payment),
        (&REV_BENE_PMT, 0),
        (&REV_DDCTBL, line.deductible),
        (&REV_COINS, line.coinsurance),
        (&REV_PTNT_RSPNS, line.deductible + line.coinsurance),
    ] {
        adjudication(w, v, a, amount);
    }
    w.end_array();
}

fn totals(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    let t = &c.totals;
    w.array("total");
    if let Some(rx) = &c.rx {
        adjudication(w, v, &PDE_TOT_RX, rx.total_cost);
        adjudication(w, v, &PDE_PLAN_PD, rx.plan_paid);
    } else if c.kind.family() == Family::Professional {
        adjudication(w, v, &CARR_SBMTD, t.charge);
        adjudication(w, v, &CARR_ALOWD, t.allowed);
        adjudication(w, v, &CARR_DDCTBL, t.deductible);
        adjudication(w, v, &PRPAYAMT, t.primary_payer);
        adjudication(w, v, &CLM_PMT, t.payment);
    } else {
        adjudication(w, v, &CLM_TOT_CHRG, t.charge);
        match c.kind {
            ClaimKind::Outpatient => {
                adjudication(w, v, &PTB_DDCTBL, t.deductible);
                adjudication(w, v, &PTB_COINS, t.coinsurance);
            }
            ClaimKind::Inpatient | ClaimKind::Snf => {
                adjudication(w, v, &IP_DDCTBL, t.deductible);
                adjudication(w, v, &PTA_COINS, t.coinsurance);
            }
            _ => {}
        }
        adjudication(w, v, &PRPAYAMT, t.primary_payer);
        adjudication(w, v, &CLM_PMT, t.payment);
    }
    w.end_array();
}

fn benefit_balance(w: &mut JsonWriter<'_>, v: ApiVersion, c: &Claim) {
    if c.kind.family() != Family::Institutional {
        return;
    }
    let mut financial: [(&str, u32); 3] = [("", 0); 3];
    let mut n = 0;
    if c.kind.is_stay() {
        financial[n] = ("clm_utlztn_day_cnt", c.utilization_days);
        n += 1;
    }
    if matches!(c.kind, ClaimKind::Snf | ClaimKind::Inpatient) {
        financial[n] = ("bene_tot_coinsrnc_days_cnt", c.coinsurance_days);
        n += 1;
    }
    if c.visits > 0 {
        financial[n] = ("clm_hha_tot_visit_cnt", c.visits);
        n += 1;
    }
    if n == 0 {
        return;
    }
    w.array("benefitBalance");
    w.begin_object();
    match v {
        ApiVersion::V1 => concept(
            w,
            "category",
            "http://hl7.org/fhir/benefit-category",
            "medical",
            Some("Medical Health Coverage"),
        ),
        ApiVersion::V2 | ApiVersion::V3 => concept(
            w,
            "category",
            "http://terminology.hl7.org/CodeSystem/ex-benefitcategory",
            "1",
            Some("Medical Care"),
        ),
    }
    w.array("financial");
    for (var, value) in &financial[..n] {
        w.begin_object();
        w.object("type");
        w.array("coding");
        w.begin_object();
        w.const_field(
            "system",
            "https://bluebutton.cms.gov/resources/codesystem/benefit-balance",
        );
        w.key("code");
        concat(w, BB_VAR, var);
        w.end_object();
        w.end_array();
        w.end_object();
        w.int_field("usedUnsignedInt", i64::from(*value));
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.end_array();
}
