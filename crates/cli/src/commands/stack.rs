//! `userstream stack install|up|status|down|restart`.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use userstream_stack::process::ProcessError;
use userstream_stack::{installer, StackConfig};

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
        rotate: Option<userstream_stack::secrets::Rotatable>,
    },
    /// (Started by `stack run` for a service with work to do once it is healthy, with the
    /// same stack settings.) Wait for that service to be healthy, then do what `stack up`
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
                installer::install(&installer::InstallOptions {
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
            let error = run_foreground(&config, &service);
            Err(error.context(format!("stack run {service}")))
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

/// `stack run`: prepares the service (its files, its first-start steps), starts the
/// after-start helper beside it when it has work to do once healthy, then becomes the service
/// (exec), which keeps this pid. Returns only on failure.
fn run_foreground(config: &StackConfig, service: &str) -> anyhow::Error {
    let foreground = match userstream_stack::prepare_foreground(config, service) {
        Ok(foreground) => foreground,
        Err(error) => return error.into(),
    };
    if foreground.after_start {
        if let Err(error) = spawn_after_start(config, service) {
            return error.into();
        }
    }
    foreground.exec().into()
}

/// Starts `userstream stack after-start <service>` (this binary) with this command's stack
/// settings: every [`StackConfig`] flag spelled out ([`after_start_args`]), the ports in their
/// variables; the rest of the environment is inherited. It outlives this process's exec.
fn spawn_after_start(config: &StackConfig, service: &str) -> Result<(), ProcessError> {
    let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("userstream"));
    std::process::Command::new(&program)
        .args(after_start_args(config, service))
        .envs(config.ports.to_env())
        .spawn()
        .map(|_| ())
        .map_err(|source| ProcessError::Spawn {
            service: format!("{service} (after-start helper)"),
            program: program.clone(),
            source,
        })
}

/// The arguments of `userstream stack after-start <service>` under `config`: the `stack`
/// flags that give back every setting but the ports (passed in their variables, see
/// `Ports::to_env`). Every field is named, so a new setting does not compile until it is
/// passed on here.
fn after_start_args(config: &StackConfig, service: &str) -> Vec<OsString> {
    let StackConfig {
        state_dir,
        runtime_dir,
        dags_dir,
        java_home,
        registry_java_home,
        python,
        start_timeout,
        ports: _,
        kafka_heap,
        registry_heap,
        cassandra_heap,
        spark_daemon_heap,
        spark_driver_heap,
        spark_executor_heap,
        spark_worker_cores,
    } = config;
    // `--name=value`, one argument: a value starting with `-` stays a value.
    let flag = |name: &str, value: &dyn AsRef<std::ffi::OsStr>| {
        let mut arg = OsString::from(format!("--{name}="));
        arg.push(value);
        arg
    };
    let mut args = vec![OsString::from("stack"), flag("state-dir", state_dir)];
    if let Some(dir) = runtime_dir {
        args.push(flag("runtime-dir", dir));
    }
    args.push(flag("dags-dir", dags_dir));
    if let Some(home) = java_home {
        args.push(flag("java-home", home));
    }
    if let Some(home) = registry_java_home {
        args.push(flag("registry-java-home", home));
    }
    args.push(flag("python", python));
    args.push(flag(
        "start-timeout",
        &humantime::format_duration(*start_timeout).to_string(),
    ));
    for (name, size) in [
        ("kafka-heap", kafka_heap),
        ("registry-heap", registry_heap),
        ("cassandra-heap", cassandra_heap),
        ("spark-daemon-heap", spark_daemon_heap),
        ("spark-driver-heap", spark_driver_heap),
        ("spark-executor-heap", spark_executor_heap),
    ] {
        args.push(flag(name, &size.to_string()));
    }
    args.push(flag("spark-worker-cores", &spark_worker_cores.to_string()));
    args.extend([OsString::from("after-start"), OsString::from(service)]);
    args
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
    let stand_ins = userstream_stack::secrets::Secrets::withheld();
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
    rotate: Option<userstream_stack::secrets::Rotatable>,
) -> anyhow::Result<ExitCode> {
    if let Some(which) = rotate {
        let done = userstream_stack::secrets::rotate(config, which).await?;
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
    let secrets = userstream_stack::secrets::read(&path)?.with_context(|| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `userstream` as far as `stack` goes.
    #[derive(Debug, Parser)]
    struct Top {
        #[command(subcommand)]
        command: TopCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum TopCommand {
        Stack(StackArgs),
    }

    fn parse(args: impl IntoIterator<Item = OsString>) -> StackArgs {
        let argv = std::iter::once(OsString::from("userstream")).chain(args);
        match Top::parse_from(argv).command {
            TopCommand::Stack(args) => args,
        }
    }

    #[test]
    fn the_after_start_helper_gets_every_stack_setting() {
        let given = parse(
            [
                "stack",
                "--state-dir=/s d",
                "--runtime-dir=/r",
                "--dags-dir=-d",
                "--java-home=/j17",
                "--registry-java-home=/j21",
                "--python=/py",
                "--start-timeout=95s 7ms",
                "--kafka-heap=3g",
                "--registry-heap=300m",
                "--cassandra-heap=5g",
                "--spark-daemon-heap=700m",
                "--spark-driver-heap=2g",
                "--spark-executor-heap=900m",
                "--spark-worker-cores=3",
                "run",
                "kafka",
            ]
            .map(OsString::from),
        )
        .config;
        let helper = parse(after_start_args(&given, "kafka"));
        assert!(matches!(&helper.action, Action::AfterStart { service } if service == "kafka"));
        // Ports travel in the environment, which this test does not set.
        let mut passed = helper.config;
        passed.ports = given.ports.clone();
        assert_eq!(format!("{passed:?}"), format!("{given:?}"));
    }
}
