# `nix flake check`: formatting, lints and unit tests of the workspace, then the whole pipeline
# in a NixOS VM (nix/tests/vm.nix; needs KVM).
{ pkgs, packages, images, composeFile }:
let
  inherit (packages) userstream src;
  # Same sources, vendored dependencies and native inputs as the package; only the cargo
  # command differs.
  cargoCheck = name: attrs: userstream.overrideAttrs (old: {
    pname = "userstream-${name}";
    doCheck = false;
    installPhase = "touch $out";
  } // attrs old);
in
{
  fmt = pkgs.runCommand "userstream-fmt" { nativeBuildInputs = [ pkgs.cargo pkgs.rustfmt ]; } ''
    cp -r ${src} src && chmod -R u+w src && cd src
    export HOME=$TMPDIR
    cargo fmt --all --check
    touch $out
  '';

  # As scripts/test.sh: every target, warnings are errors.
  clippy = cargoCheck "clippy" (old: {
    nativeBuildInputs = old.nativeBuildInputs ++ [ pkgs.clippy ];
    buildPhase = "cargo clippy --release --offline --locked --workspace --all-targets -- -D warnings";
  });

  # Unit tests only (--lib --bins): the integration tests under tests/ and crates/*/tests
  # need the running stack, which the VM test provides.
  unit-tests = cargoCheck "unit-tests" (old: {
    buildPhase = "cargo test --release --offline --locked --workspace --lib --bins";
  });

  pipeline = import ./tests/vm.nix { inherit pkgs images composeFile; };
}
