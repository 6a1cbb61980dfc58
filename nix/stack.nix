# The service table of the images and the compose file: which image runs each service, its
# ports, what it waits for, and the `userstream` command that runs it. What an engine runs
# (JVM options, config files, first-start steps) is not here: every engine image runs
# `userstream stack run <service>`, the code the local `stack up` runs (crates/stack), which
# renders the configuration at start. One renderer, no copy to keep in step.
#
# Containers use host networking, so every address is 127.0.0.1 exactly as in the local stack.
# Pure (builtins only).
{ versions }:
let
  # The binary's defaults (crates/endpoints; nix/tests/eval.nix compares them): the images
  # run with them, so the table only repeats them for the compose file's health checks.
  c = {
    state = "/var/lib/userstream"; # a volume shared by all services, laid out like .userstream/
    kafkaPort = 9092;
    kafkaControllerPort = 9093;
    registryPort = 8081;
    registryManagementPort = 9000;
    cassandraPort = 9042;
    cassandraStoragePort = 7000;
    sparkMasterPort = 7077;
    sparkMasterUiPort = 8082;
    sparkWorkerUiPort = 8083;
    sparkConnectPort = 15002;
    sparkDriverUiPort = 4040;
    airflowPort = 8080;
    usersApiPort = 8765;
    consolePort = 8088;
  };

  # name: compose service and entrypoint argument; image: which image runs it; command: the
  # `userstream` arguments; healthPort: TCP port that answers once it is up (null: none);
  # oneShot: runs to completion (setup, produce, verify).
  service = attrs: {
    dependsOn = [ ];
    ports = [ ];
    healthPort = null;
    oneShot = false;
    profiles = [ ];
  } // attrs;
  # An engine: `userstream stack run <name>`, as the local stack starts it.
  engine = name: image: engineName: attrs: service ({
    inherit name image;
    engine = engineName;
    command = [ "stack" "run" name ];
  } // attrs);
  # A command of the binary itself.
  own = name: command: attrs: service ({
    inherit name command;
    image = "userstream";
    engine = "userstream";
  } // attrs);

  services = [
    (engine "kafka" "kafka" "Kafka" {
      ports = [ c.kafkaPort c.kafkaControllerPort ];
      healthPort = c.kafkaPort;
    })
    (engine "registry" "registry" "Schema Registry" {
      dependsOn = [ "kafka" ];
      ports = [ c.registryPort c.registryManagementPort ];
      healthPort = c.registryPort;
    })
    (engine "cassandra" "cassandra" "Cassandra" {
      ports = [ c.cassandraPort c.cassandraStoragePort ];
      healthPort = c.cassandraPort;
    })
    (engine "spark-master" "spark" "Spark" {
      ports = [ c.sparkMasterPort c.sparkMasterUiPort ];
      healthPort = c.sparkMasterPort;
    })
    (engine "spark-worker" "spark" "Spark" {
      dependsOn = [ "spark-master" ];
      ports = [ c.sparkWorkerUiPort ];
      healthPort = c.sparkWorkerUiPort;
    })
    (engine "spark-connect" "spark" "Spark" {
      dependsOn = [ "spark-worker" "kafka" "cassandra" ];
      ports = [ c.sparkConnectPort c.sparkDriverUiPort ];
      healthPort = c.sparkConnectPort;
    })
    # The API server goes first: its first start migrates the database and writes the
    # generated secrets (<state>/secrets.json, 0600, on the volume, never in an
    # image) that the other three read.
    (engine "airflow-api-server" "airflow" "Airflow" {
      ports = [ c.airflowPort ];
      healthPort = c.airflowPort;
    })
    (engine "airflow-scheduler" "airflow" "Airflow" { dependsOn = [ "airflow-api-server" ]; })
    (engine "airflow-dag-processor" "airflow" "Airflow" { dependsOn = [ "airflow-api-server" ]; })
    (engine "airflow-triggerer" "airflow" "Airflow" { dependsOn = [ "airflow-api-server" ]; })
    # The binary's own services: users-api, setup, `stream run` (supervises the Spark Connect
    # job), the console, and produce/verify on demand.
    (own "users-api" [ "users-api" ] {
      ports = [ c.usersApiPort ];
      healthPort = c.usersApiPort;
    })
    (own "setup" [ "setup" ] {
      oneShot = true;
      dependsOn = [ "kafka" "registry" "cassandra" "airflow-api-server" ];
    })
    (own "stream" [ "stream" "run" ] { dependsOn = [ "setup" "spark-connect" ]; })
    # Waits for nothing: it shows each engine as down until it answers.
    (own "console" [ "console" ] {
      ports = [ c.consolePort ];
      healthPort = c.consolePort;
    })
    # Not part of `up`: Airflow's DAGs drive ingest; run by hand with `compose run produce`.
    (own "produce" [ "produce" "--count" "1000" ] {
      oneShot = true;
      profiles = [ "manual" ];
      dependsOn = [ "setup" "users-api" ];
    })
    (own "verify" [ "verify" ] {
      oneShot = true;
      profiles = [ "manual" ];
      dependsOn = [ "setup" ];
    })
  ];
in
{
  inherit services;
  config = c;
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
