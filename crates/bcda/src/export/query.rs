//! Query strings read as BCDA reads them (Go's `url.ParseQuery`), for the
//! kick-off and for any other route that reads its query the way BCDA does
//! (e.g. `_status` on the jobs list).

/// Splits a raw query string into form-decoded `(key, value)` pairs, in
/// order, as Go's `url.ParseQuery`: `&` separates pairs, the first `=`
/// separates key from value (a key alone has an empty value), empty pieces
/// are skipped, `+` is a space and `%XX` a byte. Invalid escapes stay as
/// written; invalid UTF-8 becomes U+FFFD. For any route that reads its query
/// the way BCDA does (e.g. `_status` on the jobs list).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (form_decode(key), form_decode(value))
        })
        .collect()
}

/// The first value of `key` among form-decoded pairs (BCDA's `params[0]`).
pub fn first_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Form-decodes one key or value (see [`query_pairs`]).
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex_digit(bytes.get(i + 1)), hex_digit(bytes.get(i + 2))) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one hexadecimal digit.
fn hex_digit(byte: Option<&u8>) -> Option<u8> {
    char::from(*byte?)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Puts back the `+` that form-decoding turned into a space, for values
/// that cannot contain a space (see the module documentation).
pub fn restore_plus(value: &str) -> String {
    value.replace(' ', "+")
}
