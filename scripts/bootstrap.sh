#!/usr/bin/env bash
# Builds the `userstream` binary on a fresh machine: system packages the Rust build needs
# (protoc for spark-connect-rs, cmake/g++ for librdkafka), then `cargo build --release`.
# Idempotent and quick when nothing changed. Prints nothing but progress on stderr.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/userstream/target}"

missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "bootstrap: missing ${missing[*]}; install them (Debian: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]} (apt-get)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if ! command -v cargo >/dev/null; then
  echo "bootstrap: cargo not found; install Rust >= 1.88 (https://rustup.rs) and run again" >&2
  exit 1
fi
if [[ ! -x "$CARGO_TARGET_DIR/release/userstream" ]]; then
  echo "bootstrap: building userstream (release; ~10 min on 2 cores the first time)" >&2
fi
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -p userstream >&2
