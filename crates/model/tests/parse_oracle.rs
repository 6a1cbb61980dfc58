//! The page parser against the one it replaced, which read the body into a `serde_json::Value`
//! tree: the same pages, users, rejections and page errors, on every fixture and on thousands
//! of variants of their entries (every field removed, nulled, or given each JSON type, repeated
//! keys, escapes, numbers a `Value` cannot hold).
//!
//! `old_parse_page` below is the previous parser verbatim, with its number validators, so the
//! comparison covers them too.

mod common;

use chrono::{DateTime, Utc};
use common::{all_fixtures, fixture, produced_at, source};
use serde_json::{json, Map, Value};
use userstream_model::{
    derive, parse_page, validate, Info, JsonKind, Page, PageError, RejectReason, Rejected,
    SourcePosition, User,
};

/// Both parsers on `body`: equal pages, or page errors of the same kind and message (a body
/// that is not JSON may be reported at another position).
fn assert_same(body: &[u8], what: &str) {
    let position = source("request-seed", 7);
    let new = parse_page(body, &position, produced_at());
    let old = old_parse_page(body, &position, produced_at());
    match (&new, &old) {
        (Ok(new), Ok(old)) => assert_eq!(new, old, "{what}"),
        (Err(PageError::NotJson(_)), Err(PageError::NotJson(_))) => {}
        (Err(new), Err(old)) => assert_eq!(new.to_string(), old.to_string(), "{what}"),
        _ => panic!(
            "{what}: the parsers disagree\n new: {new:?}\n old: {old:?}\n body: {}",
            String::from_utf8_lossy(body)
        ),
    }
}

fn page_of(entries: Vec<Value>) -> Vec<u8> {
    let body = json!({
        "results": entries,
        "info": {"seed": "oracle", "results": 1, "page": 1, "version": "1.4"}
    });
    serde_json::to_vec(&body).expect("json")
}

/// Every path to a value inside `value` (object keys only: entries hold no arrays).
fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            prefix.push(key.clone());
            out.push(prefix.clone());
            paths(child, prefix, out);
            prefix.pop();
        }
    }
}

fn parent<'v>(value: &'v mut Value, path: &[String]) -> &'v mut Map<String, Value> {
    let mut at = value;
    for key in &path[..path.len() - 1] {
        at = at.get_mut(key).expect("path exists");
    }
    at.as_object_mut().expect("an object")
}

/// The entries the variants are made from: every accepted entry of the fixtures.
fn base_entries() -> Vec<Value> {
    let mut entries = Vec::new();
    for name in ["multi_nat.json", "quirks.json", "inc_login_name_nat.json"] {
        let doc: Value = serde_json::from_slice(&fixture(name)).expect("json");
        entries.extend(doc["results"].as_array().expect("results").iter().cloned());
    }
    entries
}

#[test]
fn every_fixture_parses_as_before() {
    for name in all_fixtures() {
        assert_same(&fixture(name.as_str()), &name);
    }
}

#[test]
fn every_field_removed_nulled_or_retyped_parses_as_before() {
    let replacements = [
        json!(null),
        json!(true),
        json!(0),
        json!(-7),
        json!(12.5),
        json!(1e300),
        json!(18446744073709551615_u64),
        json!(""),
        json!("  "),
        json!("x"),
        json!("-12.25"),
        json!("+5:30"),
        json!("2001-01-01T00:00:00Z"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({"uuid": "c0ffee00-1234-4567-89ab-cdef01234567"}),
    ];
    let mut variants = 0;
    for (i, entry) in base_entries().iter().enumerate().step_by(2) {
        let mut all = Vec::new();
        paths(entry, &mut Vec::new(), &mut all);
        for path in all {
            let key = path.last().expect("a key").clone();
            let mut removed = entry.clone();
            parent(&mut removed, &path).remove(&key);
            let mut bodies = vec![page_of(vec![removed])];
            for replacement in &replacements {
                let mut changed = entry.clone();
                parent(&mut changed, &path).insert(key.clone(), replacement.clone());
                bodies.push(page_of(vec![changed]));
            }
            for body in bodies {
                assert_same(&body, &format!("entry {i}, {}", path.join(".")));
                variants += 1;
            }
        }
    }
    assert!(variants > 1000, "{variants} variants");
}

#[test]
fn of_two_bad_fields_the_same_one_is_reported() {
    let entry = base_entries().remove(0);
    let mut all = Vec::new();
    paths(&entry, &mut Vec::new(), &mut all);
    for (i, first) in all.iter().enumerate() {
        for second in &all[i + 1..] {
            // Neither an object, a string nor a number: wrong wherever it is put.
            let mut changed = entry.clone();
            for path in [first, second] {
                if let Some(key) = path.last() {
                    if changed.pointer(&format!("/{}", path.join("/"))).is_some() {
                        parent(&mut changed, path).insert(key.clone(), json!(true));
                    }
                }
            }
            let what = format!("{} and {}", first.join("."), second.join("."));
            assert_same(&page_of(vec![changed]), &what);
        }
    }
}

#[test]
fn whole_entries_and_bodies_of_every_kind_parse_as_before() {
    let entry = base_entries().remove(0);
    for other in [
        json!(null),
        json!(1),
        json!("x"),
        json!([entry.clone()]),
        json!({}),
    ] {
        assert_same(
            &page_of(vec![other, entry.clone()]),
            "an entry of another kind",
        );
    }
    for body in [
        "",
        " ",
        "null",
        "1",
        "\"x\"",
        "[]",
        "{}",
        "{\"results\": []}",
        "{\"results\": 1}",
        "{\"results\": {}}",
        "{\"results\": null}",
        "{\"error\": null, \"results\": []}",
        "{\"error\": 5}",
        "{\"error\": {\"why\": 1}, \"results\": []}",
        "{\"b\": 1, \"a\": 2}",
        "{\"info\": null, \"results\": []}",
        "{\"info\": [], \"results\": []}",
        "{\"info\": {\"seed\": \"\"}, \"results\": []}",
        "{\"results\": [], \"results\": 1}",
        "{\"results\": 1, \"results\": []}",
        "{\"results\": []} x",
        "{\"results\": [] ",
        "{\"res\\u0075lts\": []}",
    ] {
        assert_same(body.as_bytes(), body);
    }
}

#[test]
fn repeated_keys_escapes_and_odd_numbers_parse_as_before() {
    let entry = serde_json::to_string(&base_entries().remove(0)).expect("json");
    let inner = &entry[1..entry.len() - 1];
    let edits = [
        // A repeated key keeps its last value, at every level.
        format!("{{{inner},\"gender\":7}}"),
        format!("{{\"gender\":7,{inner}}}"),
        format!("{{{inner},\"login\":{{\"uuid\":\"not-a-uuid\",\"username\":\"u\"}}}}"),
        format!("{{{inner},\"login\":null}}"),
        format!("{{{inner},\"location\":{{\"city\":\"A\",\"city\":\"B\"}}}}"),
        // Escapes in keys and values.
        format!("{{{inner},\"n\\u0061t\":\"\\u00c9\\n\\\"\"}}"),
        format!("{{{inner},\"picture\":{{\"large\":\"https:\\/\\/x\\/1.jpg\"}}}}"),
        format!("{{{inner},\"email\":\"\\ud83d\\ude00@x\"}}"),
        // Values a `Value` cannot hold, read or unread: the page is not JSON.
        format!("{{{inner},\"dob\":{{\"date\":\"2001-01-01T00:00:00Z\",\"age\":1e400}}}}"),
        format!("{{{inner},\"unknown\":[1,{{\"x\":\"\\ud800\"}}]}}"),
        format!("{{{inner},\"gender\":\"\\udc00\"}}"),
        format!("{{{inner},\"cell\":-1e400}}"),
        // Numbers at the edges of i64, u64 and f64.
        format!("{{{inner},\"location\":{{\"postcode\":-9223372036854775808}}}}"),
        format!("{{{inner},\"location\":{{\"postcode\":9223372036854775808}}}}"),
        format!("{{{inner},\"location\":{{\"postcode\":1e19,\"street\":{{\"number\":-0}}}}}}"),
        format!(
            "{{{inner},\"location\":{{\"coordinates\":{{\"latitude\":-0.0,\"longitude\":1E2}}}}}}"
        ),
        format!("{{{inner},\"location\":{{\"street\":{{\"number\":2147483648}}}}}}"),
        format!("{{{inner},\"location\":{{\"street\":{{\"number\":4.0e0}}}}}}"),
        // Truncated inside an entry.
        entry[..entry.len() / 2].to_owned(),
    ];
    for edit in edits {
        let body = format!("{{\"results\":[{edit},{entry}],\"info\":{{\"seed\":\"s\"}}}}");
        assert_same(body.as_bytes(), &edit);
    }
    let not_utf8 = [
        b"{\"results\":[],\"x\":\"".as_slice(),
        &[0xff, 0xfe],
        b"\"}",
    ]
    .concat();
    assert_same(&not_utf8, "not UTF-8");
}

/// The one difference, declared in `raw.rs`: serde_json's nesting limit counts from each entry,
/// no longer from the body, so an entry 126 or 127 levels deep is read.
#[test]
fn nesting_limit_counts_from_the_entry() {
    let position = source("request-seed", 7);
    for depth in 120..132 {
        let nested = format!("{}1{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
        let body = format!("{{\"results\":[{{\"x\":{nested}}}]}}");
        if depth == 126 || depth == 127 {
            let page = parse_page(body.as_bytes(), &position, produced_at()).expect("read");
            assert_eq!(page.rejected().count(), 1, "no login: rejected");
            assert!(old_parse_page(body.as_bytes(), &position, produced_at()).is_err());
        } else {
            assert_same(body.as_bytes(), &format!("an entry {depth} deep"));
        }
    }
}

// ---- The parser this crate had before, verbatim (only renamed). ----

/// Parses a randomuser.me response body. `produced_at` is stamped on every user (truncated to
/// milliseconds).
fn old_parse_page(
    body: &[u8],
    source: &SourcePosition,
    produced_at: DateTime<Utc>,
) -> Result<Page, PageError> {
    let page =
        i32::try_from(source.page).map_err(|_| PageError::PageOutOfRange { page: source.page })?;
    let root: Value = serde_json::from_slice(body).map_err(PageError::NotJson)?;
    let Value::Object(mut root) = root else {
        return Err(PageError::NotAnObject {
            found: JsonKind::of(&root),
        });
    };
    if let Some(error) = root.get("error").filter(|e| !e.is_null()) {
        let message = match error {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Err(PageError::Api { message });
    }
    let info = root.get("info").and_then(parse_info);
    let results = match root.remove("results") {
        Some(Value::Array(results)) => results,
        Some(other) => {
            return Err(PageError::ResultsNotArray {
                found: JsonKind::of(&other),
            })
        }
        None => {
            let keys: Vec<&str> = root.keys().map(String::as_str).collect();
            return Err(PageError::MissingResults {
                keys: keys.join(", "),
            });
        }
    };
    let seed = info
        .as_ref()
        .and_then(|i| i.seed.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| source.seed.clone());
    let context = Context {
        url: &source.url,
        seed: &seed,
        page,
        produced_at: validate::truncate_to_millis(produced_at),
    };
    let records = results
        .into_iter()
        .enumerate()
        .map(|(index, raw)| match parse_user(&raw, index, &context) {
            Ok(user) => Ok(user),
            Err(reason) => Err(Rejected::new(index, reason, raw)),
        })
        .collect();
    Ok(Page { info, records })
}

fn parse_info(info: &Value) -> Option<Info> {
    let info = info.as_object()?;
    Some(Info {
        seed: info.get("seed").and_then(Value::as_str).map(str::to_owned),
        results: info.get("results").and_then(Value::as_u64),
        page: info.get("page").and_then(Value::as_u64),
        version: info
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// What every user of one page shares.
struct Context<'a> {
    url: &'a str,
    seed: &'a str,
    page: i32,
    produced_at: DateTime<Utc>,
}

fn parse_user(raw: &Value, index: usize, context: &Context<'_>) -> Result<User, RejectReason> {
    let Value::Object(entry) = raw else {
        return Err(RejectReason::NotAnObject {
            found: JsonKind::of(raw),
        });
    };
    let root = Obj(Some(entry));

    // The key first: without it nothing else matters.
    let login = match root.get("login") {
        None => return Err(RejectReason::MissingKey),
        Some(_) => root.obj("login", "login")?,
    };
    let id = match login.string("uuid", "login.uuid")? {
        None => return Err(RejectReason::MissingKey),
        Some(uuid) => validate::uuid(uuid)?,
    };
    let username = login
        .string("username", "login.username")?
        .ok_or(RejectReason::Missing {
            field: "login.username",
        })?
        .to_owned();

    let name = root.obj("name", "name")?;
    let location = root.obj("location", "location")?;
    let street = location.obj("street", "location.street")?;
    let coordinates = location.obj("coordinates", "location.coordinates")?;
    let timezone = location.obj("timezone", "location.timezone")?;
    let dob = root.obj("dob", "dob")?;
    let registered = root.obj("registered", "registered")?;
    let id_card = root.obj("id", "id")?;
    let picture = root.obj("picture", "picture")?;

    let street_number = street
        .get("number")
        .map(old_validate::street_number)
        .transpose()?;
    let street_name = owned(street.string("name", "location.street.name")?);
    let city = owned(location.string("city", "location.city")?);
    let state = owned(location.string("state", "location.state")?);
    let country = owned(location.string("country", "location.country")?);
    let postcode = location
        .get("postcode")
        .map(old_validate::postcode)
        .transpose()?
        .flatten();
    let latitude = coordinates
        .get("latitude")
        .map(old_validate::latitude)
        .transpose()?;
    let longitude = coordinates
        .get("longitude")
        .map(old_validate::longitude)
        .transpose()?;
    let timezone_offset = timezone.string("offset", "location.timezone.offset")?;
    if let Some(offset) = timezone_offset {
        validate::timezone_offset(offset)?;
    }
    let email = root.string("email", "email")?;
    if let Some(email) = email {
        validate::email(email)?;
    }
    let source_index = i32::try_from(index).map_err(|_| RejectReason::OutOfRange {
        field: "results[]",
        value: index as f64,
        min: 0.0,
        max: f64::from(i32::MAX),
    })?;

    let mut user = User {
        id,
        title: owned(name.string("title", "name.title")?),
        first_name: owned(name.string("first", "name.first")?),
        last_name: owned(name.string("last", "name.last")?),
        gender: owned(root.string("gender", "gender")?),
        // Filled below by the shared rule, from the fields it reads.
        display_address: None,
        street_number,
        street_name,
        city,
        state,
        country,
        postcode,
        latitude,
        longitude,
        timezone_offset: owned(timezone_offset),
        timezone_description: owned(
            timezone.string("description", "location.timezone.description")?,
        ),
        email: owned(email),
        username,
        dob: dob
            .string("date", "dob.date")?
            .map(|d| validate::timestamp("dob.date", d))
            .transpose()?,
        registered: registered
            .string("date", "registered.date")?
            .map(|d| validate::timestamp("registered.date", d))
            .transpose()?,
        phone: owned(root.string("phone", "phone")?),
        cell: owned(root.string("cell", "cell")?),
        // The API sends `"name": ""` (with a null value) where a country has no national id.
        id_name: owned(id_card.string("name", "id.name")?).filter(|n| !n.trim().is_empty()),
        id_value: owned(id_card.string("value", "id.value")?),
        picture_url: owned(picture.string("large", "picture.large")?),
        nationality: owned(root.string("nat", "nat")?),
        produced_at: context.produced_at,
        source_url: context.url.to_owned(),
        source_seed: context.seed.to_owned(),
        source_page: context.page,
        source_index,
    };
    user.display_address = derive::display_address(&user);
    Ok(user)
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

/// A JSON object that may be absent: children of an absent object are absent too, which is how
/// `inc`/`exc` requests that leave out whole blocks come out as null fields.
#[derive(Clone, Copy)]
struct Obj<'a>(Option<&'a Map<String, Value>>);

impl<'a> Obj<'a> {
    /// The child `key`; `None` when absent or `null`.
    fn get(self, key: &str) -> Option<&'a Value> {
        self.0?.get(key).filter(|v| !v.is_null())
    }

    /// The child object `key` (`path` names it in errors).
    fn obj(self, key: &str, path: &'static str) -> Result<Obj<'a>, RejectReason> {
        match self.get(key) {
            None => Ok(Obj(None)),
            Some(Value::Object(map)) => Ok(Obj(Some(map))),
            Some(other) => Err(RejectReason::WrongType {
                field: path,
                expected: "object",
                found: JsonKind::of(other),
            }),
        }
    }

    /// The child string `key` (`path` names it in errors).
    fn string(self, key: &str, path: &'static str) -> Result<Option<&'a str>, RejectReason> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(RejectReason::WrongType {
                field: path,
                expected: "string",
                found: JsonKind::of(other),
            }),
        }
    }
}

mod old_validate {
    use serde_json::Value;
    use userstream_model::validate::{LATITUDE, LONGITUDE};
    use userstream_model::{JsonKind, RejectReason};

    /// Reads a number sent either as a JSON number or as a string holding one (randomuser.me sends
    /// coordinates as strings), and checks it is finite and within `min..=max`.
    fn number_in_range(
        field: &'static str,
        value: &Value,
        min: f64,
        max: f64,
    ) -> Result<f64, RejectReason> {
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            other => {
                return Err(RejectReason::WrongType {
                    field,
                    expected: "number or numeric string",
                    found: JsonKind::of(other),
                })
            }
        };
        let number = number
            .filter(|n| n.is_finite())
            .ok_or_else(|| RejectReason::NotANumber {
                field,
                value: text_of(value),
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
    pub fn latitude(value: &Value) -> Result<f64, RejectReason> {
        number_in_range(LATITUDE, value, -90.0, 90.0)
    }

    /// `location.coordinates.longitude`: a number or numeric string within -180..=180.
    pub fn longitude(value: &Value) -> Result<f64, RejectReason> {
        number_in_range(LONGITUDE, value, -180.0, 180.0)
    }

    /// `location.postcode`: randomuser.me sends an integer for some nationalities (sometimes
    /// negative) and a string for others (`"EC1A 1BB"`, `"9125 TM"`). Both become text, an integer
    /// in plain decimal. A blank string means no postcode.
    pub fn postcode(value: &Value) -> Result<Option<String>, RejectReason> {
        const FIELD: &str = "location.postcode";
        match value {
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => whole_number(FIELD, value, n).map(|n| Some(n.to_string())),
            other => Err(RejectReason::WrongType {
                field: FIELD,
                expected: "string or integer",
                found: JsonKind::of(other),
            }),
        }
    }

    /// `location.street.number`: an integer (or a string holding one) that fits an Avro `int`.
    pub fn street_number(value: &Value) -> Result<i32, RejectReason> {
        const FIELD: &str = "location.street.number";
        let number = match value {
            Value::Number(n) => whole_number(FIELD, value, n)?,
            Value::String(s) => {
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| RejectReason::NotAnInteger {
                        field: FIELD,
                        value: s.clone(),
                    })?
            }
            other => {
                return Err(RejectReason::WrongType {
                    field: FIELD,
                    expected: "integer or numeric string",
                    found: JsonKind::of(other),
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

    /// An integral JSON number as `i64`; `12.0` counts, `12.5` does not.
    fn whole_number(
        field: &'static str,
        value: &Value,
        n: &serde_json::Number,
    ) -> Result<i64, RejectReason> {
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        let not_integer = || RejectReason::NotAnInteger {
            field,
            value: text_of(value),
        };
        let f = n.as_f64().ok_or_else(not_integer)?;
        // The range check keeps the cast exact: every integral f64 in that range is an i64.
        if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
            Ok(f as i64)
        } else {
            Err(not_integer())
        }
    }

    /// A value as text for an error message: strings without their quotes.
    fn text_of(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}
