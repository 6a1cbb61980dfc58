# Wiring only: every concern lives in nix/ (see nix/README.md for what each output does).
# One input: rustPlatform.buildRustPackage with cargoLock needs no crane.
{
  description = "userstream: randomuser API -> Kafka/Avro -> Spark Connect -> Cassandra, with Airflow";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      # x86_64 only: the Airflow wheels are fetched for manylinux x86_64 (nix/packages.nix).
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
      versions = import ./nix/versions.nix;
      stack = import ./nix/stack.nix { inherit versions; };
      hashes = import ./nix/hashes.nix;
      packages = import ./nix/packages.nix { inherit pkgs versions hashes; };
      images = import ./nix/images.nix { inherit pkgs stack packages; };
      composeFile = pkgs.writeText "docker-compose.yml"
        (builtins.toJSON (import ./nix/compose.nix { inherit (stack) services tags; }));
    in
    {
      packages.${system} = {
        default = packages.userstream;
        inherit (packages) userstream;
        compose = composeFile;
      };
      # Nested sets live in legacyPackages, so `nix build .#images.kafka` resolves.
      legacyPackages.${system} = { inherit images; runtimes = packages; };
      devShells.${system} = import ./nix/shell.nix { inherit pkgs versions packages; };
      checks.${system} = import ./nix/checks.nix {
        inherit pkgs packages images composeFile;
      };
    };
}
