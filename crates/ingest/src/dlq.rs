//! Dead letters: what goes to the DLQ topic for a rejected record or a page that could not be
//! read, with its reason and source position in headers. Pure.
//!
//! Record-level entries carry the `results[]` entry as JSON with the secrets stripped (by the
//! model crate). Page-level entries carry the body as received, with secrets blanked out even
//! when it is not valid JSON (a truncated body still holds passwords and hashes).

use userstream_model::dead_letter_headers as header;
use userstream_model::{strip_secrets, Rejected, SourcePosition, SECRET_LOGIN_FIELDS};

/// Largest page body kept in a dead letter: well under Kafka's default 1 MB message limit
/// (a malformed 5000-user page is several MB).
pub const MAX_PAGE_BODY: usize = 512 * 1024;

/// One message for the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Message key: `login.uuid` when the entry had a string one, else `seed/page/index`
    /// (`seed/page` for a page), so that a replay overwrites rather than adds in a compacted
    /// topic.
    pub key: String,
    /// The payload, secrets removed.
    pub value: Vec<u8>,
    /// Headers, in order.
    pub headers: Vec<(&'static str, String)>,
}

impl DeadLetter {
    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a whole page went to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFailure {
    /// Stable code for the `error_code` header.
    pub code: String,
    /// Human-readable reason.
    pub reason: String,
    /// How many times the page was fetched.
    pub attempts: u32,
}

/// The dead letter of a rejected `results[]` entry.
pub fn record_dead_letter(rejected: &Rejected, source: &SourcePosition) -> DeadLetter {
    let key = rejected.key().map_or_else(
        || format!("{}/{}/{}", source.seed, source.page, rejected.index),
        str::to_owned,
    );
    // `raw` is already stripped by the model crate; serialising a Value cannot fail.
    let value = serde_json::to_vec(&rejected.raw).unwrap_or_default();
    DeadLetter {
        key,
        value,
        headers: vec![
            (header::REASON, rejected.reason.to_string()),
            (header::ERROR_CODE, rejected.reason.code().to_owned()),
            (header::SCOPE, header::SCOPE_RECORD.to_owned()),
            (header::SOURCE_URL, source.url.clone()),
            (header::SOURCE_SEED, source.seed.clone()),
            (header::SOURCE_PAGE, source.page.to_string()),
            (header::SOURCE_INDEX, rejected.index.to_string()),
        ],
    }
}

/// The dead letter of an entry that parsed but could not be encoded (should not happen with
/// the model's own validation; kept so nothing is dropped silently).
pub fn encode_dead_letter(
    raw_user: &serde_json::Value,
    index: usize,
    reason: &str,
    source: &SourcePosition,
) -> DeadLetter {
    let mut raw = raw_user.clone();
    strip_secrets(&mut raw);
    DeadLetter {
        key: format!("{}/{}/{}", source.seed, source.page, index),
        value: serde_json::to_vec(&raw).unwrap_or_default(),
        headers: vec![
            (header::REASON, reason.to_owned()),
            (header::ERROR_CODE, "encode_failed".to_owned()),
            (header::SCOPE, header::SCOPE_RECORD.to_owned()),
            (header::SOURCE_URL, source.url.clone()),
            (header::SOURCE_SEED, source.seed.clone()),
            (header::SOURCE_PAGE, source.page.to_string()),
            (header::SOURCE_INDEX, index.to_string()),
        ],
    }
}

/// The dead letter of a whole page: the body as received (secrets blanked), the reason, and
/// the position.
pub fn page_dead_letter(failure: &PageFailure, body: &[u8], source: &SourcePosition) -> DeadLetter {
    let mut value = redact_secrets(body);
    let mut headers = vec![
        (header::REASON, failure.reason.clone()),
        (header::ERROR_CODE, failure.code.clone()),
        (header::SCOPE, header::SCOPE_PAGE.to_owned()),
        (header::SOURCE_URL, source.url.clone()),
        (header::SOURCE_SEED, source.seed.clone()),
        (header::SOURCE_PAGE, source.page.to_string()),
        ("attempts", failure.attempts.to_string()),
    ];
    if value.len() > MAX_PAGE_BODY {
        headers.push((header::BODY_BYTES, value.len().to_string()));
        value.truncate(MAX_PAGE_BODY);
    }
    DeadLetter {
        key: format!("{}/{}", source.seed, source.page),
        value,
        headers,
    }
}

/// `body` with every secret login field removed: parsed and stripped when it is JSON;
/// otherwise (a truncated body) each `"password": "..."`-like value is replaced by `null`
/// textually, and a value cut off by the truncation is cut from the output.
pub fn redact_secrets(body: &[u8]) -> Vec<u8> {
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) {
        strip_secrets(&mut value);
        return serde_json::to_vec(&value).unwrap_or_default();
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'"' {
            if let Some((key_end, name)) = secret_key_at(body, i) {
                out.extend_from_slice(&body[i..key_end]);
                match skip_value(body, key_end) {
                    Some(value_end) => {
                        out.extend_from_slice(b"null");
                        i = value_end;
                    }
                    None => {
                        // The body ends inside the secret: drop the rest.
                        tracing::trace!(field = name, "secret cut by truncation");
                        return out;
                    }
                }
                continue;
            }
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

/// If a secret key (`"password"` ...) followed by `:` starts at `start`, the index just after
/// the colon (and spaces), and its name.
fn secret_key_at(body: &[u8], start: usize) -> Option<(usize, &'static str)> {
    SECRET_LOGIN_FIELDS.into_iter().find_map(|name| {
        let end = start + name.len() + 2;
        let quoted = body.get(start..end)?;
        if quoted[0] != b'"'
            || &quoted[1..=name.len()] != name.as_bytes()
            || quoted[name.len() + 1] != b'"'
        {
            return None;
        }
        let mut j = skip_spaces(body, end);
        if body.get(j) != Some(&b':') {
            return None;
        }
        j = skip_spaces(body, j + 1);
        Some((j, name))
    })
}

fn skip_spaces(body: &[u8], mut j: usize) -> usize {
    while body.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    j
}

/// The end of the scalar value starting at `start`; `None` when the body ends first.
fn skip_value(body: &[u8], start: usize) -> Option<usize> {
    if body.get(start) == Some(&b'"') {
        let mut j = start + 1;
        while j < body.len() {
            match body[j] {
                b'\\' => j += 2,
                b'"' => return Some(j + 1),
                _ => j += 1,
            }
        }
        None
    } else {
        let mut j = start;
        while j < body.len() {
            if matches!(body[j], b',' | b'}' | b']') || body[j].is_ascii_whitespace() {
                return Some(j);
            }
            j += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use userstream_model::{parse_page, Page};

    use super::*;

    fn position() -> SourcePosition {
        SourcePosition {
            url: "http://127.0.0.1:8765/api/?results=2&seed=s&page=7".to_owned(),
            seed: "s".to_owned(),
            page: 7,
        }
    }

    #[test]
    fn rejected_record_keeps_position_and_reason_but_no_secrets() {
        let body = json!({
            "results": [{
                "login": {"uuid": "not-a-uuid", "username": "u", "password": "hunter2",
                          "salt": "x", "md5": "m", "sha1": "a", "sha256": "b"},
                "name": {"first": "Ann"}
            }],
            "info": {"seed": "s", "results": 1, "page": 7, "version": "1.4"}
        });
        let page: Page =
            parse_page(body.to_string().as_bytes(), &position(), chrono::Utc::now()).expect("page");
        let rejected = page.rejected().next().expect("one rejected");
        let dl = record_dead_letter(rejected, &position());
        assert_eq!(dl.key, "not-a-uuid");
        assert_eq!(dl.header(header::ERROR_CODE), Some("invalid_uuid"));
        assert_eq!(dl.header(header::SOURCE_PAGE), Some("7"));
        assert_eq!(dl.header(header::SOURCE_INDEX), Some("0"));
        assert_eq!(dl.header(header::SOURCE_SEED), Some("s"));
        assert_eq!(dl.header(header::SCOPE), Some("record"));
        assert!(dl.header(header::REASON).is_some_and(|r| !r.is_empty()));
        let text = String::from_utf8(dl.value).expect("utf8");
        assert!(text.contains("Ann") && !text.contains("hunter2") && !text.contains("sha256"));
    }

    #[test]
    fn truncated_body_is_redacted_textually() {
        let body = br#"{"results":[{"login":{"uuid":"u1","password" : "hunter2","salt":"NaCl","md5":"abc\"def","sha1":"x"}},{"login":{"uuid":"u2","password":"secr"#;
        let out = String::from_utf8(redact_secrets(body)).expect("utf8");
        assert_eq!(
            out,
            r#"{"results":[{"login":{"uuid":"u1","password" : null,"salt":null,"md5":null,"sha1":null}},{"login":{"uuid":"u2","password":"#
        );
    }

    #[test]
    fn json_body_is_stripped_and_page_headers_are_set() {
        let body = br#"{"results":[{"login":{"uuid":"u1","password":"p"}}],"info":{}}"#;
        let failure = PageFailure {
            code: "short_page".to_owned(),
            reason: "asked for 2 users, got 1".to_owned(),
            attempts: 3,
        };
        let dl = page_dead_letter(&failure, body, &position());
        assert_eq!(dl.key, "s/7");
        assert_eq!(dl.header(header::SCOPE), Some("page"));
        assert_eq!(dl.header(header::ERROR_CODE), Some("short_page"));
        assert_eq!(dl.header(header::SOURCE_INDEX), None);
        let text = String::from_utf8(dl.value).expect("utf8");
        assert!(text.contains("u1") && !text.contains("password"));
    }

    #[test]
    fn large_page_bodies_are_cut() {
        let failure = PageFailure {
            code: "not_json".to_owned(),
            reason: "cut".to_owned(),
            attempts: 1,
        };
        let body = vec![b'x'; MAX_PAGE_BODY * 3];
        let dl = page_dead_letter(&failure, &body, &position());
        assert_eq!(dl.value.len(), MAX_PAGE_BODY);
        assert_eq!(
            dl.header(header::BODY_BYTES),
            Some(body.len().to_string().as_str())
        );
    }

    #[test]
    fn non_secret_keys_and_values_named_like_secrets_are_kept() {
        let body = br#"{"name":"salt","password_hint":"x","md5" "#;
        assert_eq!(redact_secrets(body), body.to_vec());
    }
}
