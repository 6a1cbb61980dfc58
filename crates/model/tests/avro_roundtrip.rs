//! Avro encoding of `User`: round trips, schema conformance and evolution.

mod common;

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::Value;
use apache_avro::Schema;
use common::{all_fixtures, parse_fixture};
use userstream_model::{
    decode_avro, decode_avro_with, encode_avro, user_schema, AvroError, User, USER_SCHEMA_JSON,
};

fn every_fixture_user() -> Vec<User> {
    all_fixtures()
        .iter()
        .filter_map(|name| parse_fixture(name).ok())
        .flat_map(|page| page.users().cloned().collect::<Vec<_>>())
        .collect()
}

#[test]
fn every_fixture_user_round_trips() {
    let users = every_fixture_user();
    assert!(users.len() >= 20, "{}", users.len());
    for user in users {
        let bytes = encode_avro(&user).expect("encodes");
        let back = decode_avro(&bytes).expect("decodes");
        assert_eq!(back, user);
    }
}

#[test]
fn value_validates_against_schema_in_field_order() {
    let user = every_fixture_user().remove(0);
    let value = user.to_avro_value();
    assert!(value.validate(user_schema()));
    let Value::Record(fields) = value else {
        panic!("record");
    };
    let Schema::Record(record) = user_schema() else {
        panic!("record schema");
    };
    let value_names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    let schema_names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(value_names, schema_names);
}

#[test]
fn all_null_optionals_round_trip() {
    let users = every_fixture_user();
    let sparse = users
        .iter()
        .find(|u| u.city.is_none() && u.picture_url.is_none())
        .expect("an inc= user");
    let bytes = encode_avro(sparse).expect("encodes");
    assert_eq!(&decode_avro(&bytes).expect("decodes"), sparse);
}

#[test]
fn known_bytes_for_a_minimal_user() {
    let mut user = every_fixture_user().remove(0);
    user.title = None;
    let bytes = encode_avro(&user).expect("encodes");
    // Field 1 is the 36-char id string: zig-zag length 72 then the text; field 2 (title) is the
    // null branch of its union: zig-zag 0.
    assert_eq!(bytes[0], 72);
    assert_eq!(&bytes[1..37], user.id.to_string().as_bytes());
    assert_eq!(bytes[37], 0);
}

#[test]
fn trailing_and_truncated_bytes_are_errors() {
    let user = every_fixture_user().remove(0);
    let mut bytes = encode_avro(&user).expect("encodes");
    let full = bytes.len();
    bytes.push(0);
    assert!(matches!(
        decode_avro(&bytes),
        Err(AvroError::TrailingBytes { count: 1 })
    ));
    assert!(matches!(
        decode_avro(&bytes[..full / 2]),
        Err(AvroError::Decode(_))
    ));
    assert!(decode_avro(&[]).is_err());
}

#[test]
fn max_int_source_page_round_trips() {
    // i32 fields mirror Avro int exactly; nothing to truncate.
    let mut user = every_fixture_user().remove(0);
    user.source_page = i32::MAX;
    user.source_index = 0;
    let back = decode_avro(&encode_avro(&user).expect("encodes")).expect("decodes");
    assert_eq!(back.source_page, i32::MAX);
}

/// A later schema version: one more nullable field with a default.
fn evolved_schema(extra_field: &str) -> Schema {
    let mut doc: serde_json::Value = serde_json::from_str(USER_SCHEMA_JSON).expect("json");
    let fields = doc["fields"].as_array_mut().expect("fields");
    fields.push(serde_json::from_str(extra_field).expect("field json"));
    Schema::parse(&doc).expect("valid schema")
}

#[test]
fn adding_a_nullable_field_is_backward_compatible() {
    let newer = evolved_schema(r#"{"name": "age", "type": ["null", "int"], "default": null}"#);
    // BACKWARD: the new schema (reader) reads data written with the current one (writer).
    SchemaCompatibility::can_read(user_schema(), &newer).expect("backward compatible");
    let breaking = evolved_schema(r#"{"name": "age", "type": "int"}"#);
    assert!(SchemaCompatibility::can_read(user_schema(), &breaking).is_err());
}

#[test]
fn decodes_data_written_by_a_newer_schema() {
    // A newer producer adds a field; this reader (the embedded schema) skips it.
    let newer = evolved_schema(r#"{"name": "age", "type": ["null", "int"], "default": null}"#);
    let user = every_fixture_user().remove(0);
    let Value::Record(mut fields) = user.to_avro_value() else {
        panic!("record");
    };
    fields.push(("age".to_owned(), Value::Union(1, Box::new(Value::Int(33)))));
    let bytes = apache_avro::to_avro_datum(&newer, Value::Record(fields)).expect("encodes");
    assert_eq!(decode_avro_with(&newer, &bytes).expect("resolves"), user);
}

#[test]
fn json_serde_round_trip() {
    let user = every_fixture_user().remove(0);
    let json = serde_json::to_string(&user).expect("json");
    assert_eq!(serde_json::from_str::<User>(&json).expect("parses"), user);
}
