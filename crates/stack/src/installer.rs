//! `stack install`: puts every runtime the stack needs under the runtime directory, engine by
//! engine (each engine's `install_steps`, built from [`crate::install`]'s helpers), and tells
//! whether an engine is installed.

use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::engines::{Engine, ENGINES};
use crate::install::{
    ensure_system_package, find_java17, find_java21, fingerprint_matches, io_err, InstallContext,
    InstallError, InstallStep, InstalledComponent,
};
use crate::Layout;

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

    let steps: Vec<InstallStep> = ENGINES
        .iter()
        .flat_map(|engine| engine.install_steps())
        .collect();
    let total = 2 + steps.len();
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

    let context = InstallContext {
        layout,
        python: options.python,
        java17: &java17,
        log: &log,
    };
    for (i, step) in steps.iter().enumerate() {
        progress(3 + i, total, step.what);
        done.extend((step.run)(&context)?);
    }

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
    are_installed(layout, &ENGINES)
}

/// [`is_installed`] for `engines` only: what running only their services needs.
pub fn are_installed(layout: &Layout, engines: &[&dyn Engine]) -> Result<(), Vec<&'static str>> {
    let missing: Vec<&'static str> = engines
        .iter()
        .flat_map(|engine| engine.install_steps())
        .flat_map(|step| step.components)
        .filter(|c| !fingerprint_matches(&layout.runtime().join(c.dir), &c.pin))
        .map(|c| c.name)
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
