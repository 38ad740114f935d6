//! FHIR building blocks both renderers share: Blue Button variable codings,
//! extensions, money, adjudications and the mapping of claim amounts to
//! Blue Button variables and CARIN adjudication categories.

use std::sync::OnceLock;

use super::json::JsonWriter;
use crate::domain::ApiVersion;

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
        ApiVersion::V2 => w.str_field("currency", "USD"),
    }
    w.end_object();
}

/// An amount's meaning: its Blue Button variable and CARIN category.
#[derive(Debug)]
pub(crate) struct Amount {
    pub(crate) var: &'static str,
    pub(crate) display: &'static str,
    pub(crate) carin_system: &'static str,
    pub(crate) carin_code: &'static str,
    /// The `"category":{...}` member for v1 and v2, rendered on first use:
    /// it never changes, and EOB lines repeat a dozen amounts each.
    category: OnceLock<[Vec<u8>; 2]>,
}

macro_rules! amount {
    ($name:ident, $var:literal, $display:literal, $sys:ident, $code:literal) => {
        pub(crate) static $name: Amount = Amount {
            var: $var,
            display: $display,
            carin_system: $sys,
            carin_code: $code,
            category: OnceLock::new(),
        };
    };
}

amount!(
    LINE_NCH_PMT,
    "line_nch_pmt_amt",
    "Line NCH Medicare Payment Amount",
    HL7_ADJ,
    "benefit"
);
amount!(
    LINE_BENE_PMT,
    "line_bene_pmt_amt",
    "Line Payment Amount to Beneficiary",
    C4BB_ADJ,
    "paidtopatient"
);
amount!(
    LINE_PRVDR_PMT,
    "line_prvdr_pmt_amt",
    "Line Provider Payment Amount",
    C4BB_ADJ,
    "paidtoprovider"
);
amount!(
    LINE_DDCTBL,
    "line_bene_ptb_ddctbl_amt",
    "Line Beneficiary Part B Deductible Amount",
    HL7_ADJ,
    "deductible"
);
amount!(
    LINE_PRMRY_PD,
    "line_bene_prmry_pyr_pd_amt",
    "Line Primary Payer (if not Medicare) Paid Amount",
    C4BB_ADJ,
    "priorpayerpaid"
);
amount!(
    LINE_COINS,
    "line_coinsrnc_amt",
    "Line Beneficiary Coinsurance Amount",
    C4BB_ADJ,
    "coinsurance"
);
amount!(
    LINE_SBMTD,
    "line_sbmtd_chrg_amt",
    "Line Submitted Charge Amount",
    HL7_ADJ,
    "submitted"
);
amount!(
    LINE_ALOWD,
    "line_alowd_chrg_amt",
    "Line Allowed Charge Amount",
    HL7_ADJ,
    "eligible"
);
amount!(
    REV_RATE,
    "rev_cntr_rate_amt",
    "Revenue Center Rate Amount",
    HL7_ADJ,
    "submitted"
);
amount!(
    REV_TOT_CHRG,
    "rev_cntr_tot_chrg_amt",
    "Revenue Center Total Charge Amount",
    HL7_ADJ,
    "submitted"
);
amount!(
    REV_NCVRD,
    "rev_cntr_ncvrd_chrg_amt",
    "Revenue Center Non-Covered Charge Amount",
    C4BB_ADJ,
    "noncovered"
);
amount!(
    REV_DDCTBL,
    "rev_cntr_cash_ddctbl_amt",
    "Revenue Center Cash Deductible Amount",
    HL7_ADJ,
    "deductible"
);
amount!(
    REV_COINS,
    "rev_cntr_coinsrnc_wge_adjstd_c",
    "Revenue Center Coinsurance/Wage Adjusted Coinsurance Amount",
    C4BB_ADJ,
    "coinsurance"
);
amount!(
    REV_PRVDR_PMT,
    "rev_cntr_prvdr_pmt_amt",
    "Revenue Center (Medicare) Provider Payment Amount",
    C4BB_ADJ,
    "paidtoprovider"
);
amount!(
    REV_BENE_PMT,
    "rev_cntr_bene_pmt_amt",
    "Revenue Center Payment Amount to Beneficiary",
    C4BB_ADJ,
    "paidtopatient"
);
amount!(
    REV_PTNT_RSPNS,
    "rev_cntr_ptnt_rspnsblty_pmt",
    "Revenue Center Patient Responsibility Payment Amount",
    C4BB_ADJ,
    "paidbypatient"
);
amount!(
    REV_PMT,
    "rev_cntr_pmt_amt_amt",
    "Revenue Center (Medicare) Payment Amount",
    HL7_ADJ,
    "benefit"
);
amount!(
    PDE_PLAN_PD,
    "cvrd_d_plan_pd_amt",
    "Amount paid by Part D plan for the PDE (drug is covered by Part D)",
    HL7_ADJ,
    "benefit"
);
amount!(
    PDE_NCVRD_PLAN_PD,
    "ncvrd_plan_pd_amt",
    "Amount paid by Part D plan for the PDE (drug is not covered by Part D)",
    C4BB_ADJ,
    "noncovered"
);
amount!(
    PDE_PTNT_PAY,
    "ptnt_pay_amt",
    "Amount Paid by Patient",
    C4BB_ADJ,
    "paidbypatient"
);
amount!(
    PDE_OTHR_TROOP,
    "othr_troop_amt",
    "Other True Out-of-Pocket (TrOOP) Amount",
    C4BB_ADJ,
    "priorpayerpaid"
);
amount!(
    PDE_LICS,
    "lics_amt",
    "Amount paid for the PDE by Part D low income subsidy",
    C4BB_ADJ,
    "discount"
);
amount!(
    PDE_PLRO,
    "plro_amt",
    "Reduction in patient liability due to payments by other payers (PLRO)",
    C4BB_ADJ,
    "priorpayerpaid"
);
amount!(
    PDE_TOT_RX,
    "tot_rx_cst_amt",
    "Total drug cost (Part D)",
    C4BB_ADJ,
    "drugcost"
);
amount!(
    PDE_GDC_BLW,
    "gdc_blw_oopt_amt",
    "Gross Drug Cost Below Part D Out-of-Pocket Threshold (GDCB)",
    HL7_ADJ,
    "eligible"
);
amount!(
    PDE_GDC_ABV,
    "gdc_abv_oopt_amt",
    "Gross Drug Cost Above Part D Out-of-Pocket Threshold (GDCA)",
    HL7_ADJ,
    "eligible"
);
amount!(
    PDE_GAP_DSCNT,
    "rptd_gap_dscnt_num",
    "Gap Discount Amount",
    C4BB_ADJ,
    "discount"
);

/// One adjudication entry: STU3 codes only the Blue Button variable; R4
/// (CARIN) codes the CARIN category first, then the variable.
pub(crate) fn adjudication(w: &mut JsonWriter<'_>, v: ApiVersion, a: &Amount, cents: i64) {
    let category = a.category.get_or_init(|| {
        [ApiVersion::V1, ApiVersion::V2].map(|v| {
            let mut member = Vec::new();
            let mut m = JsonWriter::new(&mut member);
            m.begin_object();
            adjudication_category(&mut m, v, a);
            m.end_object();
            // `{"category":{...}}` without its braces.
            member[1..member.len() - 1].to_vec()
        })
    });
    w.begin_object();
    w.raw_member(&category[usize::from(v == ApiVersion::V2)]);
    money(w, v, "amount", cents);
    w.end_object();
}

/// `"category":{"coding":[...]}` of an adjudication.
fn adjudication_category(w: &mut JsonWriter<'_>, v: ApiVersion, a: &Amount) {
    w.object("category");
    w.array("coding");
    if v == ApiVersion::V2 {
        coding(w, a.carin_system, a.carin_code, None);
    }
    w.begin_object();
    w.const_field(
        "system",
        "https://bluebutton.cms.gov/resources/codesystem/adjudication",
    );
    w.key("code");
    concat(w, BB_VAR, a.var);
    w.str_field("display", a.display);
    w.end_object();
    w.end_array();
    w.end_object();
}

/// `"meta":{"lastUpdated":..[,"profile":[..]]}`.
pub(crate) fn meta(
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
    w.end_object();
}

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

/// The two-digit month suffixes of monthly variables.
pub(crate) const MONTHS: [&str; 12] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12",
];

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

amount!(
    CLM_PMT,
    "clm_pmt_amt",
    "Claim Payment Amount",
    HL7_ADJ,
    "benefit"
);
amount!(
    CLM_TOT_CHRG,
    "clm_tot_chrg_amt",
    "Claim Total Charge Amount",
    HL7_ADJ,
    "submitted"
);
amount!(
    CARR_SBMTD,
    "nch_carr_clm_sbmtd_chrg_amt",
    "NCH Carrier Claim Submitted Charge Amount (sum of all line-level submitted charges)",
    HL7_ADJ,
    "submitted"
);
amount!(
    CARR_ALOWD,
    "nch_carr_clm_alowd_amt",
    "NCH Carrier Claim Allowed Charge Amount (sum of all line-level allowed charges)",
    HL7_ADJ,
    "eligible"
);
amount!(
    CARR_DDCTBL,
    "carr_clm_cash_ddctbl_apld_amt",
    "Carrier Claim Cash Deductible Applied Amount (sum of all line-level deductible amounts)",
    HL7_ADJ,
    "deductible"
);
amount!(
    PRPAYAMT,
    "prpayamt",
    "NCH Primary Payer (if not Medicare) Claim Paid Amount",
    C4BB_ADJ,
    "priorpayerpaid"
);
amount!(
    IP_DDCTBL,
    "nch_bene_ip_ddctbl_amt",
    "NCH Beneficiary Inpatient (or other Part A) Deductible Amount",
    HL7_ADJ,
    "deductible"
);
amount!(
    PTA_COINS,
    "nch_bene_pta_coinsrnc_lblty_am",
    "NCH Beneficiary Part A Coinsurance Liability Amount",
    C4BB_ADJ,
    "coinsurance"
);
amount!(
    PTB_DDCTBL,
    "nch_bene_ptb_ddctbl_amt",
    "NCH Beneficiary Part B Deductible Amount",
    HL7_ADJ,
    "deductible"
);
amount!(
    PTB_COINS,
    "nch_bene_ptb_coinsrnc_amt",
    "NCH Beneficiary Part B Coinsurance Amount",
    C4BB_ADJ,
    "coinsurance"
);
