//! `userstream stack install|up|status|down|restart`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context;
use userstream_stack::{install, StackConfig};

/// Arguments of `userstream stack`.
#[derive(Debug, clap::Args)]
pub struct StackArgs {
    #[command(flatten)]
    config: StackConfig,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Download every runtime the stack needs (Maven Central, PyPI, Debian packages) into the
    /// runtime directory. Idempotent: a second run does no network work.
    Install,
    /// Start every service that is not running, in dependency order, each health-gated.
    /// A no-op on a running stack.
    Up,
    /// Show each service: pid, ports, health (over its real protocol), uptime, memory.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop every service (SIGTERM, then SIGKILL after a timeout). Data is kept.
    Down {
        /// Also delete all service data (topics, tables, Airflow DB, checkpoints).
        #[arg(long)]
        purge: bool,
        /// Do not ask before purging.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Stop one service and start it again (its dependencies must be up).
    Restart {
        /// Service name as shown by `stack status` (e.g. kafka, spark-connect).
        service: String,
    },
    /// Write what the stack runs for one service into a directory: its configuration files
    /// (passwords shown as `<withheld: …>` stand-ins; such files are named on stderr),
    /// `argv` (program and arguments, one per line), `env` (KEY=VALUE per line; secrets are
    /// left out and named on stderr) and `cwd`. The same code renders them for `stack up`;
    /// `stack run` writes the files with the real secrets when the service starts.
    Render {
        /// Service name as shown by `stack status` (e.g. kafka, cassandra, spark-connect).
        service: String,
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Run one service in the foreground, as a container's entrypoint (the Nix images run
    /// this): write its configuration, run its first-start steps, then become the service
    /// (exec), output on stdout/stderr. The same specs as `stack up`.
    Run {
        /// Service name as shown by `stack status` (e.g. kafka, spark-connect).
        service: String,
    },
    /// Print what a client of this stack needs: every engine's users with their passwords and
    /// what each may do, the Spark Connect and console tokens, and the addresses they are for
    /// (from the stack's secrets file, `<state-dir>/secrets.json`, mode 0600, written by the
    /// first `stack up`). The output is secret: do not paste it into logs or tickets.
    ///
    /// `--rotate cassandra-app` gives that credential a new password on the running stack
    /// (the engine first, then the file) and prints nothing secret.
    Credentials {
        /// Print JSON (for scripts and other tools connecting to the stack).
        #[arg(long)]
        json: bool,
        /// Give one credential a new password on the running stack.
        #[arg(long, value_name = "CREDENTIAL")]
        rotate: Option<userstream_stack::credentials::Rotatable>,
    },
    /// (Started by `stack run`.) Wait for one service to be healthy, then do what `stack up`
    /// does once it is: grant Kafka's ACLs, set up Cassandra's roles.
    #[command(hide = true)]
    AfterStart {
        /// Service name.
        service: String,
    },
    /// Print the path of a service's log file (all logs live in <state-dir>/logs).
    Logs {
        /// Service name as shown by `stack status`.
        service: String,
    },
}

/// Runs `userstream stack ...`.
pub async fn run(args: StackArgs) -> anyhow::Result<ExitCode> {
    let config = args.config;
    match args.action {
        Action::Install => {
            let layout = config.layout();
            let python = config.python.clone();
            let java_home = config.java_home.clone();
            let registry_java_home = config.registry_java_home.clone();
            tokio::task::spawn_blocking(move || {
                install::install(&install::InstallOptions {
                    layout: &layout,
                    python: &python,
                    java_home: java_home.as_deref(),
                    registry_java_home: registry_java_home.as_deref(),
                })
            })
            .await
            .context("install task")??;
            Ok(ExitCode::SUCCESS)
        }
        Action::Run { service } => {
            // Returns only when the service could not be started.
            let error = userstream_stack::run_foreground(&config, &service);
            Err(anyhow::Error::new(error).context(format!("stack run {service}")))
        }
        Action::Up => {
            userstream_stack::up(&config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Status { json } => {
            let rows = userstream_stack::status(&config).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", userstream_stack::render_status(&rows));
            }
            Ok(if rows.iter().all(|r| r.healthy()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        Action::Down { purge, yes } => {
            if purge && !yes && !confirm_purge(&config)? {
                eprintln!("Not purging. (Pass --yes to skip this question.)");
                return Ok(ExitCode::FAILURE);
            }
            tokio::task::spawn_blocking(move || userstream_stack::down(&config, purge))
                .await
                .context("down task")??;
            Ok(ExitCode::SUCCESS)
        }
        Action::Restart { service } => {
            let (_, specs) = userstream_stack::specs(&config)?;
            anyhow::ensure!(
                specs.iter().any(|s| s.name == service),
                "no service named `{service}`; known: {}",
                specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            );
            // Restarting the Connect server stops the job's queries: it is an act on the job,
            // taken in turn with the supervisor, the DAG and a person's `stream` commands.
            let _control = if service == "spark-connect" {
                Some(super::stream::default_job_control(&config.state_dir).await?)
            } else {
                None
            };
            let stop_config = config.clone();
            let stop_name = service.clone();
            tokio::task::spawn_blocking(move || {
                userstream_stack::stop_service(&stop_config, &stop_name)
            })
            .await
            .context("stop task")??;
            userstream_stack::up(&config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Render { service, out } => render(&config, &service, &out),
        Action::Credentials { json, rotate } => credentials(&config, json, rotate).await,
        Action::AfterStart { service } => {
            let detail = userstream_stack::after_start(&config, &service).await?;
            eprintln!("{service}: healthy ({detail}); after-start steps done");
            Ok(ExitCode::SUCCESS)
        }
        Action::Logs { service } => {
            println!("{}", config.layout().log_file(&service).display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn confirm_purge(config: &StackConfig) -> anyhow::Result<bool> {
    let data = config.layout().data_root();
    eprint!(
        "This deletes all stack data under {} (topics, tables, Airflow history). Type `yes` to go on: ",
        data.display()
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// `stack render`: writes one service's files into `out` and says what was withheld.
fn render(config: &StackConfig, service: &str, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let rendered = userstream_stack::render_service(config, service, out)?;
    for file in &rendered.files {
        println!("{}", file.display());
    }
    if !rendered.withheld.is_empty() {
        eprintln!(
            "left out (secrets; provide them in the environment at run time): {}",
            rendered.withheld.join(", ")
        );
    }
    let stand_ins = userstream_stack::render::Secrets::withheld();
    let stand_ins = stand_ins.values();
    let with_stand_ins: Vec<String> = rendered
        .files
        .iter()
        .filter(|file| {
            std::fs::read_to_string(file)
                .is_ok_and(|text| stand_ins.iter().any(|s| text.contains(s)))
        })
        .map(|file| file.display().to_string())
        .collect();
    if !with_stand_ins.is_empty() {
        eprintln!(
            "passwords withheld (`<withheld: …>` stand-ins; `stack run` writes the real ones): {}",
            with_stand_ins.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `stack credentials`: prints the stack's logins, or rotates one (`--rotate`).
async fn credentials(
    config: &StackConfig,
    json: bool,
    rotate: Option<userstream_stack::credentials::Rotatable>,
) -> anyhow::Result<ExitCode> {
    if let Some(which) = rotate {
        let done = userstream_stack::credentials::rotate(config, which).await?;
        eprintln!("{done}");
        // The Spark Connect server holds the job's Cassandra login in its own
        // configuration (never in a plan): it takes the new one only on a restart.
        let connect_runs = userstream_stack::status(config)
            .await?
            .iter()
            .any(|s| s.service == "spark-connect" && s.pid.is_some());
        if connect_runs {
            eprintln!("restarting the Spark Connect server so the job logs in with it");
            super::stream::restart_connect_and_resume(config).await?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let path = config.layout().secrets();
    let secrets = userstream_stack::read_secrets(&path)?.with_context(|| {
        format!(
            "{} does not exist: `userstream stack up` creates it on the first start",
            path.display()
        )
    })?;
    let endpoints = config.endpoints();
    if json {
        let value = userstream_stack::credentials::to_json(&secrets.credentials, &endpoints);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!(
            "{}",
            userstream_stack::credentials::render(
                &secrets.credentials,
                &endpoints,
                &path.display().to_string()
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}
