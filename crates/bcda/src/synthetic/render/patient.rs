//! Patient in BFD v1 (STU3) and v2 (R4, C4BB-Patient) shapes, as BCDA
//! requests them (`IncludeIdentifiers: mbi`, `IncludeAddressFields: true`):
//! with current and historic MBIs and the full address.

use super::datatypes::*;
use super::json::JsonWriter;
use super::systems::*;
use crate::domain::ApiVersion;
use crate::synthetic::population::Beneficiary;
use crate::synthetic::records::RecordVersion;
use crate::synthetic::timeline::add_days;

fn race(code: u8) -> (&'static str, Option<(&'static str, &'static str)>) {
    match code {
        1 => ("White", Some(("2106-3", "White"))),
        2 => ("Black", Some(("2054-5", "Black or African American"))),
        3 => ("Other", None),
        4 => ("Asian", Some(("2028-9", "Asian"))),
        5 => ("Hispanic", None),
        6 => (
            "North American Native",
            Some(("1002-5", "American Indian or Alaska Native")),
        ),
        _ => ("Unknown", None),
    }
}

/// Appends the Patient resource of `bene` as of version `rv`.
pub(crate) fn patient(out: &mut Vec<u8>, v: ApiVersion, bene: &Beneficiary, rv: RecordVersion) {
    let mut writer = JsonWriter::new(out);
    let w = &mut writer;
    let v2 = v.is_r4();
    w.begin_object();
    w.str_field("resourceType", "Patient");
    w.key("id");
    w.int_string(bene.bene_id);
    meta(w, rv.last_updated, v2.then_some("C4BB-Patient"));

    w.array("extension");
    let (race_display, omb) = race(bene.race_code);
    if v2 {
        w.begin_object();
        w.const_field(
            "url",
            "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        );
        w.array("extension");
        if let Some((code, display)) = omb {
            w.begin_object();
            w.const_field("url", "ombCategory");
            w.key("valueCoding");
            coding(w, "urn:oid:2.16.840.1.113883.6.238", code, Some(display));
            w.end_object();
        }
        w.begin_object();
        w.const_field("url", "text");
        w.str_field("valueString", race_display);
        w.end_object();
        w.end_array();
        w.end_object();
    }
    w.begin_object();
    w.const_field(
        "url",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-sex",
    );
    w.str_field("valueCode", bene.sex.snomed());
    w.end_object();
    w.begin_object();
    w.key("url");
    concat(w, BB_VAR, "race");
    w.object("valueCoding");
    w.key("system");
    concat(w, BB_VAR, "race");
    let code = [b'0' + bene.race_code.min(9)];
    w.key("code");
    w.ascii(&code);
    w.str_field("display", race_display);
    w.end_object();
    w.end_object();
    w.begin_object();
    w.key("url");
    concat(w, BB_VAR, "rfrnc_yr");
    w.year_field("valueDate", rv.reference_year);
    w.end_object();
    for m in MONTHS {
        let mut var = *b"dual_00";
        var[5..].copy_from_slice(m.as_bytes());
        ext_coding(
            w,
            std::str::from_utf8(&var).unwrap_or("dual_01"),
            &bene.dual_status,
        );
    }
    w.end_array();

    w.array("identifier");
    mbi_identifier(w, v, &bene.mbi, true, Some(bene.mbi_effective_date), None);
    if let Some(h) = &bene.historic_mbi {
        let end = add_days(bene.mbi_effective_date, -1);
        mbi_identifier(w, v, h, false, None, Some(end));
    }
    w.begin_object();
    if v2 {
        concept(
            w,
            "type",
            "http://terminology.hl7.org/CodeSystem/v2-0203",
            "MB",
            Some("Member Number"),
        );
    }
    w.key("system");
    concat(w, BB_VAR, "bene_id");
    w.int_string_field("value", bene.bene_id);
    w.end_object();
    w.end_array();

    w.array("name");
    w.begin_object();
    w.str_field("use", "usual");
    w.str_field("family", &bene.last_name);
    w.array("given");
    w.string(&bene.first_name);
    if let Some(m) = &bene.middle_name {
        w.string(m);
    }
    w.end_array();
    w.end_object();
    w.end_array();
    w.str_field("gender", bene.sex.fhir_gender());
    w.date_field("birthDate", bene.birth_date);
    if rv.deceased
        && let Some(d) = bene.death_date
    {
        w.date_field("deceasedDateTime", d);
    }
    w.array("address");
    w.begin_object();
    w.array("line");
    w.string(&bene.address_line);
    w.end_array();
    w.str_field("city", &bene.city);
    w.str_field("state", &bene.state);
    w.str_field("postalCode", &bene.zip5);
    w.end_object();
    w.end_array();
    w.end_object();
}

fn mbi_identifier(
    w: &mut JsonWriter<'_>,
    v: ApiVersion,
    mbi: &str,
    current: bool,
    start: Option<time::Date>,
    end: Option<time::Date>,
) {
    let (code, display) = if current {
        ("current", "Current")
    } else {
        ("historic", "Historic")
    };
    let currency = |w: &mut JsonWriter<'_>| {
        w.array("extension");
        w.begin_object();
        w.const_field(
            "url",
            "https://bluebutton.cms.gov/resources/codesystem/identifier-currency",
        );
        w.key("valueCoding");
        coding(
            w,
            "https://bluebutton.cms.gov/resources/codesystem/identifier-currency",
            code,
            Some(display),
        );
        w.end_object();
        w.end_array();
    };
    w.begin_object();
    match v {
        ApiVersion::V1 => currency(w),
        ApiVersion::V2 | ApiVersion::V3 => {
            w.object("type");
            w.array("coding");
            w.begin_object();
            currency(w);
            w.const_field("system", "http://terminology.hl7.org/CodeSystem/v2-0203");
            w.str_field("code", "MC");
            w.str_field("display", "Patient's Medicare number");
            w.end_object();
            w.end_array();
            w.end_object();
        }
    }
    w.str_field("system", US_MBI);
    w.str_field("value", mbi);
    if start.is_some() || end.is_some() {
        w.object("period");
        if let Some(s) = start {
            w.date_field("start", s);
        }
        if let Some(e) = end {
            w.date_field("end", e);
        }
        w.end_object();
    }
    w.end_object();
}
