//! Errors of the schema registry client.

/// A failed call to the schema registry. Each variant names the request (method and URL,
/// which includes the subject) and [`RegistryError::is_retryable`] says whether trying again
/// can help.
///
/// URLs are kept as strings: a `Url` per variant would make every `Result` of the client
/// twice as large.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No (complete) HTTP answer: connection refused or reset, DNS failure, timeout.
    #[error("schema registry {method} {url}: no answer")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Full request URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry's loopback port is held by a process the stack did not start: the login
    /// was not sent. Retryable: the registry may get its port back.
    #[error("schema registry {url}: no login sent")]
    ForeignListener {
        /// Full request URL.
        url: String,
        /// Who holds the port.
        #[source]
        source: userstream_endpoints::listener::ForeignListener,
    },
    /// HTTP 409: the schema breaks the subject's compatibility level.
    #[error("schema registry refused the schema for subject {subject:?} as incompatible (POST {url}, error_code {error_code}): {message}")]
    Incompatible {
        /// The subject.
        subject: String,
        /// Full request URL.
        url: String,
        /// The registry's `error_code` (Confluent: 409).
        error_code: i64,
        /// The registry's reason, verbatim.
        message: String,
    },
    /// Any other non-2xx answer.
    #[error("schema registry {method} {url} answered HTTP {status}{code}: {message}", code = code_suffix(*.error_code))]
    Api {
        /// HTTP method.
        method: &'static str,
        /// Full request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's `error_code` (Confluent: 40401 subject not found, 40403 schema
        /// not found, 42201 invalid schema, 50001 backend error, ...), if it sent one.
        error_code: Option<i64>,
        /// The registry's `message`, or the start of the body when it is not the usual JSON.
        message: String,
    },
    /// A 2xx answer whose body is not what the API specifies.
    #[error("schema registry {method} {url} answered with an unexpected body: {body}")]
    Body {
        /// HTTP method.
        method: &'static str,
        /// Full request URL.
        url: String,
        /// The start of the body.
        body: String,
        /// Why it could not be read.
        #[source]
        source: serde_json::Error,
    },
    /// The base URL cannot take path segments (e.g. `mailto:`): a configuration error.
    #[error("schema registry base URL {url} is not an http(s) URL with a path")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("building the schema registry HTTP client")]
    Client(#[source] reqwest::Error),
}

fn code_suffix(error_code: Option<i64>) -> String {
    error_code.map_or_else(String::new, |code| format!(" (error_code {code})"))
}

impl RegistryError {
    /// Whether the same request may succeed later: yes when there was no answer or the
    /// registry reported a server-side or rate problem (5xx, 408, 429); no for every other
    /// answer, which would be the same next time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { source, .. } => !source.is_builder(),
            Self::ForeignListener { .. } => true,
            Self::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Incompatible { .. }
            | Self::Body { .. }
            | Self::InvalidBaseUrl { .. }
            | Self::Client(_) => false,
        }
    }

    /// Whether the registry could not be reached at all (connection refused, DNS, timeout),
    /// as opposed to answering with an error.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::ForeignListener { .. })
    }

    /// The HTTP status, when the registry answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Incompatible { .. } => Some(409),
            _ => None,
        }
    }

    /// The registry's `error_code`, when it sent one.
    pub fn error_code(&self) -> Option<i64> {
        match self {
            Self::Api { error_code, .. } => *error_code,
            Self::Incompatible { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }

    /// Whether the registry answered 404 (subject, version or schema id unknown).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}
