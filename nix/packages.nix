# The userstream binary and every runtime the images need, at the versions of nix/versions.nix.
# Runtimes are fetched the way `userstream stack install` fetches them (same pom.xml / lock
# files, same repositories), as fixed-output derivations: their hashes are in nix/hashes.nix.
{ pkgs, versions, hashes }:
let
  inherit (pkgs) lib;
  fs = lib.fileset;

  # The first 12 hex digits of a file's sha256: in a fixed-output derivation's name, so a
  # changed pom or lock gets a new store path instead of silently reusing the old output on
  # machines that have it (and failing with a hash mismatch everywhere else).
  inputTag = file: builtins.substring 0 12 (builtins.hashFile "sha256" file);

  # The Maven the jar sets are resolved with: Apache's binary distribution of the version
  # nix/versions.nix pins, from Maven Central, run on JDK 17 (as `stack install` runs Maven).
  # Pinned here rather than taken from nixpkgs, so the jar sets' hashes do not move with
  # whatever Maven a nixpkgs revision carries, and scripts/check-nix.sh recomputes them with
  # this very version (it downloads the same file and checks it against Central's sha512).
  maven = pkgs.stdenvNoCC.mkDerivation {
    pname = "apache-maven";
    version = versions.maven;
    src = pkgs.fetchurl {
      url = "https://repo1.maven.org/maven2/org/apache/maven/apache-maven/${versions.maven}/apache-maven-${versions.maven}-bin.tar.gz";
      hash = hashes.maven;
    };
    installPhase = ''
      mkdir -p $out
      cp -r . $out/
      test -x $out/bin/mvn
    '';
  };

  # `mvn dependency:copy-dependencies` on the repository's own pom, with the plugin version the
  # local install pins (COPY_DEPENDENCIES in crates/stack/src/install.rs): the very jar set the
  # local stack installs, with no second list of jars to keep in step. Maven needs the network,
  # so this is fixed-output; scripts/check-nix.sh recomputes its hash the same way (same Maven,
  # JDK 17, an empty local repository of its own, no rc files, no user settings).
  mavenJars = component: version: outputHash: pkgs.stdenvNoCC.mkDerivation {
    name = "userstream-${component}-${version}-jars-${inputTag (../stack/maven + "/${component}/pom.xml")}";
    src = ../stack/maven + "/${component}";
    nativeBuildInputs = [ maven ];
    buildPhase = ''
      export HOME=$TMPDIR MAVEN_SKIP_RC=1 JAVA_HOME=${pkgs.jdk17_headless.home}
      mvn -B -q -Dmaven.repo.local=$TMPDIR/m2 -f pom.xml \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DoutputDirectory=$out
    '';
    dontInstall = true;
    dontFixup = true; # jars only; fixup would only risk changing bytes
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    inherit outputHash;
  };

  kafka = mavenJars "kafka" versions.kafka hashes.kafkaJars;
  cassandra = mavenJars "cassandra" versions.cassandra hashes.cassandraJars;

  # The runnable Quarkus app, unpacked as `stack install` does (quarkus-run.jar at the top).
  registry = pkgs.runCommand "apicurio-registry-${versions.apicurio}" {
    src = pkgs.fetchurl {
      url = "https://repo1.maven.org/maven2/io/apicurio/apicurio-registry-app/${versions.apicurio}/apicurio-registry-app-${versions.apicurio}-all.tar.gz";
      hash = hashes.apicurio;
    };
  } ''
    mkdir -p $out
    tar xzf $src -C $out
    test -f $out/quarkus-run.jar
  '';

  # Spark from the pyspark sdist on PyPI, the artifact the local venv installs: its deps/
  # directory is a Spark distribution (bin, sbin, jars) whose jars equal the venv's. nixpkgs'
  # spark_3_5 would be a second, differently built distribution.
  spark = pkgs.stdenv.mkDerivation {
    pname = "spark-from-pyspark";
    version = versions.spark;
    src = pkgs.fetchurl {
      url = "https://files.pythonhosted.org/packages/source/p/pyspark/pyspark-${versions.spark}.tar.gz";
      hash = hashes.pyspark;
    };
    buildInputs = [ pkgs.bash ]; # patchShebangs points bin/ scripts at it
    installPhase = ''
      mkdir -p $out
      cp -r deps/bin deps/sbin deps/jars $out/
      test -f $out/jars/spark-core_${versions.sparkScala}-${versions.spark}.jar
      # Scripts look for $SPARK_HOME/RELEASE to tell a distribution from a source tree.
      echo "Spark ${versions.spark} (from pyspark ${versions.spark})" > $out/RELEASE
      rm -f $out/bin/*.cmd
    '';
  };

  # The connector jars the Connect server adds with --jars: Maven resolves the spark pom, then,
  # as `stack install` does, jars whose artifact the distribution already ships are dropped
  # (a second, different version of e.g. scala-library on the classpath would clash).
  sparkConnectorsResolved = mavenJars "spark" versions.spark hashes.sparkConnectorJars;
  sparkConnectors = pkgs.runCommand "spark-connectors-${versions.spark}" { } ''
    # crates/stack/src/engines/spark/install.rs artifact_of(): the version starts at the first
    # dash-separated part that begins with a digit.
    artifact_of() {
      local IFS=- parts out
      read -ra parts <<<"''${1%.jar}"
      out=''${parts[0]}
      for p in "''${parts[@]:1}"; do [[ $p == [0-9]* ]] && break; out+="-$p"; done
      echo "$out"
    }
    declare -A shipped
    for j in ${spark}/jars/*.jar; do shipped[$(artifact_of "$(basename "$j")")]=1; done
    mkdir -p $out
    for j in ${sparkConnectorsResolved}/*.jar; do
      name=$(basename "$j")
      [[ -n ''${shipped[$(artifact_of "$name")]:-} ]] || ln -s "$j" "$out/$name"
    done
    test -e $out/spark-connect_${versions.sparkScala}-${versions.spark}.jar
    test -e $out/spark-cassandra-connector_${versions.sparkScala}-${versions.sparkCassandraConnector}.jar
  '';

  # The Connect server's gRPC interceptor (loopback peers + the stack's token), from the same
  # two files `stack install` embeds and builds with `mvn package`. No Maven in the sandbox:
  # javac against the very jars the pom compiles against (both `provided`: spark-connect from
  # the resolved connector set, slf4j-api from the distribution, the version the pom pins),
  # then `jar` with a fixed entry date.
  sparkConnectAuthJava = ../spark/interceptor/src/main/java/dev/userstream/spark/LoopbackTokenInterceptor.java;
  sparkUiFilterJava = ../spark/interceptor/src/main/java/dev/userstream/spark/UiTokenFilter.java;
  sparkConnectAuth = pkgs.stdenvNoCC.mkDerivation {
    pname = "userstream-spark-connect-auth";
    version = versions.spark;
    src = fs.toSource {
      root = ../spark/interceptor;
      fileset = fs.unions [ ../spark/interceptor/pom.xml sparkConnectAuthJava sparkUiFilterJava ];
    };
    nativeBuildInputs = [ pkgs.jdk17_headless ];
    buildPhase = ''
      connect=${sparkConnectorsResolved}/spark-connect_${versions.sparkScala}-${versions.spark}.jar
      slf4j=${spark}/jars/slf4j-api-2.0.7.jar
      servlet=${spark}/jars/jakarta.servlet-api-4.0.3.jar
      test -f $connect && test -f $slf4j && test -f $servlet
      grep -q '<finalName>userstream-spark-connect-auth</finalName>' pom.xml
      javac --release 17 -encoding UTF-8 -d classes -cp $connect:$slf4j:$servlet \
        src/main/java/dev/userstream/spark/LoopbackTokenInterceptor.java \
        src/main/java/dev/userstream/spark/UiTokenFilter.java
    '';
    installPhase = ''
      mkdir -p $out
      jar --create --file $out/userstream-spark-connect-auth.jar --date=2024-01-01T00:00:00Z -C classes .
    '';
    dontFixup = true; # a jar only
  };

  # Cassandra's role manager (a new node gets the stack's admin role, never `cassandra`), from
  # the one Java file `stack install` compiles with javac against the Cassandra jars.
  cassandraRoleManagerJava = ../stack/cassandra-auth/StackAdminRoleManager.java;
  cassandraAuth = pkgs.stdenvNoCC.mkDerivation {
    pname = "userstream-cassandra-auth";
    version = versions.cassandra;
    dontUnpack = true;
    nativeBuildInputs = [ pkgs.jdk17_headless ];
    buildPhase = ''
      javac --release 11 -encoding UTF-8 -d classes -cp '${cassandra}/*' ${cassandraRoleManagerJava}
    '';
    installPhase = ''
      mkdir -p $out
      jar --create --file $out/userstream-cassandra-auth.jar --date=2024-01-01T00:00:00Z -C classes .
    '';
    dontFixup = true; # a jar only
  };

  # The registry's agent (its management port serves health, no metrics), from the two Java
  # files `stack install` compiles with javac against the registry's jars; the stand-in
  # handler's class file goes into the jar as a resource
  # (crates/stack/src/engines/registry/install.rs registry_agent()).
  registryAgentJava = ../stack/registry-agent/MetricsOffAgent.java;
  registryMetricsStubJava = ../stack/registry-agent/PrometheusHandler.java;
  registryAgent = pkgs.stdenvNoCC.mkDerivation {
    pname = "userstream-registry-agent";
    version = versions.apicurio;
    dontUnpack = true;
    nativeBuildInputs = [ pkgs.jdk17_headless ];
    buildPhase = ''
      cp ${registryAgentJava} MetricsOffAgent.java
      cp ${registryMetricsStubJava} PrometheusHandler.java
      javac --release 17 -encoding UTF-8 -d classes -cp '${registry}/lib/main/*' \
        MetricsOffAgent.java PrometheusHandler.java
      mv classes/io/quarkus/micrometer/runtime/export/handlers/PrometheusHandler.class \
        classes/dev/userstream/registry/PrometheusHandler.bytes
      rm -r classes/io
      echo 'Premain-Class: dev.userstream.registry.MetricsOffAgent' > manifest.txt
    '';
    installPhase = ''
      mkdir -p $out
      jar --create --file $out/userstream-registry-agent.jar --date=2024-01-01T00:00:00Z \
        --manifest manifest.txt -C classes .
    '';
    dontFixup = true; # a jar only
  };

  # Airflow exactly as stack/python/airflow.lock pins it. Step 1: each locked wheel, fetched
  # by its URL and sha256 from nix/airflow-wheels.json (written by scripts/lock-nix-wheels.sh
  # from the lock: the files pip installs on x86_64 Linux with CPython 3.11). Step 2
  # (sandboxed, no network): a venv installed from them with --no-deps, like `stack install`,
  # then native extensions patched to nixpkgs' libraries.
  python = pkgs.python311;
  airflowLock = ../stack/python/airflow.lock;
  airflowWheelList = builtins.fromJSON (builtins.readFile ./airflow-wheels.json);
  airflowWheels = pkgs.linkFarm "airflow-${versions.airflow}-wheels-${inputTag airflowLock}"
    (map (wheel: {
      inherit (wheel) name;
      path = pkgs.fetchurl { inherit (wheel) name url sha256; };
    }) airflowWheelList);
  airflow = pkgs.stdenv.mkDerivation {
    pname = "airflow-venv";
    version = versions.airflow;
    dontUnpack = true;
    nativeBuildInputs = [ pkgs.autoPatchelfHook ];
    buildInputs = [ pkgs.stdenv.cc.cc.lib pkgs.zlib ];
    installPhase = ''
      ${python.interpreter} -m venv $out
      $out/bin/pip install --disable-pip-version-check --no-index --no-deps \
        --find-links ${airflowWheels} -r ${airflowLock}
    '';
    # After fixup (autoPatchelf), when native extensions can load.
    doInstallCheck = true;
    installCheckPhase = ''
      HOME=$TMPDIR AIRFLOW_HOME=$TMPDIR/airflow $out/bin/airflow version | grep -Fx ${versions.airflow}
    '';
  };

  # Each image's runtime directory, laid out as `userstream stack install` lays out its own
  # (crates/stack/src/layout.rs), holding only the pieces of the image's engine: building the
  # kafka image builds Kafka's jars and nothing of Cassandra, Spark or Airflow, and a runtime
  # that fails to build breaks its own image only.
  pysparkLock = ../stack/python/pyspark.lock;
  poms = {
    kafka = ../stack/maven/kafka/pom.xml;
    cassandra = ../stack/maven/cassandra/pom.xml;
    registry = ../stack/maven/registry/pom.xml;
    spark = ../stack/maven/spark/pom.xml;
    interceptor = ../spark/interceptor/pom.xml;
  };

  # Each engine's pieces: the paths of its spec (crates/stack/src/engines/<engine>/mod.rs) under the
  # runtime directory (Layout::kafka_lib(), cassandra_lib(), cassandra_auth_jar(),
  # registry_app(), registry_agent_jar(), spark_venv() (SPARK_HOME is found as
  # <venv>/lib/python*/site-packages/pyspark), spark_jars(), spark_connect_auth_jar(),
  # airflow_venv()); the directories its install steps mark, each with the files whose
  # concatenation is its `.installed` fingerprint, byte for byte (the components of the
  # engine's install_steps(), checked by install.rs are_installed(); engines/*/install.rs
  # *_fingerprint()); and the Java it runs on (Engine::java()).
  # The Spark image runs master, worker and Connect server: the daemons put the UI filter
  # (spark/auth) on their class path, the Connect server adds the connector jars (Kafka,
  # Avro, Cassandra clients included) and the interceptor.
  engines = {
    kafka = {
      links."kafka/lib" = kafka;
      fingerprints."kafka" = [ poms.kafka ];
      java = "17";
    };
    cassandra = {
      links."cassandra/lib" = cassandra;
      links."cassandra/auth/userstream-cassandra-auth.jar" = "${cassandraAuth}/userstream-cassandra-auth.jar";
      fingerprints."cassandra" = [ poms.cassandra ];
      fingerprints."cassandra/auth" = [ poms.cassandra cassandraRoleManagerJava ];
      java = "17";
    };
    registry = {
      links."registry/app" = registry;
      links."registry/agent/userstream-registry-agent.jar" = "${registryAgent}/userstream-registry-agent.jar";
      fingerprints."registry" = [ poms.registry ];
      fingerprints."registry/agent" = [ poms.registry registryAgentJava registryMetricsStubJava ];
      java = "21"; # Apicurio 3.3 is compiled for Java 21
    };
    spark = {
      links."spark/venv/lib/python${versions.python}/site-packages/pyspark" = spark;
      links."spark/jars" = sparkConnectors;
      links."spark/auth/userstream-spark-connect-auth.jar" = "${sparkConnectAuth}/userstream-spark-connect-auth.jar";
      fingerprints."spark/venv" = [ pysparkLock ];
      fingerprints."spark" = [ poms.spark ];
      fingerprints."spark/auth" = [ poms.interceptor sparkConnectAuthJava sparkUiFilterJava ];
      java = "17";
    };
    airflow = {
      # A tree of links to the venv, so the fingerprint can sit inside it.
      linkTrees."airflow/venv" = airflow;
      fingerprints."airflow/venv" = [ airflowLock ];
      java = null; # the DAGs call the binary; no JVM
    };
  };
  # Every fingerprinted directory of every engine (what a full `stack install` marks).
  fingerprints = lib.foldl' (acc: e: acc // e.fingerprints) { } (builtins.attrValues engines);

  # One engine's runtime directory: its pieces and its own fingerprints, nothing of another
  # engine. `userstream stack run <service>` and `stack after-start <service>` build only the
  # specs of the service's engine (crates/stack/src/lifecycle.rs specs_of_service()): they
  # check only its fingerprints, look only for its Java, and need SPARK_HOME and spark/jars
  # only for Spark.
  runtimeFor = name:
    let
      e = engines.${name};
      q = lib.escapeShellArg;
    in
    pkgs.runCommand "userstream-runtime-${name}-${versions.userstream}" { } (''
      mkdir -p $out
    '' + lib.concatStrings (lib.mapAttrsToList (path: target: ''
      mkdir -p "$(dirname $out/${q path})"
      cp -rs ${target} $out/${q path}
      chmod u+w $out/${q path}
    '') (e.linkTrees or { }))
    + lib.concatStrings (lib.mapAttrsToList (path: target: ''
      mkdir -p "$(dirname $out/${q path})"
      ln -s ${target} $out/${q path}
    '') (e.links or { }))
    + lib.concatStrings (lib.mapAttrsToList (dir: files: ''
      mkdir -p $out/${q dir}
      cat ${lib.concatMapStringsSep " " (file: "${file}") files} > $out/${q dir}/.installed
    '') e.fingerprints));

  # What each image gets: its engine's runtime directory and the one JDK that engine runs on
  # (`java`: "17", "21" or null), and the DAGs for Airflow only. The userstream image (the
  # binary's own commands, clients of the engines) gets no runtime directory and no JDK.
  jdks = { "17" = pkgs.jdk17_headless; "21" = pkgs.jdk21_headless; };
  imageRuntime = engine:
    let java = if engine == null then null else engines.${engine}.java; in
    {
      inherit engine java;
      runtime = if engine == null then null else runtimeFor engine;
      jdk = if java == null then null else jdks.${java};
      dags = engine == "airflow";
    };
  imageRuntimes = {
    kafka = imageRuntime "kafka";
    registry = imageRuntime "registry";
    cassandra = imageRuntime "cassandra";
    spark = imageRuntime "spark";
    airflow = imageRuntime "airflow";
    # users-api, setup, stream, console, produce, verify. The console's stack panel
    # (`stack status`) needs every engine installed, so here it reports "not installed"
    # (nix/README.md, "The userstream image").
    userstream = imageRuntime null;
  };

  # Only what the build reads, so editing nix/ or dags/ does not rebuild the binary. Anything
  # a crate pulls in with include_str!/include_bytes! from outside crates/ must be listed here
  # (the stack crate embeds the stack/ pins and the interceptor's pom and Java sources; only
  # those files of spark/interceptor, so a local target/ never enters the source).
  # clippy.toml: its allow-unwrap-in-tests is what lets `clippy -D warnings` pass on the test
  # modules (the workspace warns on unwrap_used).
  srcFiles = [ ../Cargo.toml ../Cargo.lock ../clippy.toml ../crates ../tests ../stack
    ../spark/interceptor/pom.xml sparkConnectAuthJava sparkUiFilterJava ];
  src = fs.toSource {
    root = ../.;
    fileset = fs.unions srcFiles;
  };

  userstream =
    assert lib.assertMsg (lib.versionAtLeast pkgs.rustc.version versions.rustMsrv)
      "nixpkgs' rustc ${pkgs.rustc.version} is older than the workspace's rust-version ${versions.rustMsrv}";
    pkgs.rustPlatform.buildRustPackage {
      pname = "userstream";
      version = versions.userstream;
      inherit src;
      cargoLock.lockFile = ../Cargo.lock; # no git dependencies, so no outputHashes
      cargoBuildFlags = [ "--package" "userstream" ];
      # rdkafka's cmake-build feature compiles the vendored librdkafka with CMake (its
      # configure script does not run in the sandbox); the cmake setup hook must not try to
      # configure our Cargo project.
      nativeBuildInputs = [ pkgs.cmake pkgs.pkg-config pkgs.protobuf ];
      # librdkafka's SASL/SCRAM (the stack's Kafka logins) is compiled only with OpenSSL.
      buildInputs = [ pkgs.openssl ];
      dontUseCmakeConfigure = true;
      # spark-connect-rs generates its gRPC code at build time; nixpkgs' protobuf hook does not
      # set PROTOC.
      PROTOC = "${pkgs.protobuf}/bin/protoc";
      # Unit tests and lints run as separate checks (nix/checks.nix); integration tests need
      # the running stack (the NixOS VM test).
      doCheck = false;
      meta = {
        description = "The userstream command line: stack, ingest, stream, verify, bench, demo";
        mainProgram = "userstream";
        license = lib.licenses.asl20;
      };
    };
in
{
  inherit userstream src srcFiles maven kafka cassandra registry spark sparkConnectors sparkConnectorsResolved
    sparkConnectAuth cassandraAuth registryAgent
    airflowWheels airflow python engines fingerprints imageRuntimes;
  jdk17 = pkgs.jdk17_headless;
  jdk21 = pkgs.jdk21_headless;
  # dags/ may be empty (and then absent from the flake's git source).
  dags = if builtins.pathExists ../dags then lib.cleanSource ../dags else pkgs.emptyDirectory;
}
