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
  userstream = packages.userstream;
  vm = checks.pipeline;
  composeJSON = builtins.fromJSON packages.compose.text;
  # The input tag nix/packages.nix puts in a fixed-output derivation's name.
  pomTag = component: builtins.substring 0 12 (builtins.hashFile "sha256" (root + "/stack/maven/${component}/pom.xml"));
  runtimes = out.legacyPackages.${system}.runtimes;
  lockTag = builtins.substring 0 12 (builtins.hashFile "sha256" (root + "/stack/python/airflow.lock"));
  engineServices = builtins.mapAttrs (_: l: map (s: s.name) l)
    (builtins.groupBy (s: s.image) (filter (s: builtins.head s.command == "stack") stack.services));
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
  (check "every engine image runs `userstream stack run <service>` by argument"
    (all (img: all (svc: contains "\n${svc})\n  exec /nix/store/00000000000000000000000000000000-userstream-0.1.0/bin/userstream stack run ${svc}\n" texts.${img}) engineServices.${img})
      (attrNames engineServices))
    (toJSON texts))
  (check "entrypoints point the binary at the state volume, the image's own runtime directory and the one JDK its engine runs on (17: USERSTREAM_JAVA_HOME, 21: USERSTREAM_REGISTRY_JAVA_HOME), nothing for the other Java, no runtime directory or JDK in the userstream image, no JDK in Airflow's, DAGs for Airflow only"
    (let
      store = "/nix/store/00000000000000000000000000000000";
      java17 = "USERSTREAM_JAVA_HOME=${store}-openjdk-17/lib/openjdk";
      java21 = "USERSTREAM_REGISTRY_JAVA_HOME=${store}-openjdk-21/lib/openjdk";
      want = {
        kafka = [ java17 ]; cassandra = [ java17 ]; spark = [ java17 ]; registry = [ java21 ];
        airflow = [ ]; userstream = [ ];
      };
      # Every export naming a Java (a home, a JDK, a java binary) or the runtime directory.
      exported = pattern: t: map (l: builtins.substring 7 (builtins.stringLength l) l)
        (filter (l: match pattern l != null) (lines t));
    in all (img: let t = texts.${img}; in
        contains "export USERSTREAM_STATE_DIR=/var/lib/userstream\n" t
        && exported "export [A-Z_]*RUNTIME_DIR=.*" t
          == (if img == "userstream" then [ ] else [ "USERSTREAM_RUNTIME_DIR=${store}-userstream-runtime-${img}-0.1.0" ])
        && sorted (exported "export .*(JAVA|JDK|java|jdk).*" t) == want.${img}
        && (contains "export USERSTREAM_DAGS_DIR=" t == (img == "airflow")))
      (attrNames texts))
    (toJSON texts))
  (check "no secret in an image's entrypoint or environment"
    (all (t: match ".*(SECRET|FERNET|PASSWORD).*" t == null) (builtins.attrValues texts ++ map toJSON (map (i: i.config.Env) (builtins.attrValues images))))
    "a secret-like name in an image")
  (check "userstream image runs users-api, setup, stream run, console, produce, verify"
    (all (r: contains "\n${r})\n" texts.userstream) [ "users-api" "setup" "stream" "console" "produce" "verify" ]
      && contains "exec /nix/store/00000000000000000000000000000000-userstream-0.1.0/bin/userstream stream run\n" texts.userstream)
    texts.userstream)
  (check "each engine image's runtime directory holds its engine's pieces, exactly its engine's fingerprints (the components of its install_steps() in crates/stack/src/engines/<engine>/mod.rs) and nothing under another engine's directory; the userstream image has none"
    (let
      runtimeOf = img: runtimes.imageRuntimes.${img}.runtime;
      script = img: (runtimeOf img).script;
      captures = regex: text: map builtins.head (filter builtins.isList (builtins.split regex text));
      # The directories the engine's install steps mark, read from the Rust source.
      rustDirs = engine: sorted (captures "Fingerprint::new[(][[:space:]]*\"[^\"]*\",[[:space:]]*\"([^\"]*)\""
        (builtins.readFile (root + "/crates/stack/src/engines/${engine}/mod.rs")));
      marked = img: sorted (captures "[$]out/([^ ]*)/[.]installed" (script img));
      # Every path under $out the script names.
      written = img: captures "[$]out/([^ \n\"')]*)" (script img);
      under = img: p: p == img || builtins.substring 0 (builtins.stringLength img + 1) p == "${img}/";
      pieces = {
        kafka = [ "-userstream-kafka-4.3.1-jars-${pomTag "kafka"} $out/kafka/lib" ];
        cassandra = [ "-userstream-cassandra-5.0.6-jars-${pomTag "cassandra"} $out/cassandra/lib" "/userstream-cassandra-auth.jar $out/cassandra/auth/userstream-cassandra-auth.jar" ];
        registry = [ "-apicurio-registry-3.3.3 $out/registry/app" "/userstream-registry-agent.jar $out/registry/agent/userstream-registry-agent.jar" ];
        spark = [ "-spark-from-pyspark-3.5.7 $out/spark/venv/lib/python3.11/site-packages/pyspark" "-spark-connectors-3.5.7 $out/spark/jars" "/userstream-spark-connect-auth.jar $out/spark/auth/userstream-spark-connect-auth.jar" ];
        airflow = [ "-airflow-venv-3.1.8 $out/airflow/venv" ];
      };
    in runtimeOf "userstream" == null
      && sorted (attrNames runtimes.imageRuntimes) == sorted ([ "userstream" ] ++ attrNames pieces)
      && length (attrNames runtimes.fingerprints) == 9
      && all (img: missingFrom (script img) pieces.${img} == [ ]
          && rustDirs img != [ ]
          && marked img == rustDirs img
          && all (under img) (written img))
        (attrNames pieces))
    (toJSON (builtins.mapAttrs (img: r: { script = if r.runtime == null then null else r.runtime.script; }) runtimes.imageRuntimes)))
  (check "the jar sets are resolved with the pinned Maven from Maven Central, on JDK 17"
    (runtimes.maven.src.url == "https://repo1.maven.org/maven2/org/apache/maven/apache-maven/${versions.maven}/apache-maven-${versions.maven}-bin.tar.gz"
      && elem runtimes.maven runtimes.kafka.nativeBuildInputs
      && contains "JAVA_HOME=/nix/store/00000000000000000000000000000000-openjdk-17/lib/openjdk" runtimes.kafka.buildPhase)
    runtimes.kafka.buildPhase)
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
