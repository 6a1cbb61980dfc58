//! `stack install`: puts every runtime the stack needs under the runtime directory.
//!
//! Idempotent and cached: each component records a fingerprint of what it installed (the pom
//! or lock file it came from), and a component whose fingerprint matches is skipped without
//! any network access. Maven and pip keep their own download caches (`~/.m2`, `~/.cache/pip`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Layout;

/// The pinned inputs, embedded so the binary installs exactly what the repository reviews.
pub mod pins {
    /// Kafka broker jars.
    pub const KAFKA_POM: &str = include_str!("../../../stack/maven/kafka/pom.xml");
    /// Cassandra jars.
    pub const CASSANDRA_POM: &str = include_str!("../../../stack/maven/cassandra/pom.xml");
    /// Spark connector jars for the Connect server.
    pub const SPARK_POM: &str = include_str!("../../../stack/maven/spark/pom.xml");
    /// The Apicurio Registry application archive.
    pub const REGISTRY_POM: &str = include_str!("../../../stack/maven/registry/pom.xml");
    /// pyspark (the Spark distribution).
    pub const PYSPARK_LOCK: &str = include_str!("../../../stack/python/pyspark.lock");
    /// Airflow and all its dependencies.
    pub const AIRFLOW_LOCK: &str = include_str!("../../../stack/python/airflow.lock");
    /// The Maven project of the Spark Connect auth interceptor.
    pub const SPARK_CONNECT_AUTH_POM: &str = include_str!("../../../spark/interceptor/pom.xml");
    /// The interceptor's source file.
    pub const SPARK_CONNECT_AUTH_JAVA: &str = include_str!(
        "../../../spark/interceptor/src/main/java/dev/userstream/spark/LoopbackTokenInterceptor.java"
    );
    /// The Spark UIs' login filter, built into the same jar.
    pub const SPARK_UI_FILTER_JAVA: &str = include_str!(
        "../../../spark/interceptor/src/main/java/dev/userstream/spark/UiTokenFilter.java"
    );
    /// Cassandra's role manager that creates the stack's admin role on a new node instead of
    /// the well-known `cassandra` superuser.
    pub const CASSANDRA_ROLE_MANAGER_JAVA: &str =
        include_str!("../../../stack/cassandra-auth/StackAdminRoleManager.java");
    /// The registry's Java agent that swaps its metrics handler for one answering 404.
    pub const REGISTRY_AGENT_JAVA: &str =
        include_str!("../../../stack/registry-agent/MetricsOffAgent.java");
    /// The metrics handler the agent puts in place of Quarkus's.
    pub const REGISTRY_METRICS_STUB_JAVA: &str =
        include_str!("../../../stack/registry-agent/PrometheusHandler.java");
}

/// The agent's class, for the jar's `Premain-Class`.
const REGISTRY_AGENT_CLASS: &str = "dev.userstream.registry.MetricsOffAgent";

/// Where the agent finds the stand-in handler's bytes in its jar (`MetricsOffAgent.REPLACEMENT`):
/// a resource, not a class, so no class loader but the agent's transformer ever sees it.
const REGISTRY_METRICS_STUB_RESOURCE: &str = "dev/userstream/registry/PrometheusHandler.bytes";

/// What the registry agent's jar was built from, as its `.installed` fingerprint: the registry
/// pom (the stand-in replaces a class of that registry's Quarkus) followed by the two Java
/// sources (nix/packages.nix writes the same with `cat pom agent handler`).
pub fn registry_agent_fingerprint() -> String {
    format!(
        "{}{}{}",
        pins::REGISTRY_POM,
        pins::REGISTRY_AGENT_JAVA,
        pins::REGISTRY_METRICS_STUB_JAVA
    )
}

/// What the role manager's jar was built from, as its `.installed` fingerprint: the Cassandra
/// pom (it is compiled against those jars) followed by the Java source
/// (nix/packages.nix writes the same with `cat pom source`).
pub fn cassandra_auth_fingerprint() -> String {
    format!(
        "{}{}",
        pins::CASSANDRA_POM,
        pins::CASSANDRA_ROLE_MANAGER_JAVA
    )
}

/// The Spark Connect server's gRPC interceptor class (in [`Layout::spark_connect_auth_jar`]),
/// for `spark.connect.grpc.interceptor.classes`.
pub const SPARK_CONNECT_INTERCEPTOR_CLASS: &str = "dev.userstream.spark.LoopbackTokenInterceptor";

/// The environment variable the interceptor reads its token from, in the Connect server's
/// process (never a SparkConf value: clients can read confs back).
pub const SPARK_CONNECT_TOKEN_ENV: &str = "USERSTREAM_SPARK_CONNECT_TOKEN";

/// Where [`pins::SPARK_CONNECT_AUTH_JAVA`] goes in the Maven layout of the build directory.
const SPARK_CONNECT_AUTH_JAVA_PATH: &str =
    "src/main/java/dev/userstream/spark/LoopbackTokenInterceptor.java";

/// Where [`pins::SPARK_UI_FILTER_JAVA`] goes.
const SPARK_UI_FILTER_JAVA_PATH: &str = "src/main/java/dev/userstream/spark/UiTokenFilter.java";

/// The jar's Java sources: where each goes in the build tree, and its text.
const SPARK_CONNECT_AUTH_SOURCES: [(&str, &str); 2] = [
    (SPARK_CONNECT_AUTH_JAVA_PATH, pins::SPARK_CONNECT_AUTH_JAVA),
    (SPARK_UI_FILTER_JAVA_PATH, pins::SPARK_UI_FILTER_JAVA),
];

/// What the interceptor jar was built from, as its `.installed` fingerprint: the pom followed
/// by the Java sources in [`SPARK_CONNECT_AUTH_SOURCES`] order, byte for byte
/// (nix/packages.nix writes the same with `cat pom interceptor filter`).
pub fn spark_connect_auth_fingerprint() -> String {
    let mut fingerprint = pins::SPARK_CONNECT_AUTH_POM.to_owned();
    for (_, text) in SPARK_CONNECT_AUTH_SOURCES {
        fingerprint.push_str(text);
    }
    fingerprint
}

/// Errors of `stack install`.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A prerequisite program is missing and cannot be installed by us.
    #[error("{what} is missing: {hint}")]
    Missing {
        /// The missing thing.
        what: String,
        /// What to do about it.
        hint: String,
    },
    /// A step's command failed.
    #[error("{step} failed (exit {status}); its output is in {log}:\n{tail}")]
    Step {
        /// The step.
        step: String,
        /// Exit status.
        status: String,
        /// Log file.
        log: PathBuf,
        /// The end of the log.
        tail: String,
    },
    /// A file operation failed.
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

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io {
        action,
        path,
        source,
    }
}

/// What `install` needs to know.
pub struct InstallOptions<'a> {
    /// Directory layout.
    pub layout: &'a Layout,
    /// Python interpreter for the venvs.
    pub python: &'a Path,
    /// Java 17 home to check (found automatically when `None`).
    pub java_home: Option<&'a Path>,
    /// Java 21+ home for the registry (found automatically when `None`).
    pub registry_java_home: Option<&'a Path>,
}

/// A component as installed: its name and whether this run did any work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledComponent {
    /// Component name.
    pub name: &'static str,
    /// False when the cached install was already up to date.
    pub changed: bool,
}

/// Installs everything that is missing or out of date.
pub fn install(options: &InstallOptions<'_>) -> Result<Vec<InstalledComponent>, InstallError> {
    let layout = options.layout;
    let log = layout.logs().join("install.log");
    fs::create_dir_all(layout.logs()).map_err(io_err("create", &layout.logs()))?;
    fs::create_dir_all(layout.runtime()).map_err(io_err("create", layout.runtime()))?;
    let started = Instant::now();
    eprintln!(
        "Installing the stack runtimes into {} (log: {})",
        layout.runtime().display(),
        log.display()
    );

    if let Err(outdated) = is_installed(layout) {
        let running = running_services(layout);
        if !running.is_empty() {
            return Err(InstallError::Missing {
                what: format!("a stopped stack (runtimes to update: {})", outdated.join(", ")),
                hint: format!(
                    "{} run from these runtimes; run `userstream stack down` first, then install again",
                    running.join(", ")
                ),
            });
        }
    }

    let total = 10;
    let mut done = Vec::new();

    progress(1, total, "system packages (protoc, maven)");
    ensure_system_package("protoc", "protobuf-compiler", &log)?;
    ensure_system_package("mvn", "maven", &log)?;

    progress(2, total, "Java 17 and Java 21+");
    let java17 = find_java17(options.java_home)?;
    let java21 = find_java21(options.registry_java_home)?;
    eprintln!(
        "      Java 17: {}\n      Java 21+: {}",
        java17.display(),
        java21.display()
    );

    progress(3, total, "Kafka jars (Maven Central)");
    done.push(maven_jars(
        "kafka",
        pins::KAFKA_POM,
        &layout.kafka_lib(),
        &log,
    )?);
    progress(4, total, "Cassandra jars (Maven Central)");
    done.push(maven_jars(
        "cassandra",
        pins::CASSANDRA_POM,
        &layout.cassandra_lib(),
        &log,
    )?);
    progress(5, total, "Cassandra role manager (javac)");
    done.push(cassandra_auth(layout, &java17, &log)?);
    progress(
        6,
        total,
        "Apicurio Registry (Maven Central) and its agent (javac)",
    );
    done.push(registry(layout, &log)?);
    done.push(registry_agent(layout, &java17, &log)?);
    progress(7, total, "pyspark (Spark distribution, PyPI)");
    done.push(venv(
        "spark",
        options.python,
        &layout.spark_venv(),
        pins::PYSPARK_LOCK,
        &log,
    )?);
    progress(
        8,
        total,
        "Spark connector jars (Connect, Kafka, Avro, Cassandra)",
    );
    done.push(spark_jars(layout, &log)?);
    progress(
        9,
        total,
        "Spark Connect auth interceptor (mvn package, Maven Central)",
    );
    done.push(spark_connect_auth(layout, &java17, &log)?);
    progress(10, total, "Airflow (PyPI, pinned lock; ~5 min when cold)");
    done.push(venv(
        "airflow",
        options.python,
        &layout.airflow_venv(),
        pins::AIRFLOW_LOCK,
        &log,
    )?);

    let changed = done.iter().filter(|c| c.changed).count();
    eprintln!(
        "Stack installed in {:.1}s ({} of {} components updated). Next: `userstream stack up`.",
        started.elapsed().as_secs_f64(),
        changed,
        done.len()
    );
    Ok(done)
}

fn progress(step: usize, total: usize, what: &str) {
    eprintln!("[{step}/{total}] {what}");
}

/// True when every runtime component has been installed (fingerprints present).
pub fn is_installed(layout: &Layout) -> Result<(), Vec<&'static str>> {
    let auth = spark_connect_auth_fingerprint();
    let cassandra_auth = cassandra_auth_fingerprint();
    let registry_agent = registry_agent_fingerprint();
    let checks: [(&'static str, &str, &str); 9] = [
        ("kafka", "kafka", pins::KAFKA_POM),
        ("cassandra", "cassandra", pins::CASSANDRA_POM),
        ("cassandra-auth", "cassandra/auth", &cassandra_auth),
        ("registry", "registry", pins::REGISTRY_POM),
        ("registry-agent", "registry/agent", &registry_agent),
        ("spark", "spark/venv", pins::PYSPARK_LOCK),
        ("spark-jars", "spark", pins::SPARK_POM),
        ("spark-connect-auth", "spark/auth", &auth),
        ("airflow", "airflow/venv", pins::AIRFLOW_LOCK),
    ];
    let missing: Vec<&'static str> = checks
        .iter()
        .filter(|(_, dir, pin)| !fingerprint_matches(&layout.runtime().join(dir), pin))
        .map(|(name, _, _)| *name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

/// Services whose pid file names a live process.
fn running_services(layout: &Layout) -> Vec<String> {
    let Ok(entries) = fs::read_dir(layout.run()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| crate::process::running(&e.path()).is_some())
        .filter_map(|e| Some(e.path().file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    names
}

const MARKER: &str = ".installed";

fn fingerprint_matches(dir: &Path, pin: &str) -> bool {
    fs::read_to_string(dir.join(MARKER)).is_ok_and(|f| f == pin)
}

fn write_fingerprint(dir: &Path, pin: &str) -> Result<(), InstallError> {
    fs::write(dir.join(MARKER), pin).map_err(io_err("write", &dir.join(MARKER)))
}

fn ensure_system_package(program: &str, package: &str, log: &Path) -> Result<(), InstallError> {
    if which(program).is_some() {
        return Ok(());
    }
    let apt = which("apt-get").ok_or_else(|| InstallError::Missing {
        what: format!("`{program}`"),
        hint: format!("install the `{package}` package with your system's package manager"),
    })?;
    if !nix::unistd::geteuid().is_root() {
        return Err(InstallError::Missing {
            what: format!("`{program}`"),
            hint: format!("run `sudo apt-get install -y {package}`, then run this again"),
        });
    }
    eprintln!("      installing Debian package {package}");
    run_step(
        "apt-get update",
        Command::new(&apt).args(["update", "-qq"]),
        log,
    )?;
    run_step(
        &format!("apt-get install {package}"),
        Command::new(&apt)
            .args(["install", "-y", "-qq", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        log,
    )
}

/// Finds a program on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The major version of the JDK at `home` (from its `release` file).
pub fn java_major(home: &Path) -> Option<u32> {
    let release = fs::read_to_string(home.join("release")).ok()?;
    let line = release.lines().find(|l| l.starts_with("JAVA_VERSION="))?;
    parse_java_major(line.trim_start_matches("JAVA_VERSION="))
}

/// Parses `"17.0.15"`, `"21"`, `"1.8.0_402"` into the major version.
pub fn parse_java_major(version: &str) -> Option<u32> {
    let version = version.trim().trim_matches('"');
    let mut parts = version.split(['.', '_', '+', '-']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

fn jdk_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(home) = explicit {
        candidates.push(home.to_path_buf());
    }
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        candidates.push(PathBuf::from(home));
    }
    if let Some(java) = which("java").and_then(|j| fs::canonicalize(j).ok()) {
        if let Some(home) = java.parent().and_then(Path::parent) {
            candidates.push(home.to_path_buf());
        }
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/jvm") {
        let mut homes: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        homes.sort();
        candidates.extend(homes);
    }
    candidates
}

/// Finds a Java 17 home (Cassandra 5.0 runs on 11 or 17 only; Kafka and Spark are fine on 17).
pub fn find_java17(explicit: Option<&Path>) -> Result<PathBuf, InstallError> {
    jdk_candidates(explicit)
        .into_iter()
        .find(|home| java_major(home) == Some(17) && home.join("bin/java").exists())
        .ok_or_else(|| InstallError::Missing {
            what: "a Java 17 JDK".into(),
            hint: "install `openjdk-17-jre-headless` or set USERSTREAM_JAVA_HOME".into(),
        })
}

/// Finds the newest Java 21+ home (Apicurio Registry 3.3 is compiled for Java 21).
pub fn find_java21(explicit: Option<&Path>) -> Result<PathBuf, InstallError> {
    let mut found: Vec<(u32, PathBuf)> = jdk_candidates(explicit)
        .into_iter()
        .filter_map(|home| Some((java_major(&home)?, home)))
        .filter(|(major, home)| *major >= 21 && home.join("bin/java").exists())
        .collect();
    if let Some(home) = explicit {
        if let Some(hit) = found.iter().find(|(_, h)| h == home) {
            return Ok(hit.1.clone());
        }
    }
    found.sort_by_key(|(major, _)| *major);
    found
        .pop()
        .map(|(_, home)| home)
        .ok_or_else(|| InstallError::Missing {
            what: "a Java 21 or newer JDK (the Schema Registry, Apicurio 3.3, needs it)".into(),
            hint: "install one under /usr/lib/jvm (e.g. `openjdk-21-jre-headless` or a Temurin JDK) or set USERSTREAM_REGISTRY_JAVA_HOME".into(),
        })
}

/// Runs a command with its output appended to `log`, printing a heartbeat on long steps.
fn run_step(step: &str, command: &mut Command, log: &Path) -> Result<(), InstallError> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err("open", log))?;
    let err = out.try_clone().map_err(io_err("open", log))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| InstallError::Missing {
            what: format!("the program for `{step}`"),
            hint: e.to_string(),
        })?;
    let started = Instant::now();
    let mut next_beat = Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io_err("wait for", log))? {
            break status;
        }
        if started.elapsed() >= next_beat {
            eprintln!("      … {step}: still running ({}s)", next_beat.as_secs());
            next_beat += Duration::from_secs(30);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    if status.success() {
        Ok(())
    } else {
        Err(InstallError::Step {
            step: step.to_owned(),
            status: status.to_string(),
            log: log.to_path_buf(),
            tail: crate::process::tail(log, 20),
        })
    }
}

/// The Maven goal that copies a pom's dependency jars, with the plugin version pinned: the
/// jar set (and nix/hashes.nix, which hashes it) must not depend on the day Maven picks a
/// default. nix/packages.nix runs the same goal; scripts/check-nix.sh checks both spell it so.
pub const COPY_DEPENDENCIES: &str =
    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies";

fn maven_copy(
    name: &str,
    pom: &str,
    work: &Path,
    output: &Path,
    log: &Path,
) -> Result<(), InstallError> {
    fs::create_dir_all(work).map_err(io_err("create", work))?;
    let pom_path = work.join("pom.xml");
    fs::write(&pom_path, pom).map_err(io_err("write", &pom_path))?;
    if output.exists() {
        fs::remove_dir_all(output).map_err(io_err("clean", output))?;
    }
    run_step(
        &format!("mvn dependency:copy-dependencies ({name})"),
        Command::new("mvn")
            .args(["-B", "-q", "-f"])
            .arg(&pom_path)
            .arg(COPY_DEPENDENCIES)
            .arg(format!("-DoutputDirectory={}", output.display())),
        log,
    )
}

fn maven_jars(
    name: &'static str,
    pom: &str,
    lib: &Path,
    log: &Path,
) -> Result<InstalledComponent, InstallError> {
    let component = lib.parent().unwrap_or(lib).to_path_buf();
    if fingerprint_matches(&component, pom) {
        eprintln!("      {name}: up to date");
        return Ok(InstalledComponent {
            name,
            changed: false,
        });
    }
    let started = Instant::now();
    maven_copy(name, pom, &component, lib, log)?;
    write_fingerprint(&component, pom)?;
    eprintln!(
        "      {name}: {} jars in {:.1}s",
        count_jars(lib),
        started.elapsed().as_secs_f64()
    );
    Ok(InstalledComponent {
        name,
        changed: true,
    })
}

fn count_jars(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "jar"))
                .count()
        })
        .unwrap_or(0)
}

fn registry(layout: &Layout, log: &Path) -> Result<InstalledComponent, InstallError> {
    let component = layout.runtime().join("registry");
    if fingerprint_matches(&component, pins::REGISTRY_POM) {
        eprintln!("      registry: up to date");
        return Ok(InstalledComponent {
            name: "registry",
            changed: false,
        });
    }
    let started = Instant::now();
    let download = component.join("download");
    maven_copy("registry", pins::REGISTRY_POM, &component, &download, log)?;
    let archive = fs::read_dir(&download)
        .map_err(io_err("read", &download))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .ok_or_else(|| InstallError::Missing {
            what: "the Apicurio Registry archive".into(),
            hint: format!("Maven put no .tar.gz in {}", download.display()),
        })?;
    let app = layout.registry_app();
    if app.exists() {
        fs::remove_dir_all(&app).map_err(io_err("clean", &app))?;
    }
    fs::create_dir_all(&app).map_err(io_err("create", &app))?;
    run_step(
        "unpack the registry",
        Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&app),
        log,
    )?;
    if !app.join("quarkus-run.jar").exists() {
        return Err(InstallError::Missing {
            what: "quarkus-run.jar in the registry archive".into(),
            hint: format!("check {}", archive.display()),
        });
    }
    // The archive is only needed to unpack; keep the runtime directory lean.
    fs::remove_dir_all(&download).map_err(io_err("clean", &download))?;
    write_fingerprint(&component, pins::REGISTRY_POM)?;
    eprintln!(
        "      registry: unpacked in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(InstalledComponent {
        name: "registry",
        changed: true,
    })
}

fn venv(
    name: &'static str,
    python: &Path,
    venv: &Path,
    lock: &str,
    log: &Path,
) -> Result<InstalledComponent, InstallError> {
    if fingerprint_matches(venv, lock) {
        eprintln!("      {name}: up to date");
        return Ok(InstalledComponent {
            name,
            changed: false,
        });
    }
    let started = Instant::now();
    if venv.exists() {
        fs::remove_dir_all(venv).map_err(io_err("clean", venv))?;
    }
    run_step(
        &format!("create the {name} venv"),
        Command::new(python).arg("-m").arg("venv").arg(venv),
        log,
    )?;
    let lock_path = venv.join("requirements.lock");
    fs::write(&lock_path, lock).map_err(io_err("write", &lock_path))?;
    // Every package is pinned in the lock, so no resolver runs: what is reviewed is installed.
    // Every pin carries the sha256 of each of its release's files (scripts/lock-python.sh), and
    // --require-hashes makes pip refuse any file that is not one of them.
    run_step(
        &format!("pip install the {name} lock"),
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--no-deps",
                "--require-hashes",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
                "-r",
            ])
            .arg(&lock_path),
        log,
    )?;
    write_fingerprint(venv, lock)?;
    eprintln!(
        "      {name}: installed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(InstalledComponent {
        name,
        changed: true,
    })
}

fn spark_jars(layout: &Layout, log: &Path) -> Result<InstalledComponent, InstallError> {
    let component = layout.runtime().join("spark");
    if fingerprint_matches(&component, pins::SPARK_POM) && layout.spark_jars().exists() {
        eprintln!("      spark connectors: up to date");
        return Ok(InstalledComponent {
            name: "spark-jars",
            changed: false,
        });
    }
    let spark_home = layout.spark_home().ok_or_else(|| InstallError::Missing {
        what: "the Spark distribution inside the pyspark venv".into(),
        hint: format!(
            "remove {} and run install again",
            layout.spark_venv().display()
        ),
    })?;
    let resolved = component.join("maven");
    maven_copy(
        "spark connectors",
        pins::SPARK_POM,
        &component,
        &resolved,
        log,
    )?;
    let shipped = jar_names(&spark_home.join("jars"));
    let target = layout.spark_jars();
    if target.exists() {
        fs::remove_dir_all(&target).map_err(io_err("clean", &target))?;
    }
    fs::create_dir_all(&target).map_err(io_err("create", &target))?;
    let mut copied = 0;
    for entry in fs::read_dir(&resolved)
        .map_err(io_err("read", &resolved))?
        .filter_map(Result::ok)
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        // pyspark already ships Spark's own dependencies (scala, hadoop, ...): a second copy
        // of a different version on the classpath would clash.
        if shipped.contains(&artifact_of(&file)) {
            continue;
        }
        fs::copy(entry.path(), target.join(&file)).map_err(io_err("copy", &entry.path()))?;
        copied += 1;
    }
    fs::remove_dir_all(&resolved).map_err(io_err("clean", &resolved))?;
    write_fingerprint(&component, pins::SPARK_POM)?;
    eprintln!("      spark connectors: {copied} jars not already in pyspark");
    Ok(InstalledComponent {
        name: "spark-jars",
        changed: true,
    })
}

/// Builds the Connect server's auth interceptor from the embedded pom and source (the binary
/// needs no repository checkout): both are written to a Maven tree under
/// `<runtime>/spark/auth/build`, `mvn package` runs there (dependencies from `~/.m2`), and the
/// jar is copied to [`Layout::spark_connect_auth_jar`]. The build tree is removed afterwards.
fn spark_connect_auth(
    layout: &Layout,
    java17: &Path,
    log: &Path,
) -> Result<InstalledComponent, InstallError> {
    const NAME: &str = "spark-connect-auth";
    let jar = layout.spark_connect_auth_jar();
    let component = jar.parent().unwrap_or(layout.runtime()).to_path_buf();
    let fingerprint = spark_connect_auth_fingerprint();
    if fingerprint_matches(&component, &fingerprint) && jar.exists() {
        eprintln!("      spark connect auth: up to date");
        return Ok(InstalledComponent {
            name: NAME,
            changed: false,
        });
    }
    let started = Instant::now();
    let build = component.join("build");
    if build.exists() {
        fs::remove_dir_all(&build).map_err(io_err("clean", &build))?;
    }
    let pom = write_spark_connect_auth_tree(&build)?;
    let mut mvn = Command::new("mvn");
    mvn.args(["-q", "-B", "-f"])
        .arg(&pom)
        .args(["package", "-DskipTests"]);
    // `--release 17` needs a JDK 17 or newer; Maven's own default JDK may be older or a JRE.
    if java17.join("bin/javac").exists() {
        mvn.env("JAVA_HOME", java17);
    }
    run_step(
        "mvn package (spark connect auth interceptor)",
        &mut mvn,
        log,
    )?;
    let built = build.join("target/userstream-spark-connect-auth.jar");
    fs::copy(&built, &jar).map_err(io_err("copy", &built))?;
    fs::remove_dir_all(&build).map_err(io_err("clean", &build))?;
    write_fingerprint(&component, &fingerprint)?;
    eprintln!(
        "      spark connect auth: built in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(InstalledComponent {
        name: NAME,
        changed: true,
    })
}

/// Builds Cassandra's role manager ([`pins::CASSANDRA_ROLE_MANAGER_JAVA`]) against the
/// installed Cassandra jars, into [`Layout::cassandra_auth_jar`].
fn cassandra_auth(
    layout: &Layout,
    java17: &Path,
    log: &Path,
) -> Result<InstalledComponent, InstallError> {
    javac_jar(
        &JavaJar {
            name: "cassandra-auth",
            // The oldest Java Cassandra 5.0 runs on.
            release: "11",
            sources: &[(
                "StackAdminRoleManager.java",
                pins::CASSANDRA_ROLE_MANAGER_JAVA,
            )],
            classpath: crate::services::classpath(&layout.cassandra_lib()),
            fingerprint: cassandra_auth_fingerprint(),
            premain_class: None,
            jar: layout.cassandra_auth_jar(),
        },
        java17,
        log,
        |_| Ok(()),
    )
}

/// Builds the registry's agent ([`pins::REGISTRY_AGENT_JAVA`] and the stand-in handler it
/// loads) against the installed registry's jars, into [`Layout::registry_agent_jar`]. The
/// stand-in's class file is moved to [`REGISTRY_METRICS_STUB_RESOURCE`].
fn registry_agent(
    layout: &Layout,
    java17: &Path,
    log: &Path,
) -> Result<InstalledComponent, InstallError> {
    const STUB_CLASS: &str =
        "io/quarkus/micrometer/runtime/export/handlers/PrometheusHandler.class";
    javac_jar(
        &JavaJar {
            name: "registry-agent",
            release: "17",
            sources: &[
                ("MetricsOffAgent.java", pins::REGISTRY_AGENT_JAVA),
                ("PrometheusHandler.java", pins::REGISTRY_METRICS_STUB_JAVA),
            ],
            classpath: crate::services::classpath(&layout.registry_app().join("lib/main")),
            fingerprint: registry_agent_fingerprint(),
            premain_class: Some(REGISTRY_AGENT_CLASS),
            jar: layout.registry_agent_jar(),
        },
        java17,
        log,
        |classes| {
            let built = classes.join(STUB_CLASS);
            let resource = classes.join(REGISTRY_METRICS_STUB_RESOURCE);
            fs::rename(&built, &resource).map_err(io_err("move", &built))?;
            let io = classes.join("io");
            fs::remove_dir_all(&io).map_err(io_err("clean", &io))
        },
    )
}

/// A jar the stack compiles from Java sources it embeds, with the JDK's `javac` and `jar`:
/// a class or two with no dependency of their own, so no Maven project and no network.
struct JavaJar<'a> {
    /// The component's name, in progress lines and its step names.
    name: &'static str,
    /// `javac --release`: the oldest Java the engine loading the jar runs on.
    release: &'static str,
    /// Each source's file name and text.
    sources: &'a [(&'static str, &'static str)],
    /// The engine's jars the sources compile against (`dir/*`).
    classpath: String,
    /// What the jar is built from; it sits beside the jar as `.installed`.
    fingerprint: String,
    /// The agent class, for a Java agent's manifest.
    premain_class: Option<&'static str>,
    /// Where the jar goes.
    jar: PathBuf,
}

/// Builds `spec`'s jar unless its fingerprint matches. `arrange` may rearrange the compiled
/// classes before they are packed.
fn javac_jar(
    spec: &JavaJar<'_>,
    java17: &Path,
    log: &Path,
    arrange: impl FnOnce(&Path) -> Result<(), InstallError>,
) -> Result<InstalledComponent, InstallError> {
    let name = spec.name;
    let component = spec.jar.parent().unwrap_or(&spec.jar).to_path_buf();
    if fingerprint_matches(&component, &spec.fingerprint) && spec.jar.exists() {
        eprintln!("      {name}: up to date");
        return Ok(InstalledComponent {
            name,
            changed: false,
        });
    }
    let javac = java17.join("bin/javac");
    if !javac.exists() {
        return Err(InstallError::Missing {
            what: format!("`javac` in {}", java17.display()),
            hint: "install a JDK 17 (not only a JRE), e.g. the `openjdk-17-jdk-headless` package, \
                   or name one with --java-home"
                .into(),
        });
    }
    let build = component.join("build");
    if build.exists() {
        fs::remove_dir_all(&build).map_err(io_err("clean", &build))?;
    }
    fs::create_dir_all(&build).map_err(io_err("create", &build))?;
    let mut compile = Command::new(&javac);
    compile
        .args(["--release", spec.release, "-encoding", "UTF-8", "-d"])
        .arg(build.join("classes"))
        .arg("-cp")
        .arg(&spec.classpath);
    for (file, text) in spec.sources {
        let source = build.join(file);
        fs::write(&source, text).map_err(io_err("write", &source))?;
        compile.arg(source);
    }
    run_step(&format!("javac ({name})"), &mut compile, log)?;
    let classes = build.join("classes");
    arrange(&classes)?;
    let mut pack = Command::new(java17.join("bin/jar"));
    pack.args(["--create", "--date=2024-01-01T00:00:00Z", "--file"])
        .arg(&spec.jar);
    if let Some(class) = spec.premain_class {
        let manifest = build.join("manifest.txt");
        fs::write(&manifest, format!("Premain-Class: {class}\n"))
            .map_err(io_err("write", &manifest))?;
        pack.arg("--manifest").arg(manifest);
    }
    pack.arg("-C").arg(&classes).arg(".");
    run_step(&format!("jar ({name})"), &mut pack, log)?;
    fs::remove_dir_all(&build).map_err(io_err("clean", &build))?;
    write_fingerprint(&component, &spec.fingerprint)?;
    eprintln!("      {name}: built");
    Ok(InstalledComponent {
        name,
        changed: true,
    })
}

/// Writes the interceptor's pom and source into `build` in the standard Maven layout;
/// returns the pom's path.
fn write_spark_connect_auth_tree(build: &Path) -> Result<PathBuf, InstallError> {
    let pom = build.join("pom.xml");
    if let Some(dir) = pom.parent() {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    fs::write(&pom, pins::SPARK_CONNECT_AUTH_POM).map_err(io_err("write", &pom))?;
    for (path, text) in SPARK_CONNECT_AUTH_SOURCES {
        let java = build.join(path);
        if let Some(dir) = java.parent() {
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        fs::write(&java, text).map_err(io_err("write", &java))?;
    }
    Ok(pom)
}

fn jar_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| artifact_of(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default()
}

/// The artifact name of a jar file name: `scala-library-2.12.19.jar` → `scala-library`.
pub fn artifact_of(file: &str) -> String {
    let stem = file.strip_suffix(".jar").unwrap_or(file);
    let parts: Vec<&str> = stem.split('-').collect();
    // The version starts at the first dash-separated part that begins with a digit, except
    // for Scala suffixes (`_2.12`) which stay in the artifact name.
    let cut = parts
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, p)| p.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|(i, _)| i)
        .unwrap_or(parts.len());
    parts[..cut].join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_names_drop_versions_only() {
        assert_eq!(artifact_of("scala-library-2.12.19.jar"), "scala-library");
        assert_eq!(artifact_of("spark-avro_2.12-3.5.7.jar"), "spark-avro_2.12");
        assert_eq!(
            artifact_of("hadoop-client-api-3.3.4.jar"),
            "hadoop-client-api"
        );
        assert_eq!(
            artifact_of("java-driver-shaded-guava-25.1-jre-graal-sub-1.jar"),
            "java-driver-shaded-guava"
        );
        assert_eq!(artifact_of("unused-1.0.0.jar"), "unused");
    }

    #[test]
    fn java_versions_parse() {
        assert_eq!(parse_java_major("\"17.0.15\""), Some(17));
        assert_eq!(parse_java_major("25"), Some(25));
        assert_eq!(parse_java_major("1.8.0_402"), Some(8));
        assert_eq!(parse_java_major("x"), None);
    }

    #[test]
    fn the_pins_are_reviewable_versions() {
        assert!(pins::KAFKA_POM.contains("<kafka.version>4.3.1</kafka.version>"));
        assert!(pins::PYSPARK_LOCK.contains("pyspark==3.5.7"));
        assert!(pins::AIRFLOW_LOCK.contains("apache-airflow==3.1.8"));
        assert!(pins::SPARK_POM.contains("<spark.version>3.5.7</spark.version>"));
    }

    /// What keeps a lock from installing in pip's hash mode: every requirement (comments and
    /// blank lines dropped, a line ending in `\` joined with the next, as pip reads it) must be
    /// `name==version` followed by at least one `--hash=sha256:<64 hex>`.
    fn hash_mode_problems(lock: &str) -> Vec<String> {
        let mut requirements = Vec::new();
        let mut current = String::new();
        for line in lock.lines() {
            if current.is_empty() && (line.trim().is_empty() || line.starts_with('#')) {
                continue;
            }
            match line.strip_suffix('\\') {
                Some(head) => current.push_str(head),
                None => requirements.push(std::mem::take(&mut current) + line),
            }
        }
        let mut problems = Vec::new();
        if !current.is_empty() {
            problems.push(format!("ends in a continuation: {current}"));
        }
        if requirements.is_empty() {
            problems.push("no requirements".into());
        }
        for req in requirements {
            let mut words = req.split_whitespace();
            let pin = words.next().unwrap_or_default();
            let (name, version) = pin.split_once("==").unwrap_or_default();
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            let version_ok =
                !version.is_empty() && !version.contains(['=', '<', '>', '!', '~', '*', ';']);
            if !name_ok || !version_ok {
                problems.push(format!("`{pin}` is not name==version"));
            }
            let hashes: Vec<&str> = words.collect();
            if hashes.is_empty() {
                problems.push(format!("{pin} has no --hash"));
            }
            for hash in hashes {
                let hex = hash.strip_prefix("--hash=sha256:").unwrap_or_default();
                if hex.len() != 64 || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                    problems.push(format!("{pin}: `{hash}` is not --hash=sha256:<64 hex>"));
                }
            }
        }
        problems
    }

    #[test]
    fn every_locked_requirement_is_pinned_and_hashed() {
        assert_eq!(hash_mode_problems(pins::PYSPARK_LOCK), Vec::<String>::new());
        assert_eq!(hash_mode_problems(pins::AIRFLOW_LOCK), Vec::<String>::new());
        // The check itself: a well-formed lock passes, and each way to break one is caught.
        let hash = format!("--hash=sha256:{}", "ab12".repeat(16));
        let good =
            format!("# header\na==1.0 \\\n    {hash} \\\n    {hash}\n\nb_c.d==2 \\\n    {hash}\n");
        assert_eq!(hash_mode_problems(&good), Vec::<String>::new());
        for bad in [
            "# only comments\n".to_string(),
            "a==1.0\n".to_string(),             // no hash
            format!("a>=1.0 \\\n    {hash}\n"), // not pinned
            format!("a==1.0\n    {hash}\n"),    // hash cut off by a missing `\`
            format!("a==1.0 \\\n    {hash} \\\nb==2 \\\n    {hash}\n"), // `\` joins two pins
            format!("a==1.0 \\\n    {hash} \\\n"), // ends in a continuation
            "a==1.0 \\\n    --hash=sha256:abc\n".to_string(), // short hash
            format!("a==1.0 \\\n    --hash=md5:{}\n", "ab12".repeat(16)),
        ] {
            assert!(!hash_mode_problems(&bad).is_empty(), "not caught:\n{bad}");
        }
    }

    /// The names the install step, the stack's server confs and nix/packages.nix rely on are
    /// the ones the pom and the Java source spell.
    #[test]
    fn the_cassandra_role_manager_source_agrees_with_its_names() {
        use crate::render::{
            CASSANDRA_ADMIN_PASSWORD_ENV, CASSANDRA_ADMIN_ROLE_ENV, CASSANDRA_ROLE_MANAGER_CLASS,
        };
        let java = pins::CASSANDRA_ROLE_MANAGER_JAVA;
        let (package, class) = CASSANDRA_ROLE_MANAGER_CLASS.rsplit_once('.').unwrap();
        assert!(java.contains(&format!("package {package};")));
        assert!(java.contains(&format!(
            "public final class {class} extends CassandraRoleManager"
        )));
        assert!(java.contains(&format!("ROLE_VARIABLE = \"{CASSANDRA_ADMIN_ROLE_ENV}\"")));
        assert!(java.contains(&format!(
            "PASSWORD_VARIABLE = \"{CASSANDRA_ADMIN_PASSWORD_ENV}\""
        )));
        // It must never fall back to the stock default role.
        assert!(!java.contains("super.setup()"));
        let layout = Layout::new("/s".into(), "/r".into(), "/d".into());
        assert_eq!(
            layout.cassandra_auth_jar(),
            Path::new("/r/cassandra/auth/userstream-cassandra-auth.jar")
        );
        assert!(cassandra_auth_fingerprint().starts_with(pins::CASSANDRA_POM));
    }

    #[test]
    fn the_registry_agent_sources_agree_with_their_names() {
        let agent = pins::REGISTRY_AGENT_JAVA;
        let (package, class) = REGISTRY_AGENT_CLASS.rsplit_once('.').unwrap();
        assert!(agent.contains(&format!("package {package};")));
        assert!(agent.contains(&format!("public final class {class} ")));
        assert!(agent.contains(&format!(
            "REPLACEMENT = \"/{REGISTRY_METRICS_STUB_RESOURCE}\""
        )));
        let stub = pins::REGISTRY_METRICS_STUB_JAVA;
        assert!(stub.contains("package io.quarkus.micrometer.runtime.export.handlers;"));
        assert!(stub.contains("public class PrometheusHandler implements Handler<RoutingContext>"));
        assert!(agent.contains(
            "TARGET = \"io/quarkus/micrometer/runtime/export/handlers/PrometheusHandler\""
        ));
        assert!(registry_agent_fingerprint().starts_with(pins::REGISTRY_POM));
    }

    #[test]
    fn the_auth_interceptor_sources_agree_with_their_names() {
        let pom = pins::SPARK_CONNECT_AUTH_POM;
        let java = pins::SPARK_CONNECT_AUTH_JAVA;
        let layout = Layout::new("/s".into(), "/r".into(), "/d".into());
        let jar = layout.spark_connect_auth_jar();
        let file = jar.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            jar,
            Path::new("/r/spark/auth/userstream-spark-connect-auth.jar")
        );
        assert!(pom.contains(&format!(
            "<finalName>{}</finalName>",
            file.trim_end_matches(".jar")
        )));
        assert!(pom.contains("<maven.compiler.release>17</maven.compiler.release>"));
        assert!(pom.contains("<spark.version>3.5.7</spark.version>"));
        let (package, class) = SPARK_CONNECT_INTERCEPTOR_CLASS.rsplit_once('.').unwrap();
        assert!(java.contains(&format!("package {package};")));
        assert!(java.contains(&format!(
            "public final class {class} implements ServerInterceptor"
        )));
        assert!(java.contains("import org.sparkproject.connect.grpc.ServerInterceptor;"));
        assert!(!java.contains("import io.grpc"));
        assert!(java.contains(&format!("TOKEN_ENV = \"{SPARK_CONNECT_TOKEN_ENV}\"")));
        assert_eq!(
            SPARK_CONNECT_AUTH_JAVA_PATH,
            format!(
                "src/main/java/{}.java",
                SPARK_CONNECT_INTERCEPTOR_CLASS.replace('.', "/")
            )
        );
        let filter = pins::SPARK_UI_FILTER_JAVA;
        let (_, filter_class) = crate::render::SPARK_UI_FILTER.rsplit_once('.').unwrap();
        assert!(filter.contains(&format!("package {package};")));
        assert!(filter.contains(&format!(
            "public final class {filter_class} implements Filter"
        )));
        assert!(filter.contains(&format!(
            "TOKEN_ENV = \"{}\"",
            crate::render::SPARK_UI_TOKEN_ENV
        )));
        assert!(
            pom.contains("<artifactId>jakarta.servlet-api</artifactId><version>4.0.3</version>")
        );
        assert_eq!(
            SPARK_UI_FILTER_JAVA_PATH,
            format!(
                "src/main/java/{}.java",
                crate::render::SPARK_UI_FILTER.replace('.', "/")
            )
        );
    }

    #[test]
    fn the_auth_fingerprint_covers_pom_and_source_and_the_build_tree_is_maven_s() {
        let fingerprint = spark_connect_auth_fingerprint();
        assert!(fingerprint.starts_with(pins::SPARK_CONNECT_AUTH_POM));
        assert!(fingerprint.ends_with(pins::SPARK_UI_FILTER_JAVA));
        assert_eq!(
            fingerprint.len(),
            pins::SPARK_CONNECT_AUTH_POM.len()
                + pins::SPARK_CONNECT_AUTH_JAVA.len()
                + pins::SPARK_UI_FILTER_JAVA.len()
        );

        let dir = tempfile::tempdir().unwrap();
        let build = dir.path().join("build");
        let pom = write_spark_connect_auth_tree(&build).unwrap();
        assert_eq!(pom, build.join("pom.xml"));
        assert_eq!(
            fs::read_to_string(&pom).unwrap(),
            pins::SPARK_CONNECT_AUTH_POM
        );
        assert_eq!(
            fs::read_to_string(build.join(SPARK_CONNECT_AUTH_JAVA_PATH)).unwrap(),
            pins::SPARK_CONNECT_AUTH_JAVA
        );
        assert_eq!(
            fs::read_to_string(build.join(SPARK_UI_FILTER_JAVA_PATH)).unwrap(),
            pins::SPARK_UI_FILTER_JAVA
        );
        // Written again over an existing tree (a rebuild) it still succeeds.
        write_spark_connect_auth_tree(&build).unwrap();
    }

    #[test]
    fn fingerprints_detect_a_changed_pin() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!fingerprint_matches(dir.path(), "a"));
        write_fingerprint(dir.path(), "a").unwrap();
        assert!(fingerprint_matches(dir.path(), "a"));
        assert!(!fingerprint_matches(dir.path(), "b"));
    }
}
