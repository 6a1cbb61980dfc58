# The integration test of `nix flake check`: a NixOS VM loads every image, starts the compose
# file, lets `setup` create topics/subject/table, produces users from the local users-api,
# and waits for `userstream verify` to find them all in Cassandra. Needs KVM and 16 GiB.
# `verify` exits 0 only when Kafka and Cassandra agree; `stream run` keeps the job up.
{ pkgs, images, composeFile }:
let
  inherit (pkgs) lib;
  compose = "docker-compose --project-name userstream -f ${composeFile}";
  # Container names are <project>-<service>-1.
  exitedOk = service: "docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' userstream-${service}-1 | grep -qx 'exited 0'";
in
pkgs.testers.runNixOSTest {
  name = "userstream-pipeline";
  nodes.machine = { pkgs, ... }: {
    virtualisation = {
      docker.enable = true;
      # Measured on the local stack (`userstream stack status`, resident memory per service
      # after a 10,000-user chaos run): Cassandra 2.5 GiB, Kafka 0.8, Spark Connect 0.65,
      # registry 0.5, Spark master and worker (with its executor) 0.4, the four Airflow
      # processes 1.3: 6 GiB. The JVMs may grow to their heaps (~9 GiB); dockerd, the
      # userstream containers and the page cache come on top.
      memorySize = 16384;
      cores = 4;
      diskSize = 20480;
    };
    environment.systemPackages = [ pkgs.docker-compose ];
  };
  # Above the sum of the waits below (8 ports x 300 s, 600 + 600 + 900 s) plus the image
  # loads, so a slow step fails with its own message, not the global timeout.
  globalTimeout = 6000;
  testScript = ''
    machine.wait_for_unit("docker.service")
    ${lib.concatMapStrings (img: ''machine.succeed("${img} | docker load")'' + "\n") (builtins.attrValues images)}
    machine.succeed("${compose} up -d")

    with subtest("every engine answers on its loopback port"):
        for port in [9092, 8081, 9042, 7077, 8083, 15002, 8080, 8765]:
            machine.wait_for_open_port(port, timeout=300)

    with subtest("setup created topics, subject and table"):
        machine.wait_until_succeeds("${exitedOk "setup"}", timeout=600)

    with subtest("produced users reach Cassandra"):
        machine.succeed("${compose} run --rm produce", timeout=600)
        machine.wait_until_succeeds("${compose} run --rm verify", timeout=900)

    with subtest("the stream supervisor is still running"):
        machine.succeed("docker inspect -f '{{.State.Status}}' userstream-stream-1 | grep -qx running")

    machine.succeed("${compose} down")
  '';
}
