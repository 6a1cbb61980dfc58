//! What `stack install` puts in place for Cassandra: its jars (Maven Central) and the stack's
//! role manager, compiled with `javac` against them.

use std::path::Path;

use crate::install::{javac_jar, InstallError, InstalledComponent, JavaJar};
use crate::spec::classpath;
use crate::Layout;

/// Cassandra jars.
pub const CASSANDRA_POM: &str = include_str!("../../../../../stack/maven/cassandra/pom.xml");

/// Cassandra's role manager that creates the stack's admin role on a new node instead of
/// the well-known `cassandra` superuser.
pub const CASSANDRA_ROLE_MANAGER_JAVA: &str =
    include_str!("../../../../../stack/cassandra-auth/StackAdminRoleManager.java");

/// What the role manager's jar was built from, as its `.installed` fingerprint: the Cassandra
/// pom (it is compiled against those jars) followed by the Java source
/// (nix/packages.nix writes the same with `cat pom source`).
pub fn cassandra_auth_fingerprint() -> String {
    format!("{}{}", CASSANDRA_POM, CASSANDRA_ROLE_MANAGER_JAVA)
}

/// Builds Cassandra's role manager ([`CASSANDRA_ROLE_MANAGER_JAVA`]) against the
/// installed Cassandra jars, into [`Layout::cassandra_auth_jar`].
pub(crate) fn cassandra_auth(
    layout: &Layout,
    java17: &Path,
    log: &Path,
) -> Result<InstalledComponent, InstallError> {
    javac_jar(
        &JavaJar {
            name: "cassandra-auth",
            // The oldest Java Cassandra 5.0 runs on.
            release: "11",
            sources: &[("StackAdminRoleManager.java", CASSANDRA_ROLE_MANAGER_JAVA)],
            classpath: classpath(&layout.cassandra_lib()),
            fingerprint: cassandra_auth_fingerprint(),
            premain_class: None,
            jar: layout.cassandra_auth_jar(),
        },
        java17,
        log,
        |_| Ok(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the install step, the stack's server confs and nix/packages.nix rely on are
    /// the ones the pom and the Java source spell.
    #[test]
    fn the_cassandra_role_manager_source_agrees_with_its_names() {
        use super::super::render::{
            CASSANDRA_ADMIN_PASSWORD_ENV, CASSANDRA_ADMIN_ROLE_ENV, CASSANDRA_ROLE_MANAGER_CLASS,
        };
        let java = CASSANDRA_ROLE_MANAGER_JAVA;
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
        assert!(cassandra_auth_fingerprint().starts_with(CASSANDRA_POM));
    }
}
