//! A minimal streaming JSON writer over a `Vec<u8>`: objects and arrays,
//! keys, strings with escaping, integers, money and FHIR date/time formats.
//!
//! Resources are written straight into the output buffer in FHIR's canonical
//! key order; no intermediate value tree is built. Strings are escaped the way
//! BCDA's Go encoder does (`<`, `>`, `&` as `\u003c` etc.), so our bytes match
//! what a Go round-trip would produce for them.

use time::{Date, OffsetDateTime};

/// Writes JSON into a byte buffer, tracking where commas go.
pub(crate) struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Bit `d` set: the container at depth `d` already has a member.
    nonempty: u64,
    depth: u32,
    after_key: bool,
}

impl<'a> JsonWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        JsonWriter {
            out,
            nonempty: 0,
            depth: 0,
            after_key: false,
        }
    }

    /// Writes the separator a new value or key needs.
    #[inline(always)]
    fn sep(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        let bit = 1u64 << self.depth;
        if self.nonempty & bit != 0 {
            self.out.push(b',');
        }
        self.nonempty |= bit;
    }

    #[inline(always)]
    fn open(&mut self, c: u8) {
        self.sep();
        self.out.push(c);
        self.depth += 1;
        self.nonempty &= !(1u64 << self.depth);
    }

    fn close(&mut self, c: u8) {
        self.depth -= 1;
        self.out.push(c);
    }

    /// `{` as a value.
    pub(crate) fn begin_object(&mut self) {
        self.open(b'{');
    }

    /// `}`.
    pub(crate) fn end_object(&mut self) {
        self.close(b'}');
    }

    /// `[` as a value.
    pub(crate) fn begin_array(&mut self) {
        self.open(b'[');
    }

    /// `]`.
    pub(crate) fn end_array(&mut self) {
        self.close(b']');
    }

    /// A key; `key` must not need escaping (FHIR element names never do).
    // Keys are string constants: inlined, copying one is a fixed-size move
    // rather than a call to memmove (keys were a quarter of rendering time).
    #[inline(always)]
    pub(crate) fn key(&mut self, key: &str) {
        self.sep();
        self.out.reserve(key.len() + 3);
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.after_key = true;
    }

    /// `"key":{`.
    #[inline(always)]
    pub(crate) fn object(&mut self, key: &str) {
        self.key(key);
        self.begin_object();
    }

    /// `"key":[`.
    #[inline(always)]
    pub(crate) fn array(&mut self, key: &str) {
        self.key(key);
        self.begin_array();
    }

    /// A string value.
    pub(crate) fn string(&mut self, s: &str) {
        self.sep();
        escape_into(self.out, s);
    }

    /// A string value from ASCII bytes that need no escaping.
    #[inline(always)]
    pub(crate) fn ascii(&mut self, bytes: &[u8]) {
        self.sep();
        self.out.reserve(bytes.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(bytes);
        self.out.push(b'"');
    }

    /// A string value that is a program constant (a code system, a
    /// profile or extension URL): such strings never need escaping, so they
    /// skip the scan. Debug builds (every test) check that claim.
    #[inline(always)]
    pub(crate) fn constant(&mut self, s: &'static str) {
        debug_assert!(
            first_to_escape(s.as_bytes()).is_none(),
            "constant {s:?} needs escaping"
        );
        self.ascii(s.as_bytes());
    }

    /// `"key":"<constant>"` (see [`JsonWriter::constant`]).
    #[inline(always)]
    pub(crate) fn const_field(&mut self, key: &str, value: &'static str) {
        self.key(key);
        self.constant(value);
    }

    /// A string value joined from two ASCII parts that need no escaping.
    pub(crate) fn ascii_pair(&mut self, a: &[u8], b: &[u8]) {
        debug_assert!(first_to_escape(a).is_none() && first_to_escape(b).is_none());
        self.sep();
        self.out.reserve(a.len() + b.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(a);
        self.out.extend_from_slice(b);
        self.out.push(b'"');
    }

    /// A whole `"key":value` member rendered beforehand (by this writer, so
    /// escaped and minified alike).
    pub(crate) fn raw_member(&mut self, member: &[u8]) {
        self.sep();
        self.out.extend_from_slice(member);
    }

    /// `"key":"value"`.
    #[inline(always)]
    pub(crate) fn str_field(&mut self, key: &str, value: &str) {
        self.key(key);
        self.string(value);
    }

    /// An integer rendered as a JSON string (`"-10000000000001"`).
    pub(crate) fn int_string(&mut self, v: i64) {
        self.sep();
        self.out.push(b'"');
        push_int(self.out, v);
        self.out.push(b'"');
    }

    /// `"key":"<integer>"`.
    pub(crate) fn int_string_field(&mut self, key: &str, v: i64) {
        self.key(key);
        self.int_string(v);
    }

    /// A JSON number.
    pub(crate) fn int(&mut self, v: i64) {
        self.sep();
        push_int(self.out, v);
    }

    /// `"key":<integer>`.
    pub(crate) fn int_field(&mut self, key: &str, v: i64) {
        self.key(key);
        self.int(v);
    }

    /// `"key":true|false`.
    pub(crate) fn bool_field(&mut self, key: &str, v: bool) {
        self.key(key);
        self.sep();
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// A money amount in cents as a decimal number the way BFD writes it:
    /// `72.41`, `12.5`, `60.0`.
    pub(crate) fn money(&mut self, cents: i64) {
        self.sep();
        push_money(self.out, cents);
    }

    /// `"key":<money>`.
    pub(crate) fn money_field(&mut self, key: &str, cents: i64) {
        self.key(key);
        self.money(cents);
    }

    /// A FHIR `date` value.
    pub(crate) fn date(&mut self, d: Date) {
        self.sep();
        self.out.push(b'"');
        push_date(self.out, d);
        self.out.push(b'"');
    }

    /// `"key":"YYYY-MM-DD"`.
    pub(crate) fn date_field(&mut self, key: &str, d: Date) {
        self.key(key);
        self.date(d);
    }

    /// `"key":"YYYY"`: a FHIR date with year precision.
    pub(crate) fn year_field(&mut self, key: &str, year: i32) {
        self.key(key);
        self.sep();
        self.out.push(b'"');
        push_padded(self.out, year as u32, 4);
        self.out.push(b'"');
    }

    /// `"key":"YYYY-MM-DDThh:mm:ss.mmm+hh:mm"`: a FHIR instant with
    /// milliseconds and the instant's own offset, as BFD writes lastUpdated.
    pub(crate) fn instant_field(&mut self, key: &str, t: OffsetDateTime) {
        self.date_time(key, t, true);
    }

    /// `"key":"YYYY-MM-DDThh:mm:ss+hh:mm"`: a dateTime to the second.
    pub(crate) fn date_time_field(&mut self, key: &str, t: OffsetDateTime) {
        self.date_time(key, t, false);
    }

    /// `"key":"<date>T<time>[.mmm]<offset>"`.
    fn date_time(&mut self, key: &str, t: OffsetDateTime, millis: bool) {
        self.key(key);
        self.sep();
        self.out.push(b'"');
        push_date(self.out, t.date());
        self.out.push(b'T');
        push_time(self.out, t);
        if millis {
            self.out.push(b'.');
            push_padded(self.out, u32::from(t.millisecond()), 3);
        }
        push_offset(self.out, t);
        self.out.push(b'"');
    }
}

/// Bytes a JSON string cannot hold as they are (Go's encoder also escapes
/// `<`, `>` and `&`).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table
};

/// The position of the first byte that needs escaping. Eight bytes at a
/// time: a word has such a byte if one is below 0x20 or equals one of the
/// five specials (the classic has-zero-byte / has-less-than bit tricks,
/// exact for "is there any"); only a word that has one is looked at byte
/// by byte.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let in_word = |word: &[u8]| word.iter().position(|&b| NEEDS_ESCAPE[usize::from(b)]);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let special = has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            | has_zero(x ^ (ONES * u64::from(b'<')))
            | has_zero(x ^ (ONES * u64::from(b'>')))
            | has_zero(x ^ (ONES * u64::from(b'&')));
        if control | special != 0 {
            return in_word(chunk).map(|p| offset + p);
        }
        offset += 8;
    }
    in_word(chunks.remainder()).map(|p| offset + p)
}

/// Appends `s` as a JSON string literal.
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Nearly every string (codes, names, identifiers) needs no escaping:
    // one table scan, then one copy.
    let Some(first) = first_to_escape(bytes) else {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
    out.push(b'"');
    out.extend_from_slice(&bytes[..first]);
    let mut start = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if !NEEDS_ESCAPE[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a decimal integer.
pub(crate) fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends cents as BFD's decimal: at least one fractional digit, trailing
/// zeros after it dropped (`60.0`, `12.5`, `72.41`).
pub(crate) fn push_money(out: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        out.push(b'-');
    }
    let c = cents.unsigned_abs();
    push_int(out, (c / 100) as i64);
    out.push(b'.');
    let frac = c % 100;
    out.push(b'0' + (frac / 10) as u8);
    if !frac.is_multiple_of(10) {
        out.push(b'0' + (frac % 10) as u8);
    }
}

fn push_padded(out: &mut Vec<u8>, v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut n = v;
    for i in (0..width).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

/// Appends `YYYY-MM-DD`.
pub(crate) fn push_date(out: &mut Vec<u8>, d: Date) {
    push_padded(out, d.year() as u32, 4);
    out.push(b'-');
    push_padded(out, u32::from(u8::from(d.month())), 2);
    out.push(b'-');
    push_padded(out, u32::from(d.day()), 2);
}

fn push_time(out: &mut Vec<u8>, t: OffsetDateTime) {
    push_padded(out, u32::from(t.hour()), 2);
    out.push(b':');
    push_padded(out, u32::from(t.minute()), 2);
    out.push(b':');
    push_padded(out, u32::from(t.second()), 2);
}

fn push_offset(out: &mut Vec<u8>, t: OffsetDateTime) {
    let secs = t.offset().whole_seconds();
    out.push(if secs < 0 { b'-' } else { b'+' });
    let m = secs.unsigned_abs() / 60;
    push_padded(out, m / 60, 2);
    out.push(b':');
    push_padded(out, m % 60, 2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn writes_nested_structures_with_commas() {
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        w.str_field("a", "x<y>&\"z\"\n");
        w.array("b");
        w.int(1);
        w.begin_object();
        w.end_object();
        w.money(7_241);
        w.end_array();
        w.object("c");
        w.bool_field("d", true);
        w.end_object();
        w.end_object();
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            r#"{"a":"x\u003cy\u003e\u0026\"z\"\n","b":[1,{},72.41],"c":{"d":true}}"#
        );
    }

    #[test]
    fn the_word_scan_finds_the_first_byte_to_escape_wherever_it_is() {
        // Every byte value (ASCII and the high bytes of UTF-8 sequences) at
        // every position of strings around the 8-byte word size, after a
        // prefix with other high bytes: the word scan must agree with a
        // byte-by-byte scan of the table.
        for len in 1..=19 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    if at > 0 {
                        bytes[at - 1] = 0xc3;
                    }
                    bytes[at] = b;
                    let naive = bytes.iter().position(|&c| NEEDS_ESCAPE[usize::from(c)]);
                    assert_eq!(first_to_escape(&bytes), naive, "{len} {at} {b:#x}");
                }
            }
        }
        assert_eq!(first_to_escape(b""), None);
        let mut out = Vec::new();
        escape_into(&mut out, "plain text without specials, long enough");
        escape_into(&mut out, "caf\u{e9} \u{1} tab\t");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "\"plain text without specials, long enough\"\"caf\u{e9} \\u0001 tab\\t\""
        );
    }

    #[test]
    fn money_and_times() {
        let mut out = Vec::new();
        for c in [0, 6_000, 1_250, 7_241, 5, -1_850] {
            push_money(&mut out, c);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "0.0 60.0 12.5 72.41 0.05 -18.5 "
        );
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        w.instant_field("t", datetime!(2024-03-08 02:14:51.382 -5));
        w.date_field("d", date!(2024 - 03 - 08));
        w.date_time_field("c", datetime!(2020-01-01 0:00 UTC));
        w.end_object();
        assert_eq!(
            String::from_utf8(buf).expect("utf8"),
            r#"{"t":"2024-03-08T02:14:51.382-05:00","d":"2024-03-08","c":"2020-01-01T00:00:00+00:00"}"#
        );
    }

    #[test]
    fn output_parses_as_json() {
        let mut buf = Vec::new();
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        w.str_field("s", "\u{1}tab\tquote\"back\\slash é");
        w.end_object();
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("valid JSON");
        assert_eq!(v["s"], "\u{1}tab\tquote\"back\\slash é");
    }
}
