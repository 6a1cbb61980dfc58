//! `userstream demo`: the whole pipeline from nothing, on the embedded defaults.
//!
//! Each step runs this same binary's sub-command as a child process, so the demo does
//! exactly what a user typing the commands would, with their own progress output.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Arguments of `userstream demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many users to produce from the local users-api.
    #[arg(long, env = "USERSTREAM_DEMO_COUNT", default_value_t = 5000)]
    count: u64,
    /// How long to wait for every produced user to land in Cassandra.
    #[arg(long, env = "USERSTREAM_DEMO_WAIT", default_value = "240s", value_parser = humantime::parse_duration)]
    wait: Duration,
    /// Leave Airflow's scheduled DAGs paused (by default the demo turns orchestration on:
    /// Airflow then ingests, supervises the stream and checks quality on its schedules).
    #[arg(long, env = "USERSTREAM_DEMO_DAGS_PAUSED")]
    dags_paused: bool,
}

struct Step<'a> {
    title: &'a str,
    args: &'a [&'a str],
}

/// Runs one step, its progress (stderr) shown live; returns what it printed on stdout.
fn run_step(bin: &Path, index: usize, total: usize, step: &Step<'_>) -> anyhow::Result<Vec<u8>> {
    eprintln!(
        "\n[{index}/{total}] {} — userstream {}",
        step.title,
        step.args.join(" ")
    );
    let began = Instant::now();
    let output = Command::new(bin)
        .args(step.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run `userstream {}`", step.args.join(" ")))?;
    let status = output.status;
    if !status.success() {
        print!("{}", String::from_utf8_lossy(&output.stdout));
        bail!(
            "step `{}` failed ({status}); its output is above. Fix the cause and run `userstream demo` again: finished steps are skipped quickly.",
            step.title
        );
    }
    eprintln!("      done in {:.1}s", began.elapsed().as_secs_f64());
    Ok(output.stdout)
}

fn verify_json(bin: &Path) -> anyhow::Result<(bool, serde_json::Value)> {
    let output = Command::new(bin)
        .args(["verify", "--json"])
        .output()
        .context("cannot run `userstream verify --json`")?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "`userstream verify --json` printed no JSON: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    Ok((output.status.success(), report))
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let bin: PathBuf = std::env::current_exe().context("cannot find the userstream binary")?;
    let started = Instant::now();
    let count = args.count.to_string();
    let seed = format!("demo-{}", chrono_like_now());
    let steps = [
        Step {
            title: "install the stack runtimes (cached)",
            args: &["stack", "install"],
        },
        Step {
            title: "start the stack",
            args: &["stack", "up"],
        },
        // The job starts before the DAGs are turned on, so the demo's start and the
        // users_stream DAG's first `stream ensure` do not race (both take the job's control
        // lock anyway, and a start that finds the job running succeeds).
        Step {
            title: "create topics, subject, keyspace and tables",
            args: &["setup", "--dags", "unchanged"],
        },
        Step {
            title: "start the streaming query on Spark",
            args: &["stream", "start"],
        },
        Step {
            title: if args.dags_paused {
                "leave orchestration off (Airflow's DAGs paused)"
            } else {
                "turn orchestration on (Airflow's DAGs unpaused)"
            },
            args: &[
                "setup",
                "--json",
                "--dags",
                if args.dags_paused {
                    "paused"
                } else {
                    "running"
                },
            ],
        },
        Step {
            title: "produce users from the local users-api",
            args: &["produce", "--count", &count, "--seed", &seed, "--json"],
        },
    ];
    let total = steps.len() + 2;
    let mut produced = serde_json::Value::Null;
    let mut setup = serde_json::Value::Null;
    for (i, step) in steps.iter().enumerate() {
        let stdout = run_step(&bin, i + 1, total, step)?;
        if step.args.first() == Some(&"produce") {
            produced = serde_json::from_slice(&stdout).unwrap_or_default();
        } else if step.args.first() == Some(&"setup") && step.args.contains(&"--json") {
            setup = serde_json::from_slice(&stdout).unwrap_or_default();
        } else {
            print!("{}", String::from_utf8_lossy(&stdout));
        }
    }

    eprintln!(
        "\n[{}/{total}] wait until every user is in Cassandra (up to {:?})",
        total - 1,
        args.wait
    );
    let deadline = Instant::now() + args.wait;
    let report = loop {
        let (ok, report) = verify_json(&bin)?;
        if ok {
            break report;
        }
        if Instant::now() >= deadline {
            eprintln!("{}", serde_json::to_string_pretty(&report)?);
            bail!("users did not all land within {:?}; see `userstream stream status` and .userstream/logs/spark-connect.log", args.wait);
        }
        eprintln!(
            "      Kafka {} ids / Cassandra {} rows",
            report["kafka_unique_ids"], report["cassandra_rows"]
        );
        std::thread::sleep(Duration::from_secs(3));
    };

    eprintln!("\n[{total}/{total}] verified");
    let state = userstream_endpoints::state_dir_from_env();
    let at = userstream_endpoints::Endpoints::from_env();
    println!(
        "\nuserstream demo: verified in {:.0}s\n\
         \x20 produced            {} users at {} users/s, {} dead-lettered (topic users.dlq)\n\
         \x20 Kafka (topic users) {} records, {} distinct ids\n\
         \x20 Cassandra           {} rows in userstream.users, {} rejected rows, {} missing, {} field mismatches\n\
         \x20 Airflow now         {}\n\
         \x20 Watch it live       userstream console  (then http://{console})\n\
         \x20 Airflow UI          {airflow}  (user admin; `userstream stack credentials` shows every login)\n\
         \x20 Spark UIs           {master} (master), {driver} (streaming query)\n\
         \x20 Registry API        http://{registry}/apis/ccompat/v7 (HTTP basic auth)\n\
         \x20 Logs                {logs}/\n\
         \x20 Stop everything     userstream stack down",
        started.elapsed().as_secs_f64(),
        produced["users_produced"],
        produced["users_per_sec"].as_f64().map(|r| format!("{r:.0}")).unwrap_or_else(|| "?".into()),
        produced["dlq_produced"],
        report["kafka_records"],
        report["kafka_unique_ids"],
        report["cassandra_rows"],
        report["rejected_rows"],
        report["missing_count"],
        report["field_mismatch_count"],
        airflow_summary(&setup["airflow_dags"], &at.airflow_url),
        console = at.console_listen,
        airflow = at.airflow_url,
        master = at.spark_master_ui_url,
        driver = at.spark_driver_ui_url,
        registry = SocketAddr::from((userstream_endpoints::HOST, at.ports.registry)),
        logs = state.join("logs").display(),
    );
    Ok(ExitCode::SUCCESS)
}

/// What Airflow does now, from `setup --json`'s `airflow_dags`: one line per DAG with its
/// schedule and next run, and how to pause them.
fn airflow_summary(dags: &serde_json::Value, airflow_url: &str) -> String {
    let Some(dags) = dags.as_array().filter(|d| !d.is_empty()) else {
        return "runs nothing on a schedule (DAGs paused); `userstream setup` turns it on".into();
    };
    let mut lines = Vec::new();
    for dag in dags {
        lines.push(format!(
            "{} {} (schedule {}, next run after {})",
            dag["dag_id"].as_str().unwrap_or("?"),
            if dag["is_paused"].as_bool() == Some(false) {
                "runs"
            } else {
                "is PAUSED"
            },
            dag["timetable_summary"].as_str().unwrap_or("none"),
            dag["next_dagrun_run_after"].as_str().unwrap_or("-"),
        ));
    }
    lines.push(format!(
        "pause them: `userstream setup --dags paused` or the toggles at {airflow_url}"
    ));
    lines.join("\n                      ")
}

fn chrono_like_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
