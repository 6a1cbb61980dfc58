//! Serialising users straight into a byte buffer, in the real API's key order:
//! gender, name, location, email, login, dob, registered, phone, cell, id, picture, nat.
//!
//! Hand-written rather than via serde so that a 5000-user page is one buffer, no per-user
//! allocation, and `inc`/`exc` cost nothing.

use crate::date::{age_years, DateTime, REFERENCE_MS};
use crate::formats::Postcode;
use crate::generate::{Stream, User};
use crate::hash;
use crate::translit;
use userstream_model::request::Gender;
use userstream_model::request::{Field, FieldSet, PageRequest};

/// The API version served in `info.version`.
pub(crate) const VERSION: &str = "1.4";

/// Buffers reused across the users of a page.
#[derive(Default)]
struct Scratch {
    text: String,
    bytes: Vec<u8>,
}

/// Appends the page for `req` to `out`; `results_served` users are written (the `empty`
/// fault serves none while `info.results` still says what was asked for).
pub(crate) fn write_page(req: &PageRequest, results_served: u32, out: &mut Vec<u8>) {
    let stream = Stream::new(req);
    let mut scratch = Scratch::default();
    out.reserve(results_served as usize * 1100 + 128);
    out.extend_from_slice(b"{\"results\":[");
    for index in 0..results_served {
        if index > 0 {
            out.push(b',');
        }
        let user = stream.user(req.page, index);
        write_user(out, &user, req.fields, &mut scratch);
    }
    out.push(b']');
    if !req.noinfo {
        out.extend_from_slice(b",\"info\":{\"seed\":");
        push_str(out, &req.seed);
        out.extend_from_slice(b",\"results\":");
        push_int(out, i64::from(req.results));
        out.extend_from_slice(b",\"page\":");
        push_int(out, i64::from(req.page));
        out.extend_from_slice(b",\"version\":\"");
        out.extend_from_slice(VERSION.as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.push(b'}');
}

/// Appends one user (only the fields in `fields`) to `out`.
pub(crate) fn write_one(req: &PageRequest, index: u32, out: &mut Vec<u8>) {
    let user = Stream::new(req).user(req.page, index);
    write_user(out, &user, req.fields, &mut Scratch::default());
}

fn write_user(out: &mut Vec<u8>, u: &User, fields: FieldSet, scratch: &mut Scratch) {
    let male = u.gender == Gender::Male;
    let mut obj = Object::open(out);
    if fields.contains(Field::Gender) {
        obj.key(b"gender");
        push_str(obj.out, u.gender.as_str());
    }
    if fields.contains(Field::Name) {
        obj.key(b"name");
        let mut name = Object::open(obj.out);
        name.str_field(b"title", u.title);
        name.str_field(b"first", u.first);
        name.str_field(b"last", u.last);
        name.close();
    }
    if fields.contains(Field::Location) {
        obj.key(b"location");
        write_location(obj.out, u);
    }
    if fields.contains(Field::Email) {
        obj.key(b"email");
        scratch.text.clear();
        translit::push_folded(&mut scratch.text, u.first);
        scratch.text.push('.');
        translit::push_folded(&mut scratch.text, u.last);
        scratch.text.push_str("@example.com");
        push_str(obj.out, &scratch.text);
    }
    if fields.contains(Field::Login) {
        obj.key(b"login");
        write_login(obj.out, u, &mut scratch.bytes);
    }
    if fields.contains(Field::Dob) {
        obj.key(b"dob");
        write_date(obj.out, u.dob_ms);
    }
    if fields.contains(Field::Registered) {
        obj.key(b"registered");
        write_date(obj.out, u.registered_ms);
    }
    if fields.contains(Field::Phone) {
        obj.str_field(b"phone", u.phone.as_str());
    }
    if fields.contains(Field::Cell) {
        obj.str_field(b"cell", u.cell.as_str());
    }
    if fields.contains(Field::Id) {
        obj.key(b"id");
        let mut id = Object::open(obj.out);
        id.str_field(b"name", u.id_name);
        id.key(b"value");
        match &u.id_value {
            Some(v) => push_str(id.out, v.as_str()),
            None => id.out.extend_from_slice(b"null"),
        }
        id.close();
    }
    if fields.contains(Field::Picture) {
        obj.key(b"picture");
        let kind: &[u8] = if male { b"men/" } else { b"women/" };
        let mut pic = Object::open(obj.out);
        for (key, size) in [
            (&b"large"[..], &b""[..]),
            (b"medium", b"med/"),
            (b"thumbnail", b"thumb/"),
        ] {
            pic.key(key);
            pic.out
                .extend_from_slice(b"\"https://randomuser.me/api/portraits/");
            pic.out.extend_from_slice(size);
            pic.out.extend_from_slice(kind);
            push_int(pic.out, i64::from(u.picture));
            pic.out.extend_from_slice(b".jpg\"");
        }
        pic.close();
    }
    if fields.contains(Field::Nat) {
        obj.str_field(b"nat", u.nat.code());
    }
    obj.close();
}

fn write_location(out: &mut Vec<u8>, u: &User) {
    let mut loc = Object::open(out);
    loc.key(b"street");
    let mut street = Object::open(loc.out);
    street.key(b"number");
    push_int(street.out, i64::from(u.street_number));
    street.str_field(b"name", u.street);
    street.close();
    loc.str_field(b"city", u.city);
    loc.str_field(b"state", u.state);
    loc.str_field(b"country", u.nat.country());
    loc.key(b"postcode");
    match &u.postcode {
        Postcode::Int(v) => push_int(loc.out, *v),
        Postcode::Text(s) => push_str(loc.out, s.as_str()),
    }
    loc.key(b"coordinates");
    let mut coords = Object::open(loc.out);
    coords.key(b"latitude");
    push_degrees(coords.out, u.latitude);
    coords.key(b"longitude");
    push_degrees(coords.out, u.longitude);
    coords.close();
    loc.key(b"timezone");
    let mut tz = Object::open(loc.out);
    tz.str_field(b"offset", u.timezone.offset);
    tz.str_field(b"description", u.timezone.description);
    tz.close();
    loc.close();
}

fn write_login(out: &mut Vec<u8>, u: &User, buf: &mut Vec<u8>) {
    let mut login = Object::open(out);
    login.key(b"uuid");
    login.out.push(b'"');
    for (i, b) in u.uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            login.out.push(b'-');
        }
        push_hex(login.out, &[*b]);
    }
    login.out.push(b'"');
    login.key(b"username");
    login.out.push(b'"');
    login.out.extend_from_slice(u.username.0.as_bytes());
    login.out.extend_from_slice(u.username.1.as_bytes());
    push_int(login.out, i64::from(u.username.2));
    login.out.push(b'"');
    login.str_field(b"password", u.password);
    login.key(b"salt");
    login.out.push(b'"');
    login.out.extend_from_slice(&u.salt);
    login.out.push(b'"');
    buf.clear();
    buf.extend_from_slice(u.password.as_bytes());
    buf.extend_from_slice(&u.salt);
    login.key(b"md5");
    push_hex_str(login.out, &hash::md5(buf));
    login.key(b"sha1");
    push_hex_str(login.out, &hash::sha1(buf));
    login.key(b"sha256");
    push_hex_str(login.out, &hash::sha256(buf));
    login.close();
}

fn write_date(out: &mut Vec<u8>, ms: i64) {
    let mut date = Object::open(out);
    date.key(b"date");
    date.out.push(b'"');
    DateTime::from_ms(ms).write_iso(date.out);
    date.out.push(b'"');
    date.key(b"age");
    push_int(date.out, age_years(ms, REFERENCE_MS));
    date.close();
}

/// Writes `{"key":value,...}` keeping track of commas.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Writes `"key":` (keys are ASCII literals needing no escaping).
    fn key(&mut self, key: &[u8]) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(b"\":");
    }

    fn str_field(&mut self, key: &[u8], value: &str) {
        self.key(key);
        push_str(self.out, value);
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// A JSON string literal. Non-ASCII is written as UTF-8, as `JSON.stringify` does.
fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Generated text almost never needs escaping: copy it whole.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            push_hex(out, &[b]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    crate::date::push_padded(out, v.unsigned_abs(), 1);
}

/// `"-69.8246"`: degrees as a string with four decimals (faker's `toFixed(4)`).
fn push_degrees(out: &mut Vec<u8>, ten_thousandths: i32) {
    out.push(b'"');
    if ten_thousandths < 0 {
        out.push(b'-');
    }
    let v = ten_thousandths.unsigned_abs();
    crate::date::push_padded(out, u64::from(v / 10_000), 1);
    out.push(b'.');
    crate::date::push_padded(out, u64::from(v % 10_000), 4);
    out.push(b'"');
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Sized once and filled in place: a push per digit (136 per user, for the hashes) costs a
    // capacity check each.
    let start = out.len();
    out.resize(start + 2 * bytes.len(), 0);
    for (pair, b) in out[start..].chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xf)];
    }
}

fn push_hex_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    push_hex(out, bytes);
    out.push(b'"');
}

/// Re-indents compact JSON as `JSON.stringify(value, null, 2)` does (`format=pretty`).
pub(crate) fn pretty(compact: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.resize(out.len() + depth * 2, b' ');
    };
    let mut i = 0;
    while i < compact.len() {
        let b = compact[i];
        i += 1;
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                if matches!(compact.get(i), Some(b'}' | b']')) {
                    out.push(compact[i]);
                    i += 1;
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        push_str(&mut out, "a\"b\\c\u{1}d é");
        assert_eq!(String::from_utf8_lossy(&out), "\"a\\\"b\\\\c\\u0001d é\"");
    }

    #[test]
    fn degrees_format() {
        let mut out = Vec::new();
        push_degrees(&mut out, -698_246);
        push_degrees(&mut out, 5);
        push_degrees(&mut out, -1_800_000);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "\"-69.8246\"\"0.0005\"\"-180.0000\""
        );
    }

    #[test]
    fn pretty_matches_json_stringify() {
        let compact = br#"{"a":[],"b":{"c":"x,{:}","d":[1,{}]},"e":null}"#;
        let expected = "{\n  \"a\": [],\n  \"b\": {\n    \"c\": \"x,{:}\",\n    \"d\": [\n      1,\n      {}\n    ]\n  },\n  \"e\": null\n}";
        assert_eq!(String::from_utf8_lossy(&pretty(compact)), expected);
    }
}
