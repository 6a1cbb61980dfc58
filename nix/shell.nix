# `nix develop`: everything scripts/bootstrap.sh and `userstream stack install` would otherwise
# ask Debian for, pinned by flake.lock. The stack's runtimes still come from `stack install`
# (Maven/PyPI), so the local stack behaves the same inside and outside this shell.
# Two shells: `default` (Rust, JVMs, Python), and `airflow` (the same plus the Airflow venv of
# stack/python/airflow.lock, for DAG work: `nix develop .#airflow`). The venv is ~130 wheels
# fetched from PyPI, so only those who need it pay for it.
{ pkgs, versions, packages }:
let
  shell = { withAirflow }: pkgs.mkShell {
  packages = with pkgs; [
    # Rust >= the workspace's rust-version (checked in nix/packages.nix).
    cargo
    rustc
    rustfmt
    clippy
    rust-analyzer
    # spark-connect-rs: protoc at build time. rdkafka: cmake builds the vendored librdkafka;
    # nixpkgs' librdkafka is here for the crate's dynamic-linking feature, not used by default.
    protobuf
    cmake
    pkg-config
    # librdkafka's SASL/SCRAM (the stack's Kafka logins) is built only with OpenSSL.
    openssl
    rdkafka
    # The engines' JVMs (Apicurio 3.3 needs 21) and what `stack install` resolves jars with.
    jdk17_headless
    jdk21_headless
    packages.maven # the Maven the Nix build resolves the jar sets with
    # Python for the Spark and Airflow venvs; ruff for the DAGs.
    packages.python
    ruff
  ] ++ pkgs.lib.optional withAirflow packages.airflow;

  PROTOC = "${pkgs.protobuf}/bin/protoc";
  JAVA_HOME = pkgs.jdk17_headless.home;
  # The stack's own settings (crates/stack/src/config.rs), pointed at the pinned tools.
  USERSTREAM_JAVA_HOME = pkgs.jdk17_headless.home;
  USERSTREAM_REGISTRY_JAVA_HOME = pkgs.jdk21_headless.home;
  USERSTREAM_PYTHON = packages.python.interpreter;

  shellHook = ''
    echo "userstream dev shell: rustc $(rustc --version | cut -d' ' -f2), Java ${versions.java}/${versions.registryJava}, Python ${versions.python}${pkgs.lib.optionalString withAirflow ", Airflow ${versions.airflow}"}" >&2
  '';
  };
in
{
  default = shell { withAirflow = false; };
  airflow = shell { withAirflow = true; };
}
