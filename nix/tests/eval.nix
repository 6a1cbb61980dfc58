# Checks of the pure Nix parts, run by scripts/check-nix.sh with
#   nix-instantiate --eval --strict --json nix/tests/eval.nix
# No nixpkgs: builtins only, so it runs on a machine with nothing but Debian's nix-bin.
# Result: a list of "ok <name>" / "FAIL <name>: <why>" lines.
{ root ? ../.. }:
let
  inherit (import ./lib.nix) contains lines missingFrom check eq noneMissing;
  versions = import ../versions.nix;
  pins = import ../pins.nix { inherit root; };
  stack = import ../stack.nix { inherit versions; };
  compose = import ../compose.nix { inherit (stack) services tags; };
  flake = import (root + "/flake.nix");
  lock = builtins.fromJSON (builtins.readFile (root + "/flake.lock"));
  # Each engine's services are declared in its folder's mod.rs.
  servicesRs = builtins.concatStringsSep "\n" (map
    (engine: builtins.readFile (root + "/crates/stack/src/engines/${engine}/mod.rs"))
    [ "kafka" "registry" "cassandra" "spark" "airflow" ]);

  inherit (builtins) all attrNames elem filter length map toJSON;

  # Versions: nix/versions.nix against what the local stack installs.
  versionChecks = map (k: eq "version ${k} matches the local stack" pins.${k} versions.${k})
    [ "userstream" "rustMsrv" "kafka" "kafkaScala" "log4j" "cassandra" "spark" "sparkScala"
      "sparkCassandraConnector" "py4j" "apicurio" "airflow" ]
  ++ [ (eq "version spark matches pyspark.lock" pins.pyspark versions.spark) ];

  svc = builtins.listToAttrs (map (s: { name = s.name; value = s; }) stack.services);
  names = map (s: s.name) stack.services;
  expectedNames = [
    "kafka" "registry" "cassandra" "spark-master" "spark-worker" "spark-connect"
    "airflow-api-server" "airflow-scheduler" "airflow-dag-processor" "airflow-triggerer"
    "users-api" "setup" "stream" "console" "produce" "verify"
  ];
  # DESIGN.md's default endpoints.
  expectedPorts = {
    kafka = [ 9092 9093 ];
    registry = [ 8081 9000 ];
    cassandra = [ 9042 7000 ]; # DESIGN.md also lists 7199 (JMX): off since issue 22, nothing uses it
    spark-master = [ 7077 8082 ];
    spark-worker = [ 8083 ];
    spark-connect = [ 15002 4040 ];
    airflow-api-server = [ 8080 ];
    users-api = [ 8765 ];
    console = [ 8088 ];
  };
  portOf = name: idx: builtins.elemAt svc.${name}.ports idx;
  # Each Nix port against the Rust default of the same setting.
  rustPorts = [
    [ "USERSTREAM_KAFKA_PORT" "kafka" 0 ]
    [ "USERSTREAM_KAFKA_CONTROLLER_PORT" "kafka" 1 ]
    [ "USERSTREAM_REGISTRY_PORT" "registry" 0 ]
    [ "USERSTREAM_REGISTRY_MANAGEMENT_PORT" "registry" 1 ]
    [ "USERSTREAM_CASSANDRA_PORT" "cassandra" 0 ]
    [ "USERSTREAM_CASSANDRA_STORAGE_PORT" "cassandra" 1 ]
    [ "USERSTREAM_SPARK_MASTER_PORT" "spark-master" 0 ]
    [ "USERSTREAM_SPARK_MASTER_UI_PORT" "spark-master" 1 ]
    [ "USERSTREAM_SPARK_WORKER_UI_PORT" "spark-worker" 0 ]
    [ "USERSTREAM_SPARK_CONNECT_PORT" "spark-connect" 0 ]
    [ "USERSTREAM_SPARK_DRIVER_UI_PORT" "spark-connect" 1 ]
    [ "USERSTREAM_AIRFLOW_PORT" "airflow-api-server" 0 ]
    [ "USERSTREAM_USERS_API_PORT" "users-api" 0 ]
    [ "USERSTREAM_CONSOLE_PORT" "console" 0 ]
  ];
  rustPortMismatches = filter (p: pins.portDefault (builtins.elemAt p 0) != portOf (builtins.elemAt p 1) (builtins.elemAt p 2)) rustPorts;
  allPorts = builtins.concatLists (map (s: s.ports) stack.services);

  composeServices = compose.services;
  composePorts = builtins.mapAttrs (_: s: s.labels."dev.userstream.ports") composeServices;
  unknownDeps = filter (d: !(elem d names)) (builtins.concatLists (map (s: s.dependsOn) stack.services));

  # Engine services run `userstream stack run <name>`: each name must be a service of the Rust
  # stack (crates/stack/src/engines/<engine>/mod.rs), which renders and runs it.
  engines = filter (s: builtins.head s.command == "stack") stack.services;
  notRunByStack = filter (s: s.command != [ "stack" "run" s.name ]) engines;
  unknownToRust = filter (s: !(contains "\"${s.name}\"" servicesRs)) engines;
  tableJSON = toJSON stack.services;

  lockRoot = lock.nodes.${lock.root};
  nixpkgsNode = lock.nodes.${lockRoot.inputs.nixpkgs};
in
versionChecks ++ [
  (eq "service table has every service" expectedNames names)
  (eq "compose has one service per table entry" (builtins.sort builtins.lessThan expectedNames) (attrNames composeServices))
  (eq "ports are DESIGN.md's defaults"
    expectedPorts
    (builtins.intersectAttrs expectedPorts (builtins.mapAttrs (_: s: s.ports) svc)))
  (check "ports equal the Rust defaults (crates/endpoints/src/lib.rs)" (rustPortMismatches == [ ]) (toJSON rustPortMismatches))
  (check "no port used twice" (length allPorts == length (builtins.attrNames (builtins.listToAttrs (map (p: { name = toString p; value = p; }) allPorts)))) (toJSON allPorts))
  (eq "compose port labels follow the table"
    { kafka = "9092,9093"; registry = "8081,9000"; cassandra = "9042,7000"; spark-connect = "15002,4040"; users-api = "8765"; }
    (builtins.intersectAttrs { kafka = 0; registry = 0; cassandra = 0; spark-connect = 0; users-api = 0; } composePorts))
  (check "compose: host network, loopback health checks" (all (s: s.network_mode == "host" && (!(s ? healthcheck) || contains "/dev/tcp/127.0.0.1/" (toJSON s.healthcheck.test))) (builtins.attrValues composeServices)) "a service without host networking")
  (eq "compose: spark-connect waits for worker, kafka, cassandra to be healthy"
    { spark-worker.condition = "service_healthy"; kafka.condition = "service_healthy"; cassandra.condition = "service_healthy"; }
    composeServices.spark-connect.depends_on)
  (eq "compose: stream waits for setup to complete" "service_completed_successfully" composeServices.stream.depends_on.setup.condition)
  (check "dependencies name real services" (unknownDeps == [ ]) (toJSON unknownDeps))
  (eq "images and their tags" { airflow = "3.1.8"; cassandra = "5.0.6"; kafka = "4.3.1"; registry = "3.3.3"; spark = "3.5.7"; userstream = "0.1.0"; } stack.tags)
  (check "nothing binds 0.0.0.0" (!(contains "0.0.0.0" tableJSON)) "0.0.0.0 in the service table")
  (check "every engine service runs `userstream stack run <service>` (one renderer: the binary)"
    (notRunByStack == [ ]) (toJSON notRunByStack))
  (check "every engine service is one the Rust stack knows (crates/stack/src/engines)"
    (unknownToRust == [ ]) (toJSON (map (s: s.name) unknownToRust)))
  (eq "engine services, by image"
    {
      airflow = [ "airflow-api-server" "airflow-scheduler" "airflow-dag-processor" "airflow-triggerer" ];
      cassandra = [ "cassandra" ];
      kafka = [ "kafka" ];
      registry = [ "registry" ];
      spark = [ "spark-master" "spark-worker" "spark-connect" ];
    }
    (builtins.mapAttrs (_: l: map (s: s.name) l) (builtins.groupBy (s: s.image) engines)))
  (check "fixed-output hashes are SRI sha256"
    (builtins.all (h: builtins.match "sha256-[A-Za-z0-9+/]{43}=" h != null) (builtins.attrValues (import ../hashes.nix)))
    (toJSON (import ../hashes.nix)))
  (eq "flake.lock is lock format 7" 7 lock.version)
  (eq "flake.lock root inputs are flake.nix's inputs" (attrNames flake.inputs) (attrNames lockRoot.inputs))
  (eq "flake.lock pins nixpkgs' release branch" versions.nixpkgsBranch (nixpkgsNode.original.ref or null))
  (check "flake.lock nixpkgs entry is complete"
    (builtins.match "[0-9a-f]{40}" nixpkgsNode.locked.rev != null
      && builtins.match "sha256-[A-Za-z0-9+/]{43}=" nixpkgsNode.locked.narHash != null
      && nixpkgsNode.locked.type == "github" && nixpkgsNode.locked.owner == "NixOS" && nixpkgsNode.locked.repo == "nixpkgs")
    (toJSON nixpkgsNode.locked))
  (check "flake.nix nixpkgs URL is the locked branch" (contains versions.nixpkgsBranch flake.inputs.nixpkgs.url) flake.inputs.nixpkgs.url)
]
