//! Coverage (one per Medicare part held) in BFD v1 (STU3) and v2 (R4,
//! C4BB-Coverage) shapes, with BFD's monthly enrollment extensions for the
//! reference year.

use super::datatypes::*;
use super::json::JsonWriter;
use super::references::*;
use super::systems::*;
use crate::domain::ApiVersion;
use crate::synthetic::population::Beneficiary;
use crate::synthetic::records::RecordVersion;

/// Appends the Coverage of Part `part` (`a`, `b` or `d`) of `bene` as of `rv`.
pub(crate) fn coverage(
    out: &mut Vec<u8>,
    v: ApiVersion,
    bene: &Beneficiary,
    part: char,
    rv: RecordVersion,
) {
    let mut writer = JsonWriter::new(out);
    let w = &mut writer;
    let v2 = v.is_r4();
    let (start, label) = match part {
        'a' => (Some(bene.part_a_start), "Part A"),
        'b' => (bene.part_b_start, "Part B"),
        _ => (bene.part_d.as_ref().map(|d| d.start), "Part D"),
    };
    let start = start.unwrap_or(bene.part_a_start);
    let year = rv.reference_year;
    // Months of the reference year the part covered (1-based, inclusive).
    let first_month = if start.year() == year {
        u8::from(start.month())
    } else if start.year() < year {
        1
    } else {
        13
    };
    let last_month = match bene.death_date {
        Some(d) if rv.deceased && d.year() == year => u8::from(d.month()),
        _ => 12,
    };
    let active_in = |m: usize| (first_month..=last_month).contains(&(m as u8 + 1));

    w.begin_object();
    w.str_field("resourceType", "Coverage");
    w.key("id");
    let mut id = Vec::with_capacity(24);
    id.extend_from_slice(b"part-");
    id.push(part as u8);
    id.push(b'-');
    super::json::push_int(&mut id, bene.bene_id);
    w.ascii(&id);
    meta(w, rv.last_updated, v2.then_some("C4BB-Coverage"));

    w.array("extension");
    ext_coding(w, "ms_cd", &bene.medicare_status);
    match part {
        'a' => {
            let orec = [b'0' + bene.original_entitlement_reason];
            let crec = [b'0' + bene.current_entitlement_reason];
            ext_coding(w, "orec", std::str::from_utf8(&orec).unwrap_or("0"));
            ext_coding(w, "crec", std::str::from_utf8(&crec).unwrap_or("0"));
            ext_coding(w, "esrd_ind", if bene.esrd { "Y" } else { "0" });
            ext_coding(w, "a_trm_cd", if rv.deceased { "1" } else { "0" });
        }
        'b' => ext_coding(w, "b_trm_cd", if rv.deceased { "1" } else { "0" }),
        _ => {
            if let Some(d) = &bene.part_d {
                for (var, value) in [
                    ("ptdcntrct", d.contract_id.as_str()),
                    ("ptdpbpid", d.pbp_id.as_str()),
                    ("sgmtid", d.segment_id.as_str()),
                    ("cstshr", d.cost_share_group.as_str()),
                    ("rdsind", "N"),
                ] {
                    for (i, m) in MONTHS.iter().enumerate() {
                        let mut name = String::with_capacity(12);
                        name.push_str(var);
                        name.push_str(m);
                        ext_coding(w, &name, if active_in(i) { value } else { "0" });
                    }
                }
            }
        }
    }
    w.begin_object();
    w.key("url");
    concat(w, BB_VAR, "rfrnc_yr");
    w.year_field("valueDate", year);
    w.end_object();
    for (i, m) in MONTHS.iter().enumerate() {
        let mut var = *b"dual_00";
        var[5..].copy_from_slice(m.as_bytes());
        let code = if active_in(i) {
            bene.dual_status.as_str()
        } else {
            "**"
        };
        ext_coding(w, std::str::from_utf8(&var).unwrap_or("dual_01"), code);
    }
    if part != 'd' {
        let buy_in = [bene.buy_in as u8];
        for (i, m) in MONTHS.iter().enumerate() {
            let mut var = *b"buyin00";
            var[5..].copy_from_slice(m.as_bytes());
            let code: &[u8] = if active_in(i) { &buy_in } else { b"0" };
            ext_coding(
                w,
                std::str::from_utf8(&var).unwrap_or("buyin01"),
                std::str::from_utf8(code).unwrap_or("0"),
            );
        }
    }
    w.end_array();

    w.str_field("status", if rv.deceased { "cancelled" } else { "active" });
    if v2 {
        concept(
            w,
            "type",
            "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "SUBSIDIZ",
            Some("subsidized health program"),
        );
        w.str_field("subscriberId", &bene.mbi);
    } else {
        concept(w, "type", "Medicare", label, None);
    }
    patient_reference(w, "beneficiary", bene.bene_id);
    if v2 {
        concept(
            w,
            "relationship",
            "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
            "self",
            Some("Self"),
        );
    }
    w.object("period");
    w.date_field("start", start);
    if rv.deceased
        && let Some(d) = bene.death_date
    {
        w.date_field("end", d);
    }
    w.end_object();
    w.array("payor");
    w.begin_object();
    w.object("identifier");
    w.str_field("value", "Centers for Medicare and Medicaid Services");
    w.end_object();
    w.end_object();
    w.end_array();
    if v2 {
        w.array("class");
        for (code, value) in [("group", "Medicare"), ("plan", label)] {
            w.begin_object();
            concept(
                w,
                "type",
                "http://terminology.hl7.org/CodeSystem/coverage-class",
                code,
                None,
            );
            w.str_field("value", value);
            w.end_object();
        }
        w.end_array();
    } else {
        w.object("grouping");
        w.str_field("subGroup", "Medicare");
        w.str_field("subPlan", label);
        w.end_object();
    }
    w.end_object();
}
