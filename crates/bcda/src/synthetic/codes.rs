//! Weighted clinical code lists: ICD-10-CM diagnoses, MS-DRG inpatient
//! events with ICD-10-PCS procedures, HCPCS/CPT services, revenue centres,
//! and NDC drugs. Amounts are typical 2020s Medicare magnitudes in cents.
//!
//! Only public code sets' descriptions are included (ICD-10, MS-DRG, drug
//! names); CPT descriptors are licensed, so HCPCS codes carry no display, as
//! in BFD.

/// An ICD-10-CM diagnosis (BFD writes codes without the dot).
#[derive(Debug)]
pub(crate) struct Dx {
    pub(crate) code: &'static str,
    pub(crate) display: &'static str,
    /// Relative prevalence among beneficiaries (0: only assigned on purpose).
    pub(crate) weight: u32,
}

impl Dx {
    /// A substance use disorder code: 42 CFR Part 2 data, which BCDA asks
    /// BFD to exclude (`excludeSAMHSA=true`).
    #[cfg(test)]
    pub(crate) fn is_samhsa(&self) -> bool {
        crate::domain::part2::is_part2_diagnosis(self.code)
    }
}

macro_rules! dx {
    ($code:literal, $weight:literal, $display:literal) => {
        Dx {
            code: $code,
            display: $display,
            weight: $weight,
        }
    };
}

/// Chronic conditions; a beneficiary keeps the ones drawn for life.
pub(crate) const CHRONIC: &[Dx] = &[
    dx!("I10", 300, "Essential (primary) hypertension"),
    dx!("E785", 250, "Hyperlipidemia, unspecified"),
    dx!(
        "E119",
        140,
        "Type 2 diabetes mellitus without complications"
    ),
    dx!(
        "E1122",
        40,
        "Type 2 diabetes mellitus with diabetic chronic kidney disease"
    ),
    dx!(
        "I2510",
        100,
        "Atherosclerotic heart disease of native coronary artery without angina pectoris"
    ),
    dx!("N1830", 60, "Chronic kidney disease, stage 3 unspecified"),
    dx!("I509", 60, "Heart failure, unspecified"),
    dx!(
        "J449",
        70,
        "Chronic obstructive pulmonary disease, unspecified"
    ),
    dx!("I4891", 60, "Unspecified atrial fibrillation"),
    dx!(
        "F329",
        60,
        "Major depressive disorder, single episode, unspecified"
    ),
    dx!("M1711", 50, "Unilateral primary osteoarthritis, right knee"),
    dx!("G309", 30, "Alzheimer's disease, unspecified"),
    dx!("E039", 80, "Hypothyroidism, unspecified"),
    dx!(
        "K219",
        80,
        "Gastro-esophageal reflux disease without esophagitis"
    ),
    dx!(
        "M810",
        40,
        "Age-related osteoporosis without current pathological fracture"
    ),
    dx!("G4733", 30, "Obstructive sleep apnea (adult) (pediatric)"),
    dx!(
        "N400",
        40,
        "Benign prostatic hyperplasia without lower urinary tract symptoms"
    ),
    dx!("H2513", 30, "Age-related nuclear cataract, bilateral"),
    dx!("M5450", 40, "Low back pain, unspecified"),
    dx!("F1020", 8, "Alcohol dependence, uncomplicated"),
    dx!("F1120", 6, "Opioid dependence, uncomplicated"),
    dx!("N186", 0, "End stage renal disease"),
    dx!("Z992", 0, "Dependence on renal dialysis"),
];

/// Index of N18.6 (ESRD) in [`CHRONIC`].
pub(crate) const ESRD_DX: usize = 21;
/// Index of Z99.2 (dialysis) in [`CHRONIC`].
pub(crate) const DIALYSIS_DX: usize = 22;
/// Index of F10.20 (alcohol dependence) in [`CHRONIC`]: the SAMHSA case.
pub(crate) const ALCOHOL_DX: usize = 19;

/// Acute problems seen in office and emergency visits.
pub(crate) const ACUTE: &[Dx] = &[
    dx!("J069", 60, "Acute upper respiratory infection, unspecified"),
    dx!("R0789", 40, "Other chest pain"),
    dx!("R42", 30, "Dizziness and giddiness"),
    dx!("N390", 40, "Urinary tract infection, site not specified"),
    dx!("L03115", 15, "Cellulitis of right lower limb"),
    dx!(
        "Z0000",
        50,
        "Encounter for general adult medical examination without abnormal findings"
    ),
    dx!(
        "Z1231",
        20,
        "Encounter for screening mammogram for malignant neoplasm of breast"
    ),
    dx!("R0602", 30, "Shortness of breath"),
    dx!("Z23", 40, "Encounter for immunization"),
    dx!("R5383", 25, "Other fatigue"),
    dx!("W19XXXA", 10, "Unspecified fall, initial encounter"),
];

/// An inpatient event: its MS-DRG, principal diagnosis and procedures.
#[derive(Debug)]
pub(crate) struct DrgEvent {
    pub(crate) drg: &'static str,
    pub(crate) drg_display: &'static str,
    pub(crate) principal: Dx,
    /// ICD-10-PCS codes performed, in order (with display).
    pub(crate) procedures: &'static [(&'static str, &'static str)],
    /// MS-DRG relative weight times 1000.
    pub(crate) weight_milli: i64,
    /// Median length of stay in days.
    pub(crate) los: u32,
    /// Relative frequency.
    pub(crate) weight: u32,
}

/// Common (and some deliberately SAMHSA) inpatient events.
pub(crate) const DRG_EVENTS: &[DrgEvent] = &[
    DrgEvent {
        drg: "291",
        drg_display: "HEART FAILURE AND SHOCK WITH MCC",
        principal: dx!(
            "I5023",
            0,
            "Acute on chronic systolic (congestive) heart failure"
        ),
        procedures: &[("B246ZZZ", "Ultrasonography of Right and Left Heart")],
        weight_milli: 1_340,
        los: 4,
        weight: 14,
    },
    DrgEvent {
        drg: "871",
        drg_display: "SEPTICEMIA OR SEVERE SEPSIS WITHOUT MV >96 HOURS WITH MCC",
        principal: dx!("A419", 0, "Sepsis, unspecified organism"),
        procedures: &[(
            "02HV33Z",
            "Insertion of Infusion Device into Superior Vena Cava, Percutaneous Approach",
        )],
        weight_milli: 1_900,
        los: 5,
        weight: 12,
    },
    DrgEvent {
        drg: "470",
        drg_display: "MAJOR HIP AND KNEE JOINT REPLACEMENT OR REATTACHMENT OF LOWER EXTREMITY WITHOUT MCC",
        principal: dx!("M1711", 0, "Unilateral primary osteoarthritis, right knee"),
        procedures: &[(
            "0SRC0J9",
            "Replacement of Right Knee Joint with Synthetic Substitute, Cemented, Open Approach",
        )],
        weight_milli: 1_900,
        los: 2,
        weight: 8,
    },
    DrgEvent {
        drg: "190",
        drg_display: "CHRONIC OBSTRUCTIVE PULMONARY DISEASE WITH MCC",
        principal: dx!(
            "J441",
            0,
            "Chronic obstructive pulmonary disease with (acute) exacerbation"
        ),
        procedures: &[],
        weight_milli: 1_150,
        los: 4,
        weight: 8,
    },
    DrgEvent {
        drg: "194",
        drg_display: "SIMPLE PNEUMONIA AND PLEURISY WITH CC",
        principal: dx!("J189", 0, "Pneumonia, unspecified organism"),
        procedures: &[],
        weight_milli: 900,
        los: 3,
        weight: 10,
    },
    DrgEvent {
        drg: "065",
        drg_display: "INTRACRANIAL HEMORRHAGE OR CEREBRAL INFARCTION WITH CC OR TPA IN 24 HRS",
        principal: dx!("I639", 0, "Cerebral infarction, unspecified"),
        procedures: &[(
            "B030ZZZ",
            "Magnetic Resonance Imaging (MRI) of Brain using High Osmolar Contrast",
        )],
        weight_milli: 1_000,
        los: 3,
        weight: 7,
    },
    DrgEvent {
        drg: "690",
        drg_display: "KIDNEY AND URINARY TRACT INFECTIONS WITHOUT MCC",
        principal: dx!("N390", 0, "Urinary tract infection, site not specified"),
        procedures: &[],
        weight_milli: 800,
        los: 3,
        weight: 8,
    },
    DrgEvent {
        drg: "481",
        drg_display: "HIP AND FEMUR PROCEDURES EXCEPT MAJOR JOINT WITH CC",
        principal: dx!(
            "S72001A",
            0,
            "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
        ),
        procedures: &[(
            "0QS604Z",
            "Reposition Right Upper Femur with Internal Fixation Device, Open Approach",
        )],
        weight_milli: 2_000,
        los: 5,
        weight: 5,
    },
    DrgEvent {
        drg: "247",
        drg_display: "PERCUTANEOUS CARDIOVASCULAR PROCEDURES WITH DRUG-ELUTING STENT WITHOUT MCC",
        principal: dx!("I214", 0, "Non-ST elevation (NSTEMI) myocardial infarction"),
        procedures: &[
            (
                "02703DZ",
                "Dilation of Coronary Artery, One Artery with Intraluminal Device, Percutaneous Approach",
            ),
            (
                "B2111ZZ",
                "Fluoroscopy of Multiple Coronary Arteries using Low Osmolar Contrast",
            ),
        ],
        weight_milli: 2_000,
        los: 2,
        weight: 6,
    },
    DrgEvent {
        drg: "896",
        drg_display: "ALCOHOL, DRUG ABUSE OR DEPENDENCE WITHOUT REHABILITATION THERAPY WITH MCC",
        principal: dx!(
            "F10239",
            0,
            "Alcohol dependence with withdrawal, unspecified"
        ),
        procedures: &[],
        weight_milli: 1_600,
        los: 4,
        weight: 1,
    },
];

/// A HCPCS/CPT service line template.
#[derive(Debug)]
pub(crate) struct Service {
    pub(crate) hcpcs: &'static str,
    /// Median allowed amount per unit, in cents.
    pub(crate) allowed: i64,
    /// `line_cms_type_srvc_cd`.
    pub(crate) type_srvc: &'static str,
    /// `line_place_of_srvc_cd`.
    pub(crate) pos: &'static str,
    /// Index into [`SPECIALTIES`] of who performs it.
    pub(crate) specialty: usize,
    /// A modifier sometimes billed with it.
    pub(crate) modifier: Option<&'static str>,
    pub(crate) weight: u32,
}

macro_rules! svc {
    ($h:literal, $allowed:literal, $t:literal, $pos:literal, $s:expr, $m:expr, $w:literal) => {
        Service {
            hcpcs: $h,
            allowed: $allowed,
            type_srvc: $t,
            pos: $pos,
            specialty: $s,
            modifier: $m,
            weight: $w,
        }
    };
}

/// Carrier (physician/supplier Part B) services.
pub(crate) const CARRIER_SERVICES: &[Service] = &[
    svc!("99213", 8_500, "1", "11", PCP, Some("25"), 300),
    svc!("99214", 12_500, "1", "11", PCP, Some("25"), 250),
    svc!("99212", 5_500, "1", "11", PCP, None, 60),
    svc!("99215", 17_500, "1", "11", SPECIALIST, None, 50),
    svc!("99203", 11_000, "1", "11", SPECIALIST, None, 30),
    svc!("99204", 16_500, "1", "11", SPECIALIST, None, 20),
    svc!("99232", 8_000, "1", "21", PCP, None, 40),
    svc!("99309", 9_500, "1", "31", PCP, None, 15),
    svc!("80053", 1_100, "5", "81", LAB, None, 80),
    svc!("85025", 800, "5", "81", LAB, None, 80),
    svc!("83036", 1_000, "5", "81", LAB, None, 50),
    svc!("80061", 1_300, "5", "81", LAB, None, 50),
    svc!("84443", 1_700, "5", "81", LAB, None, 30),
    svc!("71046", 3_000, "4", "22", RADIOLOGY, Some("26"), 40),
    svc!("77067", 13_000, "4", "11", RADIOLOGY, None, 15),
    svc!("93000", 1_700, "1", "11", CARDIOLOGY, None, 40),
    svc!("G0439", 13_000, "1", "11", PCP, None, 40),
    svc!("G0438", 17_000, "1", "11", PCP, None, 8),
    svc!("99284", 9_500, "1", "23", EMERGENCY, None, 30),
    svc!("20610", 6_000, "2", "11", ORTHO, Some("RT"), 20),
    svc!("11721", 4_500, "2", "11", PODIATRY, Some("Q8"), 20),
    svc!("97110", 3_000, "1", "11", PHYSICAL_THERAPY, Some("GP"), 40),
    svc!("G0008", 2_500, "1", "11", PCP, None, 20),
    svc!("90662", 6_000, "V", "11", PCP, None, 20),
];

/// DME items (line type R = rental, P = purchase, 9 = supplies). Whole-dollar
/// fee schedule amounts on purpose: they render as `80.0`.
pub(crate) const DME_ITEMS: &[Service] = &[
    svc!("E0601", 8_000, "R", "12", DME_SUPPLIER, Some("RR"), 25),
    svc!("A4253", 3_200, "9", "12", DME_SUPPLIER, None, 30),
    svc!("A4259", 1_500, "9", "12", DME_SUPPLIER, None, 20),
    svc!("K0001", 5_000, "R", "12", DME_SUPPLIER, Some("RR"), 8),
    svc!("E1390", 17_000, "R", "12", DME_SUPPLIER, Some("RR"), 12),
    svc!("A7030", 9_000, "9", "12", DME_SUPPLIER, None, 10),
    svc!("E0143", 8_000, "P", "12", DME_SUPPLIER, Some("NU"), 8),
    svc!("E0114", 4_000, "P", "12", DME_SUPPLIER, Some("NU"), 5),
];

/// A revenue-centre line template for institutional claims.
#[derive(Debug)]
pub(crate) struct RevenueLine {
    pub(crate) revenue: &'static str,
    pub(crate) hcpcs: Option<&'static str>,
    /// Median charge per unit, in cents.
    pub(crate) charge: i64,
    pub(crate) weight: u32,
}

macro_rules! rev {
    ($r:literal, $h:expr, $c:literal, $w:literal) => {
        RevenueLine {
            revenue: $r,
            hcpcs: $h,
            charge: $c,
            weight: $w,
        }
    };
}

/// Outpatient hospital lines.
pub(crate) const OUTPATIENT_LINES: &[RevenueLine] = &[
    rev!("0450", Some("99284"), 120_000, 6),
    rev!("0450", Some("99283"), 80_000, 4),
    rev!("0300", Some("80053"), 9_000, 10),
    rev!("0301", Some("85025"), 6_000, 8),
    rev!("0320", Some("71046"), 25_000, 6),
    rev!("0350", Some("70450"), 180_000, 2),
    rev!("0636", Some("J1885"), 4_000, 3),
    rev!("0250", None, 5_000, 6),
    rev!("0510", Some("G0463"), 30_000, 8),
    rev!("0420", Some("97110"), 15_000, 4),
    rev!("0730", Some("93005"), 9_000, 5),
    rev!("0402", Some("76700"), 60_000, 1),
    rev!("0360", Some("45378"), 250_000, 2),
    rev!("0761", Some("G0378"), 150_000, 1),
];

/// Inpatient ancillary lines (room and board is added per day separately).
pub(crate) const INPATIENT_ANCILLARY: &[RevenueLine] = &[
    rev!("0250", None, 90_000, 10),
    rev!("0270", None, 60_000, 8),
    rev!("0300", None, 70_000, 10),
    rev!("0320", None, 50_000, 6),
    rev!("0360", None, 900_000, 3),
    rev!("0410", None, 40_000, 5),
    rev!("0450", None, 150_000, 5),
    rev!("0730", None, 20_000, 6),
];

/// SNF lines (after room and board).
pub(crate) const SNF_LINES: &[RevenueLine] = &[
    rev!("0420", Some("97110"), 20_000, 10),
    rev!("0430", Some("97535"), 20_000, 8),
    rev!("0440", Some("92507"), 20_000, 3),
    rev!("0250", None, 30_000, 8),
    rev!("0300", Some("80053"), 8_000, 5),
];

/// Home health visit lines (G-codes per discipline).
pub(crate) const HHA_LINES: &[RevenueLine] = &[
    rev!("0551", Some("G0299"), 16_000, 10),
    rev!("0421", Some("G0151"), 18_000, 6),
    rev!("0431", Some("G0152"), 18_000, 3),
    rev!("0571", Some("G0156"), 7_000, 3),
];

/// Provider specialties: (`prvdr_spclty` code, display).
pub(crate) const SPECIALTIES: &[(&str, &str)] = &[
    ("08", "Family Practice"),
    ("11", "Internal Medicine"),
    ("06", "Cardiology"),
    ("69", "Clinical Laboratory"),
    ("30", "Diagnostic Radiology"),
    ("93", "Emergency Medicine"),
    ("20", "Orthopedic Surgery"),
    ("48", "Podiatry"),
    ("65", "Physical Therapist in Private Practice"),
    ("A5", "Pharmacy"),
    ("29", "Pulmonary Disease"),
    ("39", "Nephrology"),
];
/// Primary care.
pub(crate) const PCP: usize = 0;
/// Internal medicine stands in for "some specialist" when no better fit.
pub(crate) const SPECIALIST: usize = 1;
pub(crate) const CARDIOLOGY: usize = 2;
pub(crate) const LAB: usize = 3;
pub(crate) const RADIOLOGY: usize = 4;
pub(crate) const EMERGENCY: usize = 5;
pub(crate) const ORTHO: usize = 6;
pub(crate) const PODIATRY: usize = 7;
pub(crate) const PHYSICAL_THERAPY: usize = 8;
/// DME suppliers are billed under the pharmacy/supplier specialty.
pub(crate) const DME_SUPPLIER: usize = 9;

/// A Part D drug.
#[derive(Debug)]
pub(crate) struct Drug {
    pub(crate) ndc: &'static str,
    pub(crate) name: &'static str,
    /// Diagnosis code prefix it treats ("" = acute, short courses).
    pub(crate) treats: &'static str,
    /// Ingredient cost of a 30-day supply, in cents.
    pub(crate) cost_30: i64,
    pub(crate) brand: bool,
}

macro_rules! drug {
    ($ndc:literal, $name:literal, $treats:literal, $cost:literal, $brand:literal) => {
        Drug {
            ndc: $ndc,
            name: $name,
            treats: $treats,
            cost_30: $cost,
            brand: $brand,
        }
    };
}

/// The formulary.
pub(crate) const DRUGS: &[Drug] = &[
    drug!(
        "00093505698",
        "ATORVASTATIN CALCIUM 20 MG TABLET",
        "E78",
        900,
        false
    ),
    drug!("00378395105", "LISINOPRIL 10 MG TABLET", "I10", 500, false),
    drug!(
        "68180051201",
        "AMLODIPINE BESYLATE 5 MG TABLET",
        "I10",
        500,
        false
    ),
    drug!(
        "00378018001",
        "METFORMIN HCL 500 MG TABLET",
        "E11",
        600,
        false
    ),
    drug!(
        "00088221905",
        "INSULIN GLARGINE 100 UNIT/ML PEN",
        "E11",
        30_000,
        true
    ),
    drug!(
        "00006027731",
        "SITAGLIPTIN 100 MG TABLET",
        "E11",
        50_000,
        true
    ),
    drug!(
        "16729002010",
        "METOPROLOL SUCCINATE ER 50 MG TABLET",
        "I25",
        1_200,
        false
    ),
    drug!("00003089421", "APIXABAN 5 MG TABLET", "I48", 52_000, true),
    drug!("00054429725", "FUROSEMIDE 40 MG TABLET", "I50", 400, false),
    drug!(
        "00173071920",
        "FLUTICASONE-SALMETEROL 250-50 MCG INHALER",
        "J44",
        30_000,
        true
    ),
    drug!(
        "00597007541",
        "TIOTROPIUM BROMIDE 18 MCG INHALATION CAPSULE",
        "J44",
        45_000,
        true
    ),
    drug!(
        "00093715056",
        "SERTRALINE HCL 50 MG TABLET",
        "F32",
        600,
        false
    ),
    drug!(
        "00378180101",
        "LEVOTHYROXINE SODIUM 50 MCG TABLET",
        "E03",
        1_000,
        false
    ),
    drug!(
        "62175011843",
        "OMEPRAZOLE DR 20 MG CAPSULE",
        "K21",
        700,
        false
    ),
    drug!(
        "00093717198",
        "ALENDRONATE SODIUM 70 MG TABLET",
        "M81",
        1_200,
        false
    ),
    drug!(
        "00378522001",
        "DONEPEZIL HCL 10 MG TABLET",
        "G30",
        1_500,
        false
    ),
    drug!(
        "00591553601",
        "TAMSULOSIN HCL 0.4 MG CAPSULE",
        "N40",
        1_000,
        false
    ),
    drug!("00093031201", "CLOPIDOGREL 75 MG TABLET", "I25", 900, false),
    drug!("50090303400", "MELOXICAM 15 MG TABLET", "M17", 500, false),
    drug!(
        "00185011101",
        "GABAPENTIN 300 MG CAPSULE",
        "M54",
        800,
        false
    ),
    drug!(
        "00054418425",
        "NALTREXONE HCL 50 MG TABLET",
        "F10",
        4_000,
        false
    ),
    drug!(
        "00406012301",
        "BUPRENORPHINE-NALOXONE 8-2 MG SUBLINGUAL TABLET",
        "F11",
        15_000,
        false
    ),
    drug!("00093415201", "AMOXICILLIN 500 MG CAPSULE", "", 800, false),
    drug!(
        "00781506210",
        "AZITHROMYCIN 250 MG TABLET",
        "",
        1_200,
        false
    ),
    drug!("00378005201", "PREDNISONE 10 MG TABLET", "", 500, false),
    drug!(
        "00406048401",
        "ACETAMINOPHEN & CODEINE 300-30 MG TABLET",
        "",
        900,
        false
    ),
    drug!("00093014701", "CEPHALEXIN 500 MG CAPSULE", "", 1_000, false),
];
