//! Query parameters, read the way the real API reads them: lenient, last value wins,
//! out-of-range values fall back to defaults rather than failing.

use std::time::Duration;

use userstream_model::request::{FieldSet, Gender, Nat, PageRequest, MAX_PAGE};

use crate::faults::{Fault, FaultOverrides};

/// How the body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Compact JSON (`format=json`, the default, and any unknown format, as the real API does).
    Json,
    /// JSON indented by two spaces (`format=pretty` or `format=prettyjson`).
    Pretty,
}

/// A parsed API request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiQuery {
    /// What to generate.
    pub page: PageRequest,
    /// How to write it.
    pub format: Format,
    /// Per-request fault overrides (`fault*` parameters).
    pub faults: FaultOverrides,
}

/// A parameter this server refuses (answered with HTTP 400 and `{"error": ...}`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// `format=yaml|xml|csv`: served by the real API, not by this server.
    #[error("format '{0}' is not supported by this server; use json or pretty")]
    UnsupportedFormat(String),
    /// A malformed `fault*` test parameter (unlike API parameters, these are strict).
    #[error("invalid {name}={value:?}: {expected}")]
    InvalidFaultParam {
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// Parses query pairs (in order; for repeated names the last wins).
///
/// - `results`: 1..=`max_results`; anything else (0, too many, not a number) gives 1.
/// - `page`: 1..=10000, else 1.
/// - `seed`: any string; absent or empty gives a [`random_seed`].
/// - `nat` (or `nationality`): comma list, case-insensitive, unknown codes ignored.
/// - `gender`: `male` or `female` (exact), else both.
/// - `inc` / `exc`: comma lists of top-level fields.
/// - `noinfo`: present (any value) omits `info`.
/// - `format` (or `fmt`): see [`Format`]; `yaml`, `xml` and `csv` are errors.
/// - `fault`, `fault_error_rate`, `fault_error_status`, `fault_error_body_rate`,
///   `fault_empty_rate`, `fault_malformed_rate`, `fault_latency_ms`, `fault_jitter_ms`,
///   `fault_retry_after`: see [`FaultOverrides`].
///
/// Other parameters (`lego`, `password`, `callback`, `dl`) are ignored.
pub fn parse_query(pairs: &[(String, String)], max_results: u32) -> Result<ApiQuery, ParamError> {
    let get = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str| get(name).and_then(|v| v.trim().parse::<u32>().ok());

    let results = number("results")
        .filter(|n| (1..=max_results.max(1)).contains(n))
        .unwrap_or(1);
    let page = number("page")
        .filter(|p| (1..=MAX_PAGE).contains(p))
        .unwrap_or(1);
    let seed = match get("seed") {
        Some(seed) if !seed.is_empty() => seed.to_string(),
        _ => random_seed(),
    };
    let nats = get("nat")
        .or_else(|| get("nationality"))
        .map(|list| list.split(',').filter_map(Nat::parse).collect())
        .unwrap_or_default();
    let format = match get("format").or_else(|| get("fmt")) {
        Some(f) => match f.trim().to_ascii_lowercase().as_str() {
            "pretty" | "prettyjson" => Format::Pretty,
            "yaml" | "xml" | "csv" => return Err(ParamError::UnsupportedFormat(f.to_string())),
            _ => Format::Json,
        },
        None => Format::Json,
    };
    Ok(ApiQuery {
        page: PageRequest {
            seed,
            page,
            results,
            nats,
            gender: get("gender").and_then(Gender::parse),
            fields: FieldSet::from_inc_exc(get("inc"), get("exc")),
            noinfo: get("noinfo").is_some(),
        },
        format,
        faults: fault_overrides(&get)?,
    })
}

fn fault_overrides<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<FaultOverrides, ParamError> {
    let invalid =
        |name: &'static str, value: &str, expected: &'static str| ParamError::InvalidFaultParam {
            name,
            value: value.to_string(),
            expected,
        };
    let rate = |name: &'static str| -> Result<Option<f64>, ParamError> {
        get(name)
            .map(|v| match v.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(invalid(name, v, "a number within 0..=1")),
            })
            .transpose()
    };
    let millis = |name: &'static str| -> Result<Option<Duration>, ParamError> {
        get(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| invalid(name, v, "whole milliseconds"))
            })
            .transpose()
    };

    let mut o = FaultOverrides {
        error_rate: rate("fault_error_rate")?,
        error_body_rate: rate("fault_error_body_rate")?,
        empty_rate: rate("fault_empty_rate")?,
        malformed_rate: rate("fault_malformed_rate")?,
        latency: millis("fault_latency_ms")?,
        latency_jitter: millis("fault_jitter_ms")?,
        ..FaultOverrides::default()
    };
    if let Some(v) = get("fault_retry_after") {
        let secs = v
            .trim()
            .parse::<u64>()
            .map_err(|_| invalid("fault_retry_after", v, "whole seconds"))?;
        o.retry_after = Some(Duration::from_secs(secs));
    }
    if let Some(v) = get("fault_error_status") {
        let status = v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|s| (400..=599).contains(s))
            .ok_or_else(|| invalid("fault_error_status", v, "an HTTP status within 400..=599"))?;
        o.error_status = Some(status);
    }
    match get("fault").map(str::trim) {
        None => {}
        Some("none") => {
            o.error_rate = Some(0.0);
            o.error_body_rate = Some(0.0);
            o.empty_rate = Some(0.0);
            o.malformed_rate = Some(0.0);
        }
        Some(v) => {
            o.force = Some(Fault::parse(v).ok_or_else(|| {
                invalid(
                    "fault",
                    v,
                    "none, error-<status>, error-body, empty or malformed",
                )
            })?);
        }
    }
    Ok(o)
}

/// A fresh random seed like the real API's: 16 lower-case hex characters.
pub fn random_seed() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<ApiQuery, ParamError> {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_query(&pairs, 5000)
    }

    fn results(value: &str) -> u32 {
        parse(&[("results", value)])
            .map(|q| q.page.results)
            .unwrap_or(0)
    }

    #[test]
    fn results_fall_back_to_one() {
        assert_eq!(results("5000"), 5000);
        assert_eq!(results(" 7 "), 7);
        for bad in ["0", "5001", "abc", "", "-3", "2.5", "99999999999"] {
            assert_eq!(results(bad), 1, "results={bad}");
        }
    }

    #[test]
    fn defaults_and_repeats() {
        let q = parse(&[]).map_err(|e| e.to_string());
        let Ok(q) = q else { panic!("{q:?}") };
        assert_eq!(q.page.page, 1);
        assert_eq!(q.page.seed.len(), 16);
        assert!(q.page.seed.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(q.page.nats.is_empty() && q.page.gender.is_none() && !q.page.noinfo);
        assert_eq!(q.format, Format::Json);

        let q = parse(&[("page", "3"), ("page", "4"), ("seed", "x"), ("noinfo", "")]);
        assert!(matches!(q, Ok(ref q) if q.page.page == 4 && q.page.seed == "x" && q.page.noinfo));
        for bad in ["0", "10001", "x"] {
            assert!(matches!(parse(&[("page", bad)]), Ok(q) if q.page.page == 1));
        }
    }

    #[test]
    fn nat_gender_format() {
        let q = parse(&[
            ("nat", "us,GB,xx, fr"),
            ("gender", "female"),
            ("fmt", "PRETTY"),
        ]);
        let Ok(q) = q else { panic!("{q:?}") };
        assert_eq!(q.page.nats, vec![Nat::Us, Nat::Gb, Nat::Fr]);
        assert_eq!(q.page.gender, Some(Gender::Female));
        assert_eq!(q.format, Format::Pretty);
        assert!(matches!(parse(&[("gender", "Male")]), Ok(q) if q.page.gender.is_none()));
        assert!(matches!(
            parse(&[("format", "xml")]),
            Err(ParamError::UnsupportedFormat(_))
        ));
        assert!(matches!(parse(&[("format", "foo")]), Ok(q) if q.format == Format::Json));
    }

    #[test]
    fn fault_params() {
        let q = parse(&[
            ("fault", "error-503"),
            ("fault_latency_ms", "25"),
            ("fault_retry_after", "7"),
            ("fault_error_rate", "0.5"),
        ]);
        let Ok(q) = q else { panic!("{q:?}") };
        assert_eq!(q.faults.force, Some(Fault::Error { status: 503 }));
        assert_eq!(q.faults.latency, Some(Duration::from_millis(25)));
        assert_eq!(q.faults.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(q.faults.error_rate, Some(0.5));
        let none = parse(&[("fault", "none")]);
        assert!(
            matches!(none, Ok(q) if q.faults.error_rate == Some(0.0) && q.faults.force.is_none())
        );
        for (k, v) in [
            ("fault", "boom"),
            ("fault_error_rate", "2"),
            ("fault_error_status", "200"),
            ("fault_latency_ms", "-1"),
        ] {
            assert!(
                matches!(parse(&[(k, v)]), Err(ParamError::InvalidFaultParam { .. })),
                "{k}={v}"
            );
        }
    }
}
