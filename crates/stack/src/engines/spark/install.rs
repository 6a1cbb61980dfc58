//! What `stack install` puts in place for Spark: the distribution (pyspark, PyPI), the
//! connector jars it does not ship (Maven Central), and the stack's Connect interceptor and UI
//! filter, built with `mvn package`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::install::{
    fingerprint_matches, io_err, maven_copy, run_step, write_fingerprint, InstallError,
    InstalledComponent,
};
use crate::Layout;

/// pyspark (the Spark distribution).
pub const PYSPARK_LOCK: &str = include_str!("../../../../../stack/python/pyspark.lock");

/// Spark connector jars for the Connect server.
pub const SPARK_POM: &str = include_str!("../../../../../stack/maven/spark/pom.xml");

/// The Maven project of the Spark Connect auth interceptor.
pub const SPARK_CONNECT_AUTH_POM: &str = include_str!("../../../../../spark/interceptor/pom.xml");

/// The interceptor's source file.
pub const SPARK_CONNECT_AUTH_JAVA: &str = include_str!(
    "../../../../../spark/interceptor/src/main/java/dev/userstream/spark/LoopbackTokenInterceptor.java"
);

/// The Spark UIs' login filter, built into the same jar.
pub const SPARK_UI_FILTER_JAVA: &str = include_str!(
    "../../../../../spark/interceptor/src/main/java/dev/userstream/spark/UiTokenFilter.java"
);

/// Where [`SPARK_CONNECT_AUTH_JAVA`] goes in the Maven layout of the build directory.
const SPARK_CONNECT_AUTH_JAVA_PATH: &str =
    "src/main/java/dev/userstream/spark/LoopbackTokenInterceptor.java";

/// Where [`SPARK_UI_FILTER_JAVA`] goes.
const SPARK_UI_FILTER_JAVA_PATH: &str = "src/main/java/dev/userstream/spark/UiTokenFilter.java";

/// The jar's Java sources: where each goes in the build tree, and its text.
const SPARK_CONNECT_AUTH_SOURCES: [(&str, &str); 2] = [
    (SPARK_CONNECT_AUTH_JAVA_PATH, SPARK_CONNECT_AUTH_JAVA),
    (SPARK_UI_FILTER_JAVA_PATH, SPARK_UI_FILTER_JAVA),
];

/// What the interceptor jar was built from, as its `.installed` fingerprint: the pom followed
/// by the Java sources in [`SPARK_CONNECT_AUTH_SOURCES`] order, byte for byte
/// (nix/packages.nix writes the same with `cat pom interceptor filter`).
pub fn spark_connect_auth_fingerprint() -> String {
    let mut fingerprint = SPARK_CONNECT_AUTH_POM.to_owned();
    for (_, text) in SPARK_CONNECT_AUTH_SOURCES {
        fingerprint.push_str(text);
    }
    fingerprint
}

/// The connector jars `stack install` put in place, sorted, then the Connect server's
/// interceptor (token and loopback check), for the server's `--jars`.
pub fn installed_jars(layout: &Layout) -> std::io::Result<Vec<String>> {
    let mut jars: Vec<String> = fs::read_dir(layout.spark_jars())?
        .filter_map(Result::ok)
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".jar"))
        .collect();
    jars.sort();
    jars.push(layout.spark_connect_auth_jar().display().to_string());
    Ok(jars)
}

pub(crate) fn spark_jars(layout: &Layout, log: &Path) -> Result<InstalledComponent, InstallError> {
    let component = layout.runtime().join("spark");
    if fingerprint_matches(&component, SPARK_POM) && layout.spark_jars().exists() {
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
    maven_copy("spark connectors", SPARK_POM, &component, &resolved, log)?;
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
    write_fingerprint(&component, SPARK_POM)?;
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
pub(crate) fn spark_connect_auth(
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

/// Writes the interceptor's pom and source into `build` in the standard Maven layout;
/// returns the pom's path.
fn write_spark_connect_auth_tree(build: &Path) -> Result<PathBuf, InstallError> {
    let pom = build.join("pom.xml");
    if let Some(dir) = pom.parent() {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    fs::write(&pom, SPARK_CONNECT_AUTH_POM).map_err(io_err("write", &pom))?;
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
    fn the_pins_are_reviewable_versions() {
        assert!(PYSPARK_LOCK.contains("pyspark==3.5.7"));
        assert!(SPARK_POM.contains("<spark.version>3.5.7</spark.version>"));
    }

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
    fn the_auth_interceptor_sources_agree_with_their_names() {
        let pom = SPARK_CONNECT_AUTH_POM;
        let java = SPARK_CONNECT_AUTH_JAVA;
        use super::super::render::{SPARK_CONNECT_INTERCEPTOR, SPARK_CONNECT_TOKEN_ENV};
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
        let (package, class) = SPARK_CONNECT_INTERCEPTOR.rsplit_once('.').unwrap();
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
                SPARK_CONNECT_INTERCEPTOR.replace('.', "/")
            )
        );
        let filter = SPARK_UI_FILTER_JAVA;
        let (_, filter_class) = super::super::render::SPARK_UI_FILTER
            .rsplit_once('.')
            .unwrap();
        assert!(filter.contains(&format!("package {package};")));
        assert!(filter.contains(&format!(
            "public final class {filter_class} implements Filter"
        )));
        assert!(filter.contains(&format!(
            "TOKEN_ENV = \"{}\"",
            super::super::render::SPARK_UI_TOKEN_ENV
        )));
        assert!(
            pom.contains("<artifactId>jakarta.servlet-api</artifactId><version>4.0.3</version>")
        );
        assert_eq!(
            SPARK_UI_FILTER_JAVA_PATH,
            format!(
                "src/main/java/{}.java",
                super::super::render::SPARK_UI_FILTER.replace('.', "/")
            )
        );
    }

    #[test]
    fn the_auth_fingerprint_covers_pom_and_source_and_the_build_tree_is_maven_s() {
        let fingerprint = spark_connect_auth_fingerprint();
        assert!(fingerprint.starts_with(SPARK_CONNECT_AUTH_POM));
        assert!(fingerprint.ends_with(SPARK_UI_FILTER_JAVA));
        assert_eq!(
            fingerprint.len(),
            SPARK_CONNECT_AUTH_POM.len()
                + SPARK_CONNECT_AUTH_JAVA.len()
                + SPARK_UI_FILTER_JAVA.len()
        );

        let dir = tempfile::tempdir().unwrap();
        let build = dir.path().join("build");
        let pom = write_spark_connect_auth_tree(&build).unwrap();
        assert_eq!(pom, build.join("pom.xml"));
        assert_eq!(fs::read_to_string(&pom).unwrap(), SPARK_CONNECT_AUTH_POM);
        assert_eq!(
            fs::read_to_string(build.join(SPARK_CONNECT_AUTH_JAVA_PATH)).unwrap(),
            SPARK_CONNECT_AUTH_JAVA
        );
        assert_eq!(
            fs::read_to_string(build.join(SPARK_UI_FILTER_JAVA_PATH)).unwrap(),
            SPARK_UI_FILTER_JAVA
        );
        // Written again over an existing tree (a rebuild) it still succeeds.
        write_spark_connect_auth_tree(&build).unwrap();
    }
}
