//! Whether an attribution file is the regular roster or a runout roster.

/// A default or runout attribution file: the CCLF name's `Y` or `R`, the
/// importer's and the generator's file kind, and what `Group/all` and
/// `Group/runout` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributionKind {
    /// `Y`: the regular, current attribution (`Group/all`).
    Default,
    /// `R`: the final roster of the previous performance year, for its
    /// claims run-out (`Group/runout`).
    Runout,
}

impl AttributionKind {
    /// The name stored in `attribution_files.kind`: `default` or `runout`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributionKind::Default => "default",
            AttributionKind::Runout => "runout",
        }
    }

    /// Parses a name stored in `attribution_files.kind` (exact).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "default" => Some(AttributionKind::Default),
            "runout" => Some(AttributionKind::Runout),
            _ => None,
        }
    }

    /// The letter after `ZC` in a CCLF name: `Y` or `R`.
    pub fn letter(self) -> char {
        match self {
            AttributionKind::Default => 'Y',
            AttributionKind::Runout => 'R',
        }
    }

    /// The kind a CCLF file name's letter stands for.
    pub fn from_letter(letter: u8) -> Option<Self> {
        match letter {
            b'Y' => Some(AttributionKind::Default),
            b'R' => Some(AttributionKind::Runout),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_letters_round_trip() {
        for kind in [AttributionKind::Default, AttributionKind::Runout] {
            assert_eq!(AttributionKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                AttributionKind::from_letter(kind.letter() as u8),
                Some(kind)
            );
        }
        assert_eq!(AttributionKind::parse("Default"), None);
        assert_eq!(AttributionKind::from_letter(b'y'), None);
    }
}
