//! Which claims are 42 CFR Part 2 data (substance use disorder diagnosis or
//! treatment), the claims BCDA asks BFD to leave out (`excludeSAMHSA=true`)
//! and so never exports. One place for the generator (which flags the
//! claims it makes) and the importer (which derives the flag from the JSON
//! it stores). docs/REFERENCES.md, "SAMHSA (42 CFR Part 2) codes".

/// The ICD-10-CM categories whose every code is treated as Part 2 data:
/// the substance-related disorders F10-F16, F18 and F19 (alcohol, opioids,
/// cannabis, sedatives, cocaine, other stimulants, hallucinogens,
/// inhalants, other substances; not F17, nicotine) and F55 (abuse of
/// non-psychoactive substances), as in BFD's list. Whole categories rather
/// than BFD's enumerated codes: a code added to a category later is still
/// caught, which errs on the side of not sharing.
const PART2_CATEGORIES: [&str; 10] = [
    "F10", "F11", "F12", "F13", "F14", "F15", "F16", "F18", "F19", "F55",
];

/// The MS-DRGs of alcohol and drug abuse or dependence on BFD's list
/// (522, 523, 895, 896, 897).
const PART2_DRGS: [&str; 5] = ["522", "523", "895", "896", "897"];

/// The `meta.security` code BFD labels substance use disorder claims with
/// (HL7 v3 ActCode `42CFRPart2`).
pub const PART2_SECURITY_CODE: &str = "42CFRPart2";

/// Whether an ICD-10-CM diagnosis code is a 42 CFR Part 2 substance use
/// disorder code. The code may be written with or without its dot and in
/// either case (`F10.20`, `f1020`): codes are compared as BFD normalises
/// them (trimmed, first dot removed, upper case).
pub fn is_part2_diagnosis(code: &str) -> bool {
    let code = code.trim().as_bytes();
    if code.len() < 3 {
        return false;
    }
    let category = [
        code[0].to_ascii_uppercase(),
        code[1].to_ascii_uppercase(),
        code[2].to_ascii_uppercase(),
    ];
    // A dot may only follow the category (`F10.20`); anything else is not
    // an ICD-10-CM code of these categories.
    if code.len() > 3 && code[3] != b'.' && !code[3].is_ascii_alphanumeric() {
        return false;
    }
    PART2_CATEGORIES.iter().any(|c| c.as_bytes() == category)
}

/// Whether an MS-DRG code is one of alcohol or drug abuse or dependence.
/// Compared as BFD normalises DRGs: trimmed, the last three characters
/// (`896`, `MS-DRG 896`, `0896`... all name DRG 896).
pub fn is_part2_drg(code: &str) -> bool {
    let code = code.trim();
    code.len() >= 3
        && code
            .get(code.len() - 3..)
            .is_some_and(|last| PART2_DRGS.contains(&last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substance_use_categories_are_part2_and_nicotine_is_not() {
        for code in [
            "F1020", "F10.20", "f11.23", "F1910", "F55.1", "F12", " F1410 ",
        ] {
            assert!(is_part2_diagnosis(code), "{code}");
        }
        for code in [
            "F1720", "F17.210", "F329", "I10", "F1", "", "F20.9", "E1122", "F10-20",
        ] {
            assert!(!is_part2_diagnosis(code), "{code}");
        }
    }

    #[test]
    fn alcohol_and_drug_drgs_are_part2() {
        for code in ["896", " 897 ", "MS-DRG 895", "522", "523"] {
            assert!(is_part2_drg(code), "{code}");
        }
        for code in ["291", "894", "89", "", "8966", "470"] {
            assert!(!is_part2_drg(code), "{code}");
        }
    }
}
