//! Errors of the users-api server.

use std::net::SocketAddr;

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum UsersApiError {
    /// The configuration is invalid; every problem is listed. Retrying cannot help.
    #[error("invalid users-api configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// The listening socket could not be bound (e.g. the port is taken).
    #[error("users-api cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Accepting or serving connections failed.
    #[error("users-api server failed: {0}")]
    Serve(#[source] std::io::Error),
}

impl UsersApiError {
    /// Whether trying again later can help: a taken port may be freed, a bad config stays bad.
    pub fn is_retryable(&self) -> bool {
        match self {
            UsersApiError::InvalidConfig(_) => false,
            UsersApiError::Bind { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::AddrInUse | std::io::ErrorKind::AddrNotAvailable
            ),
            UsersApiError::Serve(_) => true,
        }
    }
}
