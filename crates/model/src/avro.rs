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

fn shape(field: &str, problem: String) -> AvroError {
    AvroError::Shape {
        field: field.to_owned(),
        problem,
    }
}

/// The fields of a decoded record, taken out one by one.
pub(crate) struct Fields(HashMap<String, Value>);

impl Fields {
    /// The fields of `value`, which must be a record.
    pub(crate) fn of(value: Value) -> Result<Self, AvroError> {
        match value {
            Value::Record(fields) => Ok(Self(fields.into_iter().collect())),
            other => Err(shape(
                "<record>",
                format!("expected a record, got {other:?}"),
            )),
        }
    }

    /// The field `name`, converted to its Rust type.
    pub(crate) fn take<T: AvroField>(&mut self, name: &str) -> Result<T, AvroError> {
        let value = self
            .0
            .remove(name)
            .ok_or_else(|| shape(name, "missing".to_owned()))?;
        T::from_avro(value).map_err(|problem| shape(name, problem))
    }
}

/// The Rust type of a record field, to and from Avro: the value tree and, for the
/// producer's fast path, the binary encoding.
pub(crate) trait AvroField: Sized {
    /// As an Avro value of the field's schema.
    fn to_avro(&self) -> Value;
    /// From a decoded Avro value; `Err` says what is wrong with it.
    fn from_avro(value: Value) -> Result<Self, String>;
    /// Appends the Avro binary encoding.
    fn write_avro(&self, out: &mut Vec<u8>);
}

/// A required field may still arrive as a union when the writer schema had one.
fn unwrap_union(value: Value) -> Value {
    match value {
        Value::Union(_, inner) => *inner,
        other => other,
    }
}

impl AvroField for Uuid {
    fn to_avro(&self) -> Value {
        Value::String(self.to_string())
    }
    fn from_avro(value: Value) -> Result<Self, String> {
        match unwrap_union(value) {
            Value::Uuid(id) => Ok(id),
            Value::String(s) => {
                Uuid::parse_str(&s).map_err(|e| format!("{s:?} is not a UUID: {e}"))
            }
            other => Err(format!("expected a string, got {other:?}")),
        }
    }
    fn write_avro(&self, out: &mut Vec<u8>) {
        let mut buffer = Uuid::encode_buffer();
        write_str(out, self.hyphenated().encode_lower(&mut buffer));
    }
}

impl AvroField for String {
    fn to_avro(&self) -> Value {
        Value::String(self.clone())
    }
    fn from_avro(value: Value) -> Result<Self, String> {
        match unwrap_union(value) {
            Value::String(s) => Ok(s),
            other => Err(format!("expected a string, got {other:?}")),
        }
    }
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_str(out, self);
    }
}

impl AvroField for i32 {
    fn to_avro(&self) -> Value {
        Value::Int(*self)
    }
    fn from_avro(value: Value) -> Result<Self, String> {
        match unwrap_union(value) {
            Value::Int(i) => Ok(i),
            other => Err(format!("expected an int, got {other:?}")),
        }
    }
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, i64::from(*self));
    }
}

impl AvroField for i64 {
    fn to_avro(&self) -> Value {
        Value::Long(*self)
    }
    fn from_avro(value: Value) -> Result<Self, String> {
        match unwrap_union(value) {
            Value::Long(i) => Ok(i),
            Value::Int(i) => Ok(i64::from(i)),
            other => Err(format!("expected a long, got {other:?}")),
        }
    }
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, *self);
    }
}

impl AvroField for f64 {
    fn to_avro(&self) -> Value {
        Value::Double(*self)
    }
    fn from_avro(value: Value) -> Result<Self, String> {
        match unwrap_union(value) {
            Value::Double(d) => Ok(d),
            Value::Float(f) => Ok(f64::from(f)),
            other => Err(format!("expected a double, got {other:?}")),
        }
    }
    fn write_avro(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl AvroField for DateTime<Utc> {
    fn to_avro(&self) -> Value {
        Value::TimestampMillis(self.timestamp_millis())
    }
    fn from_avro(value: Value) -> Result<Self, String> {
        match unwrap_union(value) {
            Value::TimestampMillis(ms) | Value::Long(ms) => DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| format!("{ms} ms is outside the supported date range")),
            other => Err(format!("expected timestamp-millis, got {other:?}")),
        }
    }
    fn write_avro(&self, out: &mut Vec<u8>) {
        write_long(out, self.timestamp_millis());
    }
}

/// `["null", T]`: branch 0 is null, branch 1 the value.
impl<T: AvroField> AvroField for Option<T> {
    fn to_avro(&self) -> Value {
        match self {
            None => Value::Union(0, Box::new(Value::Null)),
            Some(v) => Value::Union(1, Box::new(v.to_avro())),
        }
    }
    fn from_avro(value: Value) -> Result<Self, String> {
        match unwrap_union(value) {
            Value::Null => Ok(None),
            other => T::from_avro(other).map(Some),
        }
    }
    fn write_avro(&self, out: &mut Vec<u8>) {
        match self {
            // The union branch index, zig-zag encoded: 0 → 0, 1 → 2.
            None => out.push(0),
            Some(v) => {
                out.push(2);
                v.write_avro(out);
            }
        }
    }
}

/// Zig-zag variable-length `long` (also `int`).
fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Length-prefixed UTF-8.
fn write_str(out: &mut Vec<u8>, s: &str) {
    write_long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zig_zag_longs() {
        let encode = |v: i64| {
            let mut out = Vec::new();
            write_long(&mut out, v);
            out
        };
        assert_eq!(encode(0), [0]);
        assert_eq!(encode(-1), [1]);
        assert_eq!(encode(1), [2]);
        assert_eq!(encode(-64), [0x7f]);
        assert_eq!(encode(64), [0x80, 0x01]);
        assert_eq!(encode(i64::MIN).len(), 10);
    }
}
