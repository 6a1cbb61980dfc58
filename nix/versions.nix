# Every version the Nix side packages, in one place. The local stack pins the same things in
# its own files (stack/maven/*/pom.xml, stack/python/*.lock, Cargo.toml); nix/tests/eval.nix
# reads those files and fails when a value here drifts from them.
{
  userstream = "0.1.0"; # [workspace.package] version: the image tag of the binary's images
  rustMsrv = "1.89"; # [workspace.package] rust-version (uuid 1.29 in Cargo.lock); nixpkgs' rustc must be >= this

  kafka = "4.3.1";
  kafkaScala = "2.13";
  log4j = "2.25.4"; # log4j-slf4j-impl: Kafka ships its SLF4J binding only in the release tarball

  cassandra = "5.0.6"; # nixpkgs has only 4.1, so the jars come from Maven Central like locally

  spark = "3.5.7"; # the pyspark sdist from PyPI is the Spark distribution, as in the local venv
  sparkScala = "2.12";
  py4j = "0.10.9.7";
  sparkCassandraConnector = "3.5.1";

  apicurio = "3.3.3"; # apicurio-registry-app:<v>:all:tar.gz (Quarkus fast-jar)

  airflow = "3.1.8"; # plus every package of stack/python/airflow.lock, installed with --no-deps
  python = "3.11"; # nixpkgs attribute python311; the lock was frozen on CPython 3.11

  java = "17"; # Kafka, Cassandra, Spark
  registryJava = "21"; # Apicurio 3.3 needs Java 21+

  # The Maven the Nix build resolves the jar sets with (Apache's binary distribution from
  # Maven Central, not nixpkgs' package): the 3.9 release nixos-25.11 carries, as far as
  # could be told without reaching nixpkgs (see nix/README.md). scripts/check-nix.sh
  # recomputes the jar sets' hashes with it.
  maven = "3.9.11";

  nixpkgsBranch = "nixos-25.11";
}
