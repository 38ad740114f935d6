//! A small fake geography: real city/county/ZIP combinations so that CCLF8's
//! FIPS state and county codes agree with the address, plus street names.

/// One place beneficiaries and providers live.
#[derive(Debug)]
pub(crate) struct Place {
    /// USPS state code.
    pub(crate) state: &'static str,
    /// FIPS state code (2 digits).
    pub(crate) fips_state: &'static str,
    /// FIPS county code (3 digits).
    pub(crate) fips_county: &'static str,
    /// SSA state code, the first two digits of a facility's CCN.
    pub(crate) ssa_state: &'static str,
    /// City name as USPS writes it.
    pub(crate) city: &'static str,
    /// The first ZIP code of the city's range; addresses use `zip5_base..zip5_base+zip_span`.
    pub(crate) zip5_base: u32,
    /// How many consecutive ZIP codes the city spans.
    pub(crate) zip_span: u32,
    /// Relative population weight.
    pub(crate) weight: u32,
}

/// The places, grouped by state (providers are chosen from the same state).
pub(crate) const PLACES: &[Place] = &[
    Place {
        state: "MD",
        fips_state: "24",
        fips_county: "510",
        ssa_state: "21",
        city: "BALTIMORE",
        zip5_base: 21201,
        zip_span: 30,
        weight: 6,
    },
    Place {
        state: "MD",
        fips_state: "24",
        fips_county: "005",
        ssa_state: "21",
        city: "TOWSON",
        zip5_base: 21284,
        zip_span: 3,
        weight: 3,
    },
    Place {
        state: "PA",
        fips_state: "42",
        fips_county: "101",
        ssa_state: "39",
        city: "PHILADELPHIA",
        zip5_base: 19102,
        zip_span: 50,
        weight: 8,
    },
    Place {
        state: "PA",
        fips_state: "42",
        fips_county: "003",
        ssa_state: "39",
        city: "PITTSBURGH",
        zip5_base: 15201,
        zip_span: 30,
        weight: 5,
    },
    Place {
        state: "FL",
        fips_state: "12",
        fips_county: "086",
        ssa_state: "10",
        city: "MIAMI",
        zip5_base: 33125,
        zip_span: 40,
        weight: 9,
    },
    Place {
        state: "FL",
        fips_state: "12",
        fips_county: "057",
        ssa_state: "10",
        city: "TAMPA",
        zip5_base: 33602,
        zip_span: 30,
        weight: 6,
    },
    Place {
        state: "TX",
        fips_state: "48",
        fips_county: "201",
        ssa_state: "45",
        city: "HOUSTON",
        zip5_base: 77002,
        zip_span: 90,
        weight: 9,
    },
    Place {
        state: "TX",
        fips_state: "48",
        fips_county: "029",
        ssa_state: "45",
        city: "SAN ANTONIO",
        zip5_base: 78201,
        zip_span: 60,
        weight: 6,
    },
    Place {
        state: "OH",
        fips_state: "39",
        fips_county: "049",
        ssa_state: "36",
        city: "COLUMBUS",
        zip5_base: 43201,
        zip_span: 30,
        weight: 6,
    },
    Place {
        state: "CA",
        fips_state: "06",
        fips_county: "067",
        ssa_state: "05",
        city: "SACRAMENTO",
        zip5_base: 95811,
        zip_span: 30,
        weight: 7,
    },
    Place {
        state: "NY",
        fips_state: "36",
        fips_county: "029",
        ssa_state: "33",
        city: "BUFFALO",
        zip5_base: 14201,
        zip_span: 27,
        weight: 5,
    },
    Place {
        state: "AZ",
        fips_state: "04",
        fips_county: "013",
        ssa_state: "03",
        city: "PHOENIX",
        zip5_base: 85003,
        zip_span: 50,
        weight: 7,
    },
    Place {
        state: "GA",
        fips_state: "13",
        fips_county: "121",
        ssa_state: "11",
        city: "ATLANTA",
        zip5_base: 30303,
        zip_span: 40,
        weight: 6,
    },
    Place {
        state: "MI",
        fips_state: "26",
        fips_county: "163",
        ssa_state: "23",
        city: "DETROIT",
        zip5_base: 48201,
        zip_span: 35,
        weight: 5,
    },
];

/// The states of [`PLACES`], in table order, deduplicated: providers are
/// pooled per state.
pub(crate) const STATES: &[&str] = &["MD", "PA", "FL", "TX", "OH", "CA", "NY", "AZ", "GA", "MI"];

/// The index of `state` in [`STATES`].
pub(crate) fn state_index(state: &str) -> usize {
    STATES.iter().position(|s| *s == state).unwrap_or(0)
}

/// The first place of a state (for provider addresses).
pub(crate) fn place_of_state(state_index: usize) -> &'static Place {
    let state = STATES[state_index % STATES.len()];
    PLACES
        .iter()
        .find(|p| p.state == state)
        .unwrap_or(&PLACES[0])
}

/// Street names. One carries `&` on purpose: JSON writers must escape it
/// the way BCDA's Go encoder does.
pub(crate) const STREETS: &[&str] = &[
    "MAIN ST",
    "OAK AVE",
    "MAPLE DR",
    "PARK AVE",
    "ELM ST",
    "WASHINGTON BLVD",
    "LAKE SHORE RD",
    "CEDAR LN",
    "HILLCREST DR",
    "RIVER RD",
    "MARKET & VINE ST",
    "CHURCH ST",
    "SUNSET BLVD",
    "PINE ST",
    "HIGHLAND AVE",
    "MEADOW LN",
    "FRANKLIN ST",
    "LINCOLN AVE",
    "SPRING ST",
    "WALNUT ST",
];

/// Female first names.
pub(crate) const FEMALE_NAMES: &[&str] = &[
    "Mary",
    "Patricia",
    "Linda",
    "Barbara",
    "Elizabeth",
    "Jennifer",
    "Maria",
    "Susan",
    "Margaret",
    "Dorothy",
    "Lisa",
    "Nancy",
    "Karen",
    "Betty",
    "Helen",
    "Sandra",
    "Donna",
    "Carol",
    "Ruth",
    "Sharon",
    "Michelle",
    "Laura",
    "Sarah",
    "Kimberly",
    "Deborah",
    "Jessica",
    "Shirley",
    "Cynthia",
    "Angela",
    "Gloria",
];

/// Male first names.
pub(crate) const MALE_NAMES: &[&str] = &[
    "James",
    "John",
    "Robert",
    "Michael",
    "William",
    "David",
    "Richard",
    "Charles",
    "Joseph",
    "Thomas",
    "Christopher",
    "Daniel",
    "Paul",
    "Mark",
    "Donald",
    "George",
    "Kenneth",
    "Steven",
    "Edward",
    "Brian",
    "Ronald",
    "Anthony",
    "Kevin",
    "Jason",
    "Gary",
    "Timothy",
    "Jose",
    "Larry",
    "Jeffrey",
    "Frank",
];

/// Family names (synthetic-looking on purpose, like BFD's "Doe"/"Synthpatient").
pub(crate) const LAST_NAMES: &[&str] = &[
    "Synthpatient",
    "Doe",
    "Testcase",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "O'Neil",
];
