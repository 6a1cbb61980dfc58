# The compose file, generated from the service table (nix/stack.nix). Pure: builtins only.
#
# Host networking for every service: the engines bind 127.0.0.1 and the binary connects to
# 127.0.0.1 exactly as in the local stack, so no address or config differs between the two.
# (Ports are therefore not published; they are listed in a label for humans.) No environment:
# the images carry no secret and need none passed; Airflow's are generated on the volume.
{ services, tags, project ? "userstream" }:
let
  byName = builtins.listToAttrs (map (s: { name = s.name; value = s; }) services);
  nonNull = attrs: builtins.removeAttrs attrs (builtins.filter (k: attrs.${k} == null) (builtins.attrNames attrs));
  joinPorts = ports: builtins.concatStringsSep "," (map toString ports);

  # Wait for what a service needs in the strongest form compose offers for it.
  condition = dep:
    let d = byName.${dep}; in
    if d.oneShot then "service_completed_successfully"
    else if d.healthPort != null then "service_healthy"
    else "service_started";

  # A TCP connect is the only probe every image can run (bash's /dev/tcp; no curl in images).
  healthcheck = port: {
    test = [ "CMD" "bash" "-c" "exec 3<>/dev/tcp/127.0.0.1/${toString port}" ];
    interval = "5s";
    timeout = "3s";
    retries = 120;
    start_period = "20s";
  };

  toService = s: nonNull {
    image = "userstream/${s.image}:${tags.${s.image}}";
    command = [ s.name ]; # the image's entrypoint dispatches on the service name
    network_mode = "host";
    restart = if s.oneShot then "no" else "unless-stopped";
    volumes = [ "userstream-state:/var/lib/userstream" ];
    depends_on = if s.dependsOn == [ ] then null
      else builtins.listToAttrs (map (d: { name = d; value = { condition = condition d; }; }) s.dependsOn);
    healthcheck = if s.healthPort == null then null else healthcheck s.healthPort;
    profiles = if s.profiles == [ ] then null else s.profiles;
    labels = {
      "dev.userstream.engine" = s.engine;
      "dev.userstream.ports" = joinPorts s.ports;
    };
  };
in
{
  name = project;
  services = builtins.mapAttrs (_: toService) byName;
  volumes.userstream-state = { };
}
