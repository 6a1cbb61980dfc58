//! randomuser.me API 1.4 response → [`User`]s and [`Rejected`] entries.
//!
//! The body is read into the typed, borrowed view of [`crate::raw`], not a `serde_json::Value`
//! tree: that tree allocated every key and string of every entry, and was the producer's
//! largest CPU cost per user. The rules below are the ones the tree was checked with.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::derive;
use crate::raw::{self, Body, RawUser, Results, Shape};
use crate::reject::{JsonKind, RejectReason, Rejected};
use crate::user::User;
use crate::validate::{self, Scalar};

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
    let response = match raw::read_body(body).map_err(PageError::NotJson)? {
        Body::Object(response) => response,
        Body::Other(found) => return Err(PageError::NotAnObject { found }),
    };
    let info = response.info.as_ref().and_then(parse_info);
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
    // The entries are read before the checks below: an entry that cannot be decoded makes the
    // page not JSON whatever else is wrong with it, as when the whole body was one `Value`.
    let records = match response.results {
        Some(Results::Entries(entries)) => Ok(read_entries(&entries, &context)?),
        Some(Results::Other(found)) => Err(PageError::ResultsNotArray { found }),
        None => Err(PageError::MissingResults {
            keys: response.keys.into_iter().collect::<Vec<_>>().join(", "),
        }),
    };
    if let Some(error) = response.error {
        let message = match error {
            Value::String(s) => s,
            other => other.to_string(),
        };
        return Err(PageError::Api { message });
    }
    Ok(Page {
        info,
        records: records?,
    })
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

/// Each entry as a user or a rejection; an entry that cannot be decoded fails the page.
fn read_entries(
    entries: &[&RawValue],
    context: &Context<'_>,
) -> Result<Vec<Result<User, Rejected>>, PageError> {
    // Sized once: collecting `Result`s would grow a page's worth of users by doubling.
    let mut records = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let user = raw::read_entry(entry).map_err(PageError::NotJson)?;
        records.push(match check_user(user, index, context) {
            Ok(user) => Ok(user),
            // Only a rejected entry is built as a `Value`, for its dead letter.
            Err(reason) => {
                let raw = serde_json::from_str(entry.get()).map_err(PageError::NotJson)?;
                Err(Rejected::new(index, reason, raw))
            }
        });
    }
    Ok(records)
}

fn check_user(
    entry: Shape<RawUser<'_>>,
    index: usize,
    context: &Context<'_>,
) -> Result<User, RejectReason> {
    let entry = match entry {
        Shape::Object(entry) => entry,
        Shape::Other(found) => return Err(RejectReason::NotAnObject { found }),
    };

    // The key first: without it nothing else matters.
    let Some(login) = entry.login else {
        return Err(RejectReason::MissingKey);
    };
    let login = object(Some(login), "login")?;
    let id = match string(login.uuid, "login.uuid")? {
        None => return Err(RejectReason::MissingKey),
        Some(uuid) => validate::uuid(&uuid)?,
    };
    let username = text(login.username, "login.username")?.ok_or(RejectReason::Missing {
        field: "login.username",
    })?;

    let name = object(entry.name, "name")?;
    let location = object(entry.location, "location")?;
    let street = object(location.street, "location.street")?;
    let coordinates = object(location.coordinates, "location.coordinates")?;
    let timezone = object(location.timezone, "location.timezone")?;
    let dob = object(entry.dob, "dob")?;
    let registered = object(entry.registered, "registered")?;
    let id_card = object(entry.id, "id")?;
    let picture = object(entry.picture, "picture")?;

    let street_number = street.number.map(validate::street_number).transpose()?;
    let street_name = text(street.name, "location.street.name")?;
    let city = text(location.city, "location.city")?;
    let state = text(location.state, "location.state")?;
    let country = text(location.country, "location.country")?;
    let postcode = location
        .postcode
        .map(validate::postcode)
        .transpose()?
        .flatten();
    let latitude = coordinates.latitude.map(validate::latitude).transpose()?;
    let longitude = coordinates.longitude.map(validate::longitude).transpose()?;
    let timezone_offset = text(timezone.offset, "location.timezone.offset")?;
    if let Some(offset) = &timezone_offset {
        validate::timezone_offset(offset)?;
    }
    let email = text(entry.email, "email")?;
    if let Some(email) = &email {
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
        title: text(name.title, "name.title")?,
        first_name: text(name.first, "name.first")?,
        last_name: text(name.last, "name.last")?,
        gender: text(entry.gender, "gender")?,
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
        timezone_offset,
        timezone_description: text(timezone.description, "location.timezone.description")?,
        email,
        username,
        dob: string(dob.date, "dob.date")?
            .map(|d| validate::timestamp("dob.date", &d))
            .transpose()?,
        registered: string(registered.date, "registered.date")?
            .map(|d| validate::timestamp("registered.date", &d))
            .transpose()?,
        phone: text(entry.phone, "phone")?,
        cell: text(entry.cell, "cell")?,
        // The API sends `"name": ""` (with a null value) where a country has no national id.
        id_name: text(id_card.name, "id.name")?.filter(|n| !n.trim().is_empty()),
        id_value: text(id_card.value, "id.value")?,
        picture_url: text(picture.large, "picture.large")?,
        nationality: text(entry.nat, "nat")?,
        produced_at: context.produced_at,
        source_url: context.url.to_owned(),
        source_seed: context.seed.to_owned(),
        source_page: context.page,
        source_index,
    };
    user.display_address = derive::display_address(&user);
    Ok(user)
}

/// The object `path`. An absent (or `null`) object reads as an empty one, whose fields are all
/// absent: that is how `inc`/`exc` requests that leave out whole blocks come out as null fields.
fn object<T: Default>(value: Option<Shape<T>>, path: &'static str) -> Result<T, RejectReason> {
    match value {
        None => Ok(T::default()),
        Some(Shape::Object(object)) => Ok(object),
        Some(Shape::Other(found)) => Err(RejectReason::WrongType {
            field: path,
            expected: "object",
            found,
        }),
    }
}

/// The string `path`; `None` when absent or `null`.
fn string<'a>(
    value: Option<Scalar<'a>>,
    path: &'static str,
) -> Result<Option<Cow<'a, str>>, RejectReason> {
    match value {
        None => Ok(None),
        Some(Scalar::String(s)) => Ok(Some(s)),
        Some(Scalar::Number(_)) => Err(wrong_string(path, JsonKind::Number)),
        Some(Scalar::Other(found)) => Err(wrong_string(path, found)),
    }
}

/// [`string`], owned for a [`User`] field.
fn text(value: Option<Scalar<'_>>, path: &'static str) -> Result<Option<String>, RejectReason> {
    Ok(string(value, path)?.map(Cow::into_owned))
}

fn wrong_string(path: &'static str, found: JsonKind) -> RejectReason {
    RejectReason::WrongType {
        field: path,
        expected: "string",
        found,
    }
}
