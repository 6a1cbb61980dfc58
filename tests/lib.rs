//! Shared helpers for the end-to-end tests in this folder.
//!
//! They run against the real stack. `scripts/test.sh` starts it and sets
//! `USERSTREAM_STACK_STARTED=1`; then an unreachable service fails the test. Run alone
//! (`cargo test -p userstream-tests`) against a stack you started yourself with `userstream stack up`.

use std::path::PathBuf;

use userstream_stack::StackConfig;

/// The stack configuration the tests share with `scripts/test.sh`: the same environment
/// variables, and the repository's `.userstream` as the default state directory.
pub fn stack_config() -> StackConfig {
    let state = std::env::var_os("USERSTREAM_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.userstream"));
    let mut config = StackConfig::with_state_dir(state);
    if std::env::var_os("USERSTREAM_DAGS_DIR").is_none() {
        config.dags_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dags");
    }
    config
}

/// True when the test command started the stack (so every service must answer).
pub fn stack_started() -> bool {
    std::env::var("USERSTREAM_STACK_STARTED").is_ok_and(|v| v == "1")
}

/// A name no other test run uses (topics, subjects, keyspaces).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
