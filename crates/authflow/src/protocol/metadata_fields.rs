//! Readers for the JSON fields of metadata documents: client metadata (RFC 7591),
//! client ID metadata documents and protected-resource metadata (RFC 9728). Errors are
//! `(field, reason)`; a reason never quotes the value.

use serde_json::{Map, Value};

/// A field reader: `Ok(None)` for `null`.
pub(in crate::protocol) type Reader<T> = fn(&Value) -> Result<Option<T>, &'static str>;

/// Takes `field` out of `f` and reads it. A value `read` refuses is an error, or,
/// when `lenient`, goes back into `f` as sent.
pub(in crate::protocol) fn take<T>(
    f: &mut Map<String, Value>,
    field: &'static str,
    read: Reader<T>,
    lenient: bool,
) -> Result<Option<T>, (&'static str, &'static str)> {
    let Some(value) = f.remove(field) else {
        return Ok(None);
    };
    match read(&value) {
        Ok(v) => Ok(v),
        Err(_) if lenient => {
            f.insert(field.to_owned(), value);
            Ok(None)
        }
        Err(reason) => Err((field, reason)),
    }
}

pub(in crate::protocol) fn string(v: &Value) -> Result<Option<String>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err("must be a string"),
    }
}

/// An array of strings; a lone space-separated string is read as its parts.
pub(in crate::protocol) fn list(v: &Value) -> Result<Option<Vec<String>>, &'static str> {
    const WRONG: &str = "must be an array of strings";
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or(WRONG))
            .collect::<Result<_, _>>()
            .map(Some),
        Value::String(s) => Ok(Some(s.split_whitespace().map(str::to_owned).collect())),
        _ => Err(WRONG),
    }
}

/// A boolean, or leniently `"true"` / `"false"`.
pub(in crate::protocol) fn flag(v: &Value) -> Result<Option<bool>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err("must be true or false"),
    }
}

/// A JSON object.
pub(in crate::protocol) fn object(v: &Value) -> Result<Option<Value>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::Object(_) => Ok(Some(v.clone())),
        _ => Err("must be a JSON object"),
    }
}

/// Whole seconds: a non-negative number, or a numeric string.
pub(in crate::protocol) fn seconds(v: &Value) -> Result<Option<u64>, &'static str> {
    const WRONG: &str = "must be a number of seconds";
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_u64().map(Some).ok_or(WRONG),
        Value::String(s) => s.trim().parse().map(Some).map_err(|_| WRONG),
        _ => Err(WRONG),
    }
}
