# Each image closes over its own engine's runtime only. Evaluates flake.nix's outputs against
# nix/tests/stub-pkgs.nix and follows, from each image, every store path it names: the
# image's contents and config (entrypoint, environment), then transitively every derivation's
# attributes (scripts, sources, inputs; build tools in nativeBuildInputs left out, since they
# are not in an output's closure). Stand-in store paths carry the derivation's name, so a
# reference is found by name in the text. Result: "ok <name>" / "FAIL <name>: <why>" lines.
#
# What this proves: the wiring names no other engine's pieces. What it cannot: a real build's
# closure is what the outputs' bytes refer to, which only a real `nix build` can show.
{ root ? ../.. }:
let
  inherit (import ./lib.nix) check;
  inherit (builtins) attrNames attrValues concatLists concatMap elem filter isAttrs isList
    isString listToAttrs map split toJSON;
  system = "x86_64-linux";
  stub = import ./stub-pkgs.nix;
  out = (import (root + "/flake.nix")).outputs {
    self = { };
    nixpkgs = { legacyPackages.${system} = stub; inherit (stub) lib; };
  };
  runtimes = out.legacyPackages.${system}.runtimes;
  # The images as the flake builds them, but with each entrypoint script inlined as its text
  # (a stand-in script would be named by path only, and not followed).
  images = import ../images.nix {
    pkgs = stub // { writeShellScript = _: text: text; };
    stack = import ../stack.nix { versions = import ../versions.nix; };
    packages = runtimes;
  };

  isDrv = v: isAttrs v && (v.type or null) == "derivation";
  # Names of the stand-in store paths in a string.
  namesIn = s: map builtins.head (filter isList
    (split "/nix/store/0{32}-([A-Za-z0-9._+-]+)" s));
  # Store-path names a value refers to, without entering derivations (those are followed by
  # name, below).
  refsOf = v:
    if isDrv v then [ v.name ]
    else if isString v then namesIn v
    else if isList v then concatMap refsOf v
    else if isAttrs v then concatMap (k: refsOf v.${k}) (attrNames v)
    else [ ];
  # What a derivation refers to: its own attributes, less its name and build tools.
  drvRefs = d: refsOf (removeAttrs d [ "name" "outPath" "type" "nativeBuildInputs" "overrideAttrs" ]);

  # Every derivation packages.nix exports, by name (the engines' pieces among them).
  drvs = filter isDrv (attrValues runtimes
    ++ concatMap (r: [ r.runtime r.jdk ]) (attrValues runtimes.imageRuntimes));
  byName = listToAttrs (map (d: { name = d.name; value = d; }) drvs);

  closure = image: map (i: i.key) (builtins.genericClosure {
    startSet = map (n: { key = n; }) (drvRefs image);
    operator = i: if byName ? ${i.key} then map (n: { key = n; }) (drvRefs byName.${i.key}) else [ ];
  });

  # The pieces each engine owns. JDK 17 is shared by three engines, so it is checked per
  # image instead.
  owned = builtins.mapAttrs (_: map (d: d.name)) {
    kafka = [ runtimes.kafka ];
    cassandra = [ runtimes.cassandra runtimes.cassandraAuth ];
    registry = [ runtimes.registry runtimes.registryAgent ];
    spark = [ runtimes.spark runtimes.sparkConnectorsResolved runtimes.sparkConnectors runtimes.sparkConnectAuth ];
    airflow = [ runtimes.airflow runtimes.airflowWheels ];
  };
  jdk = { "17" = runtimes.jdk17.name; "21" = runtimes.jdk21.name; };
  # Each image: the engines it runs and the JDKs it carries: the one its engine runs on
  # (crates/stack/src/engines/<engine>/mod.rs Engine::java()), none for Airflow and the
  # userstream image.
  expected = {
    kafka = { engines = [ "kafka" ]; jdks = [ "17" ]; };
    registry = { engines = [ "registry" ]; jdks = [ "21" ]; };
    cassandra = { engines = [ "cassandra" ]; jdks = [ "17" ]; };
    spark = { engines = [ "spark" ]; jdks = [ "17" ]; };
    airflow = { engines = [ "airflow" ]; jdks = [ ]; };
    userstream = { engines = [ ]; jdks = [ ]; };
  };

  checkImage = name:
    let
      c = closure images.${name};
      want = expected.${name};
      foreign = filter (n: elem n c) (concatLists (attrValues (removeAttrs owned want.engines)));
      missing = filter (n: !(elem n c)) (concatMap (e: owned.${e}) want.engines);
      jdksIn = filter (m: elem jdk.${m} c) (attrNames jdk);
      # Anything named like a Java (a JDK, a stand-in home) must be one of the image's JDKs.
      javaish = filter (n: builtins.match ".*(java|jdk).*" n != null) c;
      # Runtime directories: the image's own engine's only (none for the userstream image).
      runtimeDirs = filter (n: builtins.match "userstream-runtime-.*" n != null) c;
      wantRuntimes = map (e: runtimes.imageRuntimes.${e}.runtime.name) want.engines;
    in
    check "image ${name} closes over ${if want.engines == [ ] then "no engine" else builtins.concatStringsSep ", " want.engines}${if want.jdks == [ ] then " and no JDK" else " and JDK ${builtins.concatStringsSep ", " want.jdks}"} only"
      (foreign == [ ] && missing == [ ] && jdksIn == want.jdks && javaish == map (m: jdk.${m}) want.jdks
        && runtimeDirs == wantRuntimes && elem runtimes.userstream.name c)
      "other engines' pieces: ${toJSON foreign}; own pieces missing: ${toJSON missing}; JDKs: ${toJSON jdksIn}; named like a Java: ${toJSON javaish}; runtime directories: ${toJSON runtimeDirs}";
in
[
  (check "every image of the flake is checked"
    (attrNames out.legacyPackages.${system}.images == attrNames expected) (toJSON (attrNames images)))
]
++ map checkImage (attrNames expected)
