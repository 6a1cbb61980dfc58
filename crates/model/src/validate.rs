//! Pure validation and normalization of single randomuser.me values.
//!
//! Each function takes the value as sent and returns the normalized value or the
//! [`RejectReason`] that names the field and the problem. Values that may be a number or a
//! string come as a [`Scalar`]: borrowed from the response body by the page parser, or from a
//! `serde_json::Value`.

use std::borrow::Cow;

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Number, Value};
use uuid::Uuid;

use crate::reject::{JsonKind, RejectReason};

/// A JSON value where the API sends a number or a string. Strings are borrowed where they can
/// be (the parser borrows them from the response body unless they hold escapes); anything
/// else is only its kind, which is all an error message needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// A JSON number, as `serde_json` reads it (so `as_i64`/`as_f64` agree with a `Value`'s).
    Number(Number),
    /// A JSON string, unescaped.
    String(Cow<'a, str>),
    /// Any other JSON value.
    Other(JsonKind),
}

impl Scalar<'_> {
    /// The value as text for an error message: strings without their quotes.
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::String(s) => s.to_string(),
            Self::Other(kind) => kind.to_string(),
        }
    }
}

impl<'a> From<&'a Value> for Scalar<'a> {
    fn from(value: &'a Value) -> Self {
        match value {
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::String(Cow::Borrowed(s)),
            other => Self::Other(JsonKind::of(other)),
        }
    }
}

/// JSON path of the latitude.
pub const LATITUDE: &str = "location.coordinates.latitude";
/// JSON path of the longitude.
pub const LONGITUDE: &str = "location.coordinates.longitude";

/// Parses `login.uuid`. Accepts any form the `uuid` crate reads (hyphenated, simple, braced,
/// URN, either case); rejects the nil UUID, which cannot be a real user's key.
pub fn uuid(value: &str) -> Result<Uuid, RejectReason> {
    let invalid = |error: String| RejectReason::InvalidUuid {
        value: value.to_owned(),
        error,
    };
    let parsed = Uuid::parse_str(value.trim()).map_err(|e| invalid(e.to_string()))?;
    if parsed.is_nil() {
        return Err(invalid("the nil UUID is not a key".to_owned()));
    }
    Ok(parsed)
}

/// Drops everything below the millisecond, the precision of Avro `timestamp-millis`, so that
/// a value survives an Avro round trip unchanged.
pub fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.nanosecond() / 1_000_000 * 1_000_000;
    at.with_nanosecond(nanos).unwrap_or(at)
}

/// Parses an RFC 3339 date such as `"1992-03-08T15:13:16.688Z"` into UTC, millisecond precision.
pub fn timestamp(field: &'static str, value: &str) -> Result<DateTime<Utc>, RejectReason> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|at| truncate_to_millis(at.with_timezone(&Utc)))
        .map_err(|e| RejectReason::InvalidTimestamp {
            field,
            value: value.to_owned(),
            error: e.to_string(),
        })
}

/// Reads a number sent either as a JSON number or as a string holding one (randomuser.me sends
/// coordinates as strings), and checks it is finite and within `min..=max`.
pub fn number_in_range<'v>(
    field: &'static str,
    value: impl Into<Scalar<'v>>,
    min: f64,
    max: f64,
) -> Result<f64, RejectReason> {
    let value = value.into();
    let number = match &value {
        Scalar::Number(n) => n.as_f64(),
        Scalar::String(s) => s.trim().parse::<f64>().ok(),
        Scalar::Other(found) => {
            return Err(RejectReason::WrongType {
                field,
                expected: "number or numeric string",
                found: *found,
            })
        }
    };
    let number = number
        .filter(|n| n.is_finite())
        .ok_or_else(|| RejectReason::NotANumber {
            field,
            value: value.text(),
        })?;
    if !(min..=max).contains(&number) {
        return Err(RejectReason::OutOfRange {
            field,
            value: number,
            min,
            max,
        });
    }
    Ok(number)
}

/// `location.coordinates.latitude`: a number or numeric string within -90..=90.
pub fn latitude<'v>(value: impl Into<Scalar<'v>>) -> Result<f64, RejectReason> {
    number_in_range(LATITUDE, value, -90.0, 90.0)
}

/// `location.coordinates.longitude`: a number or numeric string within -180..=180.
pub fn longitude<'v>(value: impl Into<Scalar<'v>>) -> Result<f64, RejectReason> {
    number_in_range(LONGITUDE, value, -180.0, 180.0)
}

/// Checks a timezone offset such as `"+5:30"`, `"0:00"` or `"-12:00"` (sign optional, one or
/// two hour digits, two minute digits, within -12:00..=+14:00) and returns it in minutes east of
/// UTC.
pub fn timezone_offset(value: &str) -> Result<i32, RejectReason> {
    let invalid = || RejectReason::InvalidTimezoneOffset {
        value: value.to_owned(),
    };
    let (sign, rest) = match value.as_bytes().first() {
        Some(b'+') => (1, &value[1..]),
        Some(b'-') => (-1, &value[1..]),
        _ => (1, value),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(invalid)?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(1..=2).contains(&hours.len()) || minutes.len() != 2 {
        return Err(invalid());
    }
    if !all_digits(hours) || !all_digits(minutes) {
        return Err(invalid());
    }
    let hours: i32 = hours.parse().map_err(|_| invalid())?;
    let minutes: i32 = minutes.parse().map_err(|_| invalid())?;
    if minutes >= 60 {
        return Err(invalid());
    }
    let total = sign * (hours * 60 + minutes);
    if !(-12 * 60..=14 * 60).contains(&total) {
        return Err(invalid());
    }
    Ok(total)
}

/// `location.postcode`: randomuser.me sends an integer for some nationalities (sometimes
/// negative) and a string for others (`"EC1A 1BB"`, `"9125 TM"`). Both become text, an integer
/// in plain decimal. A blank string means no postcode.
pub fn postcode<'v>(value: impl Into<Scalar<'v>>) -> Result<Option<String>, RejectReason> {
    const FIELD: &str = "location.postcode";
    match value.into() {
        Scalar::String(s) if s.trim().is_empty() => Ok(None),
        Scalar::String(s) => Ok(Some(s.into_owned())),
        Scalar::Number(n) => whole_number(FIELD, &n).map(|n| Some(n.to_string())),
        Scalar::Other(found) => Err(RejectReason::WrongType {
            field: FIELD,
            expected: "string or integer",
            found,
        }),
    }
}

/// `location.street.number`: an integer (or a string holding one) that fits an Avro `int`.
pub fn street_number<'v>(value: impl Into<Scalar<'v>>) -> Result<i32, RejectReason> {
    const FIELD: &str = "location.street.number";
    let number = match value.into() {
        Scalar::Number(n) => whole_number(FIELD, &n)?,
        Scalar::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                return Err(RejectReason::NotAnInteger {
                    field: FIELD,
                    value: s.into_owned(),
                })
            }
        },
        Scalar::Other(found) => {
            return Err(RejectReason::WrongType {
                field: FIELD,
                expected: "integer or numeric string",
                found,
            })
        }
    };
    i32::try_from(number).map_err(|_| RejectReason::OutOfRange {
        field: FIELD,
        value: number as f64,
        min: f64::from(i32::MIN),
        max: f64::from(i32::MAX),
    })
}

/// Checks that `value` has exactly one `@`, with text on both sides and no whitespace.
/// Non-ASCII local parts are allowed: randomuser.me transliterates, a local API may not.
pub fn email(value: &str) -> Result<(), RejectReason> {
    let invalid = |why| RejectReason::InvalidEmail {
        value: value.to_owned(),
        why,
    };
    if value.chars().any(char::is_whitespace) {
        return Err(invalid("it contains whitespace"));
    }
    match value.split_once('@') {
        None => Err(invalid("it has no '@'")),
        Some((_, domain)) if domain.contains('@') => Err(invalid("it has more than one '@'")),
        Some((local, domain)) if local.is_empty() || domain.is_empty() => {
            Err(invalid("one side of the '@' is empty"))
        }
        Some(_) => Ok(()),
    }
}

/// An integral JSON number as `i64`; `12.0` counts, `12.5` does not.
fn whole_number(field: &'static str, n: &Number) -> Result<i64, RejectReason> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let not_integer = || RejectReason::NotAnInteger {
        field,
        value: n.to_string(),
    };
    let f = n.as_f64().ok_or_else(not_integer)?;
    // The range check keeps the cast exact: every integral f64 in that range is an i64.
    if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Ok(f as i64)
    } else {
        Err(not_integer())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn uuid_accepts_forms_and_normalizes() {
        let id = uuid("7A0EED16-9430-4D68-901F-C0D4C1C3BF00").expect("valid");
        assert_eq!(id.to_string(), "7a0eed16-9430-4d68-901f-c0d4c1c3bf00");
        assert_eq!(uuid("7a0eed1694304d68901fc0d4c1c3bf00").ok(), Some(id));
    }

    #[test]
    fn uuid_rejects_garbage_and_nil() {
        for bad in [
            "",
            "not-a-uuid",
            "7a0eed16-9430-4d68-901f",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let err = uuid(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_uuid", "{bad}");
            assert!(err.to_string().starts_with("login.uuid "), "{err}");
        }
    }

    #[test]
    fn timestamp_parses_api_dates_to_utc_millis() {
        let at = timestamp("dob.date", "1992-03-08T15:13:16.688Z").expect("valid");
        assert_eq!(at.timestamp_millis(), 700_067_596_688);
        let offset = timestamp("dob.date", "1992-03-08T17:13:16.688+02:00").expect("valid");
        assert_eq!(offset, at);
        let fine = timestamp("dob.date", "1992-03-08T15:13:16.688999Z").expect("valid");
        assert_eq!(fine, at, "sub-millisecond digits are dropped");
    }

    #[test]
    fn timestamp_rejects_unparsable() {
        for bad in ["", "yesterday", "1992-13-08T15:13:16Z", "1992-03-08"] {
            let err = timestamp("registered.date", bad).expect_err(bad);
            assert_eq!(err.field(), "registered.date");
            assert!(
                err.to_string().contains("not an RFC 3339 timestamp"),
                "{err}"
            );
        }
    }

    #[test]
    fn coordinates_from_strings_and_numbers() {
        assert_eq!(latitude(&json!("-69.8246")), Ok(-69.8246));
        assert_eq!(longitude(&json!(" 134.8719 ")), Ok(134.8719));
        assert_eq!(latitude(&json!(45.5)), Ok(45.5));
        assert_eq!(latitude(&json!("90")), Ok(90.0));
        assert_eq!(longitude(&json!(-180)), Ok(-180.0));
    }

    #[test]
    fn coordinates_reject_out_of_range_and_non_numbers() {
        let err = latitude(&json!("90.0001")).expect_err("out of range");
        assert_eq!(err.code(), "out_of_range");
        assert_eq!(
            err.to_string(),
            "location.coordinates.latitude 90.0001 is out of range: must be within -90..=90"
        );
        assert_eq!(
            longitude(&json!("-180.5")).map_err(|e| e.code()),
            Err("out_of_range")
        );
        for bad in [json!("north"), json!("NaN"), json!("inf"), json!("")] {
            let err = latitude(&bad).expect_err("not a number");
            assert_eq!(err.code(), "not_a_number", "{bad}");
        }
        assert_eq!(
            longitude(&json!(true)).map_err(|e| e.to_string()),
            Err("location.coordinates.longitude has the wrong type: expected number or numeric string, found boolean".to_owned())
        );
    }

    #[test]
    fn timezone_offsets_as_the_api_sends_them() {
        assert_eq!(timezone_offset("+5:30"), Ok(330));
        assert_eq!(timezone_offset("+5:45"), Ok(345));
        assert_eq!(timezone_offset("0:00"), Ok(0));
        assert_eq!(timezone_offset("-3:30"), Ok(-210));
        assert_eq!(timezone_offset("-12:00"), Ok(-720));
        assert_eq!(timezone_offset("+14:00"), Ok(840));
        assert_eq!(timezone_offset("+09:30"), Ok(570));
    }

    #[test]
    fn timezone_offsets_rejected() {
        for bad in [
            "", "+", "5", "+5", "+5:3", "+5:300", "+5:60", "-12:30", "+14:01", "+a:00", "++5:00",
            "UTC",
        ] {
            let err = timezone_offset(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_timezone_offset", "{bad}");
        }
    }

    #[test]
    fn postcode_int_or_string() {
        assert_eq!(postcode(&json!(63104)), Ok(Some("63104".to_owned())));
        assert_eq!(postcode(&json!(-4873)), Ok(Some("-4873".to_owned())));
        assert_eq!(postcode(&json!(4310.0)), Ok(Some("4310".to_owned())));
        assert_eq!(
            postcode(&json!("EC1A 1BB")),
            Ok(Some("EC1A 1BB".to_owned()))
        );
        assert_eq!(postcode(&json!("0154")), Ok(Some("0154".to_owned())));
        assert_eq!(postcode(&json!("  ")), Ok(None));
        assert_eq!(
            postcode(&json!(12.5)).map_err(|e| e.to_string()),
            Err("location.postcode 12.5 is not an integer".to_owned())
        );
        assert_eq!(
            postcode(&json!(["x"])).map_err(|e| e.code()),
            Err("wrong_type")
        );
    }

    #[test]
    fn street_numbers() {
        assert_eq!(street_number(&json!(8929)), Ok(8929));
        assert_eq!(street_number(&json!("12")), Ok(12));
        assert_eq!(
            street_number(&json!(3_000_000_000_u64)).map_err(|e| e.code()),
            Err("out_of_range")
        );
        assert_eq!(
            street_number(&json!("12b")).map_err(|e| e.code()),
            Err("not_an_integer")
        );
        assert_eq!(
            street_number(&json!(null)).map_err(|e| e.code()),
            Err("wrong_type")
        );
    }

    #[test]
    fn emails() {
        assert_eq!(email("jennie.nichols@example.com"), Ok(()));
        assert_eq!(email("آرش.کریمی@example.com"), Ok(()));
        for bad in [
            "",
            "plain",
            "a@b@c",
            "@example.com",
            "a@",
            "a b@example.com",
        ] {
            let err = email(bad).expect_err(bad);
            assert_eq!(err.field(), "email");
        }
    }

    #[test]
    fn truncation_keeps_millis() {
        let at = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123456789Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(
            truncate_to_millis(at).to_rfc3339(),
            "2024-05-01T10:00:00.123+00:00"
        );
    }
}
