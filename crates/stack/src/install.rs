//! What `stack install` is made of, shared by the engines' `install_steps` (the driver that
//! runs them is [`crate::installer`]): fingerprints, Maven, Python venvs, `javac`-built jars,
//! finding Java, system packages. Each engine's pinned inputs (poms, locks,
//! Java sources) are embedded in its folder, so the binary installs exactly what the
//! repository reviews.
//!
//! Idempotent and cached: each component records a fingerprint of what it installed (the pom
//! or lock file it came from), and a component whose fingerprint matches is skipped without
//! any network access. Maven and pip keep their own download caches (`~/.m2`, `~/.cache/pip`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Layout;

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

pub(crate) fn io_err(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io {
        action,
        path,
        source,
    }
}

/// A component as installed: its name and whether this run did any work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledComponent {
    /// Component name.
    pub name: &'static str,
    /// False when the cached install was already up to date.
    pub changed: bool,
}

/// One step of `stack install` for an engine: its progress line, the components it puts in
/// place, and the work (each component skips itself when its fingerprint matches).
pub struct InstallStep {
    /// What the step installs, for the progress line.
    pub what: &'static str,
    /// The components it puts in place, as [`is_installed`] checks them.
    pub components: Vec<Fingerprint>,
    /// Installs them.
    pub run: fn(&InstallContext<'_>) -> Result<Vec<InstalledComponent>, InstallError>,
}

/// How [`is_installed`] knows a component is there: its directory holds the fingerprint of
/// what it was installed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The component's name (in "not installed" errors).
    pub name: &'static str,
    /// Its directory under the runtime directory.
    pub dir: &'static str,
    /// What its `.installed` file must hold.
    pub pin: String,
}

impl Fingerprint {
    /// The component `name` in `<runtime>/<dir>`, installed from `pin`.
    pub fn new(name: &'static str, dir: &'static str, pin: &str) -> Self {
        Self {
            name,
            dir,
            pin: pin.to_owned(),
        }
    }
}

/// What an install step works with.
pub struct InstallContext<'a> {
    /// Directory layout.
    pub layout: &'a Layout,
    /// Python interpreter for the venvs.
    pub python: &'a Path,
    /// The Java 17 home (its `javac` and `jar` build the stack's own jars).
    pub java17: &'a Path,
    /// The install log.
    pub log: &'a Path,
}

const MARKER: &str = ".installed";

pub(crate) fn fingerprint_matches(dir: &Path, pin: &str) -> bool {
    fs::read_to_string(dir.join(MARKER)).is_ok_and(|f| f == pin)
}

pub(crate) fn write_fingerprint(dir: &Path, pin: &str) -> Result<(), InstallError> {
    fs::write(dir.join(MARKER), pin).map_err(io_err("write", &dir.join(MARKER)))
}

pub(crate) fn ensure_system_package(
    program: &str,
    package: &str,
    log: &Path,
) -> Result<(), InstallError> {
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
pub(crate) fn run_step(step: &str, command: &mut Command, log: &Path) -> Result<(), InstallError> {
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

pub(crate) fn maven_copy(
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

pub(crate) fn maven_jars(
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

pub(crate) fn venv(
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

/// A jar the stack compiles from Java sources it embeds, with the JDK's `javac` and `jar`:
/// a class or two with no dependency of their own, so no Maven project and no network.
pub(crate) struct JavaJar<'a> {
    /// The component's name, in progress lines and its step names.
    pub(crate) name: &'static str,
    /// `javac --release`: the oldest Java the engine loading the jar runs on.
    pub(crate) release: &'static str,
    /// Each source's file name and text.
    pub(crate) sources: &'a [(&'static str, &'static str)],
    /// The engine's jars the sources compile against (`dir/*`).
    pub(crate) classpath: String,
    /// What the jar is built from; it sits beside the jar as `.installed`.
    pub(crate) fingerprint: String,
    /// The agent class, for a Java agent's manifest.
    pub(crate) premain_class: Option<&'static str>,
    /// Where the jar goes.
    pub(crate) jar: PathBuf,
}

/// Builds `spec`'s jar unless its fingerprint matches. `arrange` may rearrange the compiled
/// classes before they are packed.
pub(crate) fn javac_jar(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::{airflow, spark};

    #[test]
    fn java_versions_parse() {
        assert_eq!(parse_java_major("\"17.0.15\""), Some(17));
        assert_eq!(parse_java_major("25"), Some(25));
        assert_eq!(parse_java_major("1.8.0_402"), Some(8));
        assert_eq!(parse_java_major("x"), None);
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
        assert_eq!(
            hash_mode_problems(spark::install::PYSPARK_LOCK),
            Vec::<String>::new()
        );
        assert_eq!(
            hash_mode_problems(airflow::AIRFLOW_LOCK),
            Vec::<String>::new()
        );
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

    #[test]
    fn fingerprints_detect_a_changed_pin() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!fingerprint_matches(dir.path(), "a"));
        write_fingerprint(dir.path(), "a").unwrap();
        assert!(fingerprint_matches(dir.path(), "a"));
        assert!(!fingerprint_matches(dir.path(), "b"));
    }
}
