//! Medicare Beneficiary Identifiers: a mixed-radix code for a number, with the
//! synthetic marker `S` in position 2.
//!
//! The MBI format is `C A AN N A AN N A A N N` (C = 1-9, N = 0-9, A = a letter
//! other than S L O I B Z, AN = either). Position 2 is always an `A`; real
//! MBIs never use `S`, so CMS marks synthetic MBIs with it (docs/REFERENCES.md,
//! "MBI"). The other ten positions encode a number in mixed radix, the last
//! position least significant, so consecutive numbers look like Synthea's
//! consecutive MBIs (`1S00E00AA00`, `1S00E00AA01`, ...). Decoding is the exact
//! inverse, so an MBI maps back to its beneficiary without a lookup table.

/// The 20 letters allowed in an MBI.
const ALPHA: &[u8; 20] = b"ACDEFGHJKMNPQRTUVWXY";
/// Digits then letters: the 30 characters allowed in an alphanumeric slot.
const ALNUM: &[u8; 30] = b"0123456789ACDEFGHJKMNPQRTUVWXY";

#[derive(Clone, Copy)]
enum Slot {
    /// 1-9.
    C,
    /// The fixed synthetic marker `S`.
    Synthetic,
    /// 0-9.
    N,
    /// One of [`ALPHA`].
    A,
    /// One of [`ALNUM`].
    AN,
}

const LAYOUT: [Slot; 11] = [
    Slot::C,
    Slot::Synthetic,
    Slot::AN,
    Slot::N,
    Slot::A,
    Slot::AN,
    Slot::N,
    Slot::A,
    Slot::A,
    Slot::N,
    Slot::N,
];

impl Slot {
    fn radix(self) -> u64 {
        match self {
            Slot::C => 9,
            Slot::Synthetic => 1,
            Slot::N => 10,
            Slot::A => 20,
            Slot::AN => 30,
        }
    }

    fn char_of(self, digit: u64) -> u8 {
        match self {
            Slot::C => b'1' + digit as u8,
            Slot::Synthetic => b'S',
            Slot::N => b'0' + digit as u8,
            Slot::A => ALPHA[digit as usize],
            Slot::AN => ALNUM[digit as usize],
        }
    }

    fn digit_of(self, c: u8) -> Option<u64> {
        match self {
            Slot::C => (b'1'..=b'9').contains(&c).then(|| u64::from(c - b'1')),
            Slot::Synthetic => (c == b'S').then_some(0),
            Slot::N => c.is_ascii_digit().then(|| u64::from(c - b'0')),
            Slot::A => ALPHA.iter().position(|&a| a == c).map(|p| p as u64),
            Slot::AN => ALNUM.iter().position(|&a| a == c).map(|p| p as u64),
        }
    }
}

/// How many distinct synthetic MBIs exist: 648 billion.
pub(crate) const CAPACITY: u64 = 648_000_000_000;

/// The synthetic MBI for `value` (`value < CAPACITY`).
pub(crate) fn encode(value: u64) -> String {
    debug_assert!(value < CAPACITY);
    let mut out = [0u8; 11];
    let mut v = value;
    for (i, slot) in LAYOUT.iter().enumerate().rev() {
        let r = slot.radix();
        out[i] = slot.char_of(v % r);
        v /= r;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// The number a synthetic MBI encodes, or `None` if `mbi` is not a
/// syntactically valid synthetic MBI.
pub(crate) fn decode(mbi: &str) -> Option<u64> {
    let bytes = mbi.as_bytes();
    if bytes.len() != 11 {
        return None;
    }
    let mut v = 0u64;
    for (slot, &c) in LAYOUT.iter().zip(bytes) {
        v = v * slot.radix() + slot.digit_of(c)?;
    }
    Some(v)
}

/// Whether `mbi` follows the MBI syntax (any letter in position 2, as real
/// MBIs do; synthetic ones additionally have `S` there).
pub fn is_valid_syntax(mbi: &str) -> bool {
    let bytes = mbi.as_bytes();
    bytes.len() == 11
        && LAYOUT.iter().zip(bytes).enumerate().all(|(i, (slot, &c))| {
            if i == 1 {
                c.is_ascii_uppercase()
            } else {
                slot.digit_of(c).is_some()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_values_look_like_synthea() {
        assert_eq!(encode(0), "1S00A00AA00");
        assert_eq!(encode(1), "1S00A00AA01");
        assert_eq!(encode(100), "1S00A00AC00");
        assert_eq!(encode(CAPACITY - 1), "9SY9YY9YY99");
    }

    #[test]
    fn round_trips_and_is_valid() {
        let mut v = 0u64;
        while v < CAPACITY {
            let m = encode(v);
            assert_eq!(m.len(), 11);
            assert!(is_valid_syntax(&m), "{m}");
            assert_eq!(m.as_bytes()[1], b'S');
            assert_eq!(decode(&m), Some(v));
            v = v * 3 + 7_919;
        }
        assert_eq!(decode(&encode(CAPACITY - 1)), Some(CAPACITY - 1));
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "",
            "1S00A00AA0",
            "0S00A00AA00",
            "1S00A00AA0O",
            "1S0BA00AA00",
            "1A00A00AA00x",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        assert!(is_valid_syntax("1EG4TE5MK73"));
        assert!(!is_valid_syntax("1EG4TE5MK7O"));
    }
}
