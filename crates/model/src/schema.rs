//! The embedded Avro schema of [`crate::User`].

use std::sync::OnceLock;

use apache_avro::Schema;

/// The `User` Avro schema (`schema/user.avsc`), exactly as registered with the schema registry.
pub const USER_SCHEMA_JSON: &str = include_str!("../schema/user.avsc");

/// Full name of the record in [`USER_SCHEMA_JSON`].
pub const USER_SCHEMA_NAME: &str = "dev.userstream.User";

/// The parsed [`USER_SCHEMA_JSON`], parsed once.
pub fn user_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The file is embedded at compile time and parsed by the tests, so a failure here is a
        // bug in the build, not a runtime condition.
        Schema::parse_str(USER_SCHEMA_JSON).expect("schema/user.avsc is a valid Avro schema")
    })
}

/// A new version of the user schema, as another team would register it: [`USER_SCHEMA_JSON`]
/// plus one optional string field `extra_field` (default null) at the end. BACKWARD
/// compatible, and cheap to write: see [`evolved_datum`]. Used by the tests and `chaos`.
pub fn evolved_schema_json(extra_field: &str) -> String {
    let mut schema: serde_json::Value =
        serde_json::from_str(USER_SCHEMA_JSON).expect("schema/user.avsc is valid JSON");
    if let Some(fields) = schema.get_mut("fields").and_then(|f| f.as_array_mut()) {
        fields.push(serde_json::json!({
            "name": extra_field,
            "type": ["null", "string"],
            "default": null
        }));
    }
    schema.to_string()
}

/// The datum of [`evolved_schema_json`] for a user whose [`USER_SCHEMA_JSON`] datum is `v1`:
/// the same bytes and the new field's union branch 0 (null), one zero byte.
pub fn evolved_datum(v1: &[u8]) -> Vec<u8> {
    let mut datum = Vec::with_capacity(v1.len() + 1);
    datum.extend_from_slice(v1);
    datum.push(0);
    datum
}

/// A Confluent-framed record of `user` under the evolved schema registered as `schema_id`:
/// magic byte 0, the id (big-endian), then [`evolved_datum`].
pub fn evolved_framed(schema_id: u32, user: &crate::User) -> Result<Vec<u8>, crate::AvroError> {
    let mut framed = vec![0u8];
    framed.extend_from_slice(&schema_id.to_be_bytes());
    framed.extend(evolved_datum(&crate::encode_avro(user)?));
    Ok(framed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evolved_datum_decodes_under_the_evolved_schema() {
        let user: crate::User = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::nil(),
            "username": "u",
            "produced_at": "1970-01-01T00:00:00Z",
            "source_url": "http://x",
            "source_seed": "s",
            "source_page": 1,
            "source_index": 0
        }))
        .expect("a user");
        let v1 = crate::encode_avro(&user).expect("encodes");
        let evolved = Schema::parse_str(&evolved_schema_json("nickname")).expect("parses");
        let value =
            apache_avro::from_avro_datum(&evolved, &mut evolved_datum(&v1).as_slice(), None)
                .expect("decodes");
        let apache_avro::types::Value::Record(fields) = value else {
            panic!("not a record");
        };
        assert_eq!(fields.last().map(|(n, _)| n.as_str()), Some("nickname"));
        assert_eq!(fields.len(), crate::record::record_columns().count() + 1);
    }

    #[test]
    fn schema_parses_as_named_record() {
        match user_schema() {
            Schema::Record(record) => {
                assert_eq!(record.name.fullname(None), USER_SCHEMA_NAME);
                // Every declared record field (`record.rs` checks them one by one).
                assert_eq!(record.fields.len(), crate::record::record_columns().count());
            }
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn only_key_username_and_source_fields_are_required() {
        let Schema::Record(record) = user_schema() else {
            panic!("expected a record");
        };
        let required: Vec<&str> = record
            .fields
            .iter()
            .filter(|f| !matches!(f.schema, Schema::Union(_)))
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            required,
            [
                "id",
                "username",
                "produced_at",
                "source_url",
                "source_seed",
                "source_page",
                "source_index"
            ]
        );
        for field in &record.fields {
            if let Schema::Union(union) = &field.schema {
                assert!(
                    matches!(union.variants().first(), Some(Schema::Null)),
                    "{}: null must be the first branch",
                    field.name
                );
                assert_eq!(
                    field.default,
                    Some(serde_json::Value::Null),
                    "{}: nullable fields default to null",
                    field.name
                );
            }
        }
    }
}
