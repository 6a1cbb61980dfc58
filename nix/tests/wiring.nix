# Evaluates flake.nix's outputs against nix/tests/stub-pkgs.nix and checks what they would
# build: output names, the images' generated entrypoints, the binary's build settings, the
# compose file and the VM test. Result: "ok <name>" / "FAIL <name>: <why>" lines.
{ root ? ../.. }:
let
  inherit (import ./lib.nix) contains lines missingFrom check eq noneMissing;
  system = "x86_64-linux";
  stub = import ./stub-pkgs.nix;
  flake = import (root + "/flake.nix");
  out = flake.outputs { self = { }; nixpkgs = { legacyPackages.${system} = stub; inherit (stub) lib; }; };
  versions = import ../versions.nix;
  stack = import ../stack.nix { inherit versions; };

  inherit (builtins) attrNames all elem filter length match toJSON;
  sorted = builtins.sort builtins.lessThan;

  packages = out.packages.${system};
  images = out.legacyPackages.${system}.images;
  checks = out.checks.${system};
  # The entrypoints' text: images.nix again, with a writeShellScript that returns the script
  # itself, so the image config's Entrypoint holds the text instead of a store path.
  texts = builtins.mapAttrs (_: img: builtins.head img.config.Entrypoint) (import ../images.nix {
    pkgs = stub // { writeShellScript = _: text: text; };
    inherit stack;
    packages = out.legacyPackages.${system}.runtimes;
  });
  allText = builtins.concatStringsSep "\n" (builtins.attrValues texts);
  leftover = match ".*(@[A-Za-z0-9]+@).*" allText;
  userstream = packages.userstream;
  vm = checks.pipeline;
  composeJSON = builtins.fromJSON packages.compose.text;
  # The input tag nix/packages.nix puts in a fixed-output derivation's name.
  pomTag = component: builtins.substring 0 12 (builtins.hashFile "sha256" (root + "/stack/maven/${component}/pom.xml"));
  runtimes = out.legacyPackages.${system}.runtimes;
  lockTag = builtins.substring 0 12 (builtins.hashFile "sha256" (root + "/stack/python/airflow.lock"));
in
[
  (eq "flake packages" [ "compose" "default" "userstream" ] (sorted (attrNames packages)))
  (eq "flake images" [ "airflow" "cassandra" "kafka" "registry" "spark" "userstream" ] (sorted (attrNames images)))
  (eq "flake checks" [ "clippy" "fmt" "pipeline" "unit-tests" ] (sorted (attrNames checks)))
  (check "dev shells: default without the Airflow venv, airflow with it"
    (let shells = out.devShells.${system}; names = sh: map (p: p.name or "") sh.packages; in
      shells ? default && shells ? airflow
      && !(elem "airflow-venv-3.1.8" (names shells.default)) && elem "airflow-venv-3.1.8" (names shells.airflow))
    "see nix/shell.nix")
  (eq "image names and tags" [ "userstream/airflow:3.1.8" "userstream/cassandra:5.0.6" "userstream/kafka:4.3.1" "userstream/registry:3.3.3" "userstream/spark:3.5.7" "userstream/userstream:0.1.0" ]
    (sorted (map (i: "${i.imageName}:${i.imageTag}") (builtins.attrValues images))))
  (check "entrypoints have no unfilled placeholder" (leftover == null) (toJSON leftover))
  (check "images carry /etc/passwd (fakeNss), USER and a writable /tmp"
    (all (img: elem "fake-nss" (map (c: c.name or "") img.contents)
        && elem "USER=root" img.config.Env
        && contains "mkdir -m 1777 tmp" img.extraCommands)
      (builtins.attrValues images))
    "an image lacks fakeNss, USER or /tmp")
  (check "the binary's sources include clippy.toml (tests may unwrap under -D warnings)"
    (elem (root + "/clippy.toml") runtimes.srcFiles) "clippy.toml missing from srcFiles")
  (check "fixed-output derivations are named after their inputs"
    (runtimes.kafka.name == "userstream-kafka-4.3.1-jars-${pomTag "kafka"}"
      && runtimes.cassandra.name == "userstream-cassandra-5.0.6-jars-${pomTag "cassandra"}"
      && runtimes.airflowWheels.name == "airflow-3.1.8-wheels-${lockTag}")
    "${runtimes.kafka.name}, ${runtimes.cassandra.name}, ${runtimes.airflowWheels.name}")
  (check "every Airflow wheel is fetched by URL and sha256 from nix/airflow-wheels.json"
    (let entries = runtimes.airflowWheels.entries; in
      length entries == length (builtins.fromJSON (builtins.readFile ../airflow-wheels.json))
      && all (e: e.path.url != "" && match "[0-9a-f]{64}" e.path.sha256 != null && e.name == e.path.name) entries)
    "airflowWheels entries do not match the list")
  (check "kafka entrypoint formats KRaft storage once, then execs the broker"
    (contains "[ -e /var/lib/userstream/data/kafka/meta.properties ] || /nix/store/00000000000000000000000000000000-openjdk-17/lib/openjdk/bin/java" texts.kafka
      && contains "kafka.tools.StorageTool format --standalone --ignore-formatted" texts.kafka
      && contains "-cp '/nix/store/00000000000000000000000000000000-userstream-kafka-4.3.1-jars-${pomTag "kafka"}/*' kafka.Kafka /etc/userstream/kafka/server.properties" texts.kafka)
    texts.kafka)
  (check "registry runs on Java 21 from the unpacked app"
    (contains "openjdk-21/lib/openjdk/bin/java" texts.registry && contains "-jar quarkus-run.jar" texts.registry
      && contains "cd /nix/store/00000000000000000000000000000000-apicurio-registry-3.3.3" texts.registry)
    texts.registry)
  (check "cassandra keeps stdout open and reads the baked config"
    (contains "-Dcassandra-foreground=yes" texts.cassandra && contains "export MALLOC_ARENA_MAX=4" texts.cassandra
      && contains "org.apache.cassandra.service.CassandraDaemon" texts.cassandra)
    texts.cassandra)
  (check "spark image runs master, worker and connect by argument"
    (all (r: contains "\n${r})\n" texts.spark) [ "spark-master" "spark-worker" "spark-connect" ]
      && contains "--jars '/nix/store/00000000000000000000000000000000-spark-connectors-3.5.7/*.jar'" texts.spark)
    texts.spark)
  (check "airflow image runs its four components with one shared config"
    (all (r: contains "\n${r})\n" texts.airflow) [ "airflow-api-server" "airflow-scheduler" "airflow-dag-processor" "airflow-triggerer" ]
      && contains "/bin/airflow db migrate" texts.airflow && contains "export USERSTREAM_BIN=/nix/store/00000000000000000000000000000000-userstream-0.1.0/bin/userstream" texts.airflow)
    texts.airflow)
  (check "userstream image runs users-api, setup, stream, produce, verify"
    (all (r: contains "\n${r})\n" texts.userstream) [ "users-api" "setup" "stream" "produce" "verify" ]) texts.userstream)
  (check "config files are baked into their images"
    (elem "etc/userstream/kafka/server.properties" (map (d: d.path or "") images.kafka.contents)
      && elem "etc/userstream/cassandra/cassandra.yaml" (map (d: d.path or "") images.cassandra.contents))
    "missing config files")
  (check "binary build: PROTOC set, cmake not configuring cargo, only the cli package"
    (contains "/bin/protoc" userstream.PROTOC && userstream.dontUseCmakeConfigure
      && elem "cmake" (map (d: d.name) userstream.nativeBuildInputs)
      && userstream.cargoBuildFlags == [ "--package" "userstream" ])
    "see nix/packages.nix")
  (eq "compose output is the generator's file" (import ../compose.nix { inherit (stack) services tags; }) composeJSON)
  (check "clippy and unit tests reuse the package with their own cargo command"
    (contains "clippy" checks.clippy.buildPhase && contains "-D warnings" checks.clippy.buildPhase
      && contains "--lib --bins" checks.unit-tests.buildPhase)
    "see nix/checks.nix")
  (check "VM test loads every image and verifies"
    (all (i: contains "${i} | docker load" vm.testScript) (builtins.attrValues images)
      && contains "run --rm verify" vm.testScript)
    "see nix/tests/vm.nix")
]
