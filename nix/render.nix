# The engines' configuration as data: a Nix port of crates/stack/src/render.rs, which stays
# the source of truth (same JVM options, config files and loopback binding). Rendered at build
# time with fixed ports and paths, since each image runs one configuration.
# nix/tests/eval.nix compares every option and config line with render.rs and the ports with
# config.rs. Pure (builtins only); store paths are placeholders (see nix/stack.nix).
{ cfg ? { } }:
let
  c = {
    state = "/var/lib/userstream"; # a volume shared by all services, laid out like .userstream/
    kafkaPort = 9092;
    kafkaControllerPort = 9093;
    registryPort = 8081;
    registryManagementPort = 9000;
    cassandraPort = 9042;
    cassandraStoragePort = 7000;
    cassandraJmxPort = 7199;
    sparkMasterPort = 7077;
    sparkMasterUiPort = 8082;
    sparkWorkerUiPort = 8083;
    sparkConnectPort = 15002;
    sparkDriverUiPort = 4040;
    airflowPort = 8080;
    usersApiPort = 8765;
    consolePort = 8088;
    kafkaHeap = "1g";
    registryHeap = "512m";
    cassandraHeap = "2g";
    sparkDaemonHeap = "512m";
    sparkDriverHeap = "1g";
    sparkExecutorHeapMib = 2048;
    sparkWorkerCores = 2;
    # Any 16 bytes, base64url: the image formats KRaft storage once with it.
    kafkaClusterId = "dXNlcnN0cmVhbS1uaXgtMQ";
  } // cfg;
  config = c;

  s = toString;
  logs = "${c.state}/logs";
  data = svc: "${c.state}/data/${svc}";
  conf = svc: "/etc/userstream/${svc}"; # baked into the image, not rendered at start
  kafkaBootstrap = "127.0.0.1:${s c.kafkaPort}";
  airflowUrl = "http://127.0.0.1:${s c.airflowPort}";
  sparkMasterUrl = "spark://127.0.0.1:${s c.sparkMasterPort}";
  concatMap = f: l: builtins.concatLists (map f l);

  kafkaServerProperties = ''
    process.roles=broker,controller
    node.id=1
    controller.quorum.bootstrap.servers=127.0.0.1:${s c.kafkaControllerPort}
    listeners=PLAINTEXT://127.0.0.1:${s c.kafkaPort},CONTROLLER://127.0.0.1:${s c.kafkaControllerPort}
    advertised.listeners=PLAINTEXT://127.0.0.1:${s c.kafkaPort},CONTROLLER://127.0.0.1:${s c.kafkaControllerPort}
    inter.broker.listener.name=PLAINTEXT
    controller.listener.names=CONTROLLER
    listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
    log.dirs=${data "kafka"}
    num.partitions=3
    offsets.topic.replication.factor=1
    share.coordinator.state.topic.replication.factor=1
    share.coordinator.state.topic.min.isr=1
    transaction.state.log.replication.factor=1
    transaction.state.log.min.isr=1
    group.initial.rebalance.delay.ms=0
    auto.create.topics.enable=false
  '';
  kafkaLog4j2 = ''
    Configuration:
      Appenders:
        Console:
          name: STDOUT
          PatternLayout:
            pattern: "[%d] %p %m (%c)%n"
      Loggers:
        Logger:
          - name: kafka.request.logger
            level: WARN
        Root:
          level: INFO
          AppenderRef:
            - ref: STDOUT
  '';
  kafkaJvm = [
    "-Xmx${c.kafkaHeap}"
    "-Xms${c.kafkaHeap}"
    "-server"
    "-XX:+UseG1GC"
    "-XX:MaxGCPauseMillis=20"
    "-XX:InitiatingHeapOccupancyPercent=35"
    "-XX:+ExplicitGCInvokesConcurrent"
    "-XX:MaxInlineLevel=15"
    "-Djava.awt.headless=true"
    "-Dkafka.logs.dir=${logs}"
    "-Dlog4j2.configurationFile=${conf "kafka"}/log4j2.yaml"
  ];

  cassandraYaml = ''
    cluster_name: userstream
    num_tokens: 16
    allocate_tokens_for_local_replication_factor: 1
    partitioner: org.apache.cassandra.dht.Murmur3Partitioner
    endpoint_snitch: SimpleSnitch
    commitlog_sync: periodic
    commitlog_sync_period: 10000ms
    seed_provider:
      - class_name: org.apache.cassandra.locator.SimpleSeedProvider
        parameters:
          - seeds: "127.0.0.1:${s c.cassandraStoragePort}"
    listen_address: 127.0.0.1
    rpc_address: 127.0.0.1
    storage_port: ${s c.cassandraStoragePort}
    native_transport_port: ${s c.cassandraPort}
    start_native_transport: true
    data_file_directories:
      - ${data "cassandra"}/data
    commitlog_directory: ${data "cassandra"}/commitlog
    hints_directory: ${data "cassandra"}/hints
    saved_caches_directory: ${data "cassandra"}/saved_caches
    concurrent_compactors: 1
    compaction_throughput: 64MiB/s
  '';
  cassandraLogback = ''
    <configuration scan="false">
      <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
        <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
      </appender>
      <logger name="org.apache.cassandra.utils.SigarLibrary" level="WARN"/>
      <root level="INFO"><appender-ref ref="STDOUT"/></root>
    </configuration>
  '';
  # Exposed separately so the check can compare them with render.rs one by one.
  cassandraFlags = [
    # jvm-server.options
    "-ea"
    "-da:net.openhft..."
    "-XX:+UseThreadPriorities"
    "-XX:+HeapDumpOnOutOfMemoryError"
    "-Xss256k"
    "-XX:+UseTLAB"
    "-XX:+ResizeTLAB"
    "-XX:+PerfDisableSharedMem"
    "-Djava.net.preferIPv4Stack=true"
    "-Dchronicle.analytics.disable=true"
    # jvm17-server.options
    "-XX:+UseG1GC"
    "-XX:+ParallelRefProcEnabled"
    "-XX:MaxTenuringThreshold=1"
    "-XX:G1HeapRegionSize=16m"
    "-XX:G1RSetUpdatingPauseTimePercent=5"
    "-XX:MaxGCPauseMillis=300"
    "-XX:InitiatingHeapOccupancyPercent=70"
    "-Djdk.attach.allowAttachSelf=true"
    "-Dio.netty.tryReflectionSetAccessible=true"
    "-Dio.netty.allocator.useCacheForAllThreads=true"
    "-Dio.netty.allocator.maxOrder=11"
  ];
  cassandraExports = [
    "java.base/jdk.internal.misc"
    "java.management.rmi/com.sun.jmx.remote.internal.rmi"
    "java.management/com.sun.jmx.remote.security"
    "java.rmi/sun.rmi.registry"
    "java.rmi/sun.rmi.server"
    "java.sql/java.sql"
    "java.base/java.lang.ref"
    "jdk.unsupported/sun.misc"
  ];
  cassandraOpens = [
    "java.base/java.lang.module"
    "java.base/jdk.internal.loader"
    "java.base/jdk.internal.ref"
    "java.base/jdk.internal.reflect"
    "java.base/jdk.internal.math"
    "java.base/jdk.internal.module"
    "java.base/jdk.internal.util.jar"
    "jdk.management/com.sun.management.internal"
    "java.base/sun.nio.ch"
    "java.base/java.io"
    "java.base/java.lang.reflect"
    "java.base/java.lang"
    "java.base/java.util"
    "java.base/java.nio"
  ];
  cassandraJvm = cassandraFlags
    ++ concatMap (e: [ "--add-exports" "${e}=ALL-UNNAMED" ]) cassandraExports
    ++ concatMap (o: [ "--add-opens" "${o}=ALL-UNNAMED" ]) cassandraOpens
    ++ [
      "-Xms${c.cassandraHeap}"
      "-Xmx${c.cassandraHeap}"
      "-Dcassandra-foreground=yes"
      "-Dcassandra.config=file://${conf "cassandra"}/cassandra.yaml"
      "-Dlogback.configurationFile=${conf "cassandra"}/logback.xml"
      "-Dcassandra.logdir=${logs}"
      "-Dcassandra.storagedir=${data "cassandra"}"
      "-Dcassandra.jmx.local.port=${s c.cassandraJmxPort}"
    ];

  registryJvm = [
    "-Xmx${c.registryHeap}"
    "-Xms${c.registryHeap}"
    "-Djava.util.logging.manager=org.jboss.logmanager.LogManager"
    "-Dquarkus.http.host=127.0.0.1"
    "-Dquarkus.http.port=${s c.registryPort}"
    "-Dquarkus.management.host=127.0.0.1"
    "-Dquarkus.management.port=${s c.registryManagementPort}"
    "-Dapicurio.storage.kind=kafkasql"
    "-Dapicurio.kafkasql.bootstrap.servers=${kafkaBootstrap}"
    "-Dquarkus.analytics.disabled=true"
  ];

  sparkConnectArgs = [
    "--class"
    "org.apache.spark.sql.connect.service.SparkConnectServer"
    "--name"
    "userstream Spark Connect"
    "--master"
    sparkMasterUrl
    "--driver-memory"
    c.sparkDriverHeap
    "--executor-memory"
    "${s c.sparkExecutorHeapMib}m"
    "--total-executor-cores"
    (s c.sparkWorkerCores)
    # spark-submit expands globs in --jars, so the file names need not be known here.
    "--jars"
    "@sparkConnectors@/*.jar"
  ] ++ concatMap (kv: [ "--conf" kv ]) [
    "spark.connect.grpc.binding.port=${s c.sparkConnectPort}"
    "spark.driver.host=127.0.0.1"
    "spark.driver.bindAddress=127.0.0.1"
    "spark.ui.port=${s c.sparkDriverUiPort}"
    "spark.port.maxRetries=0"
    "spark.cassandra.connection.host=127.0.0.1"
    "spark.cassandra.connection.port=${s c.cassandraPort}"
    "spark.sql.shuffle.partitions=4"
    "spark.local.dir=${data "spark-connect"}/tmp"
    "spark.sql.streaming.numRecentProgressUpdates=100"
  ];
  sparkEnv = {
    JAVA_HOME = "@jdk17@";
    SPARK_HOME = "@spark@";
    SPARK_LOCAL_IP = "127.0.0.1";
    SPARK_LOG_DIR = logs;
    SPARK_CONF_DIR = conf "spark";
    SPARK_NO_DAEMONIZE = "1";
  };

  airflowHome = data "airflow";
  airflowPasswords = "${airflowHome}/simple_auth_manager_passwords.json";
  airflowEnv = {
    AIRFLOW_HOME = airflowHome;
    AIRFLOW__CORE__DAGS_FOLDER = "@dags@";
    AIRFLOW__CORE__LOAD_EXAMPLES = "False";
    AIRFLOW__CORE__EXECUTOR = "LocalExecutor";
    AIRFLOW__CORE__PARALLELISM = "4";
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN = "sqlite:///${airflowHome}/airflow.db";
    AIRFLOW__API__HOST = "127.0.0.1";
    AIRFLOW__API__PORT = s c.airflowPort;
    AIRFLOW__API__WORKERS = "1";
    AIRFLOW__API__BASE_URL = airflowUrl;
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL = "${airflowUrl}/execution/";
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS = "admin:admin";
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE = airflowPasswords;
    AIRFLOW__LOGGING__BASE_LOG_FOLDER = "${logs}/airflow-tasks";
    AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL = "30";
    USERSTREAM_BIN = "@userstream@/bin/userstream";
  } // userstreamEnv;
  # Secrets are never baked into an image: compose interpolates them from its environment
  # (or an --env-file) and refuses to start without them.
  airflowSecrets = {
    AIRFLOW__API_AUTH__JWT_SECRET = "\${USERSTREAM_AIRFLOW_JWT_SECRET:?set USERSTREAM_AIRFLOW_JWT_SECRET}";
    AIRFLOW__API__SECRET_KEY = "\${USERSTREAM_AIRFLOW_SECRET_KEY:?set USERSTREAM_AIRFLOW_SECRET_KEY}";
    AIRFLOW__CORE__FERNET_KEY = "\${USERSTREAM_AIRFLOW_FERNET_KEY:?set USERSTREAM_AIRFLOW_FERNET_KEY}";
  };

  userstreamEnv = {
    USERSTREAM_STATE_DIR = c.state;
    USERSTREAM_RUNTIME_DIR = "${c.state}/runtime";
    USERSTREAM_DAGS_DIR = "@dags@";
    USERSTREAM_KAFKA_PORT = s c.kafkaPort;
    USERSTREAM_REGISTRY_PORT = s c.registryPort;
    USERSTREAM_CASSANDRA_PORT = s c.cassandraPort;
    USERSTREAM_SPARK_CONNECT_PORT = s c.sparkConnectPort;
    USERSTREAM_AIRFLOW_PORT = s c.airflowPort;
  };
  bin = "@userstream@/bin/userstream";
in
{
  inherit config s logs data conf sparkMasterUrl kafkaServerProperties kafkaLog4j2
    kafkaJvm cassandraYaml cassandraLogback cassandraFlags cassandraExports cassandraOpens
    cassandraJvm registryJvm sparkConnectArgs sparkEnv airflowHome airflowPasswords airflowEnv
    airflowSecrets userstreamEnv bin;
}
