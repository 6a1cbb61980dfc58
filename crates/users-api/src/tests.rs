//! Generator tests: shape, determinism, parameters and the real API's quirks.

use std::collections::HashSet;

use serde_json::Value;

use crate::{
    generate_page, generate_user, parse_query, write_page, Field, FieldSet, Gender, Nat,
    PageRequest,
};

fn page(seed: &str, page: u32, results: u32) -> PageRequest {
    PageRequest {
        seed: seed.to_string(),
        page,
        results,
        ..PageRequest::default()
    }
}

fn users(v: &Value) -> &Vec<Value> {
    static EMPTY: Vec<Value> = Vec::new();
    v["results"].as_array().unwrap_or(&EMPTY)
}

fn body(req: &PageRequest) -> String {
    let mut out = Vec::new();
    write_page(req, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

fn query(pairs: &[(&str, &str)]) -> PageRequest {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse_query(&pairs, 5000)
        .map(|q| q.page)
        .unwrap_or_default()
}

fn is_hex(s: &Value, len: usize) -> bool {
    s.as_str()
        .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_iso_millis(s: &Value) -> bool {
    // 1993-07-20T09:44:18.674Z
    let Some(s) = s.as_str() else { return false };
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
}

#[test]
fn every_key_is_present_with_the_real_types() {
    let v = generate_page(&page("shape", 1, 300));
    assert_eq!(users(&v).len(), 300);
    for u in users(&v) {
        assert!(
            matches!(u["gender"].as_str(), Some("male" | "female")),
            "{u}"
        );
        for k in ["title", "first", "last"] {
            assert!(u["name"][k].as_str().is_some_and(|s| !s.is_empty()), "{u}");
        }
        let loc = &u["location"];
        assert!(loc["street"]["number"]
            .as_u64()
            .is_some_and(|n| (1..=9999).contains(&n)));
        assert!(loc["street"]["name"].is_string());
        for k in ["city", "state", "country"] {
            assert!(loc[k].is_string(), "{k}: {u}");
        }
        assert!(
            loc["postcode"].is_string() || loc["postcode"].is_i64(),
            "{u}"
        );
        for k in ["latitude", "longitude"] {
            let c = loc["coordinates"][k].as_str().unwrap_or("x");
            assert!(c.parse::<f64>().is_ok() && c.split('.').nth(1).map(str::len) == Some(4));
        }
        let offset = loc["timezone"]["offset"].as_str().unwrap_or("");
        assert!(
            offset.contains(':') && offset.parse::<f64>().is_err(),
            "{offset}"
        );
        assert!(loc["timezone"]["description"].is_string());

        let email = u["email"].as_str().unwrap_or("");
        assert!(email.is_ascii() && email.ends_with("@example.com") && email.contains('.'));
        assert!(!email.contains(' '), "{email}");

        let login = &u["login"];
        assert!(uuid_like(login["uuid"].as_str().unwrap_or("")), "{login}");
        let username = login["username"].as_str().unwrap_or("");
        assert!(username.len() > 6 && username.ends_with(|c: char| c.is_ascii_digit()));
        assert!(login["password"].as_str().is_some_and(|p| !p.is_empty()));
        assert!(login["salt"].as_str().is_some_and(|s| s.len() == 8));
        assert!(is_hex(&login["md5"], 32) && is_hex(&login["sha1"], 40));
        assert!(is_hex(&login["sha256"], 64));

        for k in ["dob", "registered"] {
            assert!(is_iso_millis(&u[k]["date"]), "{k}: {u}");
            assert!(u[k]["age"].is_u64(), "{k}: {u}");
        }
        assert!(u["dob"]["age"]
            .as_u64()
            .is_some_and(|a| (20..=78).contains(&a)));
        assert!(u["phone"].is_string() && u["cell"].is_string());
        assert!(u["id"]["name"].is_string());
        assert!(u["id"]["value"].is_string() || u["id"]["value"].is_null());
        let folder = if u["gender"] == "male" {
            "men"
        } else {
            "women"
        };
        for (k, size) in [("large", ""), ("medium", "med/"), ("thumbnail", "thumb/")] {
            let url = u["picture"][k].as_str().unwrap_or("");
            let prefix = format!("https://randomuser.me/api/portraits/{size}{folder}/");
            assert!(url.starts_with(&prefix) && url.ends_with(".jpg"), "{url}");
        }
        let nat = u["nat"].as_str().and_then(Nat::parse);
        assert_eq!(nat.map(Nat::country), loc["country"].as_str());
        assert_eq!(u.as_object().map(|o| o.len()), Some(12));
    }
    assert_eq!(v["info"]["seed"], "shape");
    assert_eq!(v["info"]["results"], 300);
    assert_eq!(v["info"]["page"], 1);
    assert_eq!(v["info"]["version"], "1.4");
}

fn uuid_like(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && parts[2].starts_with('4')
        && parts[3].starts_with(['8', '9', 'a', 'b'])
}

#[test]
fn body_keys_follow_the_real_api_order() {
    let text = body(&page("order", 1, 1));
    let order = [
        "\"gender\"",
        "\"name\"",
        "\"location\"",
        "\"email\"",
        "\"login\"",
        "\"dob\"",
        "\"registered\"",
        "\"phone\"",
        "\"cell\"",
        "\"id\"",
        "\"picture\"",
        "\"nat\"",
        "\"info\"",
    ];
    let positions: Vec<usize> = order.iter().filter_map(|k| text.find(k)).collect();
    assert_eq!(positions.len(), order.len(), "{text}");
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.starts_with("{\"results\":[{\"gender\":"));
    assert!(
        text.ends_with(",\"page\":1,\"version\":\"1.4\"}}"),
        "{text}"
    );
}

#[test]
fn same_request_same_bytes() {
    let req = PageRequest {
        nats: vec![Nat::Us, Nat::Ir],
        gender: Some(Gender::Female),
        ..page("det", 3, 50)
    };
    assert_eq!(body(&req), body(&req.clone()));
    assert_eq!(generate_page(&req), generate_page(&req));
    // Order and repeats of nats do not matter.
    let shuffled = PageRequest {
        nats: vec![Nat::Ir, Nat::Us, Nat::Ir],
        ..req.clone()
    };
    assert_eq!(body(&req), body(&shuffled));
}

#[test]
fn user_i_does_not_depend_on_results_or_fields() {
    let big = generate_page(&page("stable", 2, 40));
    let small = generate_page(&page("stable", 2, 5));
    assert_eq!(users(&big)[..5], users(&small)[..]);
    for i in [0u32, 7, 39] {
        assert_eq!(
            generate_user(&page("stable", 2, 1), i),
            users(&big)[i as usize]
        );
    }
    let trimmed = PageRequest {
        fields: FieldSet::NONE.with(Field::Login),
        ..page("stable", 2, 40)
    };
    let trimmed = generate_page(&trimmed);
    for (a, b) in users(&big).iter().zip(users(&trimmed)) {
        assert_eq!(a["login"], b["login"]);
    }
}

#[test]
fn pages_differ_and_uuids_are_unique_across_pages() {
    let mut uuids = HashSet::new();
    let mut emails_page1 = Vec::new();
    for p in 1..=20 {
        let v = generate_page(&page("unique", p, 500));
        for u in users(&v) {
            let uuid = u["login"]["uuid"].as_str().unwrap_or("").to_string();
            assert!(uuids.insert(uuid), "duplicate uuid on page {p}");
        }
        if p <= 2 {
            emails_page1.push(users(&v)[0]["email"].clone());
        }
    }
    assert_eq!(uuids.len(), 10_000);
    assert_ne!(
        generate_page(&page("unique", 1, 10))["results"],
        generate_page(&page("unique", 2, 10))["results"]
    );
    assert_ne!(
        generate_page(&page("a", 1, 10))["results"],
        generate_page(&page("b", 1, 10))["results"]
    );
}

#[test]
fn results_edge_cases_give_one_user() {
    for bad in ["0", "5001", "abc", "-1", ""] {
        let req = query(&[("results", bad), ("seed", "edge")]);
        let v = generate_page(&req);
        assert_eq!(users(&v).len(), 1, "results={bad}");
        assert_eq!(v["info"]["results"], 1);
    }
    let v = generate_page(&query(&[("results", "5000"), ("seed", "edge")]));
    assert_eq!(users(&v).len(), 5000);
}

#[test]
fn nat_filter_is_honoured() {
    let req = query(&[("nat", "gb,FR,zz"), ("results", "400"), ("seed", "nat")]);
    let v = generate_page(&req);
    let nats: HashSet<&str> = users(&v).iter().filter_map(|u| u["nat"].as_str()).collect();
    assert_eq!(nats, HashSet::from(["GB", "FR"]));

    let all = generate_page(&page("nat", 1, 2000));
    let nats: HashSet<&str> = users(&all)
        .iter()
        .filter_map(|u| u["nat"].as_str())
        .collect();
    assert_eq!(nats.len(), Nat::ALL.len());

    // The real API's 18-character seeds carry a nationality: "0c" is IR.
    let v = generate_page(&page("0123456789abcdef0c", 1, 20));
    assert!(users(&v).iter().all(|u| u["nat"] == "IR"));
    assert_eq!(v["info"]["seed"], "0123456789abcdef0c");
}

#[test]
fn gender_filter_is_honoured() {
    let v = generate_page(&query(&[
        ("gender", "male"),
        ("results", "200"),
        ("seed", "g"),
    ]));
    for u in users(&v) {
        assert_eq!(u["gender"], "male");
        assert_eq!(
            u["name"]["title"]
                .as_str()
                .map(|t| t == "Mr" || t == "Monsieur"),
            Some(true)
        );
    }
    let v = generate_page(&query(&[
        ("gender", "female"),
        ("results", "500"),
        ("seed", "g"),
    ]));
    let titles: HashSet<&str> = users(&v)
        .iter()
        .filter_map(|u| u["name"]["title"].as_str())
        .collect();
    for t in ["Ms", "Miss", "Mrs", "Madame", "Mademoiselle"] {
        assert!(titles.contains(t), "{t} missing from {titles:?}");
    }
}

#[test]
fn inc_and_exc_select_fields() {
    let keys = |v: &Value| -> Vec<String> {
        users(v)[0]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let v = generate_page(&query(&[("inc", "gender,name,nat"), ("seed", "f")]));
    assert_eq!(keys(&v), ["gender", "name", "nat"]);
    let v = generate_page(&query(&[("exc", "login,id,picture"), ("seed", "f")]));
    let k = keys(&v);
    assert_eq!(k.len(), 9);
    assert!(!k
        .iter()
        .any(|k| k == "login" || k == "id" || k == "picture"));
    let v = generate_page(&query(&[
        ("inc", "name,login"),
        ("exc", "login"),
        ("seed", "f"),
    ]));
    assert_eq!(keys(&v), ["name"]);
    // Unknown names only: users are empty objects, as on the real API.
    let v = generate_page(&query(&[("inc", "bogus"), ("seed", "f")]));
    assert_eq!(users(&v)[0], serde_json::json!({}));
}

#[test]
fn noinfo_omits_info() {
    let v = generate_page(&query(&[("noinfo", ""), ("seed", "n")]));
    assert!(v.get("info").is_none());
    assert_eq!(v.as_object().map(|o| o.len()), Some(1));
}

#[test]
fn non_latin_names_for_ir_and_ua() {
    let script = |nat: Nat, range: std::ops::RangeInclusive<char>| {
        let req = PageRequest {
            nats: vec![nat],
            ..page("script", 1, 200)
        };
        let v = generate_page(&req);
        let count = users(&v)
            .iter()
            .filter(|u| {
                u["name"]["first"]
                    .as_str()
                    .is_some_and(|s| s.chars().any(|c| range.contains(&c)))
            })
            .count();
        // Emails stay ASCII whatever the script.
        assert!(users(&v)
            .iter()
            .all(|u| u["email"].as_str().is_some_and(str::is_ascii)));
        count
    };
    assert_eq!(script(Nat::Ir, '\u{0600}'..='\u{06FF}'), 200);
    let cyrillic = script(Nat::Ua, '\u{0400}'..='\u{04FF}');
    assert!((120..200).contains(&cyrillic), "{cyrillic}");
    assert!(script(Nat::Rs, '\u{0400}'..='\u{04FF}') > 0);
}

#[test]
fn quirks_occur_postcode_types_and_null_ids() {
    let v = generate_page(&page("quirks", 1, 5000));
    let (mut ints, mut strings, mut negative, mut null_ids) = (0, 0, 0, 0);
    for u in users(&v) {
        let pc = &u["location"]["postcode"];
        if let Some(n) = pc.as_i64() {
            ints += 1;
            negative += usize::from(n < 0);
        } else if pc.is_string() {
            strings += 1;
        }
        if u["id"]["value"].is_null() {
            null_ids += 1;
            assert_eq!(u["id"]["name"], "");
            assert!(matches!(u["nat"].as_str(), Some("IR" | "NZ" | "TR" | "UA")));
        }
    }
    assert!(
        ints > 3000 && strings > 800,
        "{ints} ints, {strings} strings"
    );
    assert!(negative > 0, "no negative postcode in 5000 users");
    assert!(null_ids > 500, "{null_ids}");

    let of = |nat: Nat| {
        let req = PageRequest {
            nats: vec![nat],
            ..page("quirks", 1, 3)
        };
        generate_page(&req)["results"][0].clone()
    };
    let gb = of(Nat::Gb)["location"]["postcode"]
        .as_str()
        .map(str::to_owned);
    assert!(
        gb.is_some_and(|p| p.contains(' ') && p.len() >= 6),
        "GB postcode"
    );
    let ca = of(Nat::Ca)["location"]["postcode"]
        .as_str()
        .map(str::to_owned);
    assert!(
        ca.is_some_and(|p| p.len() == 7 && p.as_bytes()[3] == b' '),
        "CA postcode"
    );
    let nl = of(Nat::Nl)["location"]["postcode"]
        .as_str()
        .map(str::to_owned);
    assert!(
        nl.is_some_and(|p| p.len() == 7 && p[..4].parse::<u32>().is_ok()),
        "NL"
    );
    assert!(of(Nat::Us)["location"]["postcode"].is_i64());
    assert!(of(Nat::De)["location"]["postcode"].is_i64());
    assert_eq!(of(Nat::Us)["id"]["name"], "SSN");
}

#[test]
fn secrets_are_served_and_hashes_match() {
    let v = generate_page(&page("secrets", 1, 20));
    for u in users(&v) {
        let login = &u["login"];
        let input = format!(
            "{}{}",
            login["password"].as_str().unwrap_or(""),
            login["salt"].as_str().unwrap_or("")
        );
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(login["md5"], hex(&crate::hash::md5(input.as_bytes())));
        assert_eq!(login["sha1"], hex(&crate::hash::sha1(input.as_bytes())));
        assert_eq!(login["sha256"], hex(&crate::hash::sha256(input.as_bytes())));
    }
}

#[test]
fn email_is_folded_first_dot_last() {
    let req = PageRequest {
        nats: vec![Nat::De, Nat::Tr, Nat::Nl],
        ..page("mail", 1, 300)
    };
    let v = generate_page(&req);
    for u in users(&v) {
        let email = u["email"].as_str().unwrap_or("");
        let first = u["name"]["first"].as_str().unwrap_or("");
        let (local, domain) = email.split_once('@').unwrap_or(("", ""));
        assert_eq!(domain, "example.com");
        assert!(local.contains('.'), "{email}");
        if first.is_ascii() {
            let expected = first.to_ascii_lowercase().replace(' ', "");
            assert!(
                local.starts_with(&format!("{expected}.")),
                "{email} for {first}"
            );
        }
        assert_eq!(local, local.to_lowercase());
    }
}

#[test]
fn pretty_is_the_same_json() {
    let req = page("pretty", 1, 3);
    let compact = body(&req);
    let pretty = crate::json::pretty(compact.as_bytes());
    let a: Value = serde_json::from_str(&compact).unwrap_or_default();
    let b: Value = serde_json::from_slice(&pretty).unwrap_or_default();
    assert_eq!(a, b);
    assert!(String::from_utf8_lossy(&pretty).starts_with("{\n  \"results\": [\n    {\n"));
}

/// The generated data is a contract (consumers re-derive users); this pins one user so that a
/// change to the tables or draw order is a deliberate, visible decision.
#[test]
fn pinned_user() {
    let u = generate_user(&page("userstream", 1, 1), 0);
    let pinned = (
        u["login"]["uuid"].as_str().unwrap_or(""),
        u["email"].as_str().unwrap_or(""),
        u["nat"].as_str().unwrap_or(""),
    );
    assert_eq!(pinned, PINNED, "generator output changed: {u}");
}

const PINNED: (&str, &str, &str) = (
    "ea00898a-e9c5-4d75-925c-a11411d307c0",
    "siobhan.brennan@example.com",
    "IE",
);

/// Prints throughput of the pure generator: `cargo test --release -p userstream-users-api
/// -- --ignored --nocapture generate_speed`.
#[test]
#[ignore = "benchmark; run in release mode"]
fn generate_speed() {
    let mut out = Vec::with_capacity(8 << 20);
    let rounds = 40u32;
    let start = std::time::Instant::now();
    for p in 1..=rounds {
        out.clear();
        write_page(&page("bench", p, 5000), &mut out);
    }
    let elapsed = start.elapsed();
    let users = f64::from(rounds * 5000);
    println!(
        "write_page: {:.0} users/s, {:.2} ms per 5000-user page, {} bytes per page",
        users / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / f64::from(rounds),
        out.len()
    );
    for (label, fields) in [
        (
            "without login (no hashing)",
            FieldSet::ALL.without(Field::Login),
        ),
        (
            "without login, email",
            FieldSet::ALL.without(Field::Login).without(Field::Email),
        ),
        ("no fields (drawing only)", FieldSet::NONE),
    ] {
        let start = std::time::Instant::now();
        for p in 1..=rounds {
            out.clear();
            let req = PageRequest {
                fields,
                ..page("bench", p, 5000)
            };
            write_page(&req, &mut out);
        }
        let elapsed = start.elapsed();
        println!(
            "write_page {label}: {:.2} ms per 5000-user page",
            elapsed.as_secs_f64() * 1000.0 / f64::from(rounds)
        );
    }
    let start = std::time::Instant::now();
    let v = generate_page(&page("bench", 1, 5000));
    println!(
        "generate_page (serde_json::Value): {:.2} ms per 5000-user page",
        start.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(users_len(&v), 5000);
}

fn users_len(v: &Value) -> usize {
    users(v).len()
}
