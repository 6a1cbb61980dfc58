//! Shared helpers for the model tests.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use userstream_model::{parse_page, Page, PageError, SourcePosition};

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// A fixed production time with sub-millisecond digits, to check truncation.
pub fn produced_at() -> DateTime<Utc> {
    Utc.timestamp_opt(1_717_000_000, 123_456_789)
        .single()
        .expect("valid")
}

/// The source position used for fixtures.
pub fn source(seed: &str, page: u32) -> SourcePosition {
    SourcePosition {
        url: format!("https://randomuser.me/api/?results=5000&seed={seed}&page={page}"),
        seed: seed.to_owned(),
        page,
    }
}

/// Parses a fixture with [`source`]`("request-seed", 7)`.
pub fn parse_fixture(name: &str) -> Result<Page, PageError> {
    parse_page(&fixture(name), &source("request-seed", 7), produced_at())
}

/// Every fixture file name.
pub fn all_fixtures() -> Vec<String> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
