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

#[cfg(test)]
mod tests {
    use super::*;

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
