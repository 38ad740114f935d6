//! FHIR datatypes both renderers share (Coding, CodeableConcept, extensions,
//! Money) and `meta`, written straight into the JSON buffer.

use super::json::JsonWriter;
use super::systems::{BB_VAR, C4BB_SD};
use crate::domain::ApiVersion;
use crate::domain::eob_facts::{EobFacts, FINAL_ACTION_SYSTEM, SYSTEM_TYPE_SYSTEM};

/// Writes a string that is the concatenation of `a` and `b` (URLs made of
/// a prefix and a variable name), without allocating.
pub(crate) fn concat(w: &mut JsonWriter<'_>, a: &str, b: &str) {
    w.ascii_pair(a.as_bytes(), b.as_bytes());
}

/// `{"system":..,"code":..[,"display":..]}` as a value.
pub(crate) fn coding(
    w: &mut JsonWriter<'_>,
    system: &'static str,
    code: &str,
    display: Option<&str>,
) {
    w.begin_object();
    w.const_field("system", system);
    w.str_field("code", code);
    if let Some(d) = display {
        w.str_field("display", d);
    }
    w.end_object();
}

/// A coding whose system is the Blue Button variable `var`.
pub(crate) fn var_coding(w: &mut JsonWriter<'_>, var: &str, code: &str) {
    w.begin_object();
    w.key("system");
    concat(w, BB_VAR, var);
    w.str_field("code", code);
    w.end_object();
}

/// `"key":{"coding":[<one coding>]}`.
pub(crate) fn concept(
    w: &mut JsonWriter<'_>,
    key: &str,
    system: &'static str,
    code: &str,
    display: Option<&str>,
) {
    w.object(key);
    w.array("coding");
    coding(w, system, code, display);
    w.end_array();
    w.end_object();
}

/// `"key":{"coding":[<Blue Button variable coding>]}`.
pub(crate) fn var_concept(w: &mut JsonWriter<'_>, key: &str, var: &str, code: &str) {
    w.object(key);
    w.array("coding");
    var_coding(w, var, code);
    w.end_array();
    w.end_object();
}

/// `{"url":BB+var,"valueCoding":{"system":BB+var,"code":code}}`.
pub(crate) fn ext_coding(w: &mut JsonWriter<'_>, var: &str, code: &str) {
    w.begin_object();
    w.key("url");
    concat(w, BB_VAR, var);
    w.key("valueCoding");
    var_coding(w, var, code);
    w.end_object();
}

/// An extension with a money value.
pub(crate) fn ext_money(w: &mut JsonWriter<'_>, v: ApiVersion, var: &str, cents: i64) {
    w.begin_object();
    w.key("url");
    concat(w, BB_VAR, var);
    money(w, v, "valueMoney", cents);
    w.end_object();
}

/// An extension with an identifier value (system = the variable).
pub(crate) fn ext_identifier(w: &mut JsonWriter<'_>, var: &str, value: &str) {
    w.begin_object();
    w.key("url");
    concat(w, BB_VAR, var);
    w.object("valueIdentifier");
    w.key("system");
    concat(w, BB_VAR, var);
    w.str_field("value", value);
    w.end_object();
    w.end_object();
}

/// An extension with a quantity value.
pub(crate) fn ext_quantity(w: &mut JsonWriter<'_>, var: &str, value: i64) {
    w.begin_object();
    w.key("url");
    concat(w, BB_VAR, var);
    w.object("valueQuantity");
    w.int_field("value", value);
    w.end_object();
    w.end_object();
}

/// `"key":<Money>` in the version's shape: STU3 Money is a Quantity with an
/// ISO 4217 system; R4 Money has `currency`.
pub(crate) fn money(w: &mut JsonWriter<'_>, v: ApiVersion, key: &str, cents: i64) {
    w.object(key);
    w.money_field("value", cents);
    match v {
        ApiVersion::V1 => {
            w.const_field("system", "urn:iso:std:iso:4217");
            w.str_field("code", "USD");
        }
        ApiVersion::V2 | ApiVersion::V3 => w.str_field("currency", "USD"),
    }
    w.end_object();
}

/// `"meta":{"lastUpdated":..[,"profile":[..]]}`.
pub(crate) fn meta(
    w: &mut JsonWriter<'_>,
    last_updated: time::OffsetDateTime,
    profile: Option<&str>,
) {
    open_meta(w, last_updated, profile);
    w.end_object();
}

/// `"meta":{"lastUpdated":..[,"profile":[..]]`, left open for the members
/// that follow in FHIR's order (`security`, `tag`).
pub(crate) fn open_meta(
    w: &mut JsonWriter<'_>,
    last_updated: time::OffsetDateTime,
    profile: Option<&str>,
) {
    w.object("meta");
    w.instant_field("lastUpdated", last_updated);
    if let Some(p) = profile {
        w.array("profile");
        concat(w, C4BB_SD, p);
        w.end_array();
    }
}

/// `"tag":[..]` of an API v3 ExplanationOfBenefit (inside `meta`): where
/// the claim came from and whether it is final, as BFD's v3 server tags
/// them. (Its `outcome` is written where FHIR puts it.)
pub(crate) fn eob_tags(w: &mut JsonWriter<'_>, facts: EobFacts) {
    w.array("tag");
    coding(w, SYSTEM_TYPE_SYSTEM, facts.system_type.code(), None);
    coding(w, FINAL_ACTION_SYSTEM, facts.final_action.code(), None);
    w.end_array();
}
