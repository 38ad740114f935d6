//! Adjudications: the Blue Button variable and CARIN adjudication
//! category of each claim amount, rendered in each version's shape.

use std::sync::OnceLock;

use super::datatypes::{coding, concat, money};
use super::json::JsonWriter;
use super::systems::{BB_VAR, C4BB_ADJ, HL7_ADJ};
use crate::domain::ApiVersion;

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
    w.raw_member(&category[usize::from(v.is_r4())]);
    money(w, v, "amount", cents);
    w.end_object();
}

/// `"category":{"coding":[...]}` of an adjudication.
fn adjudication_category(w: &mut JsonWriter<'_>, v: ApiVersion, a: &Amount) {
    w.object("category");
    w.array("coding");
    if v.is_r4() {
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
