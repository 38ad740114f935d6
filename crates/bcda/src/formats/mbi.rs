//! Medicare Beneficiary Identifier (MBI) syntax (docs/REFERENCES.md, "MBI").
//!
//! An MBI is 11 characters `C A AN N A AN N A A N N`: C = 1–9, N = 0–9,
//! A = a capital letter except S, L, O, I, B, Z (they look like digits),
//! AN = either. Real MBIs never have `S` in position 2; the synthetic MBIs
//! of BFD and the BCDA sandbox do (`1S00E00AA00`, `1SG0A00AA00`,
//! `9SS0Z00FF00`), and they also use the excluded letters elsewhere
//! (`9SS0Z00FF00`, `1S00E00FZ00`). So an `S` in position 2 marks the
//! synthetic form, whose letter positions accept any capital letter.

/// What each of the 11 positions may hold.
#[derive(Clone, Copy)]
enum Slot {
    /// 1–9.
    C,
    /// 0–9.
    N,
    /// A letter.
    A,
    /// A letter or a digit.
    An,
}

const LAYOUT: [Slot; 11] = [
    Slot::C,
    Slot::A,
    Slot::An,
    Slot::N,
    Slot::A,
    Slot::An,
    Slot::N,
    Slot::A,
    Slot::A,
    Slot::N,
    Slot::N,
];

/// The length of an MBI.
pub const MBI_LEN: usize = 11;

/// Whether `mbi` is a syntactically valid MBI, real or synthetic (see the
/// module documentation). Lowercase letters are not accepted: CMS files
/// carry MBIs in capitals.
pub fn is_valid_mbi(mbi: &str) -> bool {
    let b = mbi.as_bytes();
    if b.len() != MBI_LEN {
        return false;
    }
    let synthetic = b[1] == b'S';
    let letter = |c: u8| {
        c.is_ascii_uppercase()
            && (synthetic || !matches!(c, b'S' | b'L' | b'O' | b'I' | b'B' | b'Z'))
    };
    LAYOUT.iter().zip(b).enumerate().all(|(i, (slot, &c))| {
        // Position 2 of a synthetic MBI is the marker itself.
        if i == 1 && synthetic {
            return true;
        }
        match slot {
            Slot::C => (b'1'..=b'9').contains(&c),
            Slot::N => c.is_ascii_digit(),
            Slot::A => letter(c),
            Slot::An => letter(c) || c.is_ascii_digit(),
        }
    })
}

/// Whether `mbi` is a valid MBI of the synthetic form (`S` in position 2).
pub fn is_synthetic_mbi(mbi: &str) -> bool {
    is_valid_mbi(mbi) && mbi.as_bytes()[1] == b'S'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_mbis() {
        // The CMS example MBI and variations on each slot.
        for ok in [
            "1EG4TE5MK73",
            "1EG4TE5MK72",
            "9AA0AA0AA00",
            "1A00A00AA00",
            "1AA9AA9AA99",
        ] {
            assert!(is_valid_mbi(ok), "{ok}");
            assert!(!is_synthetic_mbi(ok), "{ok}");
        }
    }

    #[test]
    fn synthetic_mbis() {
        for ok in [
            "1S00E00AA00",
            "1SG0A00AA00",
            "4SM0A00AA00",
            "9SS0Z00FF00",
            "9SS0Z00MM99",
            "1S00E00FZ00",
            "1S00E00FY99",
        ] {
            assert!(is_valid_mbi(ok), "{ok}");
            assert!(is_synthetic_mbi(ok), "{ok}");
        }
    }

    #[test]
    fn invalid_mbis() {
        for bad in [
            "",
            "1EG4TE5MK7",    // 10 characters
            "1EG4TE5MK733",  // 12
            "0EG4TE5MK73",   // position 1 cannot be 0
            "1eg4te5mk73",   // lowercase
            "11G4TE5MK73",   // position 2 must be a letter
            "1EG4TE5MK7A",   // position 11 must be a digit
            "1EGATE5MK73",   // position 4 must be a digit
            "1BG4TE5MK73",   // B excluded
            "1EG4TE5ZK73",   // Z excluded in a real MBI
            "1EG4TO5MK73",   // O excluded
            "1000000019 ",   // a HICN-like value
            "1EG4-TE5-MK73", // dashes are display only
            "1S00E00AA0A",   // synthetic still has the digit slots
            "1SG0A00AA0é",
        ] {
            assert!(!is_valid_mbi(bad), "{bad}");
        }
    }
}
