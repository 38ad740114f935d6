//! The code systems and identifier systems the renderers write, and the
//! month suffixes of monthly Blue Button variables.

/// Blue Button CCW variable URL prefix.
pub(crate) const BB_VAR: &str = "https://bluebutton.cms.gov/resources/variables/";
/// The US NPI identifier system.
pub(crate) const NPI: &str = "http://hl7.org/fhir/sid/us-npi";
/// The MBI identifier system.
pub(crate) const US_MBI: &str = "http://hl7.org/fhir/sid/us-mbi";
/// HL7 adjudication codes.
pub(crate) const HL7_ADJ: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
/// CARIN adjudication codes.
pub(crate) const C4BB_ADJ: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication";
/// CARIN identifier types.
pub(crate) const C4BB_ID: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType";
/// CARIN profile base.
pub(crate) const C4BB_SD: &str = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/";

/// The two-digit month suffixes of monthly variables.
pub(crate) const MONTHS: [&str; 12] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12",
];
