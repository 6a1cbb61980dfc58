# Hashes of the fixed-output derivations in nix/packages.nix, in one place. Where each value
# came from is in nix/README.md ("Hashes"). A wrong or placeholder value makes the build stop
# with "hash mismatch ... got: sha256-..."; paste the "got" value here. scripts/check-nix.sh
# recomputes each from the real files and fails on a placeholder.
{
  # NAR hashes of `mvn dependency:copy-dependencies` outputs for stack/maven/<c>/pom.xml,
  # resolved with the pinned Maven (below) on JDK 17 into an empty local repository, as the
  # Nix build does; scripts/check-nix.sh recomputes them that way on every run.
  kafkaJars = "sha256-OeornmVEHHkGp0T7vdOiYPayyWUAu3U9s/XYAp/JYyo=";
  cassandraJars = "sha256-T3N9ojPy28XGTO8irBIFynqAwYe8fjARDvaOvpFtI7w=";
  sparkConnectorJars = "sha256-tQI5iOPkeeZfx9APO2IsBbx27Hk2DHGdDFJ9oOUkXa4=";
  # Flat file hashes of the downloaded artifacts.
  maven = "sha256-S3GVtqT1yBr0wCEmd6Mu6BQ2Q0AbxuHoQS5rBuqCvqw="; # apache-maven-3.9.11-bin.tar.gz, sha512 matches Central's
  apicurio = "sha256-i8Z1HHbZY3NCJLAdXn+EzLPLYch9O9d8NsNfEKXL7WM="; # -all.tar.gz, sha1 matches Central's
  pyspark = "sha256-gONlFODFwSbTWiat9PQFzUpp3pao6oo8Hppl/OL7Tqo="; # pyspark-3.5.7.tar.gz (sdist)
  # The Airflow wheels are fetched one by one: their sha256 are in nix/airflow-wheels.json.
}
