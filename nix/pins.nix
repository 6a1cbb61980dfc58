# The versions the local stack really installs, read from its own pin files (no copy to trust).
# Pure: builtins only, so `nix-instantiate --eval` runs it without nixpkgs.
{ root ? ../. }:
let
  read = path: builtins.readFile (root + "/${path}");
  lines = text: builtins.filter builtins.isString (builtins.split "\n" text);
  # First capture group of `re` on any line of the file (regexes match whole lines: POSIX `.`
  # and newlines do not mix reliably), or null.
  grab = re: path:
    let hits = builtins.filter (m: m != null) (map (builtins.match re) (lines (read path)));
    in if hits == [ ] then null else builtins.head (builtins.head hits);
  kafkaPom = "stack/maven/kafka/pom.xml";
  sparkPom = "stack/maven/spark/pom.xml";
in
{
  userstream = grab "version = \"([^\"]+)\"" "Cargo.toml";
  rustMsrv = grab "rust-version = \"([^\"]+)\"" "Cargo.toml";
  kafka = grab ".*<kafka.version>([^<]+)</kafka.version>.*" kafkaPom;
  kafkaScala = grab ".*<artifactId>kafka_([0-9.]+)</artifactId>.*" kafkaPom;
  log4j = grab ".*<log4j.version>([^<]+)</log4j.version>.*" kafkaPom;
  cassandra = grab ".*<cassandra.version>([^<]+)</cassandra.version>.*" "stack/maven/cassandra/pom.xml";
  spark = grab ".*<spark.version>([^<]+)</spark.version>.*" sparkPom;
  sparkScala = grab ".*<artifactId>spark-connect_([0-9.]+)</artifactId>.*" sparkPom;
  sparkCassandraConnector =
    grab ".*<artifactId>spark-cassandra-connector_[0-9.]+</artifactId><version>([^<]+)</version>.*" sparkPom;
  pyspark = grab "pyspark==([^ ]+).*" "stack/python/pyspark.lock";
  py4j = grab "py4j==([^ ]+).*" "stack/python/pyspark.lock";
  apicurio = grab ".*<apicurio.version>([^<]+)</apicurio.version>.*" "stack/maven/registry/pom.xml";
  airflow = grab "apache-airflow==([^ ]+).*" "stack/python/airflow.lock";
  # The Rust side's default ports, from their one declaration (crates/endpoints/src/lib.rs):
  # `field: "flag", "USERSTREAM_X_PORT" = N, "label";`.
  portDefault = env:
    let m = grab ".*\"${env}\" = ([0-9]+),.*" "crates/endpoints/src/lib.rs";
    in if m == null then null else builtins.fromJSON m;
}
