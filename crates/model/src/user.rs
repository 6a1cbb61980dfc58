//! The normalized user record.

use apache_avro::types::Value;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One randomuser.me user, normalized, without login secrets. Mirrors `schema/user.avsc`
/// field for field; `None` is Avro `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// `login.uuid`: the record key.
    pub id: Uuid,
    /// `name.title`, e.g. "Mr", "Madame".
    pub title: Option<String>,
    /// `name.first`, in its original script.
    pub first_name: Option<String>,
    /// `name.last`, in its original script.
    pub last_name: Option<String>,
    /// `gender`.
    pub gender: Option<String>,
    /// `location.street.number`.
    pub street_number: Option<i32>,
    /// `location.street.name`.
    pub street_name: Option<String>,
    /// `location.city`.
    pub city: Option<String>,
    /// `location.state`.
    pub state: Option<String>,
    /// `location.country`.
    pub country: Option<String>,
    /// `location.postcode` as text (the API sends an int or a string).
    pub postcode: Option<String>,
    /// "number street, city, state postcode, country", missing parts left out.
    pub display_address: Option<String>,
    /// `location.coordinates.latitude`, degrees within -90..=90.
    pub latitude: Option<f64>,
    /// `location.coordinates.longitude`, degrees within -180..=180.
    pub longitude: Option<f64>,
    /// `location.timezone.offset` as sent, e.g. "+5:30".
    pub timezone_offset: Option<String>,
    /// `location.timezone.description`.
    pub timezone_description: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `login.username`.
    pub username: String,
    /// `dob.date`, millisecond precision.
    pub dob: Option<DateTime<Utc>>,
    /// `registered.date`, millisecond precision.
    pub registered: Option<DateTime<Utc>>,
    /// `phone`.
    pub phone: Option<String>,
    /// `cell`.
    pub cell: Option<String>,
    /// `id.name`; the API's empty string becomes `None`.
    pub id_name: Option<String>,
    /// `id.value`; often null in the API.
    pub id_value: Option<String>,
    /// `picture.large`.
    pub picture_url: Option<String>,
    /// `nat`, e.g. "US".
    pub nationality: Option<String>,
    /// When the producer parsed the record, millisecond precision.
    pub produced_at: DateTime<Utc>,
    /// The request URL the record came from.
    pub source_url: String,
    /// The seed of the response (`info.seed`, else the request's).
    pub source_seed: String,
    /// The page requested (Avro `int`).
    pub source_page: i32,
    /// Index within `results[]` (Avro `int`).
    pub source_index: i32,
}

impl User {
    /// This user as an Avro value of `schema/user.avsc` (fields in schema order; nullable
    /// fields as unions with `null` first).
    pub fn to_avro_value(&self) -> Value {
        Value::Record(vec![
            field("id", Value::String(self.id.to_string())),
            field("title", opt_string(&self.title)),
            field("first_name", opt_string(&self.first_name)),
            field("last_name", opt_string(&self.last_name)),
            field("gender", opt_string(&self.gender)),
            field(
                "street_number",
                nullable(self.street_number.map(Value::Int)),
            ),
            field("street_name", opt_string(&self.street_name)),
            field("city", opt_string(&self.city)),
            field("state", opt_string(&self.state)),
            field("country", opt_string(&self.country)),
            field("postcode", opt_string(&self.postcode)),
            field("display_address", opt_string(&self.display_address)),
            field("latitude", nullable(self.latitude.map(Value::Double))),
            field("longitude", nullable(self.longitude.map(Value::Double))),
            field("timezone_offset", opt_string(&self.timezone_offset)),
            field(
                "timezone_description",
                opt_string(&self.timezone_description),
            ),
            field("email", opt_string(&self.email)),
            field("username", Value::String(self.username.clone())),
            field("dob", nullable(self.dob.map(millis))),
            field("registered", nullable(self.registered.map(millis))),
            field("phone", opt_string(&self.phone)),
            field("cell", opt_string(&self.cell)),
            field("id_name", opt_string(&self.id_name)),
            field("id_value", opt_string(&self.id_value)),
            field("picture_url", opt_string(&self.picture_url)),
            field("nationality", opt_string(&self.nationality)),
            field("produced_at", millis(self.produced_at)),
            field("source_url", Value::String(self.source_url.clone())),
            field("source_seed", Value::String(self.source_seed.clone())),
            field("source_page", Value::Int(self.source_page)),
            field("source_index", Value::Int(self.source_index)),
        ])
    }
}

fn field(name: &str, value: Value) -> (String, Value) {
    (name.to_owned(), value)
}

fn millis(at: DateTime<Utc>) -> Value {
    Value::TimestampMillis(at.timestamp_millis())
}

/// `["null", T]`: branch 0 is null, branch 1 the value.
fn nullable(value: Option<Value>) -> Value {
    match value {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    }
}

fn opt_string(value: &Option<String>) -> Value {
    nullable(value.clone().map(Value::String))
}
