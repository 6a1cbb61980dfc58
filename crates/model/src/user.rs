//! The normalized user record, generated from the declaration in [`crate::record`].

use apache_avro::types::Value;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::avro::{AvroError, AvroField, Fields};
use crate::record::{Cell, ToCell};

/// The Rust type of a record field of `Kind` `$kind`.
macro_rules! kind_type {
    (Uuid) => { Uuid };
    (Text) => { String };
    (Int) => { i32 };
    (Long) => { i64 };
    (Double) => { f64 };
    (Timestamp) => { DateTime<Utc> };
}

/// `None` is Avro `null`.
macro_rules! field_type {
    (required $kind:ident) => { kind_type!($kind) };
    (nullable $kind:ident) => { Option<kind_type!($kind)> };
}

macro_rules! define_user {
    (
        record { $( $(#[doc = $doc:literal])* $name:ident : $presence:ident $kind:ident , $how:ident $($what:ident)? ; )* }
        job { $($job:tt)* }
    ) => {
        /// One randomuser.me user, normalized, without login secrets: the fields of
        /// `schema/user.avsc`, in its order (both come from [`crate::user_record!`]).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct User {
            $(
                $(#[doc = $doc])*
                pub $name: field_type!($presence $kind),
            )*
        }

        impl User {
            /// This user as an Avro value of `schema/user.avsc` (fields in schema order;
            /// nullable fields as unions with `null` first).
            pub fn to_avro_value(&self) -> Value {
                Value::Record(vec![
                    $((stringify!($name).to_owned(), self.$name.to_avro()),)*
                ])
            }

            /// Builds a `User` from an Avro record value of (a schema resolved to)
            /// [`crate::user_schema`].
            pub fn from_avro_value(value: Value) -> Result<Self, AvroError> {
                let mut fields = Fields::of(value)?;
                Ok(Self {
                    $($name: fields.take(stringify!($name))?,)*
                })
            }

            /// Appends this user's Avro binary datum: the bytes [`crate::encode_avro`]
            /// writes, without building a value tree or validating it (the fast path of
            /// the producer, which checks once that both agree).
            pub fn write_avro(&self, out: &mut Vec<u8>) {
                $(self.$name.write_avro(out);)*
            }

            /// The record's fields as cells, in [`crate::record::COLUMNS`] order (the
            /// record's columns come first there).
            pub fn record_cells(&self) -> Vec<Cell> {
                vec![$(self.$name.to_cell(),)*]
            }
        }
    };
}

crate::user_record!(define_user);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::record_columns;

    #[test]
    fn fields_follow_the_declaration() {
        let user: User = serde_json::from_value(serde_json::json!({
            "id": "8a7c6b5e-0000-4000-8000-000000000001",
            "title": null, "first_name": null, "last_name": null, "gender": null,
            "street_number": null, "street_name": null, "city": null, "state": null,
            "country": null, "postcode": null, "display_address": null, "latitude": null,
            "longitude": null, "timezone_offset": null, "timezone_description": null,
            "email": null, "username": "u", "dob": null, "registered": null, "phone": null,
            "cell": null, "id_name": null, "id_value": null, "picture_url": null,
            "nationality": null, "produced_at": "2024-01-01T00:00:00Z",
            "source_url": "http://x", "source_seed": "s", "source_page": 1, "source_index": 2
        }))
        .expect("a user");
        let Value::Record(fields) = user.to_avro_value() else {
            panic!("a record");
        };
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let declared: Vec<&str> = record_columns().map(|c| c.name).collect();
        assert_eq!(names, declared);
        assert_eq!(user.record_cells().len(), declared.len());
        assert_eq!(user.record_cells()[17], Cell::Text("u".into()));
    }
}
