//! [`SparkJob`]: which Spark Connect session holds the job's queries, what they are called,
//! and where the job keeps its files.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use crate::SparkError;

/// Namespace of the v5 UUIDs that name Spark Connect sessions.
const SESSION_NAMESPACE: Uuid = Uuid::from_u128(0x5e55_10a5_7d1b_4c3e_9a56_7573_6572_7374);

/// The Spark Connect user the job's commands and the console send: with the query name it
/// picks the server-side session, so a watcher must send the same one.
pub const DEFAULT_CONNECT_USER: &str = "userstream";

/// Where the job keeps its checkpoints (and its files beside them) for the state directory
/// `state_dir`: `<state_dir>/data/checkpoints`, made absolute against the current directory
/// (the Spark Connect server resolves it, not this process).
pub fn checkpoint_root(state_dir: &Path) -> PathBuf {
    std::path::absolute(state_dir)
        .unwrap_or_else(|_| state_dir.to_path_buf())
        .join("data")
        .join("checkpoints")
}

/// The job as seen from Spark Connect. `Debug` withholds the token.
#[derive(Clone)]
pub struct SparkJob {
    /// Spark Connect server, `sc://host:port` (no parameters: the session is chosen here).
    pub connect_url: String,
    /// User id sent to Spark Connect; with the query name it picks the server-side session.
    pub connect_user: String,
    /// Token the Spark Connect server requires (sent as `authorization: Bearer`).
    pub connect_token: Option<String>,
    /// Query name of the users query; the rejected-records query is `<name>-rejected`.
    pub query_name: String,
    /// Directory holding one checkpoint directory per query, and the job's files.
    pub checkpoint_root: PathBuf,
    /// Timeout of each request.
    pub request_timeout: Duration,
    /// The local stack's pid files: the token goes to a loopback port only when the process
    /// holding it is the stack's Connect server.
    pub stack_run_dir: PathBuf,
}

impl fmt::Debug for SparkJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SparkJob")
            .field("connect_url", &self.connect_url)
            .field("connect_user", &self.connect_user)
            .field(
                "connect_token",
                &self
                    .connect_token
                    .as_ref()
                    .map(|_| format_args!("<withheld>")),
            )
            .field("query_name", &self.query_name)
            .field("checkpoint_root", &self.checkpoint_root)
            .field("request_timeout", &self.request_timeout)
            .field("stack_run_dir", &self.stack_run_dir)
            .finish()
    }
}

impl SparkJob {
    /// Name of the rejected-records query.
    pub fn rejected_query_name(&self) -> String {
        rejected_query_name(&self.query_name)
    }

    /// The Spark Connect session id: derived from the user and query name, so `start`,
    /// `status`, `stop`, `run` and the console in different processes share one
    /// server-side session and see the same queries.
    pub fn session_id(&self) -> Uuid {
        Uuid::new_v5(
            &SESSION_NAMESPACE,
            format!("{}/{}", self.connect_user, self.query_name).as_bytes(),
        )
    }

    /// `(host, port)` of the Connect server.
    pub fn connect_endpoint(&self) -> Result<(String, u16), SparkError> {
        let bad = |why: &str| {
            SparkError::Config(vec![format!("connect_url `{}`: {why}", self.connect_url)])
        };
        let url = Url::parse(&self.connect_url).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "sc" {
            return Err(bad("scheme must be sc://"));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(bad(
                "give only sc://host:port; the session is chosen by the query name",
            ));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?.to_owned();
        Ok((host, url.port().unwrap_or(15002)))
    }

    /// Refuses to send the token to a loopback Spark Connect port held by a process the stack
    /// did not start (while the server is down anyone may bind it); retryable, since the
    /// server may get its port back.
    pub fn check_connect_listener(&self) -> Result<(), SparkError> {
        if self.connect_token.is_none() {
            return Ok(());
        }
        let (host, port) = self.connect_endpoint()?;
        userstream_endpoints::listener::check(&host, port, &self.stack_run_dir).map_err(|e| {
            SparkError::Connect {
                url: self.connect_url.clone(),
                reason: e.to_string(),
            }
        })
    }

    /// The job's state file: what the last `start` found or started ([`StartedQueries`]
    /// reads it; the job writes the whole start there).
    pub fn state_file(&self) -> PathBuf {
        self.checkpoint_root
            .join(format!("{}.job.json", self.query_name))
    }

    /// The queries of the last start, from the state file; `None` when there is none (or it
    /// cannot be read).
    pub fn last_started(&self) -> Option<StartedQueries> {
        let text = std::fs::read_to_string(self.state_file()).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Name of the rejected-records query of the users query `query_name`.
pub(crate) fn rejected_query_name(query_name: &str) -> String {
    format!("{query_name}-rejected")
}

/// One streaming query as started or found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryInfo {
    /// Query name.
    pub name: String,
    /// Query id: stable across restarts from the same checkpoint.
    pub id: String,
    /// Run id: new at every (re)start.
    pub run_id: String,
    /// Its checkpoint directory.
    pub checkpoint: PathBuf,
    /// `false` when it was already running and `start` left it alone.
    pub started_now: bool,
}

/// The two queries of the last start, as the job's state file holds them (the job's
/// `JobInfo` carries them under these names, with more beside them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StartedQueries {
    /// The users query.
    pub users: QueryInfo,
    /// The rejected-records query.
    pub rejected: QueryInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> SparkJob {
        SparkJob {
            connect_url: "sc://127.0.0.1:15002".into(),
            connect_user: DEFAULT_CONNECT_USER.into(),
            connect_token: Some("spark-t0ken-value".into()),
            query_name: "userstream-users".into(),
            checkpoint_root: PathBuf::from("/s/data/checkpoints"),
            request_timeout: Duration::from_secs(30),
            stack_run_dir: PathBuf::from("/s/run"),
        }
    }

    #[test]
    fn names_and_endpoint() {
        let job = job();
        assert_eq!(job.rejected_query_name(), "userstream-users-rejected");
        assert_eq!(
            job.connect_endpoint().ok(),
            Some(("127.0.0.1".into(), 15002))
        );
        assert_eq!(
            job.state_file(),
            PathBuf::from("/s/data/checkpoints/userstream-users.job.json")
        );
        assert_eq!(
            checkpoint_root(Path::new("/s")),
            PathBuf::from("/s/data/checkpoints")
        );
        let shown = format!("{job:?}");
        assert!(!shown.contains("spark-t0ken-value"), "{shown}");
        assert!(shown.contains("<withheld>"), "{shown}");
    }

    #[test]
    fn session_id_is_stable_per_user_and_query() {
        let (a, mut b) = (job(), job());
        assert_eq!(a.session_id(), b.session_id());
        b.query_name = "other".into();
        assert_ne!(a.session_id(), b.session_id());
    }

    #[test]
    fn bad_urls_are_config_errors() {
        let mut job = job();
        for url in ["http://x:1", "sc://x:1/path", "sc://x:1?q=1"] {
            job.connect_url = url.into();
            assert!(
                matches!(job.connect_endpoint(), Err(SparkError::Config(_))),
                "{url}"
            );
        }
    }
}
