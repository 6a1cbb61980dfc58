//! Runs the end-to-end bench against the local stack until the CLI wires `userstream bench e2e`.
//!
//! `cargo run -p userstream-stream --example bench -- throughput 100000`
//! `cargo run -p userstream-stream --example bench -- latency 7000 60`

use std::time::Duration;

use userstream_stream::{bench_e2e, BenchMode, BenchOptions, StreamConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: f64| -> f64 {
        args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let mode = match args.first().map(String::as_str) {
        Some("throughput") => BenchMode::Throughput {
            rows: num(1, 100_000.0) as u64,
        },
        _ => BenchMode::Latency {
            rate: num(1, 7_000.0),
            duration: Duration::from_secs_f64(num(2, 60.0)),
        },
    };
    let mut config = StreamConfig::default();
    if let Ok(v) = std::env::var("BENCH_MAX_OFFSETS") {
        config.max_offsets_per_trigger = v.parse()?;
    }
    if let Ok(v) = std::env::var("BENCH_CONCURRENT_WRITES") {
        config.cassandra_output.concurrent_writes = v.parse()?;
    }
    if let Ok(v) = std::env::var("BENCH_TRIGGER_MS") {
        config.trigger = Duration::from_millis(v.parse()?);
    }
    if let Ok(v) = std::env::var("BENCH_GROUPING") {
        config.cassandra_output.batch_grouping_key = v;
    }
    if let Ok(v) = std::env::var("BENCH_BATCH_BYTES") {
        config.cassandra_output.batch_size_bytes = Some(v.parse()?);
    }
    if let Ok(v) = std::env::var("BENCH_BATCH_ROWS") {
        config.cassandra_output.batch_size_rows = Some(v.parse()?);
    }
    if std::env::var("BENCH_IGNORE_NULLS").is_ok_and(|v| v == "1") {
        config.cassandra_output.ignore_nulls = true;
    }
    // Raw connector options, e.g. BENCH_SINK_OPTIONS=spark.cassandra.output.ignoreNulls=true
    if let Ok(v) = std::env::var("BENCH_SINK_OPTIONS") {
        for pair in v.split(',') {
            if let Some((k, val)) = pair.split_once('=') {
                config
                    .cassandra_options
                    .insert(k.to_owned(), val.to_owned());
            }
        }
    }
    let partitions = std::env::var("BENCH_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let options = BenchOptions {
        mode,
        partitions,
        ..BenchOptions::default()
    };
    let report = bench_e2e(&config, &options).await?;
    println!("{report}");
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
