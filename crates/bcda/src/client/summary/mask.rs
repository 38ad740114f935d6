//! Error and warning messages with their identifiers replaced by
//! placeholders, so that one message per beneficiary collapses into one line
//! with a count, and so that no MBI is ever printed.
//!
//! A message is cut into words of letters, digits, `-` and `_`; a word with
//! a digit in it is an identifier or a number:
//! - shaped like an MBI (11 characters, dashes aside: digit, letter,
//!   either, digit, letter, either, digit, letter, letter, digit, digit;
//!   any letter, since synthetic MBIs carry an `S`) → `<MBI>`;
//! - shaped like a CMS ID (capital letters, maybe a dash, then 3 to 6
//!   digits: `A9994`, `V994`, `GUIDE-0001`) → `<ACO>`;
//! - up to 6 digits only (a count, a status code, a date's parts) → `<N>`;
//! - any other word with a digit of 6 or more characters (beneficiary and
//!   claim ids, longer numbers, UUIDs) → `<ID>`.
//!
//! Shorter mixed words stay (`v2`, `R4`, `STU3`), as do words without
//! digits.

/// `message` with its identifiers and numbers replaced by placeholders.
pub fn mask(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word_start = None;
    for (i, c) in message.char_indices() {
        if is_word_char(c) {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = word_start.take() {
            out.push_str(masked_word(&message[start..i]));
        }
        out.push(c);
    }
    if let Some(start) = word_start {
        out.push_str(masked_word(&message[start..]));
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The placeholder for `word`, or `word` itself.
fn masked_word(word: &str) -> &str {
    // A dash before or after a word is punctuation, not part of it
    // ("-19990000000001" is a negative id, still an id).
    let core = word.trim_matches('-');
    if !core.bytes().any(|b| b.is_ascii_digit()) {
        return word;
    }
    if is_mbi(core) {
        "<MBI>"
    } else if is_cms_id(core) {
        "<ACO>"
    } else if core.len() <= 6 && core.bytes().all(|b| b.is_ascii_digit()) {
        "<N>"
    } else if core.len() >= 6 {
        "<ID>"
    } else {
        word
    }
}

/// Whether `word` has an MBI's shape (dashes between groups allowed, as
/// MBIs are sometimes written `1EG4-TE5-MK73`).
fn is_mbi(word: &str) -> bool {
    // Positions by kind: N a digit (C, 1-9, is checked as a digit), A a
    // letter, E either.
    const LAYOUT: &[u8; 11] = b"NAENAENAANN";
    let mut chars = word.bytes().filter(|&b| b != b'-');
    let mut seen = 0;
    for kind in LAYOUT {
        let Some(c) = chars.next() else {
            return false;
        };
        let fits = match kind {
            b'N' => c.is_ascii_digit(),
            b'A' => c.is_ascii_alphabetic(),
            _ => c.is_ascii_alphanumeric(),
        };
        if !fits {
            return false;
        }
        seen += 1;
    }
    seen == 11 && chars.next().is_none()
}

/// Whether `word` has a CMS ID's shape: 1 to 5 capital letters, maybe a
/// dash, then 3 to 6 digits.
fn is_cms_id(word: &str) -> bool {
    let letters = word.bytes().take_while(u8::is_ascii_uppercase).count();
    let rest = &word[letters..];
    let digits = rest.strip_prefix('-').unwrap_or(rest);
    (1..=5).contains(&letters)
        && (3..=6).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_beneficiary_errors_collapse_into_one_message() {
        // BCDA's error line, as our export writes it (v1 shape).
        let a = mask(
            "Error retrieving ExplanationOfBenefit for beneficiary MBI 1S00E00AA00 in ACO A9994",
        );
        let b = mask(
            "Error retrieving ExplanationOfBenefit for beneficiary MBI 9S99Y99YY99 in ACO A9994",
        );
        assert_eq!(
            a,
            "Error retrieving ExplanationOfBenefit for beneficiary MBI <MBI> in ACO <ACO>"
        );
        assert_eq!(a, b);
    }

    #[test]
    fn real_mbis_of_any_letters_and_with_dashes_are_masked() {
        // CMS's published example MBI, plain and as it is often written.
        assert_eq!(mask("MBI 1EG4TE5MK73."), "MBI <MBI>.");
        assert_eq!(mask("MBI 1EG4-TE5-MK73, retry"), "MBI <MBI>, retry");
        assert_eq!(mask("(1eg4te5mk73)"), "(<MBI>)");
    }

    #[test]
    fn ids_and_numbers_become_placeholders_and_words_stay() {
        assert_eq!(
            mask("Patient/-19990000000001 has no Coverage after 3 attempts"),
            "Patient/<ID> has no Coverage after <N> attempts"
        );
        assert_eq!(
            mask("job 3fa85f64-5717-4562-b3fc-2c963f66afa6 failed: HTTP 500"),
            "job <ID> failed: HTTP <N>"
        );
        assert_eq!(
            mask("claim f-0042af99 in GUIDE-0001 or V994"),
            "claim <ID> in <ACO> or <ACO>"
        );
        assert_eq!(
            mask("v3 R4 STU3 data: default System-Type tags applied"),
            "v3 R4 STU3 data: default System-Type tags applied"
        );
        assert_eq!(mask(""), "");
        assert_eq!(mask("ends with 12"), "ends with <N>");
    }

    #[test]
    fn eleven_characters_of_another_shape_are_still_not_shown() {
        // Not an MBI's shape, but an id all the same.
        assert_eq!(mask("token ABCDEFGHIJ1"), "token <ID>");
        assert!(!is_mbi("1S00E00AA0"));
        assert!(!is_mbi("1S00E00AA000"));
        assert!(is_mbi("1S00E00AA00"));
    }
}
