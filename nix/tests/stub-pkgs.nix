# A stand-in for nixpkgs, just big enough to evaluate flake.nix's outputs without nixpkgs (this
# machine has no GitHub and no cache). Builders return plain attrsets that keep their inputs,
# so nix/tests/wiring.nix can inspect what would be built: generated scripts, flags, images.
# It proves the wiring and the generated text, not that nixpkgs' real builders accept them.
let
  inherit (builtins) attrNames concatStringsSep isList map match replaceStrings;
  drv = name: attrs: attrs // {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    overrideAttrs = f: drv name (attrs // (if builtins.isFunction (f attrs) then f attrs attrs else f attrs));
  };
  pkg = name: drv name { };
  mkDerivation = a: drv (a.name or "${a.pname}-${a.version}") a;

  lib = rec {
    concatStrings = concatStringsSep "";
    concatMapStrings = f: l: concatStrings (map f l);
    concatMapStringsSep = sep: f: l: concatStringsSep sep (map f l);
    concatMap = f: l: builtins.concatLists (map f l);
    mapAttrsToList = f: a: map (k: f k a.${k}) (attrNames a);
    optionalString = c: s: if c then s else "";
    optional = c: x: if c then [ x ] else [ ];
    optionalAttrs = c: a: if c then a else { };
    foldl' = builtins.foldl';
    removePrefix = p: s:
      let n = builtins.stringLength p; in
      if builtins.substring 0 n s == p then builtins.substring n (builtins.stringLength s - n) s else s;
    # nixpkgs' definitions.
    escapeShellArg = arg:
      let s = toString arg; in
      if match "[[:alnum:],._+:@%/-]+" s == null then "'${replaceStrings [ "'" ] [ "'\\''" ] s}'" else s;
    escapeShellArgs = l: concatStringsSep " " (map escapeShellArg l);
    versionAtLeast = a: b: builtins.compareVersions a b >= 0;
    assertMsg = c: msg: c || throw msg;
    licenses.asl20 = "asl20";
    # Strings, not paths: interpolating a path would copy it into the store.
    cleanSource = p: "/nix/store/00000000000000000000000000000000-source";
    fileset = {
      unions = l: l;
      maybeMissing = p: p;
      toSource = { root, fileset }: "/nix/store/00000000000000000000000000000000-source";
    };
  };
  jdk = v: drv "openjdk-${v}" { home = "/nix/store/00000000000000000000000000000000-openjdk-${v}/lib/openjdk"; };
in
{
  inherit lib;
  stdenv = { inherit mkDerivation; cc.cc.lib = pkg "gcc-lib"; };
  stdenvNoCC = { inherit mkDerivation; };
  runCommand = name: env: script: drv name (env // { inherit script; });
  writeText = name: text: drv name { inherit text; };
  writeTextDir = path: text: drv (baseNameOf path) { inherit path text; };
  writeShellScript = name: text: drv name { inherit text; };
  fetchurl = a: drv (a.name or (baseNameOf a.url)) a;
  linkFarm = name: entries: drv name { inherit entries; };
  mkShell = a: drv "shell" a;
  emptyDirectory = pkg "empty";
  rustPlatform.buildRustPackage = mkDerivation;
  rustc = drv "rustc" { version = "1.91.1"; }; # [guess] nixos-25.11's rustc; the assert in packages.nix is what matters
  python311 = drv "python3" { interpreter = "/nix/store/00000000000000000000000000000000-python3/bin/python3.11"; };
  jdk17_headless = jdk "17";
  jdk21_headless = jdk "21";
  # Like nixpkgs, the image's name and tag are passed through as imageName/imageTag.
  dockerTools.streamLayeredImage = a: drv "stream-${baseNameOf a.name}" (a // { imageName = a.name; imageTag = a.tag; });
  dockerTools.fakeNss = pkg "fake-nss";
  testers.runNixOSTest = a: drv "vm-test-${a.name}" a;
} // builtins.listToAttrs (map (n: { name = n; value = pkg n; }) [
  "autoPatchelfHook" "bash" "bashInteractive" "cacert" "cargo" "clippy" "cmake" "coreutils"
  "docker-compose" "findutils" "gawk" "gnugrep" "gnused" "maven" "pkg-config"
  "openssl" "procps" "protobuf" "rdkafka" "ruff" "rust-analyzer" "rustfmt" "zlib"
])
