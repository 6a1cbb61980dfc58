//! CPU per user of the producer's pure stages, without HTTP or Kafka: the users-api writing a
//! page (`generate`), the producer parsing it (`parse`, `userstream_model::parse_page`) and
//! writing each user's Avro datum (`encode`, what `FrameEncoder` does per user).
//!
//! ```sh
//! cargo build --release -p userstream-users-api --example page_cost
//! /usr/bin/time -v "${CARGO_TARGET_DIR:-target}/release/examples/page_cost" --stage parse --pages 200
//! ```
//!
//! Flags: `--stage generate|parse|encode|all` (default `all`), `--users N` per page (5000),
//! `--pages N` timed pages per stage (40), `--body FILE` to parse a saved response (e.g. a
//! real randomuser.me page) instead of a generated one, `--json`.
//!
//! Each stage reports the CPU time of this (single) thread, from `/proc/thread-self/schedstat`
//! (wall time where that file is missing): on a busy machine wall time counts other programs'
//! turns too. The `parse` and `encode` stages generate their one input page before timing:
//! under `/usr/bin/time` with many `--pages`, the process's CPU is that stage's.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use userstream_model::{parse_page, SourcePosition, User};
use userstream_users_api::{write_page, PageRequest};

// The `userstream` binary's allocator, so that the figures are the producer's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: &str = "userstream";

struct Options {
    stages: Vec<&'static str>,
    users: u32,
    pages: u32,
    body: Option<String>,
    json: bool,
}

#[derive(serde::Serialize)]
struct Figure {
    stage: &'static str,
    users: u64,
    /// CPU seconds of the stage.
    cpu_seconds: f64,
    /// CPU µs per user.
    us_per_user: f64,
    /// Wall seconds of the stage.
    wall_seconds: f64,
}

/// A point in time and in this thread's CPU time.
#[derive(Clone, Copy)]
struct Clock {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Clock {
    fn now() -> Self {
        Self {
            wall: Instant::now(),
            cpu: thread_cpu(),
        }
    }
}

/// This thread's CPU time: the first field of its schedstat, in nanoseconds.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn main() -> Result<()> {
    let options = options()?;
    let mut figures = Vec::new();
    for stage in &options.stages {
        // Each stage times itself, after building its input.
        figures.push(match *stage {
            "generate" => generate(&options),
            "parse" => parse(&options, &input(&options)?)?,
            _ => encode(&options, &input(&options)?)?,
        });
    }
    if options.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        for f in &figures {
            println!(
                "{:<9} {:>9} users {:>8.3} CPU s {:>8.3} µs/user (wall {:.3} s)",
                f.stage, f.users, f.cpu_seconds, f.us_per_user, f.wall_seconds
            );
        }
    }
    Ok(())
}

fn options() -> Result<Options> {
    let mut options = Options {
        stages: vec!["generate", "parse", "encode"],
        users: 5000,
        pages: 40,
        body: None,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--stage" => {
                options.stages = match value()?.as_str() {
                    "generate" => vec!["generate"],
                    "parse" => vec!["parse"],
                    "encode" => vec!["encode"],
                    "all" => vec!["generate", "parse", "encode"],
                    other => bail!("--stage {other}: expected generate, parse, encode or all"),
                }
            }
            "--users" => options.users = value()?.parse().context("--users")?,
            "--pages" => options.pages = value()?.parse().context("--pages")?,
            "--body" => options.body = Some(value()?),
            "--json" => options.json = true,
            other => bail!("unknown argument {other}; see the head of examples/page_cost.rs"),
        }
    }
    Ok(options)
}

fn request(options: &Options, page: u32) -> PageRequest {
    PageRequest {
        seed: SEED.to_owned(),
        page,
        results: options.users,
        ..PageRequest::default()
    }
}

fn position(page: u32) -> SourcePosition {
    SourcePosition {
        url: format!("http://127.0.0.1:8765/api/?results=5000&seed={SEED}&page={page}"),
        seed: SEED.to_owned(),
        page,
    }
}

/// The page the parse and encode stages read: `--body`, or page 1 as the users-api serves it.
fn input(options: &Options) -> Result<Vec<u8>> {
    if let Some(path) = &options.body {
        return std::fs::read(path).with_context(|| format!("reading {path}"));
    }
    let mut body = Vec::new();
    write_page(&request(options, 1), &mut body);
    Ok(body)
}

fn generate(options: &Options) -> Figure {
    let started = Clock::now();
    let mut body = Vec::new();
    // Distinct pages, as a run asks for: every user is drawn anew.
    for page in 1..=options.pages {
        body.clear();
        write_page(&request(options, page), &mut body);
        black_box(&body);
    }
    figure(
        "generate",
        u64::from(options.users) * u64::from(options.pages),
        started,
    )
}

fn parse(options: &Options, body: &[u8]) -> Result<Figure> {
    let started = Clock::now();
    let mut users = 0u64;
    for _ in 0..options.pages {
        let page = parse_page(body, &position(1), Utc::now()).context("the page must parse")?;
        users += page.records.len() as u64;
        check_no_rejects(page.rejected().count())?;
        black_box(page);
    }
    Ok(figure("parse", users, started))
}

fn encode(options: &Options, body: &[u8]) -> Result<Figure> {
    let page = parse_page(body, &position(1), Utc::now()).context("the page must parse")?;
    check_no_rejects(page.rejected().count())?;
    let users: Vec<&User> = page.users().collect();
    let started = Clock::now();
    for _ in 0..options.pages {
        for user in &users {
            // As `FrameEncoder::encode`: one buffer per record, the 5-byte frame header first.
            let mut out = Vec::with_capacity(640);
            out.extend_from_slice(&[0, 0, 0, 0, 1]);
            user.write_avro(&mut out);
            black_box(out);
        }
    }
    Ok(figure(
        "encode",
        users.len() as u64 * u64::from(options.pages),
        started,
    ))
}

fn check_no_rejects(rejected: usize) -> Result<()> {
    if rejected > 0 {
        bail!("{rejected} records were rejected: the figures would not be a valid page's");
    }
    Ok(())
}

fn figure(stage: &'static str, users: u64, started: Clock) -> Figure {
    let ended = Clock::now();
    let wall = ended.wall - started.wall;
    let cpu = match (started.cpu, ended.cpu) {
        (Some(from), Some(to)) => to.saturating_sub(from),
        _ => wall,
    };
    Figure {
        stage,
        users,
        cpu_seconds: cpu.as_secs_f64(),
        us_per_user: cpu.as_secs_f64() * 1e6 / users.max(1) as f64,
        wall_seconds: wall.as_secs_f64(),
    }
}
