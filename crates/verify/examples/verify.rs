//! `verify` against the local stack with the default configuration, as `userstream verify`
//! does with its flags.
//!
//! `cargo run -p userstream-verify --example verify -- [--json]`
//! Environment: the stack's ports and address overrides (as every command reads them),
//! USERSTREAM_TOPIC, USERSTREAM_KEYSPACE. Exit 1 on any difference.

use userstream_verify::{verify, VerifyConfig, VerifyOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let json = std::env::args().skip(1).any(|a| a == "--json");
    let mut config = VerifyConfig::new(&userstream_endpoints::Endpoints::from_env());
    if let Ok(v) = std::env::var("USERSTREAM_TOPIC") {
        config.topic = v;
    }
    if let Ok(v) = std::env::var("USERSTREAM_KEYSPACE") {
        config.keyspace = v;
    }
    let report = verify(&config, &VerifyOptions::default()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if !report.ok {
        std::process::exit(1);
    }
    Ok(())
}
