//! API v3's `_typeFilter`, parsed as BCDA parses it, reduced to the
//! [`EobFilter`] an export applies.
//!
//! # What BCDA accepts
//!
//! One `_typeFilter` per request, whose value (already form-decoded once by
//! the query or body parsing) is URL-unescaped **again** as Go's
//! `url.QueryUnescape` does, then read as `ExplanationOfBenefit?<params>`:
//! `&`-separated `name=value` pairs, each a `_tag`, `outcome` or
//! `service-date` search parameter. BCDA's fhir package decides which
//! parameter a pair is by the start of its name (`_tagged` is a `_tag` with
//! a bad name, `service-date:x` a `service-date` with a bad name), parses it
//! (refusing an empty value or a malformed date), validates it (name,
//! modifier, codes), and after every pair checks the `service-date`s
//! together. The first problem, in that order, is the 400; every text here
//! is BCDA's word for word.
//!
//! Because of the second unescape, a `+` the client did not encode as `%2B`
//! **twice** becomes a space (`service-date=gt2024-01-01T00:00:00+05:00` is
//! refused), as in BCDA; a `%252C` arrives as a comma.
//!
//! # What it means
//!
//! Comma-separated values of one parameter are alternatives (OR); repeated
//! parameters must all hold (AND). `_tag` values select on the System-Type
//! and Final-Action tags, `outcome` on the outcome; an EOB's tags and outcome
//! are one of twelve [`EobFacts`], so all those clauses reduce to one
//! [`FactSet`]. `service-date` compares a claim's last day of service with
//! the date's range of days at its precision (a year, a month, a day; a
//! dateTime counts as its calendar day in its own offset), and folds into
//! the filter's inclusive day bounds.
//!
//! # Defaults and entitlement
//!
//! A filter that names no System-Type tag gets BCDA's default,
//! NationalClaimsHistory or DDPS ([`effective_eob_filter`], which tells the
//! kick-off to write [`DEFAULT_SYSTEM_TYPE_WARNING`]); SharedSystem
//! (partially adjudicated) claims are never exported to an ACO not entitled
//! to them, and asking for them by tag is BCDA's 400
//! ([`check_shared_system`]).

use time::{Date, Month};

use super::rejection::Rejection;
use crate::domain::eob_facts::{FINAL_ACTION_SYSTEM, SYSTEM_TYPE_SYSTEM};
use crate::domain::{ClaimOutcome, EobFacts, EobFilter, FactSet, FinalAction, SystemType};

/// The warning an export writes when it added the default System-Type tags.
pub const DEFAULT_SYSTEM_TYPE_WARNING: &str =
    "Default System-Type behavior includes only claims from NCH and DDPS in this export.";

/// The only resource type a `_typeFilter` may name.
const EOB: &str = "ExplanationOfBenefit";

/// The claim sources an export keeps when the client named none.
const DEFAULT_SYSTEM_TYPES: [SystemType; 2] = [SystemType::NationalClaimsHistory, SystemType::Ddps];

/// A client's `_typeFilter`, reduced to what it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeFilter {
    /// The ExplanationOfBenefits the client's clauses allow: the tag and
    /// outcome combinations its `_tag` and `outcome` parameters allow (all
    /// of them when it gave neither) and the last-day-of-service bounds of
    /// its `service-date` parameters. Neither the default tags nor the ACO's
    /// entitlement are applied yet ([`effective_eob_filter`]).
    pub filter: EobFilter,
    /// Whether any `_tag` value names the System-Type code system: then the
    /// export does not add the default System-Type tags.
    pub names_system_type: bool,
    /// Whether any `_tag` value is `System-Type|SharedSystem`: partially
    /// adjudicated claims, which only entitled ACOs may ask for
    /// ([`check_shared_system`]).
    pub asks_shared_system: bool,
}

/// Parses the `_typeFilter` values of a kick-off (API v3), each already
/// percent-decoded once by the query or body parsing: `None` when there is
/// none, BCDA's 400 text in a [`Rejection::TypeFilter`] when it refuses them.
pub fn parse_type_filter(values: &[&str]) -> Result<Option<TypeFilter>, Rejection> {
    let value = match values {
        [] => return Ok(None),
        [value] => *value,
        _ => {
            return Err(refuse(
                "failed to process request given more that one _typeFilter parameter",
            ));
        }
    };
    let decoded =
        query_unescape(value).ok_or_else(|| refuse(format!("failed to unescape {value}")))?;
    let Subquery {
        resource_type,
        pairs,
    } = split_subquery(&decoded)?;
    if resource_type != EOB {
        return Err(refuse(format!(
            "invalid _typeFilter Resource Type (Only EOBs valid): {resource_type}"
        )));
    }
    let mut parsed = TypeFilter {
        filter: EobFilter::ALL,
        names_system_type: false,
        asks_shared_system: false,
    };
    let mut dates = Vec::new();
    for (name, value) in pairs {
        if name.starts_with("_tag") {
            let tags = parse_tags(name, value)?;
            parsed.names_system_type |= tags.iter().any(|t| matches!(t, Tag::SystemType(_)));
            parsed.asks_shared_system |= tags.contains(&Tag::SystemType(SystemType::SharedSystem));
            let clause = FactSet::from_fn(|f| tags.iter().any(|t| t.matches(f)));
            parsed.filter.facts = parsed.filter.facts.intersect(clause);
        } else if name.starts_with("service-date") {
            dates.push(parse_date_param(name, value)?);
        } else if name.starts_with("outcome") {
            let outcomes = parse_outcomes(name, value)?;
            let clause = FactSet::from_fn(|f| outcomes.contains(&f.outcome));
            parsed.filter.facts = parsed.filter.facts.intersect(clause);
        } else {
            return Err(refuse(format!(
                "invalid _typeFilter subquery parameter: {name}"
            )));
        }
    }
    check_service_dates(&dates)?;
    apply_service_dates(&mut parsed.filter, &dates);
    Ok(Some(parsed))
}

/// The filter an export applies to ExplanationOfBenefits: the client's
/// (everything without one), AND the default System-Type tags
/// (NationalClaimsHistory or DDPS) when the client named no System-Type tag,
/// AND never SharedSystem unless the ACO is entitled to partially
/// adjudicated data. The flag says whether the default was added: a kick-off
/// that exports EOBs then writes [`DEFAULT_SYSTEM_TYPE_WARNING`].
pub fn effective_eob_filter(
    client: Option<&TypeFilter>,
    partially_adjudicated: bool,
) -> (EobFilter, bool) {
    let mut filter = client.map_or(EobFilter::ALL, |c| c.filter);
    let add_default = !client.is_some_and(|c| c.names_system_type);
    if add_default {
        let default = FactSet::from_fn(|f| DEFAULT_SYSTEM_TYPES.contains(&f.system_type));
        filter.facts = filter.facts.intersect(default);
    }
    if !partially_adjudicated {
        let adjudicated = FactSet::from_fn(|f| f.system_type != SystemType::SharedSystem);
        filter.facts = filter.facts.intersect(adjudicated);
    }
    (filter, add_default)
}

/// BCDA's 400 when a `_typeFilter` asks for SharedSystem claims and the ACO
/// is not entitled to partially adjudicated data; `model` names the ACO's
/// model in the text (the caller knows it).
pub fn check_shared_system(
    client: Option<&TypeFilter>,
    entitled: bool,
    model: &str,
) -> Result<(), Rejection> {
    if client.is_some_and(|c| c.asks_shared_system) && !entitled {
        return Err(Rejection::SharedSystemNotEligible {
            model: model.to_owned(),
        });
    }
    Ok(())
}

fn refuse(text: impl Into<String>) -> Rejection {
    Rejection::TypeFilter(text.into())
}

// ---------------------------------------------------------------------------
// The subquery

/// Go's `url.QueryUnescape`: `%XX` is a byte, `+` a space; a `%` without two
/// hex digits after it fails. Bytes that are not UTF-8 become U+FFFD (they
/// can only fail a check later, as in Go).
fn query_unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = hex_digit(bytes.get(i + 1))?;
                let low = hex_digit(bytes.get(i + 2))?;
                out.push(high << 4 | low);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn hex_digit(byte: Option<&u8>) -> Option<u8> {
    char::from(*byte?)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// A `_typeFilter` value's parts: `<resourceType>?<name>=<value>&...`.
struct Subquery<'a> {
    resource_type: &'a str,
    /// The `name=value` pairs, in order.
    pairs: Vec<(&'a str, &'a str)>,
}

/// Splits a decoded value (every pair is checked for its `=` before the
/// resource type, as BCDA parses before it validates).
fn split_subquery(decoded: &str) -> Result<Subquery<'_>, Rejection> {
    let Some((resource_type, params)) = decoded.split_once('?') else {
        return Err(refuse(format!(
            "_typeFilter parameter missing question mark {decoded}"
        )));
    };
    if resource_type.is_empty() {
        return Err(refuse(format!(
            "_typeFilter parameter missing resource type {decoded}"
        )));
    }
    if params.is_empty() {
        return Err(refuse(format!(
            "_typeFilter parameter missing value {decoded}"
        )));
    }
    let pairs = params
        .split('&')
        .map(|pair| {
            pair.split_once('=')
                .ok_or_else(|| refuse(format!("_typeFilter value missing equals sign: {pair}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Subquery {
        resource_type,
        pairs,
    })
}

// ---------------------------------------------------------------------------
// Token parameters: `_tag` and `outcome`

/// A token search parameter as BCDA parses it: the name split at its first
/// `:` into name and modifier, the value split on `,` into `system|code`
/// tokens (the system is empty when there is no `|`).
struct Token<'a> {
    name: &'a str,
    modifier: &'a str,
    values: Vec<(&'a str, &'a str)>,
}

/// An empty value is refused here, before the name or modifier is checked
/// (BCDA parses, then validates).
fn parse_token<'a>(name: &'a str, value: &'a str) -> Result<Token<'a>, Rejection> {
    let (name, modifier) = name.split_once(':').unwrap_or((name, ""));
    if value.is_empty() {
        return Err(refuse(format!("token parameter missing value {name}")));
    }
    let values = value
        .split(',')
        .map(|token| token.split_once('|').unwrap_or(("", token)))
        .collect();
    Ok(Token {
        name,
        modifier,
        values,
    })
}

/// One `_tag` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    SystemType(SystemType),
    FinalAction(FinalAction),
}

impl Tag {
    fn parse(system: &str, code: &str) -> Option<Tag> {
        match system {
            SYSTEM_TYPE_SYSTEM => SystemType::parse(code).map(Tag::SystemType),
            FINAL_ACTION_SYSTEM => FinalAction::parse(code).map(Tag::FinalAction),
            _ => None,
        }
    }

    fn matches(self, facts: EobFacts) -> bool {
        match self {
            Tag::SystemType(s) => facts.system_type == s,
            Tag::FinalAction(a) => facts.final_action == a,
        }
    }
}

/// A `_tag` parameter's values (alternatives).
fn parse_tags(name: &str, value: &str) -> Result<Vec<Tag>, Rejection> {
    let token = parse_token(name, value)?;
    if token.name != "_tag" {
        return Err(refuse(format!(
            "invalid key for tag parameter: {}",
            token.name
        )));
    }
    if !token.modifier.is_empty() {
        return Err(refuse(format!(
            "invalid _tag parameter; modifier {} not supported",
            token.modifier
        )));
    }
    token
        .values
        .iter()
        .map(|&(system, code)| {
            if system.is_empty() || code.is_empty() {
                return Err(refuse(
                    "invalid _tag parameter value. Searching by tag requires a token (system|code) to be specified",
                ));
            }
            Tag::parse(system, code).ok_or_else(|| {
                refuse(format!(
                    "invalid _tag parameter, unsupported code {code} for system {system}"
                ))
            })
        })
        .collect()
}

/// An `outcome` parameter's values (alternatives). BCDA checks only each
/// token's code, so `x|complete` is `complete`.
fn parse_outcomes(name: &str, value: &str) -> Result<Vec<ClaimOutcome>, Rejection> {
    let token = parse_token(name, value)?;
    if token.name != "outcome" {
        return Err(refuse(format!(
            "invalid key for outcome parameter: {}",
            token.name
        )));
    }
    if !token.modifier.is_empty() {
        return Err(refuse(format!(
            "invalid outcome parameter; modifier {} not supported",
            token.modifier
        )));
    }
    token
        .values
        .iter()
        .map(|&(_, code)| {
            ClaimOutcome::parse(code).ok_or_else(|| {
                refuse(format!(
                    "invalid outcome code: {code}. Supported outcome codes are 'complete' and 'partial'"
                ))
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Date parameters: `service-date`

/// A date search prefix (BFD supports these five; none means `eq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A `service-date` parameter as parsed; its name and number of dates are
/// checked with the others' ([`check_service_dates`]).
struct DateParam<'a> {
    name: &'a str,
    prefix: Prefix,
    /// Each date's range of days, first to last.
    days: Vec<(Date, Date)>,
}

fn parse_date_param<'a>(name: &'a str, value: &str) -> Result<DateParam<'a>, Rejection> {
    if value.is_empty() {
        return Err(refuse(format!("date parameter missing value: {name}")));
    }
    let prefix = match value.get(..2) {
        Some("eq") => Some(Prefix::Eq),
        Some("lt") => Some(Prefix::Lt),
        Some("gt") => Some(Prefix::Gt),
        Some("le") => Some(Prefix::Le),
        Some("ge") => Some(Prefix::Ge),
        _ => None,
    };
    // The prefixes are ASCII, so two bytes in is a character boundary.
    let dates = if prefix.is_some() { &value[2..] } else { value };
    if dates.is_empty() {
        return Err(refuse(format!(
            "value must include a valid FHIR date for date parameter {name}"
        )));
    }
    let days = dates
        .split(',')
        .map(|date| {
            day_range(date).ok_or_else(|| refuse(format!("invalid date parameter value: {date}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(DateParam {
        name,
        prefix: prefix.unwrap_or(Prefix::Eq),
        days,
    })
}

/// BCDA's checks over every `service-date`, in order: the exact name, one
/// date each, then at most one lower bound, one upper bound and one
/// equality.
fn check_service_dates(dates: &[DateParam]) -> Result<(), Rejection> {
    let (mut lower, mut upper, mut equal) = (0, 0, 0);
    for date in dates {
        if date.name != "service-date" {
            return Err(refuse(format!(
                "invalid key for service-date parameter: {}",
                date.name
            )));
        }
        if date.days.len() > 1 {
            return Err(refuse(
                "invalid service-date parameter value: comma-separated values are not supported",
            ));
        }
        match date.prefix {
            Prefix::Gt | Prefix::Ge => lower += 1,
            Prefix::Lt | Prefix::Le => upper += 1,
            Prefix::Eq => equal += 1,
        }
    }
    if lower > 1 || upper > 1 || equal > 1 {
        return Err(refuse(
            "invalid service-date parameter value: conflicting prefix conditions",
        ));
    }
    Ok(())
}

/// Narrows `filter`'s inclusive bounds by each (checked) `service-date`: a
/// claim's last day D, against the date's days [lo, hi]: `eq` lo ≤ D ≤ hi,
/// `gt` D > hi, `ge` D ≥ lo, `lt` D < lo, `le` D ≤ hi. A bound past the
/// calendar's end (`gt9999`) matches no claim.
fn apply_service_dates(filter: &mut EobFilter, dates: &[DateParam]) {
    for date in dates {
        let Some(&(lo, hi)) = date.days.first() else {
            continue;
        };
        let (from, through) = match date.prefix {
            Prefix::Eq => (Some(lo), Some(hi)),
            Prefix::Ge => (Some(lo), None),
            Prefix::Le => (None, Some(hi)),
            Prefix::Gt => match hi.next_day() {
                Some(next) => (Some(next), None),
                None => {
                    filter.facts = FactSet::NONE;
                    continue;
                }
            },
            Prefix::Lt => match lo.previous_day() {
                Some(previous) => (None, Some(previous)),
                None => {
                    filter.facts = FactSet::NONE;
                    continue;
                }
            },
        };
        if let Some(from) = from {
            filter.service_from = Some(filter.service_from.map_or(from, |f| f.max(from)));
        }
        if let Some(through) = through {
            filter.service_through =
                Some(filter.service_through.map_or(through, |t| t.min(through)));
        }
    }
}

/// The days a FHIR date covers, if it is one of the forms BCDA accepts (Go's
/// `time.Parse` with `2006`, `2006-01`, `2006-01-02`,
/// `2006-01-02T15:04:05` alone or followed by `Z`, `-07:00` or `+07:00`):
/// a four-digit year, a two-digit month and day that exist, and a time with
/// Go's leniencies (a one-digit hour, a fraction after the seconds,
/// offsets up to ±24:60; Go's `,` before a fraction cannot occur, as a comma
/// separates dates). A dateTime is its calendar day in its own
/// offset.
fn day_range(text: &str) -> Option<(Date, Date)> {
    let bytes = text.as_bytes();
    let year = i32::from(number(bytes.get(0..2)?)?) * 100 + i32::from(number(bytes.get(2..4)?)?);
    if bytes.len() == 4 {
        return Some((
            Date::from_calendar_date(year, Month::January, 1).ok()?,
            Date::from_calendar_date(year, Month::December, 31).ok()?,
        ));
    }
    if bytes.get(4) != Some(&b'-') {
        return None;
    }
    let month = Month::try_from(number(bytes.get(5..7)?)?).ok()?;
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    if bytes.len() == 7 {
        let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
        return Some((first, last));
    }
    if bytes.get(7) != Some(&b'-') {
        return None;
    }
    let day = Date::from_calendar_date(year, month, number(bytes.get(8..10)?)?).ok()?;
    if bytes.len() == 10 || (bytes[10] == b'T' && valid_time(&bytes[11..])) {
        return Some((day, day));
    }
    None
}

/// `15:04:05` with Go's leniencies, then nothing, `Z` or `±hh:mm`.
fn valid_time(bytes: &[u8]) -> bool {
    let hour_digits = match bytes {
        [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => 2,
        [a, ..] if a.is_ascii_digit() => 1,
        _ => return false,
    };
    let Some(hour) = number(&bytes[..hour_digits]) else {
        return false;
    };
    let rest = &bytes[hour_digits..];
    let [b':', m1, m2, b':', s1, s2, rest @ ..] = rest else {
        return false;
    };
    let (Some(minute), Some(second)) = (number(&[*m1, *m2]), number(&[*s1, *s2])) else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    // Go reads a fraction after the seconds even when the layout has none.
    let rest = match rest {
        [b'.', d, ..] if d.is_ascii_digit() => {
            let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            &rest[1 + digits..]
        }
        _ => rest,
    };
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            // Go's range test is `>`: offsets of 24 hours or 60 minutes pass.
            matches!(
                (number(&[*h1, *h2]), number(&[*m1, *m2])),
                (Some(h), Some(m)) if h <= 24 && m <= 60
            )
        }
        _ => false,
    }
}

/// The value of one or two ASCII digits.
fn number(digits: &[u8]) -> Option<u8> {
    digits
        .iter()
        .try_fold(0u8, |n, d| d.is_ascii_digit().then(|| n * 10 + (d - b'0')))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const ST: &str = SYSTEM_TYPE_SYSTEM;
    const FA: &str = FINAL_ACTION_SYSTEM;

    /// Parses `ExplanationOfBenefit?{params}` as one `_typeFilter` value.
    fn parse(params: &str) -> Result<TypeFilter, Rejection> {
        let value = format!("{EOB}?{params}");
        parse_type_filter(&[&value]).map(|f| f.expect("a filter"))
    }

    fn ok(params: &str) -> TypeFilter {
        parse(params).unwrap_or_else(|e| panic!("{params}: {e}"))
    }

    fn refusal(values: &[&str]) -> String {
        match parse_type_filter(values) {
            Err(Rejection::TypeFilter(text)) => text,
            other => panic!("{values:?}: expected a refusal, got {other:?}"),
        }
    }

    fn tag(system: &str, code: &str) -> String {
        format!("{system}|{code}")
    }

    #[test]
    fn no_type_filter_is_none() {
        assert_eq!(parse_type_filter(&[]), Ok(None));
    }

    #[test]
    fn refusals_have_bcda_texts() {
        let nch = tag(ST, "NationalClaimsHistory");
        let cases: Vec<(Vec<String>, String)> = vec![
            (
                vec![format!("{EOB}?_tag={nch}"), format!("{EOB}?_tag={nch}")],
                "failed to process request given more that one _typeFilter parameter".into(),
            ),
            (
                vec![String::new(), String::new()],
                "failed to process request given more that one _typeFilter parameter".into(),
            ),
            (
                vec![format!("{EOB}?_tag=%zz")],
                format!("failed to unescape {EOB}?_tag=%zz"),
            ),
            (
                vec![format!("{EOB}%3F%2")],
                format!("failed to unescape {EOB}%3F%2"),
            ),
            (
                vec![EOB.into()],
                format!("_typeFilter parameter missing question mark {EOB}"),
            ),
            (
                vec![String::new()],
                "_typeFilter parameter missing question mark ".into(),
            ),
            (
                vec!["?_tag=x".into()],
                "_typeFilter parameter missing resource type ?_tag=x".into(),
            ),
            (
                vec![format!("{EOB}?")],
                format!("_typeFilter parameter missing value {EOB}?"),
            ),
            (
                vec![format!("{EOB}%3F")],
                format!("_typeFilter parameter missing value {EOB}?"),
            ),
            (
                vec![format!("{EOB}?service-dateactive")],
                "_typeFilter value missing equals sign: service-dateactive".into(),
            ),
            (
                vec![format!("{EOB}?_tag={nch}&")],
                "_typeFilter value missing equals sign: ".into(),
            ),
            // Every pair's `=` is checked before the resource type.
            (
                vec!["Patient?x".into()],
                "_typeFilter value missing equals sign: x".into(),
            ),
            (
                vec!["MedicationRequest%3Fstatus%3Dactive".into()],
                "invalid _typeFilter Resource Type (Only EOBs valid): MedicationRequest".into(),
            ),
            (
                vec!["explanationofbenefit?outcome=complete".into()],
                "invalid _typeFilter Resource Type (Only EOBs valid): explanationofbenefit".into(),
            ),
            (
                vec![format!("{EOB}?status=active")],
                "invalid _typeFilter subquery parameter: status".into(),
            ),
            (
                vec![format!("{EOB}?=x")],
                "invalid _typeFilter subquery parameter: ".into(),
            ),
            (
                vec![format!("{EOB}?_TAG={nch}")],
                "invalid _typeFilter subquery parameter: _TAG".into(),
            ),
        ];
        for (values, want) in cases {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            assert_eq!(refusal(&values), want, "{values:?}");
        }
    }

    #[test]
    fn parameter_refusals_have_bcda_texts() {
        let nch = tag(ST, "NationalClaimsHistory");
        let token_required = "invalid _tag parameter value. Searching by tag requires a token (system|code) to be specified";
        let cases: Vec<(String, String)> = vec![
            ("_tag=".into(), "token parameter missing value _tag".into()),
            // The empty value is found before the bad name or modifier.
            ("_tags=".into(), "token parameter missing value _tags".into()),
            ("_tag:not=".into(), "token parameter missing value _tag".into()),
            (format!("_tags={nch}"), "invalid key for tag parameter: _tags".into()),
            (
                format!("_tag:not={nch}"),
                "invalid _tag parameter; modifier not not supported".into(),
            ),
            (
                format!("_tags:not={nch}"),
                "invalid key for tag parameter: _tags".into(),
            ),
            ("_tag=NationalClaimsHistory".into(), token_required.into()),
            ("_tag=|NationalClaimsHistory".into(), token_required.into()),
            (format!("_tag={ST}|"), token_required.into()),
            (format!("_tag={nch},"), token_required.into()),
            (
                format!("_tag={ST}|nationalclaimshistory"),
                format!("invalid _tag parameter, unsupported code nationalclaimshistory for system {ST}"),
            ),
            (
                format!("_tag={ST}|FinalAction"),
                format!("invalid _tag parameter, unsupported code FinalAction for system {ST}"),
            ),
            (
                format!("_tag={FA}|DDPS"),
                format!("invalid _tag parameter, unsupported code DDPS for system {FA}"),
            ),
            (
                "_tag=http://example.com|DDPS".into(),
                "invalid _tag parameter, unsupported code DDPS for system http://example.com"
                    .into(),
            ),
            (
                format!("_tag={ST}|DDPS|x"),
                format!("invalid _tag parameter, unsupported code DDPS|x for system {ST}"),
            ),
            ("outcome=".into(), "token parameter missing value outcome".into()),
            ("outcomes=".into(), "token parameter missing value outcomes".into()),
            (
                "outcomes=complete".into(),
                "invalid key for outcome parameter: outcomes".into(),
            ),
            (
                "outcome:missing=complete".into(),
                "invalid outcome parameter; modifier missing not supported".into(),
            ),
            (
                "outcome=error".into(),
                "invalid outcome code: error. Supported outcome codes are 'complete' and 'partial'"
                    .into(),
            ),
            (
                "outcome=complete,".into(),
                "invalid outcome code: . Supported outcome codes are 'complete' and 'partial'"
                    .into(),
            ),
            (
                "outcome=Complete".into(),
                "invalid outcome code: Complete. Supported outcome codes are 'complete' and 'partial'"
                    .into(),
            ),
            (
                "service-date=".into(),
                "date parameter missing value: service-date".into(),
            ),
            (
                "service-date:x=".into(),
                "date parameter missing value: service-date:x".into(),
            ),
            (
                "service-date=ge".into(),
                "value must include a valid FHIR date for date parameter service-date".into(),
            ),
            (
                "service-date=ne2024".into(),
                "invalid date parameter value: ne2024".into(),
            ),
            (
                "service-date=GT2024".into(),
                "invalid date parameter value: GT2024".into(),
            ),
            (
                "service-date=ge2024,bad".into(),
                "invalid date parameter value: bad".into(),
            ),
            (
                "service-date=ge2024,".into(),
                "invalid date parameter value: ".into(),
            ),
            // An unencoded `+` was a space after the first decoding.
            (
                "service-date=ge2024-01-01T00:00:00 05:00".into(),
                "invalid date parameter value: 2024-01-01T00:00:00 05:00".into(),
            ),
            (
                "service-date=ge2024-01-01T00:00:00+05:00".into(),
                "invalid date parameter value: 2024-01-01T00:00:00 05:00".into(),
            ),
            (
                "service-dates=2024".into(),
                "invalid key for service-date parameter: service-dates".into(),
            ),
            (
                "service-date:missing=2024".into(),
                "invalid key for service-date parameter: service-date:missing".into(),
            ),
            (
                "service-date=2024,2025".into(),
                "invalid service-date parameter value: comma-separated values are not supported"
                    .into(),
            ),
            (
                "service-date=gt2024&service-date=ge2020".into(),
                "invalid service-date parameter value: conflicting prefix conditions".into(),
            ),
            (
                "service-date=lt2024&service-date=le2020".into(),
                "invalid service-date parameter value: conflicting prefix conditions".into(),
            ),
            (
                "service-date=2024&service-date=eq2020".into(),
                "invalid service-date parameter value: conflicting prefix conditions".into(),
            ),
            // Tags and outcomes are checked pair by pair; the service-dates
            // together after them.
            (
                "service-date=2024,2025&outcome=x".into(),
                "invalid outcome code: x. Supported outcome codes are 'complete' and 'partial'"
                    .into(),
            ),
            (
                "service-dates=2024&service-date=bad".into(),
                "invalid date parameter value: bad".into(),
            ),
            (
                "service-date=2024,2025&service-dates=2024".into(),
                "invalid service-date parameter value: comma-separated values are not supported"
                    .into(),
            ),
            (
                format!("_tag={nch}&status=x&outcome=x"),
                "invalid _typeFilter subquery parameter: status".into(),
            ),
        ];
        for (params, want) in cases {
            let value = format!("{EOB}?{params}");
            assert_eq!(refusal(&[&value]), want, "{params}");
        }
    }

    #[test]
    fn tags_and_outcomes_reduce_to_fact_sets() {
        use ClaimOutcome::{Complete, Partial};
        use FinalAction::{FinalAction as Final, NotFinalAction as NotFinal};
        use SystemType::{Ddps, NationalClaimsHistory as Nch, SharedSystem as Shared};
        type Rule = fn(EobFacts) -> bool;
        let nch = tag(ST, "NationalClaimsHistory");
        let ddps = tag(ST, "DDPS");
        let shared = tag(ST, "SharedSystem");
        let final_action = tag(FA, "FinalAction");
        let not_final = tag(FA, "NotFinalAction");
        let cases: &[(String, Rule)] = &[
            (format!("_tag={nch}"), |f| f.system_type == Nch),
            (format!("_tag={shared}"), |f| f.system_type == Shared),
            (format!("_tag={not_final}"), |f| f.final_action == NotFinal),
            ("outcome=partial".into(), |f| f.outcome == Partial),
            ("outcome=complete,partial".into(), |_| true),
            // BCDA checks only an outcome token's code.
            ("outcome=x|complete".into(), |f| f.outcome == Complete),
            // Commas are OR, within a system and across systems.
            (format!("_tag={nch},{ddps}"), |f| f.system_type != Shared),
            (format!("_tag={nch},{not_final}"), |f| {
                f.system_type == Nch || f.final_action == NotFinal
            }),
            // Repeated parameters are AND: (A or B) and C.
            (format!("_tag={nch},{ddps}&_tag={final_action}"), |f| {
                f.system_type != Shared && f.final_action == Final
            }),
            (format!("_tag={nch}&_tag={ddps}"), |_| false),
            (
                format!("_tag={shared}&outcome=partial&_tag={not_final}"),
                |f| f.system_type == Shared && f.outcome == Partial && f.final_action == NotFinal,
            ),
            ("outcome=partial&outcome=complete".into(), |_| false),
            (format!("_tag={ddps},{shared}&outcome=complete"), |f| {
                f.system_type != Nch && f.outcome == Complete
            }),
            // A modifier-free name with an empty modifier is the name.
            (format!("_tag:={ddps}"), |f| f.system_type == Ddps),
            ("service-date=2024".into(), |_| true),
        ];
        for (params, rule) in cases {
            let filter = ok(params).filter;
            for facts in EobFacts::all() {
                assert_eq!(
                    filter.facts.contains(facts),
                    rule(facts),
                    "{params}: {facts:?}"
                );
            }
        }
    }

    #[test]
    fn tags_say_what_they_name() {
        let nch = tag(ST, "NationalClaimsHistory");
        let shared = tag(ST, "SharedSystem");
        let final_action = tag(FA, "FinalAction");
        // (params, names System-Type, asks SharedSystem)
        let cases = [
            (format!("_tag={nch}"), true, false),
            (format!("_tag={final_action}"), false, false),
            (format!("_tag={final_action},{shared}"), true, true),
            (format!("_tag={final_action}&_tag={shared}"), true, true),
            ("outcome=partial".into(), false, false),
            ("service-date=2024".into(), false, false),
        ];
        for (params, names, asks) in cases {
            let parsed = ok(&params);
            assert_eq!(parsed.names_system_type, names, "{params}");
            assert_eq!(parsed.asks_shared_system, asks, "{params}");
        }
    }

    #[test]
    fn service_dates_bound_the_last_day_of_service() {
        // (params, from, through), both inclusive.
        let cases: [(&str, Option<Date>, Option<Date>); 22] = [
            (
                "service-date=2024",
                Some(date!(2024 - 01 - 01)),
                Some(date!(2024 - 12 - 31)),
            ),
            (
                "service-date=eq2024",
                Some(date!(2024 - 01 - 01)),
                Some(date!(2024 - 12 - 31)),
            ),
            (
                "service-date=2024-02",
                Some(date!(2024 - 02 - 01)),
                Some(date!(2024 - 02 - 29)),
            ),
            (
                "service-date=2023-02",
                Some(date!(2023 - 02 - 01)),
                Some(date!(2023 - 02 - 28)),
            ),
            (
                "service-date=2024-03-15",
                Some(date!(2024 - 03 - 15)),
                Some(date!(2024 - 03 - 15)),
            ),
            ("service-date=gt2024", Some(date!(2025 - 01 - 01)), None),
            ("service-date=ge2024", Some(date!(2024 - 01 - 01)), None),
            ("service-date=lt2024", None, Some(date!(2023 - 12 - 31))),
            ("service-date=le2024", None, Some(date!(2024 - 12 - 31))),
            ("service-date=gt2024-02", Some(date!(2024 - 03 - 01)), None),
            ("service-date=ge2024-02", Some(date!(2024 - 02 - 01)), None),
            ("service-date=lt2024-03", None, Some(date!(2024 - 02 - 29))),
            ("service-date=le2024-02", None, Some(date!(2024 - 02 - 29))),
            (
                "service-date=gt2024-12-31",
                Some(date!(2025 - 01 - 01)),
                None,
            ),
            (
                "service-date=lt2024-01-01",
                None,
                Some(date!(2023 - 12 - 31)),
            ),
            // A dateTime is its calendar day in its own offset.
            (
                "service-date=le2024-03-15T23:59:59-05:00",
                None,
                Some(date!(2024 - 03 - 15)),
            ),
            (
                "service-date=gt2024-03-15T00:00:00Z",
                Some(date!(2024 - 03 - 16)),
                None,
            ),
            (
                "service-date=2024-03-15T12:00:00%2B14:00",
                Some(date!(2024 - 03 - 15)),
                Some(date!(2024 - 03 - 15)),
            ),
            // One lower, one upper and one equality at most; they intersect.
            (
                "service-date=ge2024-01-01&service-date=lt2025",
                Some(date!(2024 - 01 - 01)),
                Some(date!(2024 - 12 - 31)),
            ),
            (
                "service-date=le2024-06-30&service-date=2024&service-date=gt2024-03",
                Some(date!(2024 - 04 - 01)),
                Some(date!(2024 - 06 - 30)),
            ),
            (
                "service-date=2023&service-date=ge2024",
                Some(date!(2024 - 01 - 01)),
                Some(date!(2023 - 12 - 31)),
            ),
            ("outcome=complete,partial", None, None),
        ];
        for (params, from, through) in cases {
            let filter = ok(params).filter;
            assert_eq!(
                (filter.service_from, filter.service_through),
                (from, through),
                "{params}"
            );
            assert_eq!(filter.facts, FactSet::ALL, "{params}");
        }
        // The boundaries, through `EobFilter::matches`.
        let nch = EobFacts::NCH;
        let gt = ok("service-date=gt2024").filter;
        assert!(!gt.matches(nch, date!(2024 - 12 - 31)));
        assert!(gt.matches(nch, date!(2025 - 01 - 01)));
        let le = ok("service-date=le2024-02").filter;
        assert!(le.matches(nch, date!(2024 - 02 - 29)));
        assert!(!le.matches(nch, date!(2024 - 03 - 01)));
        assert!(
            ok("service-date=2023&service-date=ge2024")
                .filter
                .is_empty()
        );
        // Past the calendar's end nothing matches.
        assert!(ok("service-date=gt9999").filter.is_empty());
        assert!(!ok("service-date=ge9999").filter.is_empty());
    }

    #[test]
    fn fhir_date_forms() {
        let accepted = [
            "2024",
            "0000",
            "2024-02",
            "2024-12",
            "2024-02-29",
            "2024-02-29T10:00:00",
            "2024-02-29T00:00:00",
            "2024-02-29T23:59:59",
            // Go's leniencies: one-digit hours, fractions, offsets to ±24:60.
            "2024-02-29T1:00:00",
            "2024-02-29T10:00:00.123",
            "2024-02-29T10:00:00.5Z",
            "2024-02-29T10:00:00.123456789123-05:00",
            "2024-02-29T10:00:00Z",
            "2024-02-29T10:00:00-05:00",
            "2024-02-29T10:00:00%2B05:30",
            "2024-02-29T10:00:00%2B24:60",
        ];
        for date in accepted {
            assert!(parse(&format!("service-date={date}")).is_ok(), "{date}");
        }
        let refused = [
            "24",
            "202",
            "20245",
            "2024-",
            "2024-1",
            "2024-13",
            "2024-00",
            "2024-1-01",
            "2024-02-30",
            "2023-02-29",
            "2024-02-29T",
            "2024-02-29T10",
            "2024-02-29T10:00",
            "2024-02-29T24:00:00",
            "2024-02-29T10:60:00",
            "2024-02-29T10:00:60",
            "2024-02-29T10:0:00",
            "2024-02-29T100:00:00",
            "2024-02-29T10:00:00.",
            "2024-02-29T10:00:00.Z",
            "2024-02-29t10:00:00",
            "2024-02-29 10:00:00",
            "2024-02-29T10:00:00z",
            "2024-02-29T10:00:00-0500",
            "2024-02-29T10:00:00-05",
            "2024-02-29T10:00:00-25:00",
            "2024-02-29T10:00:00-05:61",
            "2024-02-29T10:00:00ZZ",
            "2024-02-29T10:00:00Z-05:00",
            "-2024",
            "+2024",
            "２０２４",
            "2024/02",
        ];
        for date in refused {
            let decoded = query_unescape(date).expect("test dates unescape");
            assert_eq!(
                parse(&format!("service-date={date}")),
                Err(refuse(format!("invalid date parameter value: {decoded}"))),
                "{date}"
            );
        }
    }

    #[test]
    fn values_are_unescaped_again() {
        let want = ok(&format!(
            "_tag={},{}",
            tag(ST, "DDPS"),
            tag(FA, "FinalAction")
        ));
        // `%252C` in the URL arrives here as `%2C`: a comma, so OR.
        for value in [
            format!("{EOB}?_tag={ST}|DDPS%2C{FA}|FinalAction"),
            format!("{EOB}%3F_tag%3D{ST}%7CDDPS%2C{FA}%7CFinalAction"),
            format!(
                "{EOB}%3F_tag%3Dhttps%3A%2F%2Fbluebutton.cms.gov%2Ffhir%2FCodeSystem%2FSystem-Type%7CDDPS,{FA}|FinalAction"
            ),
        ] {
            assert_eq!(parse_type_filter(&[&value]), Ok(Some(want)), "{value}");
        }
        // `%2526` becomes `&`: two parameters.
        let value = format!("{EOB}?outcome=complete%26_tag={ST}|DDPS");
        let both = ok(&format!("outcome=complete&_tag={ST}|DDPS"));
        assert_eq!(parse_type_filter(&[&value]), Ok(Some(both)));
        assert_eq!(
            query_unescape("a+b%20c%41%e2%9c%93"),
            Some("a b cA\u{2713}".into())
        );
        assert_eq!(query_unescape("%"), None);
        assert_eq!(query_unescape("%4"), None);
        assert_eq!(query_unescape("%g0"), None);
    }

    #[test]
    fn the_export_filter_adds_the_default_and_the_entitlement() {
        let nch = EobFacts::NCH;
        let ddps = EobFacts::DDPS;
        let shared = EobFacts::SHARED_SYSTEM;
        let not_final_nch = EobFacts {
            final_action: FinalAction::NotFinalAction,
            ..nch
        };
        /// (client params, entitled, default added, kept, dropped)
        type Case = (Option<String>, bool, bool, Vec<EobFacts>, Vec<EobFacts>);
        let cases: Vec<Case> = vec![
            (None, true, true, vec![nch, ddps], vec![shared]),
            (None, false, true, vec![nch, ddps], vec![shared]),
            (
                Some(format!("_tag={}", tag(ST, "SharedSystem"))),
                true,
                false,
                vec![shared],
                vec![nch, ddps],
            ),
            (
                Some(format!("_tag={}", tag(ST, "SharedSystem"))),
                false,
                false,
                vec![],
                vec![nch, ddps, shared],
            ),
            (
                Some(format!(
                    "_tag={},{}",
                    tag(ST, "SharedSystem"),
                    tag(ST, "DDPS")
                )),
                false,
                false,
                vec![ddps],
                vec![nch, shared],
            ),
            // A Final-Action tag names no System-Type: the default applies.
            (
                Some(format!("_tag={}", tag(FA, "NotFinalAction"))),
                true,
                true,
                vec![not_final_nch],
                vec![nch, ddps, shared],
            ),
            (
                Some("outcome=partial".into()),
                true,
                true,
                vec![],
                vec![nch, ddps, shared],
            ),
            (
                Some(format!("_tag={}", tag(ST, "NationalClaimsHistory"))),
                true,
                false,
                vec![nch, not_final_nch],
                vec![ddps, shared],
            ),
        ];
        for (params, entitled, want_default, kept, dropped) in cases {
            let client = params.as_deref().map(ok);
            let (filter, added) = effective_eob_filter(client.as_ref(), entitled);
            assert_eq!(added, want_default, "{params:?}");
            for facts in kept {
                assert!(filter.facts.contains(facts), "{params:?} keeps {facts:?}");
            }
            for facts in dropped {
                assert!(!filter.facts.contains(facts), "{params:?} drops {facts:?}");
            }
        }
        // The client's service dates are kept.
        let client = ok("service-date=ge2024");
        let (filter, _) = effective_eob_filter(Some(&client), false);
        assert_eq!(filter.service_from, Some(date!(2024 - 01 - 01)));
    }

    #[test]
    fn shared_system_needs_the_entitlement() {
        let asks = ok(&format!("_tag={}", tag(ST, "SharedSystem")));
        let other = ok(&format!("_tag={}", tag(ST, "DDPS")));
        assert_eq!(
            check_shared_system(Some(&asks), false, "GUIDE").map_err(|e| e.to_string()),
            Err("Model entities in GUIDE are not eligible to access SharedSystem data.".into())
        );
        assert_eq!(check_shared_system(Some(&asks), true, "GUIDE"), Ok(()));
        assert_eq!(check_shared_system(Some(&other), false, "GUIDE"), Ok(()));
        assert_eq!(check_shared_system(None, false, "GUIDE"), Ok(()));
    }
}
