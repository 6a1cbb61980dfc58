# OCI images, one per engine (plus the binary's own), from the service table in nix/stack.nix.
# Every image runs the binary: an engine service is `userstream stack run <service>`, which
# renders the engine's configuration and runs it exactly as the local `stack up` does (same
# code, same JVM options and files), over a runtime directory laid out as `stack install`
# lays out its own, holding only that image's engine and the JDK it needs
# (`imageRuntimes` in nix/packages.nix): building one image builds one engine's runtime.
# Each image's entrypoint takes the service name as its argument (the compose file passes
# it), so e.g. the spark image runs spark-master, spark-worker or spark-connect.
# streamLayeredImage builds a script that streams the image:
# `$(nix build --print-out-paths .#images.kafka) | docker load`.
{ pkgs, stack, packages }:
let
  inherit (pkgs) lib;
  bin = "${packages.userstream}/bin/userstream";

  # What `userstream` reads from the environment to find its state, the runtimes and the
  # JDK (crates/stack/src/config.rs): this image's own runtime directory, and the home of the
  # one JDK its engine runs on under the variable the binary reads for that Java
  # (`stack run` looks for no other). None of either in the userstream image; no JDK in
  # Airflow's. No secret: Airflow's are generated on the volume at the first start.
  javaHomeVar = { "17" = "USERSTREAM_JAVA_HOME"; "21" = "USERSTREAM_REGISTRY_JAVA_HOME"; };
  env = image:
    let r = packages.imageRuntimes.${image}; in
    { USERSTREAM_STATE_DIR = stack.config.state; }
    // lib.optionalAttrs (r.runtime != null) { USERSTREAM_RUNTIME_DIR = "${r.runtime}"; }
    // lib.optionalAttrs (r.jdk != null) { ${javaHomeVar.${r.java}} = r.jdk.home; }
    // lib.optionalAttrs r.dags { USERSTREAM_DAGS_DIR = "${packages.dags}"; };

  # One `case` branch per service; exec, so the service (after `stack run`'s own exec) is
  # PID 1 and receives the container's stop signal.
  branch = s: ''
    ${s.name})
      exec ${bin} ${lib.escapeShellArgs s.command}
      ;;
  '';
  servicesOf = image: builtins.filter (s: s.image == image) stack.services;
  entrypoint = image: pkgs.writeShellScript "userstream-${image}-entrypoint" ''
    set -euo pipefail
    ${lib.concatStrings (lib.mapAttrsToList (k: v: "export ${k}=${lib.escapeShellArg v}\n") (env image))}
    mkdir -p ${lib.escapeShellArg stack.config.state}
    case "''${1:-}" in
    ${lib.concatMapStrings branch (servicesOf image)}
    "")
      echo "usage: <${lib.concatMapStringsSep "|" (s: s.name) (servicesOf image)}> or any command" >&2
      exit 64
      ;;
    *) exec "$@" ;;
    esac
  '';

  # Enough of a userland for the start scripts, health checks (bash /dev/tcp) and debugging.
  # fakeNss: /etc/passwd and /etc/group with root and nobody. Without them Hadoop's
  # UserGroupInformation (inside every Spark process) fails at start-up with "invalid null
  # input: name", since the uid has no name.
  base = with pkgs; [ bashInteractive coreutils findutils gnugrep gnused gawk procps cacert dockerTools.fakeNss ];

  image = name: pkgs.dockerTools.streamLayeredImage {
    name = "userstream/${name}";
    tag = stack.tags.${name};
    # The binary on PATH too, for `docker compose exec <service> userstream ...`. (Not
    # `stack status` or `stack render`: those build every engine's specs, and an image holds
    # one engine.)
    contents = base ++ [ packages.userstream ];
    extraCommands = ''
      mkdir -m 1777 tmp
      mkdir -p ${lib.removePrefix "/" stack.config.state}
    '';
    config = {
      Entrypoint = [ "${entrypoint name}" ];
      Env = [
        "PATH=/bin"
        # The user of /etc/passwd the processes run as (images run as root; fakeNss names it),
        # for the JVMs' user.name and Hadoop's login user.
        "USER=root"
        "HOME=/tmp"
        "LANG=C.UTF-8"
        "SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"
      ];
      WorkingDir = stack.config.state;
      Volumes.${stack.config.state} = { };
    };
  };
in
{
  kafka = image "kafka";
  registry = image "registry";
  cassandra = image "cassandra";
  spark = image "spark";
  airflow = image "airflow";
  # users-api, setup, stream (`stream run` supervises the Spark Connect job), console, produce,
  # verify.
  userstream = image "userstream";
}
