//! Errors of the users-api server.

use std::net::SocketAddr;

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum UsersApiError {
    /// The configuration is invalid; every problem is listed. Retrying cannot help.
    #[error("invalid users-api configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// The listening socket could not be bound (e.g. the port is taken).
    #[error("users-api cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Accepting or serving connections failed.
    #[error("the users-api server stopped")]
    Serve(#[source] std::io::Error),
    /// The in-process server's task did not finish (it panicked or was cancelled).
    #[error("the in-process users-api task failed")]
    Task(#[source] tokio::task::JoinError),
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
            UsersApiError::Serve(_) | UsersApiError::Task(_) => true,
        }
    }
}
