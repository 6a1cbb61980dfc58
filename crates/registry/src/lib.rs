//! Confluent Schema Registry client and wire format for userstream.
//!
//! - [`RegistryClient`]: the REST API (`/subjects`, `/schemas/ids`, `/compatibility`, `/config`),
//!   as served by Confluent Schema Registry or by Apicurio Registry's Confluent-compatible API
//!   (`.../apis/ccompat/v7`), with schema ids cached both ways.
//! - [`encode_framed`] / [`decode_framed`]: the Confluent framing (magic byte 0, 4-byte
//!   big-endian schema id, Avro binary).
//! - [`Serializer`] / [`Deserializer`]: [`userstream_model::User`] to framed bytes and back.

#![warn(missing_docs)]

mod client;
mod error;
mod serdes;
mod types;
mod wire;

pub use client::{auth_headers, RegistryClient, SCHEMA_REGISTRY_CONTENT_TYPE};
pub use error::RegistryError;
pub use serdes::{topic_value_subject, Deserializer, SerdeError, Serializer};
pub use types::{Compatibility, CompatibilityLevel, ParseLevelError, RegisteredSchema, SchemaId};
pub use wire::{decode_framed, encode_framed, FrameError, HEADER_LEN, MAGIC_BYTE};
