//! Why a randomuser.me record was not turned into a [`crate::User`], and the record itself.

use std::fmt;

use serde_json::Value;

/// Login fields that are secrets: dropped from every record before it leaves this crate.
pub const SECRET_LOGIN_FIELDS: [&str; 5] = ["password", "salt", "md5", "sha1", "sha256"];

/// Removes every [`SECRET_LOGIN_FIELDS`] key from `value`, at any depth.
///
/// Any depth, not only under `login`: a malformed record may carry them elsewhere, and a
/// dead-letter copy must not leak them either way.
pub fn strip_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in SECRET_LOGIN_FIELDS {
                map.remove(key);
            }
            map.values_mut().for_each(strip_secrets);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_secrets),
        _ => {}
    }
}

/// The JSON type of a value, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    /// The kind of `value`.
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Null => "null",
            Self::Bool => "boolean",
            Self::Number => "number",
            Self::String => "string",
            Self::Array => "array",
            Self::Object => "object",
        })
    }
}

/// Why one `results[]` entry was rejected. The message names the field (as a JSON path inside
/// the entry) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RejectReason {
    /// The entry is not a JSON object.
    #[error("results[] entry is not a JSON object (found {found})")]
    NotAnObject {
        /// What it is instead.
        found: JsonKind,
    },
    /// `login.uuid` is absent or null: without it the record has no key.
    #[error("login.uuid missing: it is the record key")]
    MissingKey,
    /// Another required field is absent or null.
    #[error("{field} missing: it is required")]
    Missing {
        /// JSON path of the field.
        field: &'static str,
    },
    /// A field has the wrong JSON type.
    #[error("{field} has the wrong type: expected {expected}, found {found}")]
    WrongType {
        /// JSON path of the field.
        field: &'static str,
        /// The type(s) accepted.
        expected: &'static str,
        /// The type found.
        found: JsonKind,
    },
    /// `login.uuid` is not a UUID (or is the nil UUID).
    #[error("login.uuid {value:?} is not a valid UUID: {error}")]
    InvalidUuid {
        /// The value sent.
        value: String,
        /// What the UUID parser said.
        error: String,
    },
    /// A date is not an RFC 3339 timestamp.
    #[error("{field} {value:?} is not an RFC 3339 timestamp: {error}")]
    InvalidTimestamp {
        /// JSON path of the field.
        field: &'static str,
        /// The value sent.
        value: String,
        /// What the date parser said.
        error: String,
    },
    /// A string that should hold a number does not, or the number is not finite.
    #[error("{field} {value:?} is not a finite number")]
    NotANumber {
        /// JSON path of the field.
        field: &'static str,
        /// The value sent, as text.
        value: String,
    },
    /// A number that should be a whole number is not.
    #[error("{field} {value} is not an integer")]
    NotAnInteger {
        /// JSON path of the field.
        field: &'static str,
        /// The value sent, as text.
        value: String,
    },
    /// A number outside the range the field allows.
    #[error("{field} {value} is out of range: must be within {min}..={max}")]
    OutOfRange {
        /// JSON path of the field.
        field: &'static str,
        /// The value sent.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A timezone offset that is not `[+-]H:MM` within -12:00..=+14:00.
    #[error(
        "location.timezone.offset {value:?} is not a UTC offset like \"+5:30\", \"0:00\" or \"-12:00\" (within -12:00..=+14:00)"
    )]
    InvalidTimezoneOffset {
        /// The value sent.
        value: String,
    },
    /// An email without exactly one `@` between non-empty parts.
    #[error("email {value:?} is not an address: {why}")]
    InvalidEmail {
        /// The value sent.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl RejectReason {
    /// A stable, machine-readable code for metrics and dead-letter headers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnObject { .. } => "not_an_object",
            Self::MissingKey => "missing_key",
            Self::Missing { .. } => "missing_field",
            Self::WrongType { .. } => "wrong_type",
            Self::InvalidUuid { .. } => "invalid_uuid",
            Self::InvalidTimestamp { .. } => "invalid_timestamp",
            Self::NotANumber { .. } => "not_a_number",
            Self::NotAnInteger { .. } => "not_an_integer",
            Self::OutOfRange { .. } => "out_of_range",
            Self::InvalidTimezoneOffset { .. } => "invalid_timezone_offset",
            Self::InvalidEmail { .. } => "invalid_email",
        }
    }

    /// JSON path (inside the `results[]` entry) of the offending field; `""` for the entry itself.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NotAnObject { .. } => "",
            Self::MissingKey | Self::InvalidUuid { .. } => "login.uuid",
            Self::Missing { field }
            | Self::WrongType { field, .. }
            | Self::InvalidTimestamp { field, .. }
            | Self::NotANumber { field, .. }
            | Self::NotAnInteger { field, .. }
            | Self::OutOfRange { field, .. } => field,
            Self::InvalidTimezoneOffset { .. } => "location.timezone.offset",
            Self::InvalidEmail { .. } => "email",
        }
    }
}

/// A `results[]` entry that could not become a [`crate::User`]: where it was, why, and the
/// entry itself with its secrets removed (for a dead-letter topic).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Index of the entry within `results[]`.
    pub index: usize,
    /// Why it was rejected.
    pub reason: RejectReason,
    /// The entry as received, minus [`SECRET_LOGIN_FIELDS`] (see [`strip_secrets`]).
    pub raw: Value,
}

impl Rejected {
    /// A rejected entry; strips the secrets from `raw`.
    pub fn new(index: usize, reason: RejectReason, mut raw: Value) -> Self {
        strip_secrets(&mut raw);
        Self { index, reason, raw }
    }

    /// `login.uuid` as sent, if it is a string: the natural dead-letter key.
    pub fn key(&self) -> Option<&str> {
        self.raw.get("login")?.get("uuid")?.as_str()
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "results[{}]: {}", self.index, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strip_secrets_removes_them_at_any_depth() {
        let mut raw = json!({
            "login": {"uuid": "u", "username": "n", "password": "p", "salt": "s",
                      "md5": "m", "sha1": "h1", "sha256": "h2"},
            "password": "top",
            "nested": [{"salt": "deep", "keep": 1}]
        });
        strip_secrets(&mut raw);
        assert_eq!(
            raw,
            json!({"login": {"uuid": "u", "username": "n"}, "nested": [{"keep": 1}]})
        );
    }

    #[test]
    fn rejected_new_strips_and_exposes_key() {
        let rejected = Rejected::new(
            3,
            RejectReason::Missing { field: "dob.date" },
            json!({"login": {"uuid": "abc", "sha256": "x"}}),
        );
        assert_eq!(rejected.raw, json!({"login": {"uuid": "abc"}}));
        assert_eq!(rejected.key(), Some("abc"));
        assert_eq!(
            rejected.to_string(),
            "results[3]: dob.date missing: it is required"
        );
    }

    #[test]
    fn messages_name_field_and_problem() {
        let cases = [
            (
                RejectReason::MissingKey,
                "login.uuid missing: it is the record key",
            ),
            (
                RejectReason::WrongType {
                    field: "name.first",
                    expected: "string",
                    found: JsonKind::Number,
                },
                "name.first has the wrong type: expected string, found number",
            ),
            (
                RejectReason::OutOfRange {
                    field: "location.coordinates.latitude",
                    value: 91.5,
                    min: -90.0,
                    max: 90.0,
                },
                "location.coordinates.latitude 91.5 is out of range: must be within -90..=90",
            ),
            (
                RejectReason::NotAnObject {
                    found: JsonKind::String,
                },
                "results[] entry is not a JSON object (found string)",
            ),
        ];
        for (reason, message) in cases {
            assert_eq!(reason.to_string(), message);
        }
    }
}
