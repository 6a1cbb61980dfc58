//! randomuser.me API 1.4 response → [`User`]s and [`Rejected`] entries.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::derive;
use crate::reject::{JsonKind, RejectReason, Rejected};
use crate::user::User;
use crate::validate;

/// Where a response came from, as requested (the response's `info.seed` overrides `seed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePosition {
    /// The request URL.
    pub url: String,
    /// The seed requested; may be empty when the request let the API pick one.
    pub seed: String,
    /// The page requested.
    pub page: u32,
}

/// The response's `info` block. Read leniently: it is metadata, so a field of the wrong type is
/// `None` rather than an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// `info.seed`: the seed the API used.
    pub seed: Option<String>,
    /// `info.results`: how many results the API says it returned (it silently returns 1 when
    /// more than 5000 were requested, so compare with the request).
    pub results: Option<u64>,
    /// `info.page`.
    pub page: Option<u64>,
    /// `info.version`, e.g. "1.4".
    pub version: Option<String>,
}

/// One parsed response: every `results[]` entry, in order, as a user or a rejection.
/// An empty `results` gives an empty `records`; that is not an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The `info` block, if the response had one.
    pub info: Option<Info>,
    /// One entry per `results[]` element, same order.
    pub records: Vec<Result<User, Rejected>>,
}

impl Page {
    /// The accepted users.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.records.iter().filter_map(|r| r.as_ref().ok())
    }

    /// The rejected entries.
    pub fn rejected(&self) -> impl Iterator<Item = &Rejected> {
        self.records.iter().filter_map(|r| r.as_ref().err())
    }

    /// Whether `results` was empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Why a whole response could not be read. Individual bad entries are not errors: they are
/// [`Rejected`] records in the [`Page`].
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The body is not JSON (often an HTML error page from a proxy, or a truncated body).
    #[error("response body is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// The API answered `{"error": "..."}` instead of results.
    #[error("randomuser API returned an error: {message}")]
    Api {
        /// The API's message.
        message: String,
    },
    /// The body is JSON but not an object.
    #[error("response body is a JSON {found}, expected an object with `results`")]
    NotAnObject {
        /// What it is instead.
        found: JsonKind,
    },
    /// The body has neither `results` nor `error`.
    #[error("response has no `results` array (its keys: {keys})")]
    MissingResults {
        /// The keys it does have, comma-separated.
        keys: String,
    },
    /// `results` is not an array.
    #[error("response `results` is a JSON {found}, expected an array")]
    ResultsNotArray {
        /// What it is instead.
        found: JsonKind,
    },
    /// The requested page does not fit the Avro `int` of `source_page`.
    #[error("page {page} is too large: source_page is an Avro int (at most {max})", max = i32::MAX)]
    PageOutOfRange {
        /// The page requested.
        page: u32,
    },
}

impl PageError {
    /// Whether fetching the same page again may succeed: yes for a non-JSON body (a proxy's
    /// error page, a cut-off response) and for an API error message (randomuser.me reports its
    /// own faults that way); no for a well-formed body of the wrong shape.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::NotJson(_) | Self::Api { .. })
    }
}

/// Parses a randomuser.me response body. `produced_at` is stamped on every user (truncated to
/// milliseconds). Secrets never reach the result: see [`crate::SECRET_LOGIN_FIELDS`].
pub fn parse_page(
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
        .map(validate::street_number)
        .transpose()?;
    let street_name = owned(street.string("name", "location.street.name")?);
    let city = owned(location.string("city", "location.city")?);
    let state = owned(location.string("state", "location.state")?);
    let country = owned(location.string("country", "location.country")?);
    let postcode = location
        .get("postcode")
        .map(validate::postcode)
        .transpose()?
        .flatten();
    let latitude = coordinates
        .get("latitude")
        .map(validate::latitude)
        .transpose()?;
    let longitude = coordinates
        .get("longitude")
        .map(validate::longitude)
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
