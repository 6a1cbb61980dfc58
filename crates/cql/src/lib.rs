//! The one place a Cassandra session is built, for the pipeline (`userstream_store`) and the
//! stack's own checks alike: the listener check before a password goes out, the driver's
//! errors read as typed kinds (a refused login, a retryable failure) instead of their text,
//! and the quoting of values the stack writes into CQL.

#![warn(missing_docs)]

mod quote;

use std::path::Path;
use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{
    ConnectionError, ConnectionPoolError, ConnectionSetupRequestErrorKind, DbError,
    DeserializationError, ExecutionError, FirstRowError, IntoRowsResultError, MaybeFirstRowError,
    MetadataError, NewSessionError, NextPageError, NextRowError, PagerExecutionError, PrepareError,
    RequestAttemptError, RequestError, RowsError, SingleRowError, TypeCheckError,
};
use userstream_endpoints::listener::ForeignListener;
use userstream_endpoints::{Cause, Login};

pub use quote::{quoted_name, string_literal};

/// Why no session could be opened. `Display` names what was tried; the driver's error is the
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Another process holds the node's port: no password was sent. Its message names the
    /// address and the holder first, as every health row of the stack does.
    #[error(transparent)]
    ForeignListener(ForeignListener),
    /// The node answered and refused the login (a wrong password, a role that does not exist
    /// yet, or a node still loading its roles).
    #[error("Cassandra at {contact_point} refused the login as {username}")]
    LoginRefused {
        /// The contact point.
        contact_point: String,
        /// The role tried.
        username: String,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// No session: the node is down, unreachable or did not answer in time.
    #[error("cannot connect to Cassandra at {contact_point}")]
    Unreachable {
        /// The contact point.
        contact_point: String,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
}

impl ConnectError {
    /// Whether the node itself refused the login (as opposed to not answering).
    pub fn is_login_refused(&self) -> bool {
        matches!(self, Self::LoginRefused { .. })
    }
}

/// Opens a session to the node at `contact_point`, logged in as `login` when given. Before a
/// password goes to a loopback address, the port's holder is checked against the stack's
/// processes in `run_dir` ([`userstream_endpoints::listener`]): while Cassandra is down anyone
/// on the machine may bind its port.
pub async fn connect(
    contact_point: &str,
    login: Option<&Login>,
    timeout: Duration,
    run_dir: &Path,
) -> Result<Session, ConnectError> {
    let mut builder = SessionBuilder::new()
        .known_node(contact_point)
        .connection_timeout(timeout);
    if let Some(login) = login {
        userstream_endpoints::listener::check_address(contact_point, run_dir)
            .map_err(ConnectError::ForeignListener)?;
        builder = builder.user(&login.username, &login.password);
    }
    builder.build().await.map_err(|error| {
        if is_login_refused(&error) {
            ConnectError::LoginRefused {
                contact_point: contact_point.to_owned(),
                username: login.map(|l| l.username.clone()).unwrap_or_default(),
                source: driver_error(error),
            }
        } else {
            ConnectError::Unreachable {
                contact_point: contact_point.to_owned(),
                source: driver_error(error),
            }
        }
    })
}

/// A driver error kept as a cause (see [`Cause`]): its message already holds its own causes.
pub type DriverError = Cause<Box<dyn std::error::Error + Send + Sync>>;

/// Wraps a driver error as a [`DriverError`].
pub fn driver_error(error: impl std::error::Error + Send + Sync + 'static) -> DriverError {
    Cause(Box::new(error))
}

/// Whether a failed session was refused at authentication: the node answered the connection's
/// AUTH_RESPONSE (or STARTUP, for an anonymous client) with an authentication error.
pub fn is_login_refused(error: &NewSessionError) -> bool {
    let pool = match error {
        NewSessionError::MetadataError(MetadataError::ConnectionPoolError(pool)) => pool,
        _ => return false,
    };
    let ConnectionPoolError::Broken {
        last_connection_error: ConnectionError::ConnectionSetupRequestError(setup),
        ..
    } = pool
    else {
        return false;
    };
    matches!(
        setup.get_error(),
        ConnectionSetupRequestErrorKind::DbError(DbError::AuthenticationError, _)
    )
}

/// Whether trying a failed request again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The node was unavailable, overloaded, timed out or lost the connection: a retry
    /// later can succeed.
    Transient,
    /// The request itself is wrong or not allowed (syntax, an invalid or unauthorized
    /// statement, a missing table): the same request fails again.
    Permanent,
}

/// A driver error whose [`FailureKind`] can be read from its type.
pub trait Classify {
    /// Whether trying again can help.
    fn kind(&self) -> FailureKind;
}

impl Classify for ExecutionError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::LastAttemptError(attempt) => attempt.kind(),
            Self::PrepareError(prepare) => prepare.kind(),
            Self::BadQuery(_) => FailureKind::Permanent,
            _ => FailureKind::Transient,
        }
    }
}

impl Classify for RequestAttemptError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::DbError(db, _) => db.kind(),
            Self::SerializationError(_) | Self::CqlRequestSerialization(_) => {
                FailureKind::Permanent
            }
            _ => FailureKind::Transient,
        }
    }
}

impl Classify for DbError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::SyntaxError
            | Self::Invalid
            | Self::AlreadyExists { .. }
            | Self::FunctionFailure { .. }
            | Self::AuthenticationError
            | Self::Unauthorized
            | Self::ConfigError
            | Self::ProtocolError => FailureKind::Permanent,
            _ => FailureKind::Transient,
        }
    }
}

impl Classify for PrepareError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::AllAttemptsFailed { first_attempt } => first_attempt.kind(),
            _ => FailureKind::Transient,
        }
    }
}

impl Classify for RequestError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::LastAttemptError(attempt) => attempt.kind(),
            _ => FailureKind::Transient,
        }
    }
}

impl Classify for NextPageError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::RequestFailure(request) => request.kind(),
            Self::TypeCheckError(_) => FailureKind::Permanent,
            _ => FailureKind::Transient,
        }
    }
}

impl Classify for NextRowError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::NextPageError(page) => page.kind(),
            _ => FailureKind::Permanent,
        }
    }
}

impl Classify for PagerExecutionError {
    fn kind(&self) -> FailureKind {
        match self {
            Self::PrepareError(prepare) => prepare.kind(),
            Self::NextPageError(page) => page.kind(),
            Self::SerializationError(_) => FailureKind::Permanent,
            _ => FailureKind::Transient,
        }
    }
}

/// Answers of the wrong shape (the columns or types a query expected are not what the node
/// returned): asking again returns the same.
macro_rules! permanent {
    ($($error:ty),*) => {
        $(impl Classify for $error {
            fn kind(&self) -> FailureKind {
                FailureKind::Permanent
            }
        })*
    };
}

permanent!(
    IntoRowsResultError,
    RowsError,
    FirstRowError,
    MaybeFirstRowError,
    SingleRowError,
    DeserializationError,
    TypeCheckError
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_errors_are_permanent_and_node_trouble_is_transient() {
        for permanent in [
            DbError::SyntaxError,
            DbError::Invalid,
            DbError::Unauthorized,
            DbError::ConfigError,
        ] {
            assert_eq!(permanent.kind(), FailureKind::Permanent);
            let error = ExecutionError::LastAttemptError(RequestAttemptError::DbError(
                permanent.clone(),
                "x".into(),
            ));
            assert_eq!(error.kind(), FailureKind::Permanent);
            let prepare = PrepareError::AllAttemptsFailed {
                first_attempt: RequestAttemptError::DbError(permanent, "x".into()),
            };
            assert_eq!(prepare.kind(), FailureKind::Permanent);
        }
        for transient in [
            DbError::Overloaded,
            DbError::IsBootstrapping,
            DbError::ServerError,
        ] {
            assert_eq!(transient.kind(), FailureKind::Transient);
        }
        assert_eq!(
            ExecutionError::RequestTimeout(Duration::from_secs(1)).kind(),
            FailureKind::Transient
        );
        assert_eq!(ExecutionError::EmptyPlan.kind(), FailureKind::Transient);
    }

    #[test]
    fn a_node_that_is_not_there_is_not_a_refused_login() {
        let error = NewSessionError::EmptyKnownNodesList;
        assert!(!is_login_refused(&error));
    }

    #[test]
    fn a_driver_error_ends_the_chain_and_says_its_causes_once() {
        use std::error::Error;
        let wrapped = ConnectError::Unreachable {
            contact_point: "127.0.0.1:9042".into(),
            source: driver_error(NewSessionError::EmptyKnownNodesList),
        };
        let cause = wrapped.source().unwrap();
        assert_eq!(cause.to_string(), "Empty known nodes list");
        assert!(cause.source().is_none());
        assert!(!wrapped.to_string().contains("Empty known nodes list"));
    }
}
