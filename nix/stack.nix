# The service table: what each container runs, as data. A Nix port of
# crates/stack/src/services.rs (which stays the source of truth), using nix/render.nix for the
# engines' options and files. Containers use host networking, so every address is 127.0.0.1
# exactly as in the local stack.
#
# Pure (builtins only). Store paths are not known here, so commands use placeholders that
# nix/images.nix substitutes: @jdk17@ @jdk21@ @kafka@ @cassandra@ @registry@ @spark@
# @sparkConnectors@ @airflow@ @dags@ @userstream@ @bash@.
{ versions, cfg ? { } }:
let
  r = import ./render.nix { inherit cfg; };
  c = r.config;
  inherit (r) s logs data conf bin sparkMasterUrl kafkaJvm cassandraJvm registryJvm sparkConnectArgs
    sparkEnv airflowHome airflowPasswords airflowEnv airflowSecrets userstreamEnv;

  # --- the table -----------------------------------------------------------------------------
  # name: compose service and entrypoint role; image: which image runs it; healthPort: TCP port
  # that answers once it is up (null: none); oneShot: runs to completion (setup, produce).
  service = attrs: {
    dependsOn = [ ];
    env = { };
    composeEnv = { };
    ports = [ ];
    healthPort = null;
    preStart = [ ];
    files = { };
    dirs = [ ];
    cwd = c.state;
    oneShot = false;
    profiles = [ ];
  } // attrs;

  airflowService = name: args: extra: service ({
    inherit name;
    image = "airflow";
    engine = "Airflow";
    command = [ "@airflow@/bin/airflow" ] ++ args;
    env = airflowEnv;
    composeEnv = airflowSecrets;
    cwd = airflowHome;
    dirs = [ airflowHome "${logs}/airflow-tasks" ];
    dependsOn = [ "airflow-api-server" ];
  } // extra);

  services = [
    (service {
      name = "kafka";
      image = "kafka";
      engine = "Kafka";
      command = [ "@jdk17@/bin/java" ] ++ kafkaJvm
        ++ [ "-cp" "@kafka@/*" "kafka.Kafka" "${conf "kafka"}/server.properties" ];
      env.JAVA_HOME = "@jdk17@";
      ports = [ c.kafkaPort c.kafkaControllerPort ];
      healthPort = c.kafkaPort;
      dirs = [ (data "kafka") logs ];
      preStart = [{
        unlessExists = "${data "kafka"}/meta.properties";
        command = [
          "@jdk17@/bin/java"
          "-Xmx256m"
          "-Dlog4j2.configurationFile=${conf "kafka"}/log4j2.yaml"
          "-cp"
          "@kafka@/*"
          "kafka.tools.StorageTool"
          "format"
          "--standalone"
          "--ignore-formatted"
          "-t"
          c.kafkaClusterId
          "-c"
          "${conf "kafka"}/server.properties"
        ];
      }];
      files = {
        "${conf "kafka"}/server.properties" = r.kafkaServerProperties;
        "${conf "kafka"}/log4j2.yaml" = r.kafkaLog4j2;
      };
    })
    (service {
      name = "registry";
      image = "registry";
      engine = "Schema Registry";
      dependsOn = [ "kafka" ];
      command = [ "@jdk21@/bin/java" ] ++ registryJvm ++ [ "-jar" "quarkus-run.jar" ];
      cwd = "@registry@";
      env.JAVA_HOME = "@jdk21@";
      ports = [ c.registryPort c.registryManagementPort ];
      healthPort = c.registryPort;
    })
    (service {
      name = "cassandra";
      image = "cassandra";
      engine = "Cassandra";
      command = [ "@jdk17@/bin/java" ] ++ cassandraJvm
        ++ [ "-cp" "${conf "cassandra"}:@cassandra@/*" "org.apache.cassandra.service.CassandraDaemon" ];
      # Cassandra's own launcher caps glibc arenas; without it RSS grows with thread count.
      env = { JAVA_HOME = "@jdk17@"; MALLOC_ARENA_MAX = "4"; };
      ports = [ c.cassandraPort c.cassandraStoragePort c.cassandraJmxPort ];
      healthPort = c.cassandraPort;
      dirs = [ (data "cassandra") logs ];
      files = {
        "${conf "cassandra"}/cassandra.yaml" = r.cassandraYaml;
        "${conf "cassandra"}/logback.xml" = r.cassandraLogback;
      };
    })
    (service {
      name = "spark-master";
      image = "spark";
      engine = "Spark";
      command = [
        "@spark@/bin/spark-class"
        "org.apache.spark.deploy.master.Master"
        "--host"
        "127.0.0.1"
        "--port"
        (s c.sparkMasterPort)
        "--webui-port"
        (s c.sparkMasterUiPort)
      ];
      env = sparkEnv // { SPARK_DAEMON_MEMORY = c.sparkDaemonHeap; };
      ports = [ c.sparkMasterPort c.sparkMasterUiPort ];
      healthPort = c.sparkMasterPort;
      dirs = [ logs ];
    })
    (service {
      name = "spark-worker";
      image = "spark";
      engine = "Spark";
      dependsOn = [ "spark-master" ];
      command = [
        "@spark@/bin/spark-class"
        "org.apache.spark.deploy.worker.Worker"
        "--host"
        "127.0.0.1"
        "--cores"
        (s c.sparkWorkerCores)
        "--memory"
        # The executor's heap plus headroom for its off-heap overhead.
        "${s (c.sparkExecutorHeapMib + 512)}m"
        "--webui-port"
        (s c.sparkWorkerUiPort)
        "--work-dir"
        (data "spark-worker")
        sparkMasterUrl
      ];
      env = sparkEnv // {
        SPARK_DAEMON_MEMORY = c.sparkDaemonHeap;
        SPARK_WORKER_OPTS = "-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400";
      };
      ports = [ c.sparkWorkerUiPort ];
      healthPort = c.sparkWorkerUiPort;
      dirs = [ (data "spark-worker") logs ];
    })
    (service {
      name = "spark-connect";
      image = "spark";
      engine = "Spark";
      dependsOn = [ "spark-worker" "kafka" "cassandra" ];
      command = [ "@spark@/bin/spark-submit" ] ++ sparkConnectArgs;
      env = sparkEnv;
      ports = [ c.sparkConnectPort c.sparkDriverUiPort ];
      healthPort = c.sparkConnectPort;
      dirs = [ "${data "spark-connect"}/tmp" logs ];
    })
    (airflowService "airflow-api-server" [ "api-server" ] {
      dependsOn = [ ];
      ports = [ c.airflowPort ];
      healthPort = c.airflowPort;
      composeEnv = airflowSecrets // {
        USERSTREAM_AIRFLOW_ADMIN_PASSWORD = "\${USERSTREAM_AIRFLOW_ADMIN_PASSWORD:?set USERSTREAM_AIRFLOW_ADMIN_PASSWORD}";
      };
      preStart = [
        {
          unlessExists = null;
          command = [
            "@bash@/bin/sh"
            "-c"
            ''umask 077; printf '{"admin": "%s"}' "$USERSTREAM_AIRFLOW_ADMIN_PASSWORD" > ${airflowPasswords}''
          ];
        }
        { unlessExists = null; command = [ "@airflow@/bin/airflow" "db" "migrate" ]; }
      ];
    })
    (airflowService "airflow-scheduler" [ "scheduler" "--skip-serve-logs" ] { })
    (airflowService "airflow-dag-processor" [ "dag-processor" ] { })
    (airflowService "airflow-triggerer" [ "triggerer" "--skip-serve-logs" ] { })
    # The binary's own services: users-api, setup, `stream run` (supervises the Spark Connect
    # job), the console, and produce/verify on demand.
    (service {
      name = "users-api";
      image = "userstream";
      engine = "userstream";
      command = [ bin "users-api" ];
      env = userstreamEnv;
      ports = [ c.usersApiPort ];
      healthPort = c.usersApiPort;
    })
    (service {
      name = "setup";
      image = "userstream";
      engine = "userstream";
      oneShot = true;
      dependsOn = [ "kafka" "registry" "cassandra" ];
      command = [ bin "setup" ];
      env = userstreamEnv;
    })
    (service {
      name = "stream";
      image = "userstream";
      engine = "userstream";
      dependsOn = [ "setup" "spark-connect" ];
      command = [ bin "stream" "run" ];
      env = userstreamEnv;
    })
    (service {
      name = "console";
      image = "userstream";
      engine = "userstream";
      # Waits for nothing: it shows each engine as down until it answers.
      command = [ bin "console" "--listen" "127.0.0.1:${s c.consolePort}" ];
      env = userstreamEnv;
      ports = [ c.consolePort ];
      healthPort = c.consolePort;
    })
    (service {
      name = "produce";
      image = "userstream";
      engine = "userstream";
      oneShot = true;
      # Not part of `up`: Airflow's DAGs drive ingest; run by hand with `compose run produce`.
      profiles = [ "manual" ];
      dependsOn = [ "setup" "users-api" ];
      command = [ bin "produce" "--source" "http://127.0.0.1:${s c.usersApiPort}/api/" "--count" "1000" ];
      env = userstreamEnv;
    })
    (service {
      name = "verify";
      image = "userstream";
      engine = "userstream";
      oneShot = true;
      profiles = [ "manual" ];
      dependsOn = [ "setup" ];
      command = [ bin "verify" ];
      env = userstreamEnv;
    })
  ];
in
{
  inherit services;
  config = c;
  # For nix/tests/eval.nix: the literals render.rs must contain too.
  jvm = { inherit (r) kafkaJvm cassandraJvm cassandraExports cassandraOpens registryJvm sparkConnectArgs; };
  files = { inherit (r) kafkaServerProperties cassandraYaml; };
  # Image tags: engine images carry the engine's version, ours the workspace version.
  tags = {
    kafka = versions.kafka;
    registry = versions.apicurio;
    cassandra = versions.cassandra;
    spark = versions.spark;
    airflow = versions.airflow;
    userstream = versions.userstream;
  };
}
