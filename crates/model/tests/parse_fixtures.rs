//! `parse_page` against randomuser.me-shaped responses.

mod common;

use common::{fixture, parse_fixture, produced_at, source};
use serde_json::json;
use userstream_model::{parse_page, JsonKind, PageError, RejectReason, User};
use uuid::Uuid;

fn users(name: &str) -> Vec<User> {
    let page = parse_fixture(name).expect("page parses");
    let rejected: Vec<String> = page.rejected().map(ToString::to_string).collect();
    assert!(
        rejected.is_empty(),
        "{name}: unexpected rejects {rejected:?}"
    );
    page.users().cloned().collect()
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).expect("test uuid")
}

#[test]
fn multi_nationality_page_all_accepted() {
    let page = parse_fixture("multi_nat.json").expect("parses");
    let info = page.info.clone().expect("info");
    assert_eq!(info.seed.as_deref(), Some("56d27f4a53bd5441"));
    assert_eq!(info.results, Some(13));
    assert_eq!(info.version.as_deref(), Some("1.4"));
    let users = users("multi_nat.json");
    let nats: Vec<&str> = users
        .iter()
        .filter_map(|u| u.nationality.as_deref())
        .collect();
    assert_eq!(
        nats,
        ["US", "GB", "DE", "FR", "IR", "UA", "IN", "BR", "NL", "CH", "CA", "NO", "AU"]
    );
    for (index, user) in users.iter().enumerate() {
        assert_eq!(user.source_index, i32::try_from(index).expect("small"));
        assert_eq!(user.source_page, 7, "page comes from the request");
        assert_eq!(user.source_seed, "56d27f4a53bd5441", "info.seed overrides");
        assert_eq!(user.source_url, source("request-seed", 7).url);
        assert_eq!(user.produced_at.timestamp_millis(), 1_717_000_000_123);
        assert!(user.dob.is_some() && user.registered.is_some());
        assert!(user
            .picture_url
            .as_deref()
            .is_some_and(|p| p.ends_with(".jpg")));
        assert!(user.display_address.is_some());
    }
}

#[test]
fn us_user_fields_in_full() {
    let user = users("multi_nat.json").remove(0);
    assert_eq!(user.id, uuid("7a0eed16-9430-4d68-901f-c0d4c1c3bf00"));
    assert_eq!(user.title.as_deref(), Some("Miss"));
    assert_eq!(user.first_name.as_deref(), Some("Jennie"));
    assert_eq!(user.last_name.as_deref(), Some("Nichols"));
    assert_eq!(user.gender.as_deref(), Some("female"));
    assert_eq!(user.street_number, Some(8929));
    assert_eq!(user.street_name.as_deref(), Some("Valwood Pkwy"));
    assert_eq!(
        user.postcode.as_deref(),
        Some("63104"),
        "int postcode as text"
    );
    assert_eq!(
        user.display_address.as_deref(),
        Some("8929 Valwood Pkwy, Billings, Michigan 63104, United States")
    );
    assert_eq!(user.latitude, Some(-69.8246));
    assert_eq!(user.longitude, Some(134.8719));
    assert_eq!(user.timezone_offset.as_deref(), Some("+9:30"));
    assert_eq!(
        user.timezone_description.as_deref(),
        Some("Adelaide, Darwin")
    );
    assert_eq!(user.email.as_deref(), Some("jennie.nichols@example.com"));
    assert_eq!(user.username, "yellowpeacock117");
    assert_eq!(
        user.dob.map(|d| d.to_rfc3339()),
        Some("1992-03-08T15:13:16.688+00:00".to_owned())
    );
    assert_eq!(user.phone.as_deref(), Some("(272) 790-0888"));
    assert_eq!(user.id_name.as_deref(), Some("SSN"));
    assert_eq!(user.id_value.as_deref(), Some("405-88-3636"));
    assert_eq!(
        user.picture_url.as_deref(),
        Some("https://randomuser.me/api/portraits/women/75.jpg")
    );
}

#[test]
fn non_latin_names_kept_as_sent() {
    let users = users("multi_nat.json");
    let by_nat = |nat: &str| {
        users
            .iter()
            .find(|u| u.nationality.as_deref() == Some(nat))
            .expect(nat)
    };
    let ir = by_nat("IR");
    assert_eq!(ir.first_name.as_deref(), Some("آرمین"));
    assert_eq!(ir.last_name.as_deref(), Some("کریمی"));
    assert_eq!(ir.city.as_deref(), Some("کرج"));
    assert_eq!(ir.id_name, None, "empty id.name becomes null");
    assert_eq!(ir.id_value, None);
    let ua = by_nat("UA");
    assert_eq!(ua.first_name.as_deref(), Some("Богодар"));
    assert_eq!(ua.last_name.as_deref(), Some("Вакуленко"));
    assert_eq!(ua.phone.as_deref(), Some("(068) T10-9025"));
    let de = by_nat("DE");
    assert_eq!(de.last_name.as_deref(), Some("Schäfer"));
    assert_eq!(de.street_name.as_deref(), Some("Kirchstraße"));
    let ch = by_nat("CH");
    assert_eq!(ch.title.as_deref(), Some("Monsieur"));
    assert_eq!(ch.timezone_offset.as_deref(), Some("+5:45"));
    assert_eq!(by_nat("NL").postcode.as_deref(), Some("9125 TM"));
    assert_eq!(by_nat("NO").postcode.as_deref(), Some("0154"));
    assert_eq!(by_nat("NO").timezone_offset.as_deref(), Some("0:00"));
    assert_eq!(by_nat("CA").postcode.as_deref(), Some("T2H 6L9"));
    assert_eq!(by_nat("FR").id_value.as_deref(), Some("1NNaN51125374 11"));
}

#[test]
fn quirky_values_accepted_and_normalized() {
    let page = parse_fixture("quirks.json").expect("parses");
    assert_eq!(page.info.as_ref().and_then(|i| i.page), Some(2));
    let users = users("quirks.json");
    assert_eq!(users.len(), 5);

    let au = &users[0];
    assert_eq!(
        au.postcode.as_deref(),
        Some("-4873"),
        "negative int postcode"
    );
    assert_eq!(au.latitude, Some(-31.9523), "numeric coordinates");
    assert_eq!(au.longitude, Some(115.8613));
    assert_eq!(au.id, uuid("a1b2c3d4-e5f6-4a7b-8c9d-e0f1a2b3c4d5"));
    assert_eq!(au.id_name.as_deref(), Some("TFN"));
    assert_eq!(au.id_value, None, "id.value null");

    let india = &users[1];
    assert_eq!(india.first_name.as_deref(), Some("आदित्य"));
    assert_eq!(india.last_name.as_deref(), Some("शर्मा"));
    assert_eq!(india.username, "आदित्य42");
    assert_eq!(india.street_number, Some(42), "street number as string");
    assert_eq!(india.postcode.as_deref(), Some("221001"));
    assert_eq!(
        india.display_address.as_deref(),
        Some("42 महात्मा गांधी मार्ग, वाराणसी, उत्तर प्रदेश 221001, India")
    );
    assert_eq!(
        india.registered.map(|d| d.to_rfc3339()),
        Some("2022-12-31T18:29:59.500+00:00".to_owned()),
        "offset dates are converted to UTC"
    );

    let ir = &users[2];
    assert_eq!(ir.postcode.as_deref(), Some("0"));
    assert_eq!(ir.latitude, Some(90.0));
    assert_eq!(ir.longitude, Some(-180.0));
    assert_eq!(ir.timezone_offset.as_deref(), Some("-12:00"));
    assert_eq!(ir.email.as_deref(), Some("مریم.رستمی@example.com"));
    assert_eq!(ir.dob.map(|d| d.timestamp_millis()), Some(0));

    let de = &users[3];
    assert_eq!(
        de.id,
        uuid("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"),
        "braced uuid"
    );
    assert_eq!(de.timezone_offset.as_deref(), Some("+14:00"));

    let gb = &users[4];
    assert_eq!(gb.city.as_deref(), Some("York"));
    assert_eq!(gb.state.as_deref(), Some(""), "strings kept as sent");
    assert_eq!(
        gb.display_address.as_deref(),
        Some("12 High St, York, YO1 7HH, United Kingdom"),
        "blank state left out"
    );
    assert_eq!((gb.latitude, gb.longitude), (None, None));
    assert_eq!(gb.timezone_offset, None);
    assert_eq!(
        (gb.id_name.as_deref(), gb.id_value.as_deref()),
        (None, None),
        "id: null"
    );
    assert_eq!(gb.picture_url, None, "picture: null");
}

#[test]
fn inc_subset_gives_null_fields() {
    let users = users("inc_login_name_nat.json");
    assert_eq!(users.len(), 2);
    let ua = &users[1];
    assert_eq!(ua.first_name.as_deref(), Some("Олеся"));
    assert_eq!(ua.nationality.as_deref(), Some("UA"));
    assert_eq!(ua.username, "redbear902");
    for user in &users {
        assert_eq!(user.gender, None);
        assert_eq!(user.street_number, None);
        assert_eq!(user.city, None);
        assert_eq!(user.postcode, None);
        assert_eq!(user.display_address, None);
        assert_eq!(user.latitude, None);
        assert_eq!(user.timezone_offset, None);
        assert_eq!(user.email, None);
        assert_eq!(user.dob, None);
        assert_eq!(user.registered, None);
        assert_eq!(user.phone, None);
        assert_eq!(user.id_name, None);
        assert_eq!(user.id_value, None);
        assert_eq!(user.picture_url, None);
    }
}

#[test]
fn exc_blocks_give_null_fields() {
    let users = users("exc_location_picture_id.json");
    assert_eq!(users.len(), 2);
    let gb = &users[1];
    assert_eq!(gb.first_name.as_deref(), Some("Harvey"));
    assert_eq!(gb.email.as_deref(), Some("harvey.smith@example.com"));
    assert_eq!(gb.phone.as_deref(), Some("016973 34521"));
    assert_eq!(gb.nationality.as_deref(), Some("GB"));
    assert_eq!(gb.city, None);
    assert_eq!(gb.display_address, None);
    assert_eq!(gb.picture_url, None);
    assert_eq!(gb.id_name, None);
    assert_eq!(gb.dob, None);
}

#[test]
fn exc_login_rejects_every_record_for_missing_key() {
    let page = parse_fixture("exc_login.json").expect("parses");
    assert_eq!(page.users().count(), 0);
    let rejected: Vec<_> = page.rejected().collect();
    assert_eq!(rejected.len(), 3);
    for (i, r) in rejected.iter().enumerate() {
        assert_eq!(r.index, i);
        assert_eq!(r.reason, RejectReason::MissingKey);
        assert!(r.to_string().contains("login.uuid missing"), "{r}");
        assert_eq!(r.key(), None);
    }
}

#[test]
fn each_fault_rejected_with_a_precise_reason() {
    let page = parse_fixture("rejects.json").expect("parses");
    assert_eq!(page.records.len(), 18);
    assert_eq!(page.users().count(), 1, "only entry 0 is good");
    assert!(page.records[0].is_ok());
    let expected: [(usize, &str, &str); 17] = [
        (1, "missing_key", "login.uuid missing: it is the record key"),
        (
            2,
            "invalid_uuid",
            "login.uuid \"not-a-uuid\" is not a valid UUID: ",
        ),
        (
            3,
            "invalid_timestamp",
            "dob.date \"yesterday\" is not an RFC 3339 timestamp: ",
        ),
        (
            4,
            "out_of_range",
            "location.coordinates.latitude 123.4567 is out of range: must be within -90..=90",
        ),
        (
            5,
            "not_a_number",
            "location.coordinates.longitude \"east\" is not a finite number",
        ),
        (
            6,
            "not_an_object",
            "results[] entry is not a JSON object (found string)",
        ),
        (
            7,
            "not_an_object",
            "results[] entry is not a JSON object (found null)",
        ),
        (
            8,
            "not_an_object",
            "results[] entry is not a JSON object (found array)",
        ),
        (
            9,
            "wrong_type",
            "name.first has the wrong type: expected string, found number",
        ),
        (
            10,
            "invalid_timezone_offset",
            "location.timezone.offset \"+25:00\" is not a UTC offset",
        ),
        (
            11,
            "missing_field",
            "login.username missing: it is required",
        ),
        (
            12,
            "not_an_integer",
            "location.postcode 12.5 is not an integer",
        ),
        (
            13,
            "invalid_email",
            "email \"jennie.nichols.example.com\" is not an address: it has no '@'",
        ),
        (
            14,
            "wrong_type",
            "location has the wrong type: expected object, found string",
        ),
        (
            15,
            "wrong_type",
            "login.uuid has the wrong type: expected string, found number",
        ),
        (
            16,
            "missing_key",
            "login.uuid missing: it is the record key",
        ),
        (
            17,
            "invalid_timestamp",
            "registered.date \"2007-02-30T05:51:59.390Z\" is not an RFC 3339 timestamp: ",
        ),
    ];
    for (index, code, message) in expected {
        let rejected = page.records[index]
            .as_ref()
            .expect_err(&format!("entry {index} must be rejected"));
        assert_eq!(rejected.index, index);
        assert_eq!(rejected.reason.code(), code, "entry {index}: {rejected}");
        let text = rejected.reason.to_string();
        assert!(
            text.starts_with(message),
            "entry {index}: {text:?} should start with {message:?}"
        );
    }
    let not_object = page.records[6].as_ref().expect_err("rejected");
    assert_eq!(not_object.raw, json!("oops"), "raw entry kept as sent");
    assert_eq!(
        not_object.reason,
        RejectReason::NotAnObject {
            found: JsonKind::String
        }
    );
    let bad_uuid = page.records[2].as_ref().expect_err("rejected");
    assert_eq!(bad_uuid.key(), Some("not-a-uuid"));
    assert_eq!(bad_uuid.raw["name"]["first"], json!("Jennie"));
}

#[test]
fn empty_results_is_an_empty_page() {
    let page = parse_fixture("empty_results.json").expect("empty is not an error");
    assert!(page.is_empty());
    assert_eq!(page.info.and_then(|i| i.results), Some(0));
}

#[test]
fn api_error_body_carries_the_message() {
    let err = parse_fixture("error.json").expect_err("error body");
    match &err {
        PageError::Api { message } => {
            assert!(message.starts_with("Uh oh, something has gone wrong"))
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("randomuser API returned an error: Uh oh"));
    assert!(err.is_retryable());
}

#[test]
fn malformed_json_is_not_json() {
    let err = parse_fixture("malformed.json").expect_err("truncated");
    assert!(matches!(err, PageError::NotJson(_)), "{err:?}");
    let html = b"<html><body><h1>503 Service Unavailable</h1></body></html>";
    let err = parse_page(html, &source("s", 1), produced_at()).expect_err("html");
    assert!(matches!(err, PageError::NotJson(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[test]
fn wrong_shapes_are_page_errors() {
    let err = parse_fixture("results_not_array.json").expect_err("object results");
    assert!(
        matches!(
            err,
            PageError::ResultsNotArray {
                found: JsonKind::Object
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    let err = parse_fixture("no_results.json").expect_err("no results");
    assert_eq!(
        err.to_string(),
        "response has no `results` array (its keys: info)"
    );

    let err = parse_page(b"[1,2]", &source("s", 1), produced_at()).expect_err("array body");
    assert!(
        matches!(
            err,
            PageError::NotAnObject {
                found: JsonKind::Array
            }
        ),
        "{err:?}"
    );

    let err = parse_page(b"{\"results\": null}", &source("s", 1), produced_at()).expect_err("null");
    assert!(
        matches!(
            err,
            PageError::ResultsNotArray {
                found: JsonKind::Null
            }
        ),
        "{err:?}"
    );
}

#[test]
fn request_seed_used_without_info() {
    let body = fixture("multi_nat.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
    doc.as_object_mut().expect("object").remove("info");
    let body = serde_json::to_vec(&doc).expect("json");
    let page = parse_page(&body, &source("mine", 3), produced_at()).expect("parses");
    assert_eq!(page.info, None);
    assert!(page
        .users()
        .all(|u| u.source_seed == "mine" && u.source_page == 3));
}

#[test]
fn page_beyond_avro_int_is_refused() {
    let err = parse_page(
        &fixture("multi_nat.json"),
        &source("s", u32::MAX),
        produced_at(),
    )
    .expect_err("too large");
    assert!(matches!(err, PageError::PageOutOfRange { page: u32::MAX }));
}
