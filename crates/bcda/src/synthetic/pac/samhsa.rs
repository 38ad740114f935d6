//! Which diagnosis codes make a claim 42 CFR Part 2 data (substance use
//! disorder treatment), the claims BCDA asks BFD to leave out
//! (`excludeSAMHSA=true`). docs/REFERENCES.md, "SAMHSA (42 CFR Part 2) codes".

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
}
