//! Login secrets never leave the model crate: not in users, not in rejected records.

mod common;

use common::{all_fixtures, fixture, parse_fixture};
use serde_json::Value;
use userstream_model::{encode_avro, SECRET_LOGIN_FIELDS};

/// Every secret value (`login.password`, `salt`, `md5`, `sha1`, `sha256`) in a fixture.
fn secrets_in(name: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_slice::<Value>(&fixture(name)) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in doc["results"].as_array().into_iter().flatten() {
        for key in SECRET_LOGIN_FIELDS {
            if let Some(secret) = entry["login"][key].as_str() {
                found.push(secret.to_owned());
            }
        }
    }
    found
}

fn has_secret_key(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            SECRET_LOGIN_FIELDS.iter().any(|k| map.contains_key(*k))
                || map.values().any(has_secret_key)
        }
        Value::Array(items) => items.iter().any(has_secret_key),
        _ => false,
    }
}

/// An Avro string datum: zig-zag varint length, then the bytes.
fn avro_string(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = (i64::try_from(s.len()).expect("short") << 1) as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(s.as_bytes());
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_secret_reaches_users_or_rejects() {
    let mut checked_secrets = 0;
    let mut checked_rejects = 0;
    for name in all_fixtures() {
        let secrets = secrets_in(&name);
        let Ok(page) = parse_fixture(&name) else {
            continue;
        };
        // Everything that leaves the crate, in every form a caller could send on. Passwords are
        // dictionary words that may sit inside a username ("whitekoala733" / "koala"), so a
        // secret counts as leaked when it appears as a whole value: a JSON string, an Avro
        // string, or (salts and hashes, which are unique) anywhere at all.
        let mut text: Vec<String> = vec![format!("{page:?}")];
        let mut avro: Vec<Vec<u8>> = Vec::new();
        for user in page.users() {
            text.push(serde_json::to_string(user).expect("json"));
            avro.push(encode_avro(user).expect("avro"));
        }
        for rejected in page.rejected() {
            assert!(
                !has_secret_key(&rejected.raw),
                "{name}: {rejected} keeps a secret key"
            );
            text.push(rejected.raw.to_string());
            text.push(rejected.to_string());
            checked_rejects += 1;
        }
        for secret in &secrets {
            let quoted = format!("{secret:?}");
            for output in &text {
                assert!(
                    !output.contains(&quoted),
                    "{name}: secret {secret:?} leaked"
                );
                if secret.len() >= 8 {
                    assert!(
                        !output.contains(secret.as_str()),
                        "{name}: {secret:?} leaked"
                    );
                }
            }
            for bytes in &avro {
                assert!(
                    !contains(bytes, &avro_string(secret)),
                    "{name}: secret {secret:?} leaked into Avro"
                );
            }
            checked_secrets += 1;
        }
    }
    assert!(
        checked_secrets > 100,
        "fixtures must carry secrets: {checked_secrets}"
    );
    assert!(
        checked_rejects > 15,
        "rejects must be checked: {checked_rejects}"
    );
}

#[test]
fn salts_and_hashes_are_at_least_eight_chars() {
    // The substring check above relies on this for salts and hashes.
    let doc: Value = serde_json::from_slice(&fixture("multi_nat.json")).expect("json");
    for entry in doc["results"].as_array().expect("results") {
        for key in ["salt", "md5", "sha1", "sha256"] {
            assert!(entry["login"][key].as_str().expect(key).len() >= 8);
        }
    }
}

#[test]
fn rejected_raw_keeps_non_secret_login_fields() {
    let page = parse_fixture("rejects.json").expect("parses");
    let rejected = page.rejected().find(|r| r.index == 3).expect("entry 3");
    assert_eq!(
        rejected.raw["login"],
        serde_json::json!({
            "uuid": "7a0eed16-9430-4d68-901f-c0d4c1c3bf00",
            "username": "yellowpeacock117"
        })
    );
}
