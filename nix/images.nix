# OCI images, one per engine (plus the binary's own), built from the service table in
# nix/stack.nix. Each image's entrypoint takes the service name as its argument (the compose
# file passes it), so e.g. the spark image runs spark-master, spark-worker or spark-connect.
# streamLayeredImage builds a script that streams the image: `$(nix build --print-out-paths
# .#images.kafka) | docker load`.
{ pkgs, stack, packages }:
let
  inherit (pkgs) lib;

  # The placeholders of nix/stack.nix and what they stand for.
  paths = {
    "@jdk17@" = packages.jdk17.home;
    "@jdk21@" = packages.jdk21.home;
    "@kafka@" = "${packages.kafka}";
    "@cassandra@" = "${packages.cassandra}";
    "@registry@" = "${packages.registry}";
    "@spark@" = "${packages.spark}";
    "@sparkConnectors@" = "${packages.sparkConnectors}";
    "@airflow@" = "${packages.airflow}";
    "@dags@" = "${packages.dags}";
    "@userstream@" = "${packages.userstream}";
    "@bash@" = "${pkgs.bash}";
  };
  fill = builtins.replaceStrings (builtins.attrNames paths) (builtins.attrValues paths);
  esc = s: lib.escapeShellArg (fill s);
  escArgs = l: lib.escapeShellArgs (map fill l);

  # One `case` branch per service: its environment, directories, first-start steps, then exec,
  # so the service itself is PID 1 and receives the container's stop signal.
  branch = s: ''
    ${s.name})
      ${lib.concatStrings (lib.mapAttrsToList (k: v: "export ${k}=${esc v}\n") s.env)}
      mkdir -p ${escArgs ([ stack.config.state ] ++ s.dirs)}
      cd ${esc s.cwd}
      ${lib.concatMapStrings (p:
        lib.optionalString (p.unlessExists != null) "[ -e ${esc p.unlessExists} ] || "
        + "${escArgs p.command}\n") s.preStart}
      exec ${escArgs s.command}
      ;;
  '';
  servicesOf = image: builtins.filter (s: s.image == image) stack.services;
  entrypoint = image: pkgs.writeShellScript "userstream-${image}-entrypoint" ''
    set -euo pipefail
    case "''${1:-}" in
    ${lib.concatMapStrings branch (servicesOf image)}
    "")
      echo "usage: <${lib.concatMapStringsSep "|" (s: s.name) (servicesOf image)}> or any command" >&2
      exit 64
      ;;
    *) exec "$@" ;;
    esac
  '';
  # Config files are rendered at build time: the ports and paths are fixed per image.
  files = image: lib.concatMap
    (s: lib.mapAttrsToList (path: text: pkgs.writeTextDir (lib.removePrefix "/" path) (fill text)) s.files)
    (servicesOf image);

  # Enough of a userland for the start scripts, health checks (bash /dev/tcp) and debugging.
  # fakeNss: /etc/passwd and /etc/group with root and nobody. Without them Hadoop's
  # UserGroupInformation (inside every Spark process) fails at start-up with "invalid null
  # input: name", since the uid has no name.
  base = with pkgs; [ bashInteractive coreutils findutils gnugrep gnused gawk procps cacert dockerTools.fakeNss ];

  image = name: extraContents: pkgs.dockerTools.streamLayeredImage {
    name = "userstream/${name}";
    tag = stack.tags.${name};
    contents = base ++ files name ++ extraContents;
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
  kafka = image "kafka" [ ];
  registry = image "registry" [ ];
  cassandra = image "cassandra" [ ];
  spark = image "spark" [ ];
  # The DAGs call the binary; on PATH too for `docker compose exec airflow-... userstream`.
  airflow = image "airflow" [ packages.userstream ];
  # users-api, setup, stream (`stream run` supervises the Spark Connect job), console, produce,
  # verify.
  userstream = image "userstream" [ packages.userstream ];
}
