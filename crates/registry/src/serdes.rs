//! [`User`] to Confluent-framed Avro and back, with the schema registry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use apache_avro::Schema;
use userstream_model::{
    decode_avro, decode_avro_with, encode_avro, user_schema, AvroError, User, USER_SCHEMA_JSON,
};

use crate::client::RegistryClient;
use crate::error::RegistryError;
use crate::types::SchemaId;
use crate::wire::{decode_framed, encode_framed, FrameError};

/// The subject of a topic's values under Confluent's default `TopicNameStrategy`:
/// `users` → `users-value`.
pub fn topic_value_subject(topic: &str) -> String {
    format!("{topic}-value")
}

/// A failure to turn a [`User`] into framed bytes or back.
#[derive(Debug, thiserror::Error)]
pub enum SerdeError {
    /// The bytes are not Confluent-framed.
    #[error("reading the Confluent frame")]
    Frame(#[from] FrameError),
    /// The writer schema could not be fetched.
    #[error("fetching writer schema {id} from the schema registry")]
    Registry {
        /// The schema id in the frame.
        id: SchemaId,
        /// Why.
        #[source]
        source: RegistryError,
    },
    /// The registry's schema for that id is not valid Avro.
    #[error("writer schema {id} from the schema registry is not valid Avro")]
    WriterSchema {
        /// The schema id in the frame.
        id: SchemaId,
        /// What the Avro parser said.
        #[source]
        source: apache_avro::Error,
    },
    /// The Avro payload could not be encoded or decoded.
    #[error("Avro payload")]
    Avro(#[from] AvroError),
}

impl SerdeError {
    /// Whether trying again can help: only when the registry could not be asked.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Registry { source, .. } => source.is_retryable(),
            Self::Frame(_) | Self::WriterSchema { .. } | Self::Avro(_) => false,
        }
    }
}

/// Encodes [`User`]s as Confluent-framed Avro under one subject. The registry is asked once,
/// when it is built; encoding does no I/O.
#[derive(Debug, Clone)]
pub struct Serializer {
    subject: String,
    schema_id: SchemaId,
}

impl Serializer {
    /// Registers the embedded `User` schema under `subject` (the existing id if it is already
    /// there). Fails with [`RegistryError::Incompatible`] if the subject's compatibility level
    /// refuses it.
    pub async fn register(client: &RegistryClient, subject: &str) -> Result<Self, RegistryError> {
        let schema_id = client.register(subject, USER_SCHEMA_JSON).await?;
        Ok(Self {
            subject: subject.to_owned(),
            schema_id,
        })
    }

    /// Finds the embedded `User` schema under `subject` without registering it, for
    /// deployments where producers may not register schemas. 404 when it is not there.
    pub async fn lookup(client: &RegistryClient, subject: &str) -> Result<Self, RegistryError> {
        let found = client.lookup(subject, USER_SCHEMA_JSON).await?;
        Ok(Self {
            subject: subject.to_owned(),
            schema_id: found.id,
        })
    }

    /// The subject the schema is registered under.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The id written in every frame.
    pub fn schema_id(&self) -> SchemaId {
        self.schema_id
    }

    /// `user` as `[0][schema id][Avro]`.
    pub fn serialize(&self, user: &User) -> Result<Vec<u8>, SerdeError> {
        Ok(encode_framed(self.schema_id.0, &encode_avro(user)?))
    }
}

/// A writer schema, parsed once.
#[derive(Debug)]
struct WriterSchema {
    schema: Schema,
    /// Same canonical form as the embedded schema: decode without resolution.
    is_reader: bool,
}

/// Decodes Confluent-framed Avro into [`User`]s, whatever schema version wrote them: the
/// writer schema is fetched by the frame's id (once per id) and resolved to the embedded one.
#[derive(Debug)]
pub struct Deserializer {
    client: RegistryClient,
    schemas: Mutex<HashMap<SchemaId, Arc<WriterSchema>>>,
}

impl Deserializer {
    /// A deserializer that fetches writer schemas with `client`.
    pub fn new(client: RegistryClient) -> Self {
        Self {
            client,
            schemas: Mutex::default(),
        }
    }

    /// Decodes one framed message.
    pub async fn deserialize(&self, framed: &[u8]) -> Result<User, SerdeError> {
        let (id, avro) = decode_framed(framed)?;
        let writer = self.writer_schema(SchemaId(id)).await?;
        let user = if writer.is_reader {
            decode_avro(avro)?
        } else {
            decode_avro_with(&writer.schema, avro)?
        };
        Ok(user)
    }

    async fn writer_schema(&self, id: SchemaId) -> Result<Arc<WriterSchema>, SerdeError> {
        if let Some(known) = self.cached(id) {
            return Ok(known);
        }
        let text = self
            .client
            .schema_by_id(id)
            .await
            .map_err(|source| SerdeError::Registry { id, source })?;
        let schema =
            Schema::parse_str(&text).map_err(|source| SerdeError::WriterSchema { id, source })?;
        let is_reader = schema.canonical_form() == user_schema().canonical_form();
        let parsed = Arc::new(WriterSchema { schema, is_reader });
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(&parsed));
        Ok(parsed)
    }

    fn cached(&self, id: SchemaId) -> Option<Arc<WriterSchema>> {
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }
}
