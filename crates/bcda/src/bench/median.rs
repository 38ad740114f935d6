//! The median line of several runs of one source (`--runs N`): every
//! numeric figure is the median of the runs' values of that figure, taken
//! independently (so the median line need not be any one run); other
//! values are copied from the first run.

use serde_json::{Map, Value};

/// The median of `runs` (the runs' JSON objects, in order), with `run` set
/// to `"median"` and `runs` to their number.
pub fn median_report(runs: &[Value]) -> Value {
    let all: Vec<&Value> = runs.iter().collect();
    let label = |out: &mut Map<String, Value>| {
        out.insert("run".to_owned(), Value::from("median"));
        out.insert("runs".to_owned(), Value::from(runs.len()));
    };
    // `run` and `runs` side by side, where `run` stood.
    let mut out = Map::new();
    let mut labelled = false;
    if let Value::Object(median) = median_value(&all) {
        for (key, value) in median {
            if key == "run" {
                label(&mut out);
                labelled = true;
            } else {
                out.insert(key, value);
            }
        }
    }
    if !labelled {
        label(&mut out);
    }
    Value::Object(out)
}

/// The median of one figure across runs: numbers give their median,
/// objects are taken key by key (keys in first-seen order; a key some runs
/// lack is the median of those that have it), anything else — or a mix of
/// kinds, such as a figure some runs could not measure — is the first
/// run's value.
fn median_value(values: &[&Value]) -> Value {
    let Some(first) = values.first() else {
        return Value::Null;
    };
    if values.iter().all(|v| v.is_number()) {
        return median_number(values);
    }
    if values.iter().all(|v| v.is_object()) {
        let mut keys: Vec<&String> = Vec::new();
        for value in values {
            for key in value.as_object().into_iter().flat_map(Map::keys) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        let map = keys
            .into_iter()
            .map(|key| {
                let present: Vec<&Value> = values.iter().filter_map(|v| v.get(key)).collect();
                (key.clone(), median_value(&present))
            })
            .collect();
        return Value::Object(map);
    }
    (*first).clone()
}

/// The median of numbers: the middle one, or the mean of the two middle
/// ones for an even count. Whole numbers stay whole when the median is;
/// otherwise it is rounded to 6 decimals (the finest any figure has).
fn median_number(values: &[&Value]) -> Value {
    let Some(median) = median(values.iter().filter_map(|v| v.as_f64()).collect()) else {
        return Value::Null;
    };
    let whole = values.iter().all(|v| v.is_u64() || v.is_i64());
    if whole && median.fract() == 0.0 {
        if median >= 0.0 {
            return Value::from(median as u64);
        }
        return Value::from(median as i64);
    }
    Value::from((median * 1e6).round() / 1e6)
}

/// The middle one of `numbers`, or the mean of the two middle ones for an
/// even count; `None` for none.
pub(super) fn median(mut numbers: Vec<f64>) -> Option<f64> {
    numbers.sort_by(f64::total_cmp);
    let n = numbers.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(numbers[n / 2]),
        _ => Some((numbers[n / 2 - 1] + numbers[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odd_counts_take_the_middle_even_counts_the_mean_of_the_two() {
        let runs = [
            json!({"source": "stored", "run": 1, "seconds": 3.0, "files": 4}),
            json!({"source": "stored", "run": 2, "seconds": 1.0, "files": 4}),
            json!({"source": "stored", "run": 3, "seconds": 2.5, "files": 5}),
        ];
        assert_eq!(
            median_report(&runs),
            json!({"source": "stored", "run": "median", "runs": 3, "seconds": 2.5, "files": 4})
        );
        let two = median_report(&runs[..2]);
        assert_eq!(two["seconds"], json!(2.0));
        assert_eq!(two["files"], json!(4));
        assert!(two["files"].is_u64(), "whole numbers stay whole: {two}");
        let half = median_report(&[json!({"files": 4}), json!({"files": 5})]);
        assert_eq!(half["files"], json!(4.5));
    }

    #[test]
    fn each_figure_independently_and_key_order_kept() {
        let runs = [
            json!({"run": 1, "a": 1, "b": 9, "by_type": {"X": 1, "Y": 7}}),
            json!({"run": 2, "a": 2, "b": 8, "by_type": {"X": 3, "Z": 2}}),
            json!({"run": 3, "a": 3, "b": 1, "by_type": {"X": 2}}),
        ];
        let median = median_report(&runs);
        // a's median comes from run 2, b's from run 2 too but X's from run 3.
        assert_eq!(
            median,
            json!({"run": "median", "runs": 3, "a": 2, "b": 8, "by_type": {"X": 2, "Y": 7, "Z": 2}})
        );
        let keys: Vec<&String> = median.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["run", "runs", "a", "b", "by_type"]);
    }

    #[test]
    fn non_numbers_and_mixed_kinds_are_the_first_runs() {
        let runs = [
            json!({"store": "/a", "reset": true, "rss": null, "types": ["P"], "x": 0.1234567}),
            json!({"store": "/b", "reset": false, "rss": 5.0, "types": ["C"], "x": 0.2}),
        ];
        assert_eq!(
            median_report(&runs),
            json!({"store": "/a", "reset": true, "rss": null, "types": ["P"], "x": 0.161728, "run": "median", "runs": 2})
        );
    }
}
