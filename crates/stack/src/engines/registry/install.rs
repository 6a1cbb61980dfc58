//! What `stack install` puts in place for the registry: the application archive (Maven
//! Central), unpacked, and the stack's Java agent that turns its metrics handler off, compiled
//! with `javac` against the unpacked application.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::install::{
    fingerprint_matches, io_err, javac_jar, maven_copy, run_step, write_fingerprint, InstallError,
    InstalledComponent, JavaJar,
};
use crate::spec::classpath;
use crate::Layout;

/// The Apicurio Registry application archive.
pub const REGISTRY_POM: &str = include_str!("../../../../../stack/maven/registry/pom.xml");

/// The registry's Java agent that swaps its metrics handler for one answering 404.
pub const REGISTRY_AGENT_JAVA: &str =
    include_str!("../../../../../stack/registry-agent/MetricsOffAgent.java");

/// The metrics handler the agent puts in place of Quarkus's.
pub const REGISTRY_METRICS_STUB_JAVA: &str =
    include_str!("../../../../../stack/registry-agent/PrometheusHandler.java");

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
        REGISTRY_POM, REGISTRY_AGENT_JAVA, REGISTRY_METRICS_STUB_JAVA
    )
}

pub(crate) fn registry(layout: &Layout, log: &Path) -> Result<InstalledComponent, InstallError> {
    let component = layout.runtime().join("registry");
    if fingerprint_matches(&component, REGISTRY_POM) {
        eprintln!("      registry: up to date");
        return Ok(InstalledComponent {
            name: "registry",
            changed: false,
        });
    }
    let started = Instant::now();
    let download = component.join("download");
    maven_copy("registry", REGISTRY_POM, &component, &download, log)?;
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
    write_fingerprint(&component, REGISTRY_POM)?;
    eprintln!(
        "      registry: unpacked in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(InstalledComponent {
        name: "registry",
        changed: true,
    })
}

/// Builds the registry's agent ([`REGISTRY_AGENT_JAVA`] and the stand-in handler it
/// loads) against the installed registry's jars, into [`Layout::registry_agent_jar`]. The
/// stand-in's class file is moved to [`REGISTRY_METRICS_STUB_RESOURCE`].
pub(crate) fn registry_agent(
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
                ("MetricsOffAgent.java", REGISTRY_AGENT_JAVA),
                ("PrometheusHandler.java", REGISTRY_METRICS_STUB_JAVA),
            ],
            classpath: classpath(&layout.registry_app().join("lib/main")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_agent_sources_agree_with_their_names() {
        let agent = REGISTRY_AGENT_JAVA;
        let (package, class) = REGISTRY_AGENT_CLASS.rsplit_once('.').unwrap();
        assert!(agent.contains(&format!("package {package};")));
        assert!(agent.contains(&format!("public final class {class} ")));
        assert!(agent.contains(&format!(
            "REPLACEMENT = \"/{REGISTRY_METRICS_STUB_RESOURCE}\""
        )));
        let stub = REGISTRY_METRICS_STUB_JAVA;
        assert!(stub.contains("package io.quarkus.micrometer.runtime.export.handlers;"));
        assert!(stub.contains("public class PrometheusHandler implements Handler<RoutingContext>"));
        assert!(agent.contains(
            "TARGET = \"io/quarkus/micrometer/runtime/export/handlers/PrometheusHandler\""
        ));
        assert!(registry_agent_fingerprint().starts_with(REGISTRY_POM));
    }
}
