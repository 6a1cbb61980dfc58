//! Cassandra's configuration: `cassandra.yaml`, logback and the JVM options of its own
//! `jvm17-server.options`. Pure functions, unit-tested below.

use std::path::Path;

use crate::text::{file_url, yaml_path};
use crate::{Layout, StackConfig};

/// The class of the stack's Cassandra role manager (`stack/cassandra-auth`, built by
/// `stack install`), for `role_manager` in cassandra.yaml.
pub const CASSANDRA_ROLE_MANAGER_CLASS: &str = "dev.userstream.cassandra.StackAdminRoleManager";

/// The environment variables the role manager reads the admin role's name and password from.
pub const CASSANDRA_ADMIN_ROLE_ENV: &str = "USERSTREAM_CASSANDRA_ADMIN_ROLE";

/// See [`CASSANDRA_ADMIN_ROLE_ENV`].
pub const CASSANDRA_ADMIN_PASSWORD_ENV: &str = "USERSTREAM_CASSANDRA_ADMIN_PASSWORD";

/// `cassandra.yaml` for one node on loopback. Every key is one Cassandra 5.0 knows; unknown
/// keys are fatal there.
pub fn cassandra_yaml(config: &StackConfig, layout: &Layout) -> String {
    let data = layout.data("cassandra");
    format!(
        "# Rendered by `userstream stack up`; edits are overwritten.\n\
         cluster_name: userstream\n\
         num_tokens: 16\n\
         allocate_tokens_for_local_replication_factor: 1\n\
         partitioner: org.apache.cassandra.dht.Murmur3Partitioner\n\
         endpoint_snitch: SimpleSnitch\n\
         commitlog_sync: periodic\n\
         commitlog_sync_period: 10000ms\n\
         seed_provider:\n  \
           - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    \
             parameters:\n      \
               - seeds: \"127.0.0.1:{storage}\"\n\
         listen_address: 127.0.0.1\n\
         rpc_address: 127.0.0.1\n\
         storage_port: {storage}\n\
         native_transport_port: {cql}\n\
         start_native_transport: true\n\
         # Every client logs in; roles and grants decide what it may do (see `stack up`).\n\
         authenticator: PasswordAuthenticator\n\
         authorizer: CassandraAuthorizer\n\
         # A new node gets the stack's admin role, never the well-known `cassandra`.\n\
         role_manager: {role_manager}\n\
         data_file_directories:\n  \
           - {data_dir}\n\
         commitlog_directory: {commitlog}\n\
         hints_directory: {hints}\n\
         saved_caches_directory: {saved_caches}\n\
         # One node on 2 cores: keep background work modest so writes get the CPU.\n\
         concurrent_compactors: 1\n\
         compaction_throughput: 64MiB/s\n\
         # The job writes unlogged batches of single-row partitions grouped by replica set\n\
         # (one request, one node). Cassandra sizes a batch at about twice the connector's\n\
         # estimate, so the default 5KiB threshold warned on every batch: a log line on the\n\
         # node and a warning to the client for each, which cost more CPU than the writes.\n\
         batch_size_warn_threshold: 64KiB\n\
         batch_size_fail_threshold: 640KiB\n\
         unlogged_batch_across_partitions_warn_threshold: 100\n\
         # Trie memtables (Cassandra 5.0) with their cells off heap: less CPU per write and\n\
         # less garbage than the skip list, measured draining the job's backlog.\n\
         memtable_allocation_type: offheap_objects\n\
         memtable:\n  \
           configurations:\n    \
             skiplist:\n      \
               class_name: SkipListMemtable\n    \
             trie:\n      \
               class_name: TrieMemtable\n    \
             default:\n      \
               inherits: trie\n",
        storage = config.ports.cassandra_storage,
        cql = config.ports.cassandra,
        role_manager = CASSANDRA_ROLE_MANAGER_CLASS,
        data_dir = yaml_path(&data.join("data")),
        commitlog = yaml_path(&data.join("commitlog")),
        hints = yaml_path(&data.join("hints")),
        saved_caches = yaml_path(&data.join("saved_caches")),
    )
}

/// Cassandra's logback configuration: everything to stdout (the service log).
pub fn cassandra_logback() -> &'static str {
    r#"<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra.utils.SigarLibrary" level="WARN"/>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
"#
}

/// Cassandra 5.0 JVM options: `jvm-server.options` + `jvm17-server.options` as shipped, minus
/// what only makes sense for a dedicated host (AlwaysPreTouch, NUMA).
pub fn cassandra_jvm_options(
    config: &StackConfig,
    conf_dir: &Path,
    layout: &Layout,
) -> Vec<String> {
    let heap = config.cassandra_heap;
    let mut options: Vec<String> = [
        // jvm-server.options, without `-ea`: Cassandra's assertions run on every write path
        // and cost CPU per row (measured; see the bench in the README).
        "-XX:+UseThreadPriorities",
        "-XX:+HeapDumpOnOutOfMemoryError",
        "-Xss256k",
        "-XX:+UseTLAB",
        "-XX:+ResizeTLAB",
        "-XX:+PerfDisableSharedMem",
        "-Djava.net.preferIPv4Stack=true",
        "-Dchronicle.analytics.disable=true",
        // jvm17-server.options
        "-XX:+UseG1GC",
        "-XX:+ParallelRefProcEnabled",
        "-XX:MaxTenuringThreshold=1",
        "-XX:G1HeapRegionSize=16m",
        "-XX:G1RSetUpdatingPauseTimePercent=5",
        "-XX:MaxGCPauseMillis=300",
        "-XX:InitiatingHeapOccupancyPercent=70",
        "-Djdk.attach.allowAttachSelf=true",
        "-Dio.netty.tryReflectionSetAccessible=true",
        "-Dio.netty.allocator.useCacheForAllThreads=true",
        "-Dio.netty.allocator.maxOrder=11",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for export in [
        "java.base/jdk.internal.misc",
        "java.management.rmi/com.sun.jmx.remote.internal.rmi",
        "java.management/com.sun.jmx.remote.security",
        "java.rmi/sun.rmi.registry",
        "java.rmi/sun.rmi.server",
        "java.sql/java.sql",
        "java.base/java.lang.ref",
        "jdk.unsupported/sun.misc",
    ] {
        options.push("--add-exports".into());
        options.push(format!("{export}=ALL-UNNAMED"));
    }
    for open in [
        "java.base/java.lang.module",
        "java.base/jdk.internal.loader",
        "java.base/jdk.internal.ref",
        "java.base/jdk.internal.reflect",
        "java.base/jdk.internal.math",
        "java.base/jdk.internal.module",
        "java.base/jdk.internal.util.jar",
        "jdk.management/com.sun.management.internal",
        "java.base/sun.nio.ch",
        "java.base/java.io",
        "java.base/java.lang.reflect",
        "java.base/java.lang",
        "java.base/java.util",
        "java.base/java.nio",
    ] {
        options.push("--add-opens".into());
        options.push(format!("{open}=ALL-UNNAMED"));
    }
    options.extend([
        format!("-Xms{heap}"),
        format!("-Xmx{heap}"),
        // Without this Cassandra closes stdout/stderr after start-up and the log goes silent.
        "-Dcassandra-foreground=yes".into(),
        // A URL: a space or `%` in the state directory's path must be percent-encoded.
        format!(
            "-Dcassandra.config={}",
            file_url(&conf_dir.join("cassandra.yaml"))
        ),
        format!(
            "-Dlogback.configurationFile={}",
            conf_dir.join("logback.xml").display()
        ),
        format!("-Dcassandra.logdir={}", layout.logs().display()),
        // The admin role is created this long after start-up (and retried as often): no
        // login works before, so the stack's first one should not wait the default 10 s.
        "-Dcassandra.superuser_setup_delay_ms=1000".into(),
        format!(
            "-Dcassandra.storagedir={}",
            layout.data("cassandra").display()
        ),
        // No JMX: neither `cassandra.jmx.local.port` nor `.remote.port` is set, so Cassandra
        // starts no JMX server. Its local one takes no login, lets any user of the machine read
        // files and run code as the stack's user, and the stack never uses it (no nodetool).
    ]);
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use crate::engines::render_fixture as fixture;

    #[test]
    fn cassandra_yaml_has_every_mandatory_directive() {
        let (config, layout) = fixture();
        let yaml = cassandra_yaml(&config, &layout);
        for key in [
            "commitlog_sync: periodic",
            "commitlog_sync_period: 10000ms",
            "partitioner: ",
            "endpoint_snitch: ",
            "seeds: \"127.0.0.1:7000\"",
            "listen_address: 127.0.0.1",
            "rpc_address: 127.0.0.1",
            "native_transport_port: 9042",
            "authenticator: PasswordAuthenticator",
            "authorizer: CassandraAuthorizer",
            "role_manager: dev.userstream.cassandra.StackAdminRoleManager",
            "- \"/srv/us/data/cassandra/data\"",
        ] {
            assert!(yaml.contains(key), "missing {key} in\n{yaml}");
        }
    }

    #[test]
    fn a_state_directory_with_a_space_and_a_quote_is_quoted_in_cassandra_s_files() {
        let (mut config, _) = fixture();
        config.state_dir = PathBuf::from("/srv/my \"us\" #1");
        let layout = config.layout();
        let yaml = cassandra_yaml(&config, &layout);
        assert!(
            yaml.contains(r#"commitlog_directory: "/srv/my \"us\" #1/data/cassandra/commitlog""#),
            "{yaml}"
        );
        let opts = cassandra_jvm_options(&config, Path::new("/c d"), &layout);
        assert!(opts.contains(&"-Dcassandra.config=file:///c%20d/cassandra.yaml".to_owned()));
    }

    #[test]
    fn cassandra_options_keep_stdout_open_and_size_the_heap() {
        let (config, layout) = fixture();
        let opts = cassandra_jvm_options(&config, Path::new("/c"), &layout);
        assert!(opts.contains(&"-Dcassandra-foreground=yes".to_owned()));
        assert!(opts.contains(&"-Xmx2g".to_owned()));
        assert!(opts.contains(&"-Dcassandra.config=file:///c/cassandra.yaml".to_owned()));
        let opens = opts.iter().position(|o| o == "--add-opens").unwrap();
        assert!(opts[opens + 1].ends_with("=ALL-UNNAMED"));
        assert!(
            !opts.iter().any(|o| o.starts_with("-Xmn")),
            "G1 must not get -Xmn"
        );
    }
}
