//! References between resources (`Patient/<id>`, `Coverage/part-<x>-<id>`)
//! and NPIs as digits, written without allocating per resource.

use super::json::JsonWriter;

/// A `Patient/<bene_id>` reference value.
pub(crate) fn patient_reference(w: &mut JsonWriter<'_>, key: &str, bene_id: i64) {
    w.object(key);
    w.key("reference");
    let mut buf = [0u8; 32];
    let mut n = 0;
    for &b in b"Patient/" {
        buf[n] = b;
        n += 1;
    }
    let mut digits = Vec::with_capacity(20);
    super::json::push_int(&mut digits, bene_id);
    buf[n..n + digits.len()].copy_from_slice(&digits);
    w.ascii(&buf[..n + digits.len()]);
    w.end_object();
}

/// A `Coverage/part-<x>-<bene_id>` reference value.
pub(crate) fn coverage_reference(w: &mut JsonWriter<'_>, part: char, bene_id: i64) {
    w.object("coverage");
    w.key("reference");
    let mut s = Vec::with_capacity(40);
    s.extend_from_slice(b"Coverage/part-");
    s.push(part as u8);
    s.push(b'-');
    super::json::push_int(&mut s, bene_id);
    w.ascii(&s);
    w.end_object();
}

/// NPI as a 10-digit string without allocating.
pub(crate) fn npi_bytes(npi: u64) -> [u8; 10] {
    let mut out = [b'0'; 10];
    let mut n = npi;
    for i in (0..10).rev() {
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// The fields of an NPI identifier inside an open object: R4's C4BB `npi`
/// type (STU3 has none), the NPI system and the ten digits.
pub(crate) fn npi_identifier_fields(w: &mut JsonWriter<'_>, r4: bool, npi: u64) {
    if r4 {
        super::datatypes::concept(
            w,
            "type",
            super::systems::C4BB_ID,
            "npi",
            Some("National Provider Identifier"),
        );
    }
    w.str_field("system", super::systems::NPI);
    w.key("value");
    w.ascii(&npi_bytes(npi));
}
