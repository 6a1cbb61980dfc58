//! One controller of the job at a time, on the real stack: several `userstream stream start`
//! and `stream ensure` processes launched at the same instant on a job that has never run
//! (a new query name and checkpoint root) all succeed, and the queries start once.
//! See `common` for endpoints and skipping; the binary is `USERSTREAM_BIN` (set by the test
//! command), else this test is skipped (and fails under the test command).

mod common;

use std::process::Stdio;
use std::time::Duration;

use anyhow::{ensure, Context};

/// The job's journal: one JSON line per event (`stream start`, `ensure`, `run` write it).
fn journal_events(fx: &common::Fixture) -> anyhow::Result<Vec<String>> {
    let path = fx
        .config
        .checkpoint_root
        .join(format!("{}.events.jsonl", fx.config.query_name));
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["event"].as_str().map(str::to_owned))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_starts_and_two_ensures_at_once_start_the_job_once() -> anyhow::Result<()> {
    let Ok(bin) = std::env::var("USERSTREAM_BIN") else {
        // Under the test command (which started the stack) the binary must be there.
        anyhow::ensure!(
            std::env::var("USERSTREAM_STACK_STARTED").as_deref() != Ok("1"),
            "USERSTREAM_BIN is not set, but USERSTREAM_STACK_STARTED=1: the test command sets both"
        );
        println!("skipped: USERSTREAM_BIN is not set (the test command sets it)");
        return Ok(());
    };
    let Some(fx) = common::fixture("control").await? else {
        return Ok(());
    };
    let result = async {
        let n = 2 * common::PAGE;
        fx.produce("control", 0..n, None).await?;
        let commands: Vec<&[&str]> = vec![
            &["stream", "start"],
            &["stream", "ensure"],
            &["stream", "start"],
            &["stream", "start"],
            &["stream", "ensure"],
            &["stream", "start"],
        ];
        let mut children = Vec::new();
        for args in &commands {
            let child = tokio::process::Command::new(&bin)
                .args(*args)
                .env("USERSTREAM_TOPIC", &fx.config.topic)
                .env("USERSTREAM_KEYSPACE", &fx.config.keyspace)
                .env("USERSTREAM_QUERY_NAME", &fx.config.query_name)
                .env("USERSTREAM_CHECKPOINT_ROOT", &fx.config.checkpoint_root)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("running {bin}"))?;
            children.push((args.join(" "), child));
        }
        let mut failed = Vec::new();
        for (what, child) in children {
            let out = tokio::time::timeout(Duration::from_secs(600), child.wait_with_output())
                .await
                .with_context(|| format!("`{what}` still running after 10 minutes"))??;
            let text = format!(
                "`{what}` exited {}:\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            println!("{text}");
            if !out.status.success() {
                failed.push(text);
            }
        }
        ensure!(failed.is_empty(), "{}", failed.join("\n"));

        let starts: Vec<String> = journal_events(&fx)?
            .into_iter()
            .filter(|e| e.starts_with("started") || e.starts_with("restarted"))
            .collect();
        println!("start events: {}", starts.len());
        ensure!(
            starts.len() == 1,
            "exactly one start event expected: {starts:#?}"
        );
        let status = userstream_stream::status(&fx.config).await?;
        ensure!(status.all_active(), "{status}");
        fx.wait_for(n as usize, 0, Duration::from_secs(300)).await?;
        Ok(())
    }
    .await;
    fx.cleanup().await;
    result
}
