//! A local server that answers like <https://randomuser.me/api/> (API version 1.4), with
//! deterministic users and fault injection, so the pipeline can run and be tested offline.
//!
//! # Source of truth
//! [`generate_page`] (and [`write_page`], [`generate_user`]) are pure functions of a
//! [`PageRequest`]: the server serves exactly what they return. User `i` of page `p` depends
//! only on `(seed, nats, gender, p, i)`, so integration tests can re-derive what the source
//! served and compare it with what Kafka or Cassandra hold. Within one seed and filter, no two
//! positions `(page, index)` share a `login.uuid`.
//!
//! # Shape and quirks
//! Each user carries, in this order: `gender`, `name{title,first,last}`,
//! `location{street{number,name},city,state,country,postcode,coordinates{latitude,longitude},
//! timezone{offset,description}}`, `email`, `login{uuid,username,password,salt,md5,sha1,
//! sha256}`, `dob{date,age}`, `registered{date,age}`, `phone`, `cell`, `id{name,value}`,
//! `picture{large,medium,thumbnail}`, `nat`; the page ends with
//! `info{seed,results,page,version:"1.4"}`. As on the real API: `postcode` is a number or a
//! string, coordinates and time-zone offsets are strings, `id.value` may be `null`, names may
//! be in Persian or Cyrillic script, and secrets are included. Ages are computed at the real
//! API's fixed reference instant (2022-05-23), which keeps output byte-stable over time.
//!
//! # Server
//! [`bind`] / [`serve`] run it; [`UsersApiConfig`] configures it, [`FaultConfig`] its faults;
//! [`parse_query`] documents every query parameter.

#![warn(missing_docs)]

mod common;
mod config;
mod date;
mod error;
mod faults;
mod formats;
mod generate;
mod hash;
mod json;
mod local;
mod names;
mod params;
mod places;
mod rng;
mod server;
mod small;
mod translit;

pub use config::{UsersApiConfig, DEFAULT_BIND};
pub use error::UsersApiError;
pub use faults::{
    Fault, FaultConfig, FaultOverrides, DELAY_HEADER, FAULT_HEADER, REAL_API_ERROR_MESSAGE,
};
pub use params::{parse_query, random_seed, ApiQuery, Format, ParamError};
// The request vocabulary is the record side's (`userstream_model::request`); re-exported so
// the server's users need one import.
pub use local::{is_listening, loopback_addr, start_local_source_if_absent, LocalUsersApi};
pub use server::{bind, router, serve, BoundServer};
pub use userstream_model::request::{
    Field, FieldSet, Gender, Nat, PageRequest, DEFAULT_MAX_RESULTS, MAX_PAGE,
};

/// The API version this crate imitates.
pub const API_VERSION: &str = json::VERSION;

/// The page the server serves for `req`, as a JSON value.
///
/// This is the source of truth for what was served. (The HTTP body has the same content; its
/// key order is the real API's, while `serde_json::Value` objects may order keys differently.)
pub fn generate_page(req: &PageRequest) -> serde_json::Value {
    let mut out = Vec::new();
    write_page(req, &mut out);
    parse_generated(&out)
}

/// Appends the exact HTTP body (compact JSON) for `req` to `out`, without building a JSON
/// value. This is the fast path the server uses.
pub fn write_page(req: &PageRequest, out: &mut Vec<u8>) {
    json::write_page(req, req.results, out);
}

/// User `index` (0-based) of `req.page`, with `req.fields`, as served — whatever
/// `req.results` is. Lets a consumer re-derive one user from `(seed, page, index)`.
pub fn generate_user(req: &PageRequest, index: u32) -> serde_json::Value {
    let mut out = Vec::new();
    json::write_one(req, index, &mut out);
    parse_generated(&out)
}

fn parse_generated(bytes: &[u8]) -> serde_json::Value {
    // The writer only emits valid JSON (tested); should that ever break, say so in the value
    // rather than panic inside a caller's pipeline.
    serde_json::from_slice(bytes).unwrap_or_else(
        |e| serde_json::json!({ "error": format!("users-api generated invalid JSON: {e}") }),
    )
}

#[cfg(test)]
mod tests;
