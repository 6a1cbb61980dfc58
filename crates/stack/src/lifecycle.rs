//! `stack up`, `stack status`, `stack down`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use futures::future::{join_all, BoxFuture, FutureExt, Shared};

use crate::install::{self, find_java17, find_java21};
use crate::private;
use crate::process::{self, Launch, PidRecord};
use userstream_endpoints::credentials::{
    CassandraLogins, Credentials, KafkaLogins, Login, RegistryLogins,
};

use crate::render::{AirflowSecrets, Secrets};
use crate::services::{self, Javas, PreStart, ServiceSpec};
use crate::{health, Layout, StackConfig};

/// Errors of the stack lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A credential could not be rotated; the old one is still in use everywhere.
    #[error("rotation failed, the old credential is still in use: {0}")]
    Rotate(String),
    /// The configuration is inconsistent.
    #[error("invalid stack configuration:\n  {}", .0.join("\n  "))]
    Config(Vec<String>),
    /// Runtimes are missing.
    #[error("not installed: {}. Run `userstream stack install` first.", .0.join(", "))]
    NotInstalled(Vec<&'static str>),
    /// Installation-time discovery failed (Java, Spark home).
    #[error(transparent)]
    Install(#[from] install::InstallError),
    /// A port we need is taken by a process that is not ours.
    #[error("port {port} ({service}) is already in use by another process; stop it or move {service} with its USERSTREAM_*_PORT setting (`userstream stack up --help`)")]
    PortTaken {
        /// The service that needs it.
        service: String,
        /// The port.
        port: u16,
    },
    /// A service did not become healthy in time or died.
    #[error("{service} did not become healthy within {timeout:?}: {reason}\nlast lines of {log}:\n{tail}")]
    Unhealthy {
        /// The service.
        service: String,
        /// The limit.
        timeout: Duration,
        /// The last health-check error or the exit.
        reason: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// One or more services failed to start (each message names its service).
    #[error("the stack did not come up:\n{}\nOther services keep running; fix the cause and run `userstream stack up` again.", .0.join("\n"))]
    Failed(Vec<String>),
    /// A pre-start step failed.
    #[error("{service}: {step} failed ({status}); see {log}:\n{tail}")]
    PreStart {
        /// The service.
        service: String,
        /// The step.
        step: String,
        /// Its exit.
        status: String,
        /// Log file.
        log: PathBuf,
        /// End of the log.
        tail: String,
    },
    /// No service has this name.
    #[error("no service named `{service}`; known: {known}")]
    UnknownService {
        /// The name asked for.
        service: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// Process handling failed.
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    /// The secrets file exists but cannot be used. Never replaced silently: new secrets would
    /// make what Airflow encrypted with the old Fernet key unreadable and log everybody out.
    #[error("the stack's secrets file {path} exists but {problem}. It is left untouched: the engines' data (Kafka's users, Cassandra's roles, Airflow's database) was set up with its passwords. Restore it from a backup, or, to start over with new secrets, stop the stack and delete it together with all data (`userstream stack down --purge --yes`)")]
    SecretsUnusable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A file could not be written.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StackError {
    let path = path.to_path_buf();
    move |source| StackError::Io {
        action,
        path,
        source,
    }
}

/// Builds every service spec from the configuration and what is installed.
pub fn specs(config: &StackConfig) -> Result<(Layout, Vec<ServiceSpec>), StackError> {
    let layout = config.layout();
    let secrets = secrets(&layout)?;
    specs_with(config, &secrets)
}

/// The specs with the given secrets (real ones to start, withheld ones to render).
fn specs_with(
    config: &StackConfig,
    secrets: &Secrets,
) -> Result<(Layout, Vec<ServiceSpec>), StackError> {
    config.validate().map_err(StackError::Config)?;
    let layout = config.layout();
    install::is_installed(&layout).map_err(StackError::NotInstalled)?;
    let javas = Javas {
        java17: find_java17(config.java_home.as_deref())?,
        java21: find_java21(config.registry_java_home.as_deref())?,
    };
    let spark_home = layout
        .spark_home()
        .ok_or(StackError::NotInstalled(vec!["spark"]))?;
    let mut jars: Vec<String> = fs::read_dir(layout.spark_jars())
        .map_err(io_err("read", &layout.spark_jars()))?
        .filter_map(Result::ok)
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".jar"))
        .collect();
    jars.sort();
    // The Connect server's interceptor (token and loopback check) is on its classpath too.
    jars.push(layout.spark_connect_auth_jar().display().to_string());
    let bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("userstream"));
    let specs = services::all(config, &layout, &javas, &spark_home, &jars, secrets, &bin);
    Ok((layout, specs))
}

/// What `stack render` wrote for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Every file written, in order.
    pub files: Vec<PathBuf>,
    /// Environment variables left out because they hold secrets: whoever runs the service
    /// provides them at run time (never baked into a file or an image).
    pub withheld: Vec<String>,
}

/// Writes what the stack would run for `service` into `out`: its configuration files (by
/// their file names), `argv` (program and arguments, one per line), `env` (`KEY=VALUE` per
/// line, secrets left out) and `cwd`. The same code renders them for `stack up`, so anything
/// that runs the service from these files (an image, a unit file) runs what the local stack
/// runs.
pub fn render_service(
    config: &StackConfig,
    service: &str,
    out: &Path,
) -> Result<Rendered, StackError> {
    let withheld_secrets = Secrets::withheld();
    let (_, specs) = specs_with(config, &withheld_secrets)?;
    let spec = find_spec(&specs, service)?;
    fs::create_dir_all(out).map_err(io_err("create", out))?;
    let mut files = Vec::new();
    let mut write = |name: &str, content: &str| -> Result<(), StackError> {
        let path = out.join(name);
        fs::write(&path, content).map_err(io_err("write", &path))?;
        files.push(path);
        Ok(())
    };
    for (path, content) in &spec.files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        write(&name, content)?;
    }
    let argv = std::iter::once(spec.program.display().to_string())
        .chain(spec.args.iter().cloned())
        .map(|arg| arg + "\n")
        .collect::<String>();
    write("argv", &argv)?;
    let secret_values = withheld_secrets.values();
    let mut withheld = Vec::new();
    let mut env = String::new();
    for (key, value) in &spec.env {
        // A value holding a secret anywhere (a JAAS line) is left out whole.
        if secret_values.iter().any(|secret| value.contains(secret)) {
            withheld.push(key.clone());
        } else {
            env.push_str(&format!("{key}={value}\n"));
        }
    }
    write("env", &env)?;
    write("cwd", &format!("{}\n", spec.cwd.display()))?;
    Ok(Rendered { files, withheld })
}

/// Runs one service in the foreground, as a container's entrypoint: writes its configuration
/// files, runs its first-start steps (each skipped once its marker exists), then replaces this
/// process with the service (`exec`), so the service keeps this pid (PID 1 in a container) and
/// receives the stop signal itself. Output stays on this process's stdout and stderr (a
/// container's log), not in `<state>/logs`. The same specs as `stack up`: an image that runs
/// `userstream stack run <service>` runs what the local stack runs. Returns only on failure.
///
/// A service with work to do once it is healthy (Kafka's ACLs, Cassandra's roles) gets a
/// helper process first, `userstream stack after-start <service>` with this process's
/// arguments, which waits for the service's health and does it, as `stack up` does.
pub fn run_foreground(config: &StackConfig, service: &str) -> StackError {
    match prepare_foreground(config, service) {
        Ok(mut command) => {
            if let Err(e) = spawn_after_start(service) {
                return e;
            }
            use std::os::unix::process::CommandExt;
            let program = PathBuf::from(command.get_program());
            let source = command.exec();
            StackError::Process(process::ProcessError::Spawn {
                service: service.to_owned(),
                program,
                source,
            })
        }
        Err(e) => e,
    }
}

/// Services with work to do once healthy, under `stack run`.
const AFTER_START: [&str; 2] = ["kafka", "cassandra"];

fn spawn_after_start(service: &str) -> Result<(), StackError> {
    if !AFTER_START.contains(&service) {
        return Ok(());
    }
    let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("userstream"));
    // This process's own arguments with the action swapped: the same flags and state.
    let mut swapped = false;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|arg| {
            if !swapped && arg == "run" {
                swapped = true;
                "after-start".to_owned()
            } else {
                arg
            }
        })
        .collect();
    std::process::Command::new(&program)
        .args(&args)
        .spawn()
        .map(|_| ())
        .map_err(|source| {
            StackError::Process(process::ProcessError::Spawn {
                service: format!("{service} (after-start helper)"),
                program,
                source,
            })
        })
}

/// Waits until `service` (started by someone else: `stack run` in a container) is healthy,
/// then runs what `stack up` runs once it is (Kafka's ACLs; Cassandra's roles are set up by
/// its health check itself).
pub async fn after_start(config: &StackConfig, service: &str) -> Result<String, StackError> {
    let (layout, specs) = specs(config)?;
    let spec = find_spec(&specs, service)?;
    let http = http_client();
    let deadline = Instant::now() + config.start_timeout;
    let detail = loop {
        match health::check(&spec.health, &http, &layout.run()).await {
            Ok(detail) => break detail,
            Err(error) if Instant::now() >= deadline => {
                return Err(StackError::Unhealthy {
                    service: spec.name.to_owned(),
                    timeout: config.start_timeout,
                    reason: error,
                    log: PathBuf::from("(the container's output)"),
                    tail: String::new(),
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    run_steps(spec, &spec.after_healthy, &layout.log_file(spec.name)).await?;
    Ok(detail)
}

/// The spec of `service`, or an error naming the services there are.
fn find_spec<'a>(specs: &'a [ServiceSpec], service: &str) -> Result<&'a ServiceSpec, StackError> {
    specs
        .iter()
        .find(|s| s.name == service)
        .ok_or_else(|| StackError::UnknownService {
            service: service.to_owned(),
            known: specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })
}

/// A service's rendered configuration files and its data directory, before it starts (by
/// `up` or `stack run`).
/// Every file is private (0600): some hold passwords (Kafka's), none needs other readers.
fn write_service_files(spec: &ServiceSpec, layout: &Layout) -> Result<(), StackError> {
    for (path, content) in &spec.files {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        write_private(path, content)?;
    }
    let data = layout.data(spec.name);
    fs::create_dir_all(&data).map_err(io_err("create", &data))
}

fn prepare_foreground(
    config: &StackConfig,
    service: &str,
) -> Result<std::process::Command, StackError> {
    let (layout, specs) = specs(config)?;
    let spec = find_spec(&specs, service)?;
    write_service_files(spec, &layout)?;
    fs::create_dir_all(&spec.cwd).map_err(io_err("create", &spec.cwd))?;
    for step in &spec.pre_start {
        if step.unless_exists.as_ref().is_some_and(|p| p.exists()) {
            continue;
        }
        eprintln!("{}: {}", spec.name, step.description);
        let status = std::process::Command::new(&step.program)
            .args(&step.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .status()
            .map_err(|source| {
                StackError::Process(process::ProcessError::Spawn {
                    service: spec.name.to_owned(),
                    program: step.program.clone(),
                    source,
                })
            })?;
        if !status.success() {
            return Err(StackError::PreStart {
                service: spec.name.to_owned(),
                step: step.description.clone(),
                status: status.to_string(),
                log: PathBuf::from("(stderr)"),
                tail: String::new(),
            });
        }
        if let Some(marker) = &step.marks_done {
            fs::write(marker, "").map_err(io_err("write", marker))?;
        }
    }
    // `stack status` and `down` inside the container find the service by this pid: exec
    // keeps it.
    let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let record = PidRecord {
        pid,
        start_ticks: process::read_stat(pid).map(|s| s.start_ticks).unwrap_or(0),
    };
    let pid_file = layout.pid_file(spec.name);
    if let Some(dir) = pid_file.parent() {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    fs::write(&pid_file, record.render()).map_err(io_err("write", &pid_file))?;
    let mut command = std::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd);
    Ok(command)
}

/// Loads the stack's secrets, generating them when the file does not exist (an Airflow
/// secrets file of an earlier version is taken over). A file that exists but cannot be read
/// or parsed is an error, never replaced: the engines' data was set up with its passwords.
pub fn secrets(layout: &Layout) -> Result<Secrets, StackError> {
    let path = layout.secrets();
    if let Some(mut secrets) = read_secrets(&path)? {
        // A file from before Spark's RPC secret existed: add one, keep everything else.
        if secrets.spark_auth_secret.is_empty() {
            secrets.spark_auth_secret = random_text(32);
            replace_secrets(layout, &secrets)?;
        }
        return Ok(secrets);
    }
    let airflow = match read_airflow_secrets(&layout.airflow_home().join("secrets.json"))? {
        Some(earlier) => earlier,
        None => generate_airflow_secrets(),
    };
    let secrets = Secrets {
        airflow,
        credentials: generate_credentials(),
        spark_auth_secret: random_text(32),
    };
    fs::create_dir_all(layout.state()).map_err(io_err("create", layout.state()))?;
    let text = serde_json::to_string_pretty(&secrets).unwrap_or_default();
    // First writer wins: containers sharing one volume may all start at once (`stack run`
    // renders every spec), and every service must use the same secrets.
    if publish_private_once(&path, &text)? {
        let _ = fs::remove_file(layout.airflow_home().join("secrets.json"));
        return Ok(secrets);
    }
    read_secrets(&path)?.ok_or_else(|| StackError::Io {
        action: "read",
        path: path.clone(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "vanished after it was written",
        ),
    })
}

/// The Airflow part of the stack's secrets (generating them on first use).
pub fn airflow_secrets(layout: &Layout) -> Result<AirflowSecrets, StackError> {
    secrets(layout).map(|s| s.airflow)
}

/// A new password, as the stack generates them.
pub fn new_password() -> String {
    random_text(24)
}

/// Replaces the secrets file with `secrets` (after a rotation), atomically, mode 0600.
pub fn replace_secrets(layout: &Layout, secrets: &Secrets) -> Result<(), StackError> {
    let text = serde_json::to_string_pretty(secrets).unwrap_or_default();
    write_private(&layout.secrets(), &text)
}

fn random_text(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    // URL-safe, no padding: no character that needs quoting in a JAAS line, a CQL string, a
    // Java argument file or an HTTP header.
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

fn generate_airflow_secrets() -> AirflowSecrets {
    use base64::Engine;
    use rand::RngCore;
    let mut fernet = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fernet);
    AirflowSecrets {
        jwt_secret: random_text(32),
        secret_key: random_text(32),
        // Fernet wants exactly 32 bytes, URL-safe base64 with padding.
        fernet_key: base64::engine::general_purpose::URL_SAFE.encode(fernet),
        admin_password: random_text(15),
    }
}

/// New passwords and tokens for every engine user of the stack.
pub fn generate_credentials() -> Credentials {
    let login = |user: &str| Login::new(user, new_password());
    Credentials {
        kafka: KafkaLogins {
            admin: login("admin"),
            producer: login("producer"),
            reader: login("reader"),
            registry: login("registry"),
            controller: login("controller"),
        },
        cassandra: CassandraLogins {
            admin: login("userstream_admin"),
            app: login("userstream_app"),
        },
        registry: RegistryLogins {
            admin: login("admin"),
            producer: login("producer"),
            reader: login("reader"),
        },
        spark_connect_token: random_text(32),
        console_token: random_text(24),
    }
}

/// Writes `text` to `path` (mode 0600) unless `path` exists; `false` when another process
/// published it first. A hard link creates the name atomically, only if it does not exist.
fn publish_private_once(path: &Path, text: &str) -> Result<bool, StackError> {
    let partial = path.with_extension(format!("partial.{}", std::process::id()));
    write_private(&partial, text)?;
    let linked = fs::hard_link(&partial, path);
    let _ = fs::remove_file(&partial);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(StackError::Io {
            action: "write",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Reads a secrets file: `None` when it does not exist; an error (never a replacement) when
/// it exists but cannot be read or parsed.
fn read_json_secrets<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StackError> {
    let unusable = |problem: String| StackError::SecretsUnusable {
        path: path.to_path_buf(),
        problem,
    };
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| unusable(format!("cannot be parsed ({e})"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unusable(format!("cannot be read ({e})"))),
    }
}

/// The stack's secrets file, if it exists.
pub fn read_secrets(path: &Path) -> Result<Option<Secrets>, StackError> {
    read_json_secrets(path)
}

/// The Airflow part of a secrets file, if it exists.
pub fn read_airflow_secrets(path: &Path) -> Result<Option<AirflowSecrets>, StackError> {
    read_json_secrets(path)
}

/// Holds the stack's lock file (`run/stack.lock`) until dropped: two `stack up` (or `up` and
/// `down`) at once would format Kafka's storage or migrate Airflow's database twice and
/// corrupt both. The second one waits and says so.
pub fn lock_stack(layout: &Layout) -> Result<fs::File, StackError> {
    let path = layout.run().join("stack.lock");
    fs::create_dir_all(layout.run()).map_err(io_err("create", &layout.run()))?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err("open", &path))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(fs::TryLockError::WouldBlock) => eprintln!(
            "another `userstream stack` command is changing this stack ({}); waiting for it to finish",
            layout.state().display()
        ),
        Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", &path)(e)),
    }
    file.lock().map_err(io_err("lock", &path))?;
    Ok(file)
}

/// Writes `text` to `path` with mode 0600, through a temporary file renamed into place, so a
/// crash never leaves a half-written file (which the next start would refuse).
fn write_private(path: &Path, text: &str) -> Result<(), StackError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let partial = path.with_extension("partial");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(io_err("write", &partial))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err("write", &partial))?;
    fs::rename(&partial, path).map_err(io_err("rename into place", path))
}

/// The outcome of `up` for one service.
#[derive(Debug, Clone)]
pub struct Started {
    /// Service name.
    pub service: &'static str,
    /// True when it was already running before this `up`.
    pub already_running: bool,
    /// Time to healthy.
    pub took: Duration,
    /// Health detail.
    pub detail: String,
}

/// Takes group and other bits off everything under the state directory (see [`private`]),
/// saying how many paths were open.
fn make_state_private(layout: &Layout) -> Result<(), StackError> {
    let state = layout.state();
    let done = private::tighten_tree(state).map_err(io_err("make private", state))?;
    if !done.changed.is_empty() {
        eprintln!(
            "  {} of {} paths under {} were readable or writable by other users; now only by you",
            done.changed.len(),
            done.seen,
            state.display()
        );
    }
    Ok(())
}

/// Starts every service not yet running, each as soon as its dependencies are healthy.
pub async fn up(config: &StackConfig) -> Result<Vec<Started>, StackError> {
    let (layout, specs) = specs(config)?;
    let _lock = lock_stack(&layout)?;
    let started = Instant::now();
    make_state_private(&layout)?;
    let http = http_client();
    let mut results = Vec::new();
    let all_running = specs
        .iter()
        .all(|s| process::running(&layout.pid_file(s.name)).is_some());
    eprintln!(
        "Starting the stack (state: {}, logs: {})",
        layout.state().display(),
        layout.logs().display()
    );
    // Every service starts as soon as its own dependencies are healthy (not a whole wave):
    // the registry need not wait for Cassandra's minute-long start.
    let mut gates: HashMap<&'static str, Gate<'_>> = HashMap::new();
    for spec in &specs {
        let deps: Vec<Gate<'_>> = spec
            .depends_on
            .iter()
            .filter_map(|d| gates.get(d).cloned())
            .collect();
        let (layout, http, timeout) = (&layout, &http, config.start_timeout);
        let gate: Gate<'_> = async move {
            for dep in deps {
                if let Err(failed) = dep.await {
                    return Err(StartFailure::Blocked(format!(
                        "not started: it needs {failed}"
                    )));
                }
            }
            start_one(spec, layout, timeout, http)
                .await
                .map_err(|e| StartFailure::Failed(userstream_endpoints::error_chain(&e)))
        }
        .boxed()
        .shared();
        gates.insert(spec.name, gate);
    }
    let outcomes = join_all(specs.iter().filter_map(|s| gates.get(s.name).cloned())).await;
    let mut failures = Vec::new();
    for (spec, outcome) in specs.iter().zip(outcomes) {
        match outcome {
            Ok(started) => results.push(started),
            // Reported where it happens; the failure that caused it is in `failures`.
            Err(StartFailure::Blocked(why)) => eprintln!("  {:<22} {why}", spec.name),
            Err(StartFailure::Failed(error)) => failures.push(error),
        }
    }
    if !failures.is_empty() {
        return Err(StackError::Failed(failures));
    }
    if all_running {
        eprintln!("The stack was already up; nothing started.");
    } else {
        eprintln!(
            "Stack up in {:.1}s. `userstream stack status` shows it; `userstream stack credentials` the logins (from {})",
            started.elapsed().as_secs_f64(),
            layout.secrets().display()
        );
    }
    Ok(results)
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// A service's start, shareable so every dependent can await it. `Err` names what failed.
type Gate<'a> = Shared<BoxFuture<'a, Result<Started, StartFailure>>>;

/// Why a service did not come up during `up` (cloned to every service that waits on it).
#[derive(Debug, Clone)]
enum StartFailure {
    /// It failed itself: the message names it and the cause.
    Failed(String),
    /// It was not started because a dependency failed.
    Blocked(String),
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(message) | Self::Blocked(message) => f.write_str(message),
        }
    }
}

async fn start_one(
    spec: &ServiceSpec,
    layout: &Layout,
    timeout: Duration,
    http: &reqwest::Client,
) -> Result<Started, StackError> {
    let begin = Instant::now();
    let pid_file = layout.pid_file(spec.name);
    let log = layout.log_file(spec.name);
    let already_running = process::running(&pid_file);
    let record = match already_running {
        Some(record) => record,
        None => launch(spec, layout, &pid_file, &log).await?,
    };
    let detail = wait_healthy(spec, &record, timeout, http, layout).await?;
    run_steps(spec, &spec.after_healthy, &log).await?;
    let took = begin.elapsed();
    if already_running.is_some() {
        eprintln!(
            "  {:<22} already running (pid {}): {detail}",
            spec.name, record.pid
        );
    } else {
        eprintln!(
            "  {:<22} healthy in {:>5.1}s (pid {}): {detail}",
            spec.name,
            took.as_secs_f64(),
            record.pid
        );
    }
    Ok(Started {
        service: spec.name,
        already_running: already_running.is_some(),
        took,
        detail,
    })
}

async fn launch(
    spec: &ServiceSpec,
    layout: &Layout,
    pid_file: &Path,
    log: &Path,
) -> Result<PidRecord, StackError> {
    for port in &spec.ports {
        // A process stopped a moment ago (a restart) may still be letting go of its ports.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !process::port_is_free(*port) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if !process::port_is_free(*port) {
            return Err(StackError::PortTaken {
                service: spec.name.to_owned(),
                port: *port,
            });
        }
    }
    write_service_files(spec, layout)?;
    run_steps(spec, &spec.pre_start, log).await?;
    let record = process::spawn(
        &Launch {
            service: spec.name,
            program: &spec.program,
            args: &spec.args,
            env: &spec.env,
            cwd: &spec.cwd,
            log,
        },
        pid_file,
    )?;
    eprintln!("  {:<22} started (pid {})", spec.name, record.pid);
    Ok(record)
}

/// Runs `steps` of `spec` in order (output into the service's log), each skipped when its
/// marker exists, and marks those that have one done.
async fn run_steps(spec: &ServiceSpec, steps: &[PreStart], log: &Path) -> Result<(), StackError> {
    for step in steps {
        if step.unless_exists.as_ref().is_some_and(|p| p.exists()) {
            continue;
        }
        eprintln!("  {:<22} {}", spec.name, step.description);
        let (program, args, env, cwd, step_log) = (
            step.program.clone(),
            step.args.clone(),
            spec.env.clone(),
            spec.cwd.clone(),
            log.to_path_buf(),
        );
        let name = spec.name;
        let status = tokio::task::spawn_blocking(move || {
            process::run_to_completion(name, &program, &args, &env, &cwd, &step_log)
        })
        .await
        .map_err(|e| StackError::PreStart {
            service: spec.name.to_owned(),
            step: step.description.clone(),
            status: e.to_string(),
            log: log.to_path_buf(),
            tail: String::new(),
        })??;
        if !status.success() {
            return Err(StackError::PreStart {
                service: spec.name.to_owned(),
                step: step.description.clone(),
                status: status.to_string(),
                log: log.to_path_buf(),
                tail: process::tail(log, 20),
            });
        }
        if let Some(marker) = &step.marks_done {
            fs::write(marker, "").map_err(io_err("write", marker))?;
        }
    }
    Ok(())
}

async fn wait_healthy(
    spec: &ServiceSpec,
    record: &PidRecord,
    timeout: Duration,
    http: &reqwest::Client,
    layout: &Layout,
) -> Result<String, StackError> {
    let log = &layout.log_file(spec.name);
    let deadline = Instant::now() + timeout;
    loop {
        if !process::is_running(record) {
            return Err(StackError::Unhealthy {
                service: spec.name.to_owned(),
                timeout,
                reason: format!("the process (pid {}) exited", record.pid),
                log: log.to_path_buf(),
                tail: process::tail(log, 25),
            });
        }
        let last_error = match health::check(&spec.health, http, &layout.run()).await {
            Ok(detail) => return Ok(detail),
            Err(error) => error,
        };
        if Instant::now() >= deadline {
            return Err(StackError::Unhealthy {
                service: spec.name.to_owned(),
                timeout,
                reason: last_error,
                log: log.to_path_buf(),
                tail: process::tail(log, 25),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One row of `stack status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub service: &'static str,
    /// Engine it belongs to.
    pub engine: &'static str,
    /// Pid when running.
    pub pid: Option<i32>,
    /// Ports it owns.
    pub ports: Vec<u16>,
    /// Health detail when healthy, error when not.
    pub health: Result<String, String>,
    /// Uptime in seconds.
    pub uptime_seconds: Option<u64>,
    /// Resident memory of its process group, bytes.
    pub rss_bytes: u64,
    /// Its log file.
    pub log: PathBuf,
}

impl ServiceStatus {
    /// True when running and healthy.
    pub fn healthy(&self) -> bool {
        self.pid.is_some() && self.health.is_ok()
    }
}

/// The state of every service, checked concurrently.
pub async fn status(config: &StackConfig) -> Result<Vec<ServiceStatus>, StackError> {
    let (layout, specs) = specs(config)?;
    let http = http_client();
    let rows = join_all(specs.iter().map(|spec| {
        let layout = &layout;
        let http = &http;
        async move {
            let record = process::running(&layout.pid_file(spec.name));
            let health = match record {
                Some(_) => health::check(&spec.health, http, &layout.run()).await,
                None => Err("not running".to_owned()),
            };
            ServiceStatus {
                service: spec.name,
                engine: spec.engine,
                pid: record.map(|r| r.pid),
                ports: spec.ports.clone(),
                health,
                uptime_seconds: record
                    .as_ref()
                    .and_then(process::uptime)
                    .map(|d| d.as_secs()),
                rss_bytes: record.map(|r| process::group_rss_bytes(r.pid)).unwrap_or(0),
                log: layout.log_file(spec.name),
            }
        }
    }))
    .await;
    Ok(rows)
}

/// Renders the status table.
pub fn render_status(rows: &[ServiceStatus]) -> String {
    let mut out = format!(
        "{:<22} {:>8}  {:<18} {:<8} {:>9} {:>9}  {}\n",
        "SERVICE", "PID", "PORTS", "HEALTHY", "UPTIME", "RSS", "DETAIL"
    );
    let mut total_rss = 0;
    for row in rows {
        total_rss += row.rss_bytes;
        let ports = row
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let detail = match &row.health {
            Ok(d) => d.clone(),
            Err(e) => e.clone(),
        };
        out.push_str(&format!(
            "{:<22} {:>8}  {:<18} {:<8} {:>9} {:>9}  {}\n",
            row.service,
            row.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            if ports.is_empty() { "-".into() } else { ports },
            if row.healthy() { "yes" } else { "NO" },
            row.uptime_seconds
                .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
                .unwrap_or_else(|| "-".into()),
            format_bytes(row.rss_bytes),
            truncate(&detail, 70),
        ));
    }
    out.push_str(&format!(
        "{} of {} healthy; total RSS {}\n",
        rows.iter().filter(|r| r.healthy()).count(),
        rows.len(),
        format_bytes(total_rss)
    ));
    out
}

fn truncate(text: &str, max: usize) -> String {
    let first_line = text.lines().next().unwrap_or("");
    if first_line.chars().count() <= max {
        first_line.to_owned()
    } else {
        let cut: String = first_line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// `1536 MiB`-style rendering.
pub fn format_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "-".into();
    }
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}

/// Stops every running service, in reverse start order. Data is kept unless `purge`.
pub fn down(config: &StackConfig, purge: bool) -> Result<(), StackError> {
    config.validate().map_err(StackError::Config)?;
    let layout = config.layout();
    let _lock = lock_stack(&layout)?;
    // Stop by pid files, so `down` works even if the install is gone or half-done.
    let order = [
        "airflow-triggerer",
        "airflow-dag-processor",
        "airflow-scheduler",
        "airflow-api-server",
        "spark-connect",
        "spark-worker",
        "spark-master",
        "registry",
        "cassandra",
        "kafka",
    ];
    let mut stopped = 0;
    for service in order {
        let pid_file = layout.pid_file(service);
        if let Some(record) = process::running(&pid_file) {
            let begin = Instant::now();
            // Cassandra and Kafka flush on SIGTERM; give them time before SIGKILL.
            let killed = process::stop(&record, Duration::from_secs(45));
            eprintln!(
                "  {service:<22} stopped in {:.1}s{}",
                begin.elapsed().as_secs_f64(),
                if killed {
                    " (SIGKILL after timeout)"
                } else {
                    ""
                }
            );
            stopped += 1;
        }
        let _ = fs::remove_file(&pid_file);
    }
    // A clean stop leaves no application or worker for the next master to recover (it would
    // wait up to the worker timeout for them before scheduling).
    let _ = fs::remove_dir_all(layout.spark_master_recovery());
    if stopped == 0 {
        eprintln!("Nothing was running.");
    } else {
        eprintln!(
            "Stopped {stopped} services; data kept in {}.",
            layout.data_root().display()
        );
    }
    if purge {
        // Data, rendered configs and pid files go; logs and installed runtimes stay.
        for dir in [layout.data_root(), layout.conf_root(), layout.run()] {
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))?;
            }
        }
        eprintln!("Purged data under {}.", layout.state().display());
    }
    Ok(())
}

/// Stops one service (for tests and `stack restart`).
pub fn stop_service(config: &StackConfig, service: &str) -> Result<bool, StackError> {
    let layout = config.layout();
    let pid_file = layout.pid_file(service);
    let Some(record) = process::running(&pid_file) else {
        return Ok(false);
    };
    process::stop(&record, Duration::from_secs(45));
    let _ = fs::remove_file(&pid_file);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_published_once_and_the_first_writer_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        assert!(publish_private_once(&path, "first").unwrap());
        assert!(!publish_private_once(&path, "second").unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "first");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no partial file left behind");
    }

    #[test]
    fn status_table_marks_unhealthy_rows_and_sums_memory() {
        let rows = vec![
            ServiceStatus {
                service: "kafka",
                engine: "Kafka",
                pid: Some(10),
                ports: vec![9092, 9093],
                health: Ok("1 broker".into()),
                uptime_seconds: Some(65),
                rss_bytes: 512 * 1024 * 1024,
                log: "/l/kafka.log".into(),
            },
            ServiceStatus {
                service: "registry",
                engine: "Schema Registry",
                pid: None,
                ports: vec![8081],
                health: Err("not running".into()),
                uptime_seconds: None,
                rss_bytes: 0,
                log: "/l/registry.log".into(),
            },
        ];
        let table = render_status(&rows);
        assert!(table.contains("kafka"));
        assert!(table.contains("9092,9093"));
        assert!(table.contains("1m 5s"));
        assert!(table.contains("NO"));
        assert!(table.contains("1 of 2 healthy; total RSS 512 MiB"));
    }

    #[test]
    fn purge_removes_data_but_keeps_runtimes_and_logs() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StackConfig::with_state_dir(dir.path());
        config.runtime_dir = None;
        let layout = config.layout();
        for keep_or_go in [
            layout.data("kafka"),
            layout.conf("kafka"),
            layout.run(),
            layout.kafka_lib(),
            layout.logs(),
        ] {
            fs::create_dir_all(&keep_or_go).unwrap();
        }
        down(&config, true).unwrap();
        assert!(!layout.data_root().exists());
        assert!(!layout.conf_root().exists());
        assert!(
            layout.kafka_lib().exists(),
            "the installed runtime must survive --purge"
        );
        assert!(layout.logs().exists());
    }

    #[test]
    fn airflow_secrets_are_generated_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().into(), dir.path().join("rt"), "/d".into());
        let first = airflow_secrets(&layout).unwrap();
        let second = airflow_secrets(&layout).unwrap();
        assert_eq!(first, second);
        assert!(first.admin_password.len() >= 16);
        let mode = fs::metadata(layout.airflow_secrets())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn the_stack_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().into(), dir.path().join("rt"), "/d".into());
        let held = lock_stack(&layout).unwrap();
        let other = fs::File::open(layout.run().join("stack.lock")).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        drop(held);
        assert!(other.try_lock().is_ok());
    }

    #[test]
    fn a_corrupt_secrets_file_is_an_error_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().into(), dir.path().join("rt"), "/d".into());
        fs::create_dir_all(layout.airflow_home()).unwrap();
        let corrupt = "{\"jwt_secret\": \"x\", trunc";
        fs::write(layout.airflow_secrets(), corrupt).unwrap();
        let err = airflow_secrets(&layout).unwrap_err().to_string();
        assert!(err.contains("cannot be parsed"), "{err}");
        assert!(err.contains("left untouched"), "{err}");
        assert_eq!(
            fs::read_to_string(layout.airflow_secrets()).unwrap(),
            corrupt
        );
    }
}
