//! National Provider Identifiers with valid Luhn check digits.
//!
//! The NPI check digit is the Luhn digit of the card-issuer prefix `80840`
//! followed by the first nine NPI digits; the prefix contributes a constant
//! 24 to the Luhn sum (CMS, "Requirements for NPI check digit").

/// The 10-digit NPI whose first nine digits are `base` (`100_000_000..=999_999_999`).
pub(crate) fn from_base(base: u32) -> u64 {
    debug_assert!((100_000_000..=999_999_999).contains(&base));
    u64::from(base) * 10 + u64::from(check_digit(base))
}

fn check_digit(base: u32) -> u32 {
    let mut sum = 24;
    let mut v = base;
    // Walking right to left, the rightmost of the nine digits is doubled.
    let mut double = true;
    while v > 0 {
        let mut d = v % 10;
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
        v /= 10;
    }
    (10 - sum % 10) % 10
}

/// Whether `npi` is ten digits with a correct check digit.
pub fn is_valid(npi: &str) -> bool {
    if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(n) = npi.parse::<u64>() else {
        return false;
    };
    (100_000_000..=999_999_999).contains(&(n / 10))
        && check_digit((n / 10) as u32) == (n % 10) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_npis() {
        // CMS's worked example and a commonly published valid NPI.
        assert_eq!(from_base(123_456_789), 1_234_567_893);
        assert!(is_valid("1234567893"));
        assert!(!is_valid("1234567890"));
        assert!(!is_valid("123456789"));
        assert!(!is_valid("12345678a3"));
    }

    #[test]
    fn every_generated_npi_is_valid() {
        for base in (100_000_000u32..999_999_999).step_by(7_654_321) {
            assert!(is_valid(&from_base(base).to_string()));
        }
    }
}
