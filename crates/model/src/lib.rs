//! The userstream data model: the one declaration of the user record ([`record`]), the
//! `User` struct, its Avro schema and codec, the derivation rules shared by the producer, the
//! streaming job and `verify` ([`derive`]), and the parser that turns a randomuser.me API
//! response into users and rejected records. The `rejected_rows` table's columns and reason
//! codes are declared in [`rejected`].
//!
//! Pure logic only: no I/O. Login secrets (`password`, `salt`, `md5`, `sha1`, `sha256`) are
//! dropped here and never leave this crate, neither in a [`User`] nor in a [`Rejected::raw`].

#![warn(missing_docs)]

mod avro;
pub mod dead_letter_headers;
pub mod derive;
mod parse;
mod raw;
pub mod record;
mod reject;
pub mod rejected;
pub mod request;
mod schema;
mod user;
pub mod validate;

pub use avro::{decode_avro, decode_avro_with, encode_avro, AvroError};
pub use parse::{parse_page, Info, Page, PageError, SourcePosition};
pub use reject::{strip_secrets, JsonKind, RejectReason, Rejected, SECRET_LOGIN_FIELDS};
pub use schema::{
    evolved_datum, evolved_framed, evolved_schema_json, user_schema, USER_SCHEMA_JSON,
    USER_SCHEMA_NAME,
};
pub use user::User;
