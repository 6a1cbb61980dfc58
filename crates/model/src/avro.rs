//! Avro binary encoding of [`User`] (a bare datum: no container header, no framing).

use std::collections::HashMap;
use std::io::Cursor;

use apache_avro::types::Value;
use apache_avro::Schema;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::schema::user_schema;
use crate::user::User;

/// Failure to encode or decode a [`User`] as Avro.
#[derive(Debug, thiserror::Error)]
pub enum AvroError {
    /// The value did not validate against the schema or could not be written.
    #[error("encoding user {id} as Avro")]
    Encode {
        /// The user's key.
        id: Uuid,
        /// What the Avro library said.
        #[source]
        source: apache_avro::Error,
    },
    /// The bytes are not a datum of the writer schema, or it cannot be resolved to `User`.
    #[error("decoding an Avro user datum")]
    Decode(#[source] apache_avro::Error),
    /// Bytes were left over after the record: the payload is corrupt or framed wrongly.
    #[error("Avro user datum has {count} trailing bytes after the record")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
    /// The decoded value does not have the shape of `User`.
    #[error("decoded Avro value does not fit User: field {field}: {problem}")]
    Shape {
        /// The Avro field name.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// Encodes `user` as an Avro binary datum of [`user_schema`].
pub fn encode_avro(user: &User) -> Result<Vec<u8>, AvroError> {
    apache_avro::to_avro_datum(user_schema(), user.to_avro_value()).map_err(|source| {
        AvroError::Encode {
            id: user.id,
            source,
        }
    })
}

/// Decodes an Avro binary datum written with [`user_schema`] itself.
pub fn decode_avro(bytes: &[u8]) -> Result<User, AvroError> {
    decode(user_schema(), None, bytes)
}

/// Decodes an Avro binary datum written with `writer_schema` (for instance an older or newer
/// version fetched from the schema registry), resolving it to [`user_schema`] by Avro's
/// schema-resolution rules.
pub fn decode_avro_with(writer_schema: &Schema, bytes: &[u8]) -> Result<User, AvroError> {
    decode(writer_schema, Some(user_schema()), bytes)
}

fn decode(writer: &Schema, reader: Option<&Schema>, bytes: &[u8]) -> Result<User, AvroError> {
    let mut cursor = Cursor::new(bytes);
    let value =
        apache_avro::from_avro_datum(writer, &mut cursor, reader).map_err(AvroError::Decode)?;
    let read = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    if read < bytes.len() {
        return Err(AvroError::TrailingBytes {
            count: bytes.len() - read,
        });
    }
    User::from_avro_value(value)
}

impl User {
    /// Builds a `User` from an Avro record value of (a schema resolved to) [`user_schema`].
    pub fn from_avro_value(value: Value) -> Result<Self, AvroError> {
        let Value::Record(fields) = value else {
            return Err(shape(
                "<record>",
                format!("expected a record, got {value:?}"),
            ));
        };
        let mut f = Fields(fields.into_iter().collect());
        Ok(Self {
            id: f.uuid("id")?,
            title: f.opt_string("title")?,
            first_name: f.opt_string("first_name")?,
            last_name: f.opt_string("last_name")?,
            gender: f.opt_string("gender")?,
            street_number: f.opt("street_number", int)?,
            street_name: f.opt_string("street_name")?,
            city: f.opt_string("city")?,
            state: f.opt_string("state")?,
            country: f.opt_string("country")?,
            postcode: f.opt_string("postcode")?,
            display_address: f.opt_string("display_address")?,
            latitude: f.opt("latitude", double)?,
            longitude: f.opt("longitude", double)?,
            timezone_offset: f.opt_string("timezone_offset")?,
            timezone_description: f.opt_string("timezone_description")?,
            email: f.opt_string("email")?,
            username: f.req("username", string)?,
            dob: f.opt("dob", timestamp)?,
            registered: f.opt("registered", timestamp)?,
            phone: f.opt_string("phone")?,
            cell: f.opt_string("cell")?,
            id_name: f.opt_string("id_name")?,
            id_value: f.opt_string("id_value")?,
            picture_url: f.opt_string("picture_url")?,
            nationality: f.opt_string("nationality")?,
            produced_at: f.req("produced_at", timestamp)?,
            source_url: f.req("source_url", string)?,
            source_seed: f.req("source_seed", string)?,
            source_page: f.req("source_page", int)?,
            source_index: f.req("source_index", int)?,
        })
    }
}

fn shape(field: &str, problem: String) -> AvroError {
    AvroError::Shape {
        field: field.to_owned(),
        problem,
    }
}

/// The fields of a decoded record, taken out one by one.
struct Fields(HashMap<String, Value>);

/// Converts one non-null Avro value; `Err` holds the problem.
type Convert<T> = fn(Value) -> Result<T, String>;

impl Fields {
    fn take(&mut self, name: &str) -> Result<Value, AvroError> {
        let value = self
            .0
            .remove(name)
            .ok_or_else(|| shape(name, "missing".to_owned()))?;
        Ok(match value {
            Value::Union(_, inner) => *inner,
            other => other,
        })
    }

    fn req<T>(&mut self, name: &str, convert: Convert<T>) -> Result<T, AvroError> {
        convert(self.take(name)?).map_err(|problem| shape(name, problem))
    }

    fn opt<T>(&mut self, name: &str, convert: Convert<T>) -> Result<Option<T>, AvroError> {
        match self.take(name)? {
            Value::Null => Ok(None),
            other => convert(other).map(Some).map_err(|p| shape(name, p)),
        }
    }

    fn opt_string(&mut self, name: &str) -> Result<Option<String>, AvroError> {
        self.opt(name, string)
    }

    fn uuid(&mut self, name: &str) -> Result<Uuid, AvroError> {
        match self.take(name)? {
            Value::Uuid(id) => Ok(id),
            Value::String(s) => {
                Uuid::parse_str(&s).map_err(|e| shape(name, format!("{s:?} is not a UUID: {e}")))
            }
            other => Err(shape(name, format!("expected a string, got {other:?}"))),
        }
    }
}

fn string(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(format!("expected a string, got {other:?}")),
    }
}

fn int(value: Value) -> Result<i32, String> {
    match value {
        Value::Int(i) => Ok(i),
        other => Err(format!("expected an int, got {other:?}")),
    }
}

fn double(value: Value) -> Result<f64, String> {
    match value {
        Value::Double(d) => Ok(d),
        Value::Float(f) => Ok(f64::from(f)),
        other => Err(format!("expected a double, got {other:?}")),
    }
}

fn timestamp(value: Value) -> Result<DateTime<Utc>, String> {
    match value {
        Value::TimestampMillis(ms) | Value::Long(ms) => DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| format!("{ms} ms is outside the supported date range")),
        other => Err(format!("expected timestamp-millis, got {other:?}")),
    }
}
