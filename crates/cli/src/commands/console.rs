//! `userstream console`: the live page over the whole pipeline.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use url::Url;
use userstream_console::ConsoleConfig;
use userstream_endpoints::names;
use userstream_stack::StackConfig;

use super::common::shutdown_on_signals;

/// Arguments of `userstream console`.
///
/// Serves one page, refreshed live: the flow (users API → Kafka → Spark → Cassandra) with
/// rates and red marks on stages that are down or behind; Kafka topics, offsets and dead
/// letters; registry subjects and the current schema; the streaming query's rates, lag and
/// errors; Cassandra counts and newest rows; Airflow DAG runs; every service's health.
/// The same figures are JSON under /api (e.g. /api/snapshot, /api/kafka). Engine addresses
/// come from the stack flags (ports) so they match `stack up`. Everything but /healthz asks
/// for the stack's console token: the address printed at start carries it (the browser then
/// keeps it in a cookie), scripts send `Authorization: Bearer <token>`, and
/// `userstream stack credentials` shows it. Without the stack's secrets file (run
/// `userstream stack up` first) the console does not start. Ctrl-C stops it.
#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    stack: StackConfig,
    /// Address to serve the page on (keep it on loopback: the page shows data and errors).
    /// Default: 127.0.0.1:<console port>.
    #[arg(long, env = "USERSTREAM_CONSOLE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Kafka topic of valid users.
    #[arg(long, env = "USERSTREAM_TOPIC", default_value = names::TOPIC)]
    topic: String,
    /// Dead-letter topic.
    #[arg(long, env = "USERSTREAM_DLQ_TOPIC", default_value = names::DLQ_TOPIC)]
    dlq_topic: String,
    /// Cassandra keyspace of the pipeline.
    #[arg(long, env = "USERSTREAM_KEYSPACE", default_value = names::KEYSPACE)]
    keyspace: String,
    /// Name of the streaming query (the rejected-records query is `<name>-rejected`).
    #[arg(long, env = "USERSTREAM_QUERY_NAME", default_value = names::QUERY_NAME)]
    query_name: String,
    /// The users API the producer reads (probed with a one-user request). Default:
    /// http://127.0.0.1:<users api port>/api/.
    #[arg(long, env = "USERSTREAM_SOURCE_URL")]
    source: Option<Url>,
    /// How often Kafka and Spark are sampled (the rest every 2.5× this).
    #[arg(long, env = "USERSTREAM_CONSOLE_REFRESH", default_value = "2s", value_parser = humantime::parse_duration)]
    refresh: Duration,
}

/// Runs `userstream console`.
pub async fn run(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    if let Err(problems) = args.stack.validate() {
        anyhow::bail!("invalid stack configuration:\n  {}", problems.join("\n  "));
    }
    if args.refresh < Duration::from_millis(200) {
        anyhow::bail!(
            "--refresh {:?} is too short; use 200ms or more",
            args.refresh
        );
    }
    // Fails closed: without the stack's secrets file (and its token) there is no console.
    let mut config = ConsoleConfig::new(args.stack)?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.topic = args.topic;
    config.keyspace = args.keyspace;
    config.query_name = args.query_name;
    config.dlq_topic = args.dlq_topic;
    if let Some(source) = args.source {
        config.source_url = source;
    }
    config.fast_interval = args.refresh;
    config.slow_interval = args.refresh.mul_f64(2.5);
    // The one place the token is printed: to the user's own terminal, as the link to open.
    // Redirected into a file (a service manager's log), the line says where to find it.
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let address = if on_terminal {
        format!(
            "http://{}/?token={} (this link holds the console's token; JSON under /api with \
             `Authorization: Bearer <token>`)",
            config.listen,
            url::form_urlencoded::byte_serialize(config.token.as_bytes()).collect::<String>()
        )
    } else {
        format!(
            "http://{}/ (it asks for the console's token: `userstream stack credentials` shows \
             it; JSON under /api with `Authorization: Bearer <token>`)",
            config.listen
        )
    };
    eprintln!(
        "console: {address}; state directory {}; Ctrl-C stops it",
        config.stack.state_dir.display()
    );
    let cancel = shutdown_on_signals("console");
    userstream_console::serve(config, cancel).await?;
    Ok(ExitCode::SUCCESS)
}
