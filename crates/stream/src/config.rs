//! [`StreamConfig`]: everything the streaming job and its controls need.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;
use userstream_endpoints::{names, Endpoints, KafkaAccess, KafkaRole, Login, Ports};
use userstream_spark::SparkJob;
use uuid::Uuid;

use crate::StreamError;

/// How the Cassandra connector writes (per-write options of the sink; see
/// `spark-cassandra-connector` `doc/reference.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CassandraOutput {
    /// `spark.cassandra.output.concurrent.writes`: batches in flight per task.
    pub concurrent_writes: u32,
    /// `spark.cassandra.output.consistency.level`, e.g. `LOCAL_ONE`, `LOCAL_QUORUM`.
    pub consistency_level: String,
    /// `spark.cassandra.output.batch.grouping.key`: `none`, `replica_set` or `partition`.
    pub batch_grouping_key: String,
    /// `spark.cassandra.output.batch.size.rows`; `None` lets the connector size batches by
    /// `batch_size_bytes`.
    pub batch_size_rows: Option<u32>,
    /// `spark.cassandra.output.batch.size.bytes` (connector default 1024: one ~1.3 KiB user
    /// per batch). Keep it under Cassandra's `batch_size_warn_threshold` (5 KiB) or every
    /// batch logs a warning.
    pub batch_size_bytes: Option<u32>,
    /// `spark.cassandra.output.ignoreNulls`: leave null columns unset instead of writing a
    /// tombstone per null cell. Measured here: ~40 % more rows/s landed. Off by default: with
    /// it, a newer record with a field now null keeps the old value in Cassandra, so the row
    /// is no longer exactly the latest record (and `verify` reports the difference).
    pub ignore_nulls: bool,
}

impl Default for CassandraOutput {
    fn default() -> Self {
        Self {
            concurrent_writes: 16,
            // One local node: a stronger level is the same single replica.
            consistency_level: "LOCAL_ONE".into(),
            // Rows are keyed by random uuids, so grouping by partition gives one-row batches;
            // grouping by replica set gives a few rows per request (measured here: ~5,400
            // rows/s landed against ~3,400 with one-row batches).
            batch_grouping_key: "replica_set".into(),
            batch_size_rows: None,
            // By the connector's estimate of the values; Cassandra counts about twice that
            // (~30 rows, ~35 KiB: the stack raises its 5 KiB warn threshold to 64 KiB and its
            // 10-partition warning to 100). Measured draining 100k users: Cassandra's CPU per
            // row ~10% lower than with 4,800 bytes (about 8 rows per batch).
            batch_size_bytes: Some(16_384),
            ignore_nulls: false,
        }
    }
}

/// The streaming job: where it reads, where it writes, how it is triggered and supervised.
/// `Debug` withholds the Spark Connect token, the logins' passwords, and the values of any
/// extra option that looks like a login.
#[derive(Clone)]
pub struct StreamConfig {
    /// Spark Connect server, `sc://host:port` (no parameters: the session is chosen here).
    pub connect_url: String,
    /// User id sent to Spark Connect; with the query name it picks the server-side session.
    pub connect_user: String,
    /// Token the Spark Connect server requires (sent as `authorization: Bearer`).
    pub connect_token: Option<String>,
    /// Kafka bootstrap servers (`kafka.bootstrap.servers` of the source) and the reader's
    /// login, which `verify` and `status` use. The job's source only turns SASL on when a
    /// login is set: it logs in with the Spark Connect server's own JAAS file (the stack's
    /// reader), so no password is in its plan.
    pub bootstrap_servers: KafkaAccess,
    /// Schema registry base URL (Confluent API).
    pub registry_url: Url,
    /// Registry user (read-only).
    pub registry_login: Option<Login>,
    /// Registry subject of the values; `None` means `<topic>-value`.
    pub subject: Option<String>,
    /// Kafka topic to read.
    pub topic: String,
    /// Cassandra contact point, `host:port` (for `verify`, `status` counts, `bench`).
    pub cassandra_contact_point: String,
    /// Cassandra role of `verify`'s and `status`'s reads (the application role). The job
    /// writes as the Spark Connect server's own `spark.cassandra.auth.*` (the stack sets the
    /// application role there), so no password is in its plan.
    pub cassandra_login: Option<Login>,
    /// Cassandra keyspace the job writes to.
    pub keyspace: String,
    /// Table for decoded users.
    pub table: String,
    /// Table for records that could not be decoded.
    pub rejected_table: String,
    /// `startingOffsets` on the first start (`earliest`, `latest` or per-partition JSON);
    /// ignored once a checkpoint exists.
    pub starting_offsets: String,
    /// `maxOffsetsPerTrigger`: records read per micro-batch at most.
    pub max_offsets_per_trigger: u64,
    /// `failOnDataLoss`: fail the query when offsets it needs were deleted.
    pub fail_on_data_loss: bool,
    /// `minPartitions`: split Kafka partitions into at least this many Spark tasks.
    pub min_partitions: Option<u32>,
    /// Processing-time trigger of the users query.
    pub trigger: Duration,
    /// Processing-time trigger of the rejected-records query (rare records: a slower trigger
    /// leaves the cores to the users query).
    pub rejected_trigger: Duration,
    /// Directory holding one checkpoint directory per query (absolute: the Spark Connect
    /// server resolves it, not this process).
    pub checkpoint_root: PathBuf,
    /// Query name of the users query; the rejected-records query is `<name>-rejected`.
    pub query_name: String,
    /// Connector write tuning.
    pub cassandra_output: CassandraOutput,
    /// Extra options for the Kafka source (`kafka.*` consumer settings and source options);
    /// a key the typed fields already set is an error, and so is a login
    /// (`kafka.sasl.jaas.config`).
    pub kafka_options: BTreeMap<String, String>,
    /// Extra options for the Cassandra sink; a key the typed fields already set is an error,
    /// and so is a login (`spark.cassandra.auth.*`).
    pub cassandra_options: BTreeMap<String, String>,
    /// How often `run` touches the Connect session and checks the queries (Spark 3.5 drops a
    /// session, and stops its queries, after 1 h without a call).
    pub keepalive_interval: Duration,
    /// First delay before restarting a failed query; doubles up to `restart_backoff_max`.
    pub restart_backoff_initial: Duration,
    /// Longest delay between restarts.
    pub restart_backoff_max: Duration,
    /// Consecutive failed restarts after which `run` gives up with the query's exception.
    pub max_restarts: u32,
    /// A query that is active but finishes no batch for this long while records wait in
    /// Kafka is stalled: `run` and `ensure` restart it (see [`crate::watchdog`]). Long enough
    /// for one full batch of `max_offsets_per_trigger` records on a busy machine.
    pub stall_after: Duration,
    /// Generation of the connector's Cassandra session. The connector caches one driver
    /// session per distinct setting set, and a session whose schema refresh hung (a driver
    /// bug after Cassandra restarts) stays hung; the stall remedy bumps this, which changes
    /// `spark.cassandra.connection.keepAliveMS` by 1 ms per generation: a fresh session.
    pub connector_session: u32,
    /// Timeout of each registry, Kafka and Cassandra request.
    pub request_timeout: Duration,
    /// How long a command that acts on the job (start, stop, ensure, a supervisor's remedy)
    /// waits for another one to finish first (see [`crate::control`]).
    pub control_wait: Duration,
    /// The local stack's pid files: a login goes to a loopback port only when the process
    /// holding it is the stack's ([`userstream_endpoints::Endpoints::stack_run_dir`]).
    pub stack_run_dir: PathBuf,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self::with_state_dir(userstream_endpoints::DEFAULT_STATE_DIR)
    }
}

impl StreamConfig {
    /// Defaults, with checkpoints under `<state_dir>/data/checkpoints` (made absolute against
    /// the current directory).
    pub fn with_state_dir(state_dir: impl AsRef<Path>) -> Self {
        let local = Endpoints::local(&Ports::default());
        Self {
            connect_url: local.spark_connect_url,
            connect_user: userstream_spark::DEFAULT_CONNECT_USER.into(),
            connect_token: None,
            bootstrap_servers: KafkaAccess::plaintext(local.kafka_bootstrap),
            registry_url: local.registry_url,
            registry_login: None,
            subject: None,
            topic: names::TOPIC.into(),
            cassandra_contact_point: local.cassandra,
            cassandra_login: None,
            keyspace: names::KEYSPACE.into(),
            table: userstream_store::USERS_TABLE.into(),
            rejected_table: userstream_store::REJECTED_TABLE.into(),
            starting_offsets: "earliest".into(),
            max_offsets_per_trigger: 50_000,
            fail_on_data_loss: true,
            min_partitions: None,
            trigger: Duration::from_secs(1),
            rejected_trigger: Duration::from_secs(5),
            checkpoint_root: userstream_spark::checkpoint_root(state_dir.as_ref()),
            query_name: names::QUERY_NAME.into(),
            cassandra_output: CassandraOutput::default(),
            kafka_options: BTreeMap::new(),
            cassandra_options: BTreeMap::new(),
            keepalive_interval: Duration::from_secs(30),
            restart_backoff_initial: Duration::from_secs(2),
            restart_backoff_max: Duration::from_secs(60),
            max_restarts: 10,
            stall_after: Duration::from_secs(180),
            connector_session: 0,
            request_timeout: Duration::from_secs(30),
            // A Connect server restart plus a first start takes a few minutes on 2 cores.
            control_wait: Duration::from_secs(300),
            stack_run_dir: userstream_endpoints::stack_run_dir(state_dir.as_ref()),
        }
    }

    /// Points the job and its controls at `endpoints` (Spark Connect, Kafka, the registry,
    /// Cassandra).
    ///
    /// The logins are the least-privileged ones: Kafka and registry readers, Cassandra's
    /// application role.
    pub fn set_endpoints(&mut self, endpoints: &Endpoints) {
        self.connect_url = endpoints.spark_connect_url.clone();
        self.connect_token = endpoints.spark_connect_token();
        self.bootstrap_servers = endpoints.kafka(KafkaRole::Reader);
        self.registry_url = endpoints.registry_url.clone();
        self.registry_login = endpoints.registry_login(userstream_endpoints::RegistryRole::Reader);
        self.cassandra_contact_point = endpoints.cassandra.clone();
        self.cassandra_login = endpoints.cassandra_login(userstream_endpoints::CassandraRole::App);
        self.stack_run_dir = endpoints.stack_run_dir();
    }

    /// A registry client at this config's registry, logged in as its user.
    pub fn registry_client(&self) -> Result<userstream_registry::RegistryClient, StreamError> {
        userstream_registry::RegistryClient::new(
            self.registry_url.clone(),
            self.registry_login.as_ref(),
            self.request_timeout,
            &self.stack_run_dir,
        )
        .map_err(StreamError::Registry)
    }

    /// The Spark Connect URL with this config's session parameters and token: what the
    /// client dials. Holds the token: never print it (print `connect_url`).
    pub fn connect_url_with(&self, parameters: &str) -> String {
        let mut url = format!("{}/;{parameters}", self.connect_url.trim_end_matches('/'));
        if let Some(token) = &self.connect_token {
            url.push_str(&format!(";token={token}"));
        }
        url
    }

    /// The registry subject of the topic's values.
    pub fn subject(&self) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| userstream_registry::topic_value_subject(&self.topic))
    }

    /// Name of the rejected-records query.
    pub fn rejected_query_name(&self) -> String {
        self.spark_job().rejected_query_name()
    }

    /// Checkpoint directory of the query called `name`.
    pub fn checkpoint_dir(&self, name: &str) -> PathBuf {
        self.checkpoint_root.join(name)
    }

    /// The job as Spark Connect sees it: server, user, token, query name, checkpoint root.
    pub fn spark_job(&self) -> SparkJob {
        SparkJob {
            connect_url: self.connect_url.clone(),
            connect_user: self.connect_user.clone(),
            connect_token: self.connect_token.clone(),
            query_name: self.query_name.clone(),
            checkpoint_root: self.checkpoint_root.clone(),
            request_timeout: self.request_timeout,
            stack_run_dir: self.stack_run_dir.clone(),
        }
    }

    /// The Spark Connect session id ([`SparkJob::session_id`]): derived from the user and
    /// query name, so every process that manages or watches the job shares one session.
    pub fn session_id(&self) -> Uuid {
        self.spark_job().session_id()
    }

    /// Refuses to send the token to a loopback Spark Connect port held by a process the stack
    /// did not start ([`SparkJob::check_connect_listener`]).
    pub fn check_connect_listener(&self) -> Result<(), StreamError> {
        Ok(self.spark_job().check_connect_listener()?)
    }

    /// `(host, port)` of the Connect server.
    pub fn connect_endpoint(&self) -> Result<(String, u16), StreamError> {
        Ok(self.spark_job().connect_endpoint()?)
    }

    /// Every problem with this configuration, all at once.
    pub fn validate(&self) -> Result<(), StreamError> {
        let mut errors = Vec::new();
        if let Err(StreamError::Config(e)) = self.connect_endpoint() {
            errors.extend(e);
        }
        for (what, name) in [
            ("keyspace", &self.keyspace),
            ("table", &self.table),
            ("rejected_table", &self.rejected_table),
        ] {
            if !userstream_store::is_valid_identifier(name) {
                errors.push(format!("{what} `{name}` is not a valid Cassandra name"));
            }
        }
        if self.topic.is_empty() {
            errors.push("topic is empty".into());
        }
        if self.query_name.is_empty()
            || !self
                .query_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            errors.push(format!(
                "query_name `{}`: letters, digits, `-`, `_`, `.` only (it names a directory)",
                self.query_name
            ));
        }
        if !self.checkpoint_root.is_absolute() {
            errors.push(format!(
                "checkpoint_root `{}` must be absolute (the Spark server resolves it)",
                self.checkpoint_root.display()
            ));
        }
        if self.max_offsets_per_trigger == 0 {
            errors.push("max_offsets_per_trigger must be above 0".into());
        }
        if self.trigger.is_zero() || self.rejected_trigger.is_zero() {
            errors.push("triggers must be above 0".into());
        }
        if self.keepalive_interval.is_zero() || self.keepalive_interval > Duration::from_secs(1800)
        {
            errors.push(
                "keepalive_interval must be within (0, 30m] (sessions expire after 1 h idle)"
                    .into(),
            );
        }
        if self.stall_after < self.trigger.max(self.rejected_trigger) * 3 {
            errors.push(format!(
                "stall_after {:?} must be at least 3 triggers ({:?})",
                self.stall_after,
                self.trigger.max(self.rejected_trigger) * 3
            ));
        }
        if self.cassandra_output.concurrent_writes == 0 {
            errors.push("cassandra_output.concurrent_writes must be above 0".into());
        }
        if !["none", "replica_set", "partition"]
            .contains(&self.cassandra_output.batch_grouping_key.as_str())
        {
            errors.push(format!(
                "cassandra_output.batch_grouping_key `{}`: none, replica_set or partition",
                self.cassandra_output.batch_grouping_key
            ));
        }
        // Spark Connect logs and shows whole plans: a login stays in the server's config.
        for key in self
            .kafka_options
            .keys()
            .chain(self.cassandra_options.keys())
        {
            if is_login_option(key) {
                errors.push(format!(
                    "option `{key}`: a login in the job's plan would be logged with it; \
                     the Spark Connect server has the job's logins (`userstream stack up`)"
                ));
            }
        }
        let typed_kafka = crate::plan::kafka_source_options(self);
        for key in self.kafka_options.keys() {
            if typed_kafka.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                errors.push(format!(
                    "kafka_options `{key}` conflicts with a typed setting"
                ));
            }
        }
        let typed_sink = crate::plan::cassandra_sink_options(self, &self.table);
        for key in self.cassandra_options.keys() {
            if typed_sink.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                errors.push(format!(
                    "cassandra_options `{key}` conflicts with a typed setting"
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StreamError::Config(errors))
        }
    }
}

/// Whether an extra option's key names a login (a JAAS config, a password, the connector's
/// `spark.cassandra.auth.*`): refused by [`StreamConfig::validate`], withheld by `Debug`.
fn is_login_option(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.contains("jaas")
        || lower.contains("password")
        || lower.starts_with("spark.cassandra.auth.")
}

/// Extra options as `Debug` shows them: the value of a login, or of anything else named a
/// token or a secret (which `validate` lets through), withheld.
fn shown_options(options: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    options
        .iter()
        .map(|(key, value)| {
            let lower = key.to_ascii_lowercase();
            let secret =
                is_login_option(key) || lower.contains("token") || lower.contains("secret");
            let shown = if secret { "<withheld>" } else { value.as_str() };
            (key.as_str(), shown)
        })
        .collect()
}

impl fmt::Debug for StreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so a new field is a compile error here until it is shown or withheld.
        // The logins' own `Debug` shows the user only.
        let Self {
            connect_url,
            connect_user,
            connect_token,
            bootstrap_servers,
            registry_url,
            registry_login,
            subject,
            topic,
            cassandra_contact_point,
            cassandra_login,
            keyspace,
            table,
            rejected_table,
            starting_offsets,
            max_offsets_per_trigger,
            fail_on_data_loss,
            min_partitions,
            trigger,
            rejected_trigger,
            checkpoint_root,
            query_name,
            cassandra_output,
            kafka_options,
            cassandra_options,
            keepalive_interval,
            restart_backoff_initial,
            restart_backoff_max,
            max_restarts,
            stall_after,
            connector_session,
            request_timeout,
            control_wait,
            stack_run_dir,
        } = self;
        f.debug_struct("StreamConfig")
            .field("connect_url", connect_url)
            .field("connect_user", connect_user)
            .field(
                "connect_token",
                &connect_token.as_ref().map(|_| format_args!("<withheld>")),
            )
            .field("bootstrap_servers", bootstrap_servers)
            .field("registry_url", registry_url)
            .field("registry_login", registry_login)
            .field("subject", subject)
            .field("topic", topic)
            .field("cassandra_contact_point", cassandra_contact_point)
            .field("cassandra_login", cassandra_login)
            .field("keyspace", keyspace)
            .field("table", table)
            .field("rejected_table", rejected_table)
            .field("starting_offsets", starting_offsets)
            .field("max_offsets_per_trigger", max_offsets_per_trigger)
            .field("fail_on_data_loss", fail_on_data_loss)
            .field("min_partitions", min_partitions)
            .field("trigger", trigger)
            .field("rejected_trigger", rejected_trigger)
            .field("checkpoint_root", checkpoint_root)
            .field("query_name", query_name)
            .field("cassandra_output", cassandra_output)
            .field("kafka_options", &shown_options(kafka_options))
            .field("cassandra_options", &shown_options(cassandra_options))
            .field("keepalive_interval", keepalive_interval)
            .field("restart_backoff_initial", restart_backoff_initial)
            .field("restart_backoff_max", restart_backoff_max)
            .field("max_restarts", max_restarts)
            .field("stall_after", stall_after)
            .field("connector_session", connector_session)
            .field("request_timeout", request_timeout)
            .field("control_wait", control_wait)
            .field("stack_run_dir", stack_run_dir)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_withholds_every_secret() {
        let mut config = StreamConfig {
            connect_token: Some("spark-t0ken-value".into()),
            registry_login: Some(Login::new("reader", "reg-pa55word")),
            cassandra_login: Some(Login::new("userstream_app", "cass-pa55word")),
            ..StreamConfig::default()
        };
        config.bootstrap_servers.login = Some(Login::new("reader", "kafka-pa55word"));
        config
            .kafka_options
            .insert("kafka.sasl.jaas.config".into(), "jaas-s3cret".into());
        config.cassandra_options.insert(
            "spark.cassandra.auth.password".into(),
            "opt-pa55word".into(),
        );
        config
            .kafka_options
            .insert("kafka.fetch.max.bytes".into(), "1048576".into());
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            for secret in [
                "spark-t0ken-value",
                "reg-pa55word",
                "cass-pa55word",
                "kafka-pa55word",
                "jaas-s3cret",
                "opt-pa55word",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            // The rest is there: users, addresses, options that are no login.
            for kept in [
                "userstream_app",
                "reader",
                "sc://127.0.0.1",
                "1048576",
                "<withheld>",
            ] {
                assert!(shown.contains(kept), "{kept} missing from {shown}");
            }
        }
        config.connect_token = None;
        assert!(format!("{config:?}").contains("connect_token: None"));
    }

    #[test]
    fn defaults_validate() {
        let config = StreamConfig::with_state_dir("/work/main/.userstream");
        assert_eq!(config.validate().ok(), Some(()));
        assert_eq!(
            config.checkpoint_dir(&config.query_name),
            PathBuf::from("/work/main/.userstream/data/checkpoints/userstream-users")
        );
        assert_eq!(config.subject(), "users-value");
        assert_eq!(config.rejected_query_name(), "userstream-users-rejected");
        assert_eq!(
            config.connect_endpoint().ok(),
            Some(("127.0.0.1".into(), 15002))
        );
    }

    #[test]
    fn session_id_is_stable_per_query() {
        let a = StreamConfig::default();
        let mut b = StreamConfig::default();
        assert_eq!(a.session_id(), b.session_id());
        b.query_name = "other".into();
        assert_ne!(a.session_id(), b.session_id());
    }

    #[test]
    fn every_error_at_once() {
        let mut config = StreamConfig {
            keyspace: "bad-name".into(),
            max_offsets_per_trigger: 0,
            connect_url: "http://x:1".into(),
            ..StreamConfig::default()
        };
        config
            .kafka_options
            .insert("maxOffsetsPerTrigger".into(), "5".into());
        let Err(StreamError::Config(errors)) = config.validate() else {
            panic!("invalid config accepted");
        };
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn a_login_in_the_extra_options_is_refused() {
        let mut config = StreamConfig::default();
        config
            .kafka_options
            .insert("kafka.sasl.jaas.config".into(), "x".into());
        config
            .cassandra_options
            .insert("spark.cassandra.auth.password".into(), "y".into());
        let Err(StreamError::Config(errors)) = config.validate() else {
            panic!("a login in the plan accepted");
        };
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
