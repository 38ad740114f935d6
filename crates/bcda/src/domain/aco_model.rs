//! The CMS model an ACO takes part in, read from its CMS ID as BCDA's
//! `aco_config` name patterns do (docs/REFERENCES.md). Only used to word
//! messages that BCDA words by model.

/// BCDA's model name for `cms_id`, or `None` when no pattern matches.
pub fn model_of(cms_id: &str) -> Option<&'static str> {
    let digits = |rest: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_digit())
    };
    // Longer prefixes first: `CT` before `C`, `DA` before `D`.
    let patterns: [(&str, std::ops::RangeInclusive<usize>, &'static str); 12] = [
        ("TEST", 3..=3, "TEST"),
        ("GUIDE-", 4..=4, "GUIDE"),
        ("ACCES", 5..=5, "ACCESS"),
        ("IOTA", 3..=3, "IOTA"),
        ("CT", 4..=6, "TCOCMD"),
        ("DA", 4..=4, "CDAC"),
        ("C", 4..=4, "CKCC"),
        ("K", 4..=4, "KCF"),
        ("D", 4..=4, "REACH"),
        ("A", 4..=4, "SSP"),
        ("E", 4..=4, "CEC"),
        ("V", 3..=3, "NGACO"),
    ];
    patterns.into_iter().find_map(|(prefix, lengths, model)| {
        cms_id
            .strip_prefix(prefix)
            .filter(|rest| digits(rest, lengths))
            .map(|_| model)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_follow_bcdas_patterns() {
        for (cms_id, model) in [
            ("A9994", Some("SSP")),
            ("D0001", Some("REACH")),
            ("DA0001", Some("CDAC")),
            ("CT000123", Some("TCOCMD")),
            ("C0001", Some("CKCC")),
            ("GUIDE-0001", Some("GUIDE")),
            ("TEST001", Some("TEST")),
            ("V994", Some("NGACO")),
            ("ACCES00001", Some("ACCESS")),
            ("A99941", None),
            ("SBXBD001", None),
        ] {
            assert_eq!(model_of(cms_id), model, "{cms_id}");
        }
    }
}
