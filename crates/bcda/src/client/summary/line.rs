//! One NDJSON line as the summary reads it: only the fields it counts,
//! borrowed from the line where it can, everything else skipped unbuilt
//! (serde's `IgnoredAny` behind derived structs), so a line costs a scan
//! and no tree of values.
//!
//! The top-level fields only ExplanationOfBenefit and OperationOutcome
//! lines mean something by (`type`, `billablePeriod`, `item`, `issue`)
//! are read leniently: another resource type may use the same name for
//! another shape (`Encounter.type` is a list), which is skipped, not an
//! error.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A resource's fields that a summary uses.
#[derive(Debug, serde::Deserialize)]
pub struct Line<'a> {
    /// `resourceType`.
    #[serde(rename = "resourceType", borrow)]
    pub resource_type: Option<Str<'a>>,
    /// `meta` (for `meta.lastUpdated`).
    #[serde(borrow)]
    pub meta: Option<Meta<'a>>,
    /// `type`: an EOB's claim type.
    #[serde(rename = "type", borrow, default)]
    pub kind: IfObject<Concept<'a>>,
    /// `billablePeriod`: an EOB's service dates.
    #[serde(rename = "billablePeriod", borrow, default)]
    pub billable_period: IfObject<Period<'a>>,
    /// `item`: an EOB's service dates when it has no billable period.
    #[serde(borrow, default)]
    pub item: IfArray<Item<'a>>,
    /// `issue`: an OperationOutcome's messages.
    #[serde(borrow, default)]
    pub issue: IfArray<Issue<'a>>,
}

/// `meta`.
#[derive(Debug, serde::Deserialize)]
pub struct Meta<'a> {
    /// `meta.lastUpdated`, a FHIR instant.
    #[serde(rename = "lastUpdated", borrow)]
    pub last_updated: Option<Str<'a>>,
}

/// A CodeableConcept: its codings.
#[derive(Debug, serde::Deserialize)]
pub struct Concept<'a> {
    /// `coding`.
    #[serde(borrow, default)]
    pub coding: Vec<Coding<'a>>,
}

/// A Coding.
#[derive(Debug, serde::Deserialize)]
pub struct Coding<'a> {
    /// `system`.
    #[serde(borrow)]
    pub system: Option<Str<'a>>,
    /// `code`.
    #[serde(borrow)]
    pub code: Option<Str<'a>>,
    /// `display`.
    #[serde(borrow)]
    pub display: Option<Str<'a>>,
}

/// A Period.
#[derive(Debug, serde::Deserialize)]
pub struct Period<'a> {
    /// `start`.
    #[serde(borrow)]
    pub start: Option<Str<'a>>,
    /// `end`.
    #[serde(borrow)]
    pub end: Option<Str<'a>>,
}

/// One of an EOB's `item`s: its service date or period.
#[derive(Debug, serde::Deserialize)]
pub struct Item<'a> {
    /// `servicedDate`.
    #[serde(rename = "servicedDate", borrow)]
    pub serviced_date: Option<Str<'a>>,
    /// `servicedPeriod`.
    #[serde(rename = "servicedPeriod", borrow)]
    pub serviced_period: Option<Period<'a>>,
}

/// One of an OperationOutcome's `issue`s.
#[derive(Debug, serde::Deserialize)]
pub struct Issue<'a> {
    /// `severity`: fatal, error, warning or information.
    #[serde(borrow)]
    pub severity: Option<Str<'a>>,
    /// `code`: the issue type.
    #[serde(borrow)]
    pub code: Option<Str<'a>>,
    /// `diagnostics`: BCDA's error files put the message here.
    #[serde(borrow)]
    pub diagnostics: Option<Str<'a>>,
    /// `details`: BCDA's warnings-and-info file puts the message in its
    /// `text`.
    #[serde(borrow)]
    pub details: Option<Details<'a>>,
}

/// An issue's `details`: a CodeableConcept with its text.
#[derive(Debug, serde::Deserialize)]
pub struct Details<'a> {
    /// `text`.
    #[serde(borrow)]
    pub text: Option<Str<'a>>,
    /// `coding`.
    #[serde(borrow, default)]
    pub coding: Vec<Coding<'a>>,
}

impl Issue<'_> {
    /// The issue's message: `diagnostics`, else `details.text`, else the
    /// first display of `details`, else its `code`.
    pub fn message(&self) -> Option<&str> {
        let details = self.details.as_ref();
        self.diagnostics
            .as_ref()
            .or_else(|| details.and_then(|d| d.text.as_ref()))
            .or_else(|| details.and_then(|d| d.coding.iter().find_map(|c| c.display.as_ref())))
            .or(self.code.as_ref())
            .map(Str::as_str)
    }
}

/// A JSON string, borrowed from the line unless it had escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(Cow<'a, str>);

impl Str<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(StrVisitor(PhantomData))
    }
}

/// The `visit_*` methods of a lenient visitor for every JSON scalar: each
/// skipped, as the default (empty) value.
macro_rules! skip_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

/// A field read when it is an object; any other value is skipped.
#[derive(Debug)]
pub struct IfObject<T>(pub Option<T>);

impl<T> Default for IfObject<T> {
    fn default() -> Self {
        Self(None)
    }
}

/// A field read when it is an array, of its object elements; any other
/// value, and any element that is not an object, is skipped.
#[derive(Debug)]
pub struct IfArray<T>(pub Vec<T>);

impl<T> Default for IfArray<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for IfObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = IfObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| IfObject(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IfObject(None))
            }
            skip_scalars!();
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for IfArray<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArrayVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ArrayVisitor<T> {
            type Value = IfArray<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(IfObject(item)) = seq.next_element::<IfObject<T>>()? {
                    items.extend(item);
                }
                Ok(IfArray(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IfArray(Vec::new()))
            }
            skip_scalars!();
        }
        deserializer.deserialize_any(ArrayVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Line<'_> {
        serde_json::from_str(text).expect("line")
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let line =
            parse(r#"{"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01T00:00:00Z"}}"#);
        assert!(matches!(
            line.resource_type,
            Some(Str(Cow::Borrowed("Patient")))
        ));
        let escaped = parse(r#"{"resourceType":"Pat\u0069ent"}"#);
        assert_eq!(escaped.resource_type.expect("type").as_str(), "Patient");
    }

    #[test]
    fn other_shapes_under_the_same_names_are_skipped() {
        // Encounter.type is a list, Bundle.type a string; an `issue` or
        // `item` of another shape is not an error either.
        let line = parse(
            r#"{"resourceType":"Encounter","type":[{"coding":[]}],"item":{"a":[1,{"b":2}]},"issue":"x","billablePeriod":null}"#,
        );
        assert!(line.kind.0.is_none() && line.item.0.is_empty() && line.issue.0.is_empty());
        assert!(line.billable_period.0.is_none());
        let bundle = parse(
            r#"{"resourceType":"Bundle","type":"collection","item":[1,"two",{"servicedDate":"2019"}]}"#,
        );
        assert!(bundle.kind.0.is_none());
        assert_eq!(bundle.item.0.len(), 1);
    }

    #[test]
    fn the_message_of_an_issue() {
        let line = parse(
            r#"{"resourceType":"OperationOutcome","issue":[
                {"severity":"error","code":"not-found","diagnostics":"Error retrieving"},
                {"severity":"warning","code":"processing","details":{"text":"defaults applied"}},
                {"severity":"error","code":"exception","details":{"coding":[{"display":"Boom"}]}},
                {"severity":"information","code":"informational"}]}"#,
        );
        let messages: Vec<_> = line.issue.0.iter().map(Issue::message).collect();
        assert_eq!(
            messages,
            [
                Some("Error retrieving"),
                Some("defaults applied"),
                Some("Boom"),
                Some("informational")
            ]
        );
    }
}
