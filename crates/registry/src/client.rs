//! The schema registry REST client.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use url::Url;
use userstream_endpoints::Login;

use crate::error::RegistryError;
use crate::types::{Compatibility, CompatibilityLevel, RegisteredSchema, SchemaId};

/// Content type of the Confluent Schema Registry API.
pub const SCHEMA_REGISTRY_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

const ACCEPT_VALUE: &str = "application/vnd.schemaregistry.v1+json, \
     application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5";

/// How much of an unexpected body an error quotes.
const BODY_EXCERPT: usize = 512;

/// A client of the Confluent Schema Registry REST API. Cheap to clone: clones share the HTTP
/// connection pool and the schema cache.
///
/// Caches, for the life of the client: id → schema (ids are immutable) and
/// (subject, schema text) → id (registering the same text again gives the same id).
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base: Url,
    http: reqwest::Client,
    /// With a login: the local stack's pid files, which each request first checks the
    /// holder of a loopback port against (the login goes only to the stack's own registry).
    login_guard: Option<PathBuf>,
    cache: Arc<Mutex<Cache>>,
}

#[derive(Debug, Default)]
struct Cache {
    schemas: HashMap<SchemaId, String>,
    ids: HashMap<(String, String), SchemaId>,
}

/// `{"id": 1}`
#[derive(Deserialize)]
struct IdBody {
    id: SchemaId,
}

/// `{"schema": "..."}`
#[derive(Deserialize)]
struct SchemaBody {
    schema: String,
}

/// `{"is_compatible": true, "messages": [...]}`
#[derive(Deserialize)]
struct CompatibilityBody {
    is_compatible: bool,
    #[serde(default)]
    messages: Option<Vec<serde_json::Value>>,
}

/// PUT answers `{"compatibility": ...}`, GET answers `{"compatibilityLevel": ...}`.
#[derive(Deserialize)]
struct ConfigBody {
    #[serde(alias = "compatibilityLevel")]
    compatibility: CompatibilityLevel,
}

/// `{"error_code": 40401, "message": "Subject not found."}`
#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

impl RegistryClient {
    /// A client for the API at `base_url`, e.g. `http://127.0.0.1:8081` (Confluent) or
    /// `http://127.0.0.1:8081/apis/ccompat/v7` (Apicurio). `timeout` bounds each request,
    /// connecting included.
    ///
    /// With a `login`, every request carries it as HTTP basic auth (the stack's registry
    /// refuses anonymous callers), and first checks that a loopback port is held by the stack
    /// whose pid files are in `stack_run_dir` ([`userstream_endpoints::Endpoints::stack_run_dir`]).
    pub fn new(
        base_url: Url,
        login: Option<&Login>,
        timeout: Duration,
        stack_run_dir: &Path,
    ) -> Result<Self, RegistryError> {
        if base_url.cannot_be_a_base() {
            return Err(RegistryError::InvalidBaseUrl {
                url: base_url.into(),
            });
        }
        let headers = auth_headers(login).ok_or_else(|| RegistryError::InvalidBaseUrl {
            url: "(a login that is not a valid HTTP header)".into(),
        })?;
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(RegistryError::Client)?;
        Ok(Self {
            base: base_url,
            http,
            login_guard: login.map(|_| stack_run_dir.to_path_buf()),
            cache: Arc::default(),
        })
    }

    /// The base URL given to [`RegistryClient::new`].
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Registers `schema` (Avro JSON) under `subject` and returns its id; registering a schema
    /// the subject already has returns the existing id. Fails with
    /// [`RegistryError::Incompatible`] when the subject's compatibility level refuses it.
    /// Cached: the same (subject, schema) is sent once per client.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        let key = (subject.to_owned(), schema.to_owned());
        if let Some(id) = self.cache().ids.get(&key) {
            return Ok(*id);
        }
        let url = self.url(&["subjects", subject, "versions"], None)?;
        let body: IdBody = self
            .send(
                Method::POST,
                url,
                Some(json!({ "schema": schema })),
                Some(subject),
            )
            .await?;
        tracing::debug!(subject, id = body.id.0, "schema registered");
        let mut cache = self.cache();
        cache.ids.insert(key, body.id);
        cache.schemas.insert(body.id, schema.to_owned());
        Ok(body.id)
    }

    /// Looks `schema` up under `subject` without registering it (POST /subjects/{subject});
    /// 404 (`is_not_found`) when the subject does not have it.
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<RegisteredSchema, RegistryError> {
        let url = self.url(&["subjects", subject], None)?;
        let found: RegisteredSchema = self
            .send(
                Method::POST,
                url,
                Some(json!({ "schema": schema })),
                Some(subject),
            )
            .await?;
        let mut cache = self.cache();
        cache
            .ids
            .insert((subject.to_owned(), schema.to_owned()), found.id);
        cache.schemas.insert(found.id, found.schema.clone());
        Ok(found)
    }

    /// The schema text with id `id`. Cached.
    pub async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        if let Some(schema) = self.cache().schemas.get(&id) {
            return Ok(schema.clone());
        }
        let url = self.url(&["schemas", "ids", &id.to_string()], None)?;
        let body: SchemaBody = self.send(Method::GET, url, None, None).await?;
        self.cache().schemas.insert(id, body.schema.clone());
        Ok(body.schema)
    }

    /// The latest version of `subject`. Not cached (it changes); fills the id cache.
    pub async fn latest(&self, subject: &str) -> Result<RegisteredSchema, RegistryError> {
        let url = self.url(&["subjects", subject, "versions", "latest"], None)?;
        let latest: RegisteredSchema = self.send(Method::GET, url, None, Some(subject)).await?;
        self.cache()
            .schemas
            .insert(latest.id, latest.schema.clone());
        Ok(latest)
    }

    /// Version `version` of `subject`. Fills the id cache.
    pub async fn version(
        &self,
        subject: &str,
        version: u32,
    ) -> Result<RegisteredSchema, RegistryError> {
        let url = self.url(
            &["subjects", subject, "versions", &version.to_string()],
            None,
        )?;
        let found: RegisteredSchema = self.send(Method::GET, url, None, Some(subject)).await?;
        self.cache().schemas.insert(found.id, found.schema.clone());
        Ok(found)
    }

    /// The subjects and versions schema `id` is registered under
    /// (`GET /schemas/ids/{id}/versions`); `None` when the registry does not know the id.
    pub async fn subject_versions_of(
        &self,
        id: SchemaId,
    ) -> Result<Option<Vec<(String, u32)>>, RegistryError> {
        /// One entry of the answer.
        #[derive(serde::Deserialize)]
        struct SubjectVersion {
            subject: String,
            version: u32,
        }
        let url = self.url(&["schemas", "ids", &id.to_string(), "versions"], None)?;
        match self
            .send::<Vec<SubjectVersion>>(Method::GET, url, None, None)
            .await
        {
            Ok(list) => Ok(Some(
                list.into_iter().map(|v| (v.subject, v.version)).collect(),
            )),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `schema` may be registered under `subject`, checked against the latest version
    /// with the subject's level; `messages` says why not.
    pub async fn check_compatibility(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Compatibility, RegistryError> {
        let url = self.url(
            &["compatibility", "subjects", subject, "versions", "latest"],
            Some(("verbose", "true")),
        )?;
        let body: CompatibilityBody = self
            .send(
                Method::POST,
                url,
                Some(json!({ "schema": schema })),
                Some(subject),
            )
            .await?;
        let messages = body
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| match m {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect();
        Ok(Compatibility {
            is_compatible: body.is_compatible,
            messages,
        })
    }

    /// Sets `subject`'s compatibility level; returns the level the registry now reports.
    pub async fn set_compatibility(
        &self,
        subject: &str,
        level: CompatibilityLevel,
    ) -> Result<CompatibilityLevel, RegistryError> {
        let url = self.url(&["config", subject], None)?;
        let put = || {
            self.send::<ConfigBody>(
                Method::PUT,
                url.clone(),
                Some(json!({ "compatibility": level })),
                Some(subject),
            )
        };
        match put().await {
            Ok(body) => Ok(body.compatibility),
            // Apicurio creates the subject's rule on the first PUT; two clients doing that at
            // once make the loser fail with "A rule named 'COMPATIBILITY' already exists".
            // (HTTP 409 Conflict). The second PUT then updates the existing rule.
            Err(e) if e.status() == Some(409) => Ok(put().await?.compatibility),
            Err(e) => Err(e),
        }
    }

    /// `subject`'s own compatibility level; `None` when it has none (the global default
    /// applies) or the subject does not exist.
    pub async fn get_compatibility(
        &self,
        subject: &str,
    ) -> Result<Option<CompatibilityLevel>, RegistryError> {
        let url = self.url(&["config", subject], None)?;
        match self
            .send::<ConfigBody>(Method::GET, url, None, Some(subject))
            .await
        {
            Ok(body) => Ok(Some(body.compatibility)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every subject.
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let url = self.url(&["subjects"], None)?;
        self.send(Method::GET, url, None, None).await
    }

    /// The versions of `subject`, ascending.
    pub async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let url = self.url(&["subjects", subject, "versions"], None)?;
        self.send(Method::GET, url, None, Some(subject)).await
    }

    /// Deletes `subject` (soft delete; `permanent` after a soft delete removes it for good) and
    /// returns the versions deleted. Forgets the subject's cached ids.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let query = permanent.then_some(("permanent", "true"));
        let url = self.url(&["subjects", subject], query)?;
        let versions = self.send(Method::DELETE, url, None, Some(subject)).await?;
        self.cache().ids.retain(|(s, _), _| s != subject);
        Ok(versions)
    }

    /// Locks the cache. Never held across an `.await` (clippy's `await_holding_lock` is denied);
    /// a poisoned lock only means another thread panicked mid-insert of a complete entry.
    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The base URL plus `segments`, each percent-encoded as one path segment (subjects may
    /// contain `/` or spaces).
    fn url(&self, segments: &[&str], query: Option<(&str, &str)>) -> Result<Url, RegistryError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| RegistryError::InvalidBaseUrl {
                url: self.base.to_string(),
            })?
            .pop_if_empty()
            .extend(segments);
        if let Some((key, value)) = query {
            url.query_pairs_mut().append_pair(key, value);
        }
        Ok(url)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
        subject: Option<&str>,
    ) -> Result<T, RegistryError> {
        let method_name = method_name(&method);
        let transport = |source| RegistryError::Transport {
            method: method_name,
            url: url.to_string(),
            source,
        };
        if let Some(stack_run_dir) = &self.login_guard {
            userstream_endpoints::listener::check_url(url.as_str(), stack_run_dir).map_err(
                |source| RegistryError::ForeignListener {
                    url: url.to_string(),
                    source,
                },
            )?;
        }
        let mut request = self
            .http
            .request(method, url.clone())
            .header(ACCEPT, HeaderValue::from_static(ACCEPT_VALUE));
        if let Some(body) = body {
            request = request
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static(SCHEMA_REGISTRY_CONTENT_TYPE),
                )
                .body(body.to_string());
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|source| RegistryError::Body {
                method: method_name,
                url: url.to_string(),
                body: excerpt(&bytes),
                source,
            });
        }
        let (error_code, mut message) = error_details(status, &bytes);
        if status == StatusCode::UNAUTHORIZED {
            message = format!("{message} (the registry refused this client's login: `userstream stack credentials` shows the stack's registry users; the secrets file must be the stack's own)");
        } else if status == StatusCode::FORBIDDEN {
            message = format!("{message} (this client's registry user may not do this: readers read, the producer registers, only admin changes settings)");
        }
        tracing::debug!(%url, status = status.as_u16(), ?error_code, %message, "schema registry error");
        match subject {
            Some(subject) if status == StatusCode::CONFLICT => Err(RegistryError::Incompatible {
                subject: subject.to_owned(),
                url: url.into(),
                error_code: error_code.unwrap_or(409),
                message,
            }),
            _ => Err(RegistryError::Api {
                method: method_name,
                url: url.into(),
                status: status.as_u16(),
                error_code,
                message,
            }),
        }
    }
}

/// Default headers that log every request in as `login` (HTTP basic auth); empty without a
/// login, `None` when the login cannot be a header value. The value is marked sensitive, so
/// the HTTP client never prints it.
pub fn auth_headers(login: Option<&Login>) -> Option<reqwest::header::HeaderMap> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(login) = login {
        use base64::Engine;
        let pair = format!("{}:{}", login.username, login.password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Some(headers)
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "HTTP",
    }
}

/// The registry's `error_code` and `message`, or the start of a body that is not that JSON.
fn error_details(status: StatusCode, body: &[u8]) -> (Option<i64>, String) {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            error_code,
            message: Some(message),
        }) => (error_code, message),
        Ok(ErrorBody { error_code, .. }) => (error_code, excerpt(body)),
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => (
            None,
            status.canonical_reason().unwrap_or("no body").to_owned(),
        ),
        Err(_) => (None, excerpt(body)),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> RegistryClient {
        RegistryClient::new(
            Url::parse(base).expect("url"),
            None,
            Duration::from_secs(1),
            Path::new(".userstream/run"),
        )
        .expect("client")
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_subjects() {
        let c = client("http://127.0.0.1:8081/apis/ccompat/v7");
        assert_eq!(
            c.url(&["subjects", "users-value", "versions"], None)
                .expect("url")
                .as_str(),
            "http://127.0.0.1:8081/apis/ccompat/v7/subjects/users-value/versions"
        );
        let c = client("http://127.0.0.1:8081/apis/ccompat/v7/");
        assert_eq!(
            c.url(&["subjects", "a/b c"], Some(("permanent", "true")))
                .expect("url")
                .as_str(),
            "http://127.0.0.1:8081/apis/ccompat/v7/subjects/a%2Fb%20c?permanent=true"
        );
        let c = client("http://localhost:8081");
        assert_eq!(
            c.url(&["schemas", "ids", "7"], None).expect("url").as_str(),
            "http://localhost:8081/schemas/ids/7"
        );
    }

    #[test]
    fn base_url_must_take_a_path() {
        let err = RegistryClient::new(
            Url::parse("mailto:registry@example.com").expect("url"),
            None,
            Duration::from_secs(1),
            Path::new(".userstream/run"),
        )
        .expect_err("not a base");
        assert!(matches!(err, RegistryError::InvalidBaseUrl { .. }));
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_details(
                StatusCode::NOT_FOUND,
                br#"{"error_code":40401,"message":"Subject 'x' not found."}"#
            ),
            (Some(40401), "Subject 'x' not found.".to_owned())
        );
        assert_eq!(
            error_details(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>"),
            (None, "<html>bad gateway</html>".to_owned())
        );
        assert_eq!(
            error_details(StatusCode::SERVICE_UNAVAILABLE, b""),
            (None, "Service Unavailable".to_owned())
        );
        assert_eq!(excerpt("é".repeat(600).as_bytes()).chars().count(), 513);
    }
}
