//! `start`, `status`, `stop`, `run` against the local stack with the default configuration,
//! as `userstream stream ...` does with its flags (`verify` has its own example, in
//! `userstream-verify`).
//!
//! `cargo run -p userstream-stream --example stream -- status [--json]`
//! Environment: USERSTREAM_TOPIC, USERSTREAM_KEYSPACE, USERSTREAM_QUERY_NAME,
//! USERSTREAM_STATE_DIR (default `.userstream`).

use tokio_util::sync::CancellationToken;
use userstream_stream::StreamConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let state = userstream_endpoints::state_dir_from_env();
    let mut config = StreamConfig::with_state_dir(state);
    if let Ok(v) = std::env::var("USERSTREAM_TOPIC") {
        config.topic = v;
    }
    if let Ok(v) = std::env::var("USERSTREAM_KEYSPACE") {
        config.keyspace = v;
    }
    if let Ok(v) = std::env::var("USERSTREAM_QUERY_NAME") {
        config.query_name = v;
    }
    match args.first().map(String::as_str) {
        Some("start") => println!("{}", userstream_stream::start(&config).await?),
        Some("stop") => println!("stopped: {:?}", userstream_stream::stop(&config).await?),
        Some("run") => {
            let shutdown = CancellationToken::new();
            let token = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                token.cancel();
            });
            userstream_stream::run(&config, shutdown, |e| println!("{e:?}")).await?;
        }
        _ => {
            let status = userstream_stream::status(&config).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{status}");
            }
        }
    }
    Ok(())
}
