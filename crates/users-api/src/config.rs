//! Server configuration.

use std::net::{Ipv4Addr, SocketAddr};

use crate::error::UsersApiError;
use crate::faults::FaultConfig;
use userstream_model::request::DEFAULT_MAX_RESULTS;

/// Default listening address: loopback, port 8765.
pub const DEFAULT_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8765);

/// Configuration of the users-api server. Defaults serve like randomuser.me with no faults.
#[derive(Debug, Clone, PartialEq)]
pub struct UsersApiConfig {
    /// Address to listen on; port 0 picks a free port (see [`crate::BoundServer::local_addr`]).
    pub bind: SocketAddr,
    /// Faults injected into responses.
    pub faults: FaultConfig,
    /// Largest accepted `results`; larger (or zero, or non-numeric) requests get one user,
    /// as on the real API.
    pub max_results: u32,
    /// Whether requests may override `faults` with `fault*` query parameters. Meant for tests;
    /// turn off to make the configured faults the only ones.
    pub allow_fault_params: bool,
}

impl Default for UsersApiConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND,
            faults: FaultConfig::default(),
            max_results: DEFAULT_MAX_RESULTS,
            allow_fault_params: true,
        }
    }
}

impl UsersApiConfig {
    /// Checks the configuration, reporting every problem at once.
    pub fn validate(&self) -> Result<(), UsersApiError> {
        let mut problems = self.faults.problems();
        if self.max_results == 0 {
            problems.push("max_results must be at least 1".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(UsersApiError::InvalidConfig(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_problems_are_collected() {
        assert!(UsersApiConfig::default().validate().is_ok());
        let bad = UsersApiConfig {
            max_results: 0,
            faults: FaultConfig {
                error_rate: 2.0,
                ..FaultConfig::default()
            },
            ..UsersApiConfig::default()
        };
        match bad.validate() {
            Err(UsersApiError::InvalidConfig(problems)) => assert_eq!(problems.len(), 3),
            other => panic!("{other:?}"),
        }
    }
}
