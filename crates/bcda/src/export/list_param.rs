//! Comma-separated list parameters (`_type`, `_status`): bounded in length
//! and checked for repeats in linear time, whatever the client sends.

use super::rejection::Rejection;

/// The most items a comma-separated list parameter (`_status`, `_type`)
/// may hold: a few times the names there are, so every list a client
/// means is accepted, and the work per request stays small.
pub const MAX_LIST_ITEMS: usize = 32;

/// A list parameter's comma-separated items, or
/// [`Rejection::TooManyItems`] naming `parameter` when there are more than
/// [`MAX_LIST_ITEMS`]. Stops reading at the first item past the cap.
pub fn list_items<'a>(value: &'a str, parameter: &'static str) -> Result<Vec<&'a str>, Rejection> {
    let mut items = Vec::new();
    for item in value.split(',') {
        if items.len() == MAX_LIST_ITEMS {
            return Err(Rejection::TooManyItems {
                parameter,
                max: MAX_LIST_ITEMS,
            });
        }
        items.push(item);
    }
    Ok(items)
}

/// The first item equal to an earlier one (at most [`MAX_LIST_ITEMS`]
/// items: a set of what was seen keeps it linear whatever the cap).
pub fn first_repeat<S: AsRef<str>>(items: &[S]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items
        .iter()
        .map(AsRef::as_ref)
        .find(|item| !seen.insert(*item))
}
