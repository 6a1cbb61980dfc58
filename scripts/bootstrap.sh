#!/usr/bin/env bash
# Prepares a fresh machine for userstream and builds the `userstream` binary:
#   1. checks every prerequisite by what it must do (scripts/lib/prereqs.sh names them all and
#      the Debian packages behind them): protoc compiles a file importing any.proto, g++
#      compiles and runs a program, each JDK runs and reports its version, ...;
#   2. installs what fails with apt-get when it can (root + apt), then checks again;
#      otherwise prints exactly what to install and stops;
#   3. `cargo build --release` (about 10 minutes on 2 cores the first time).
# Options: --with-test-tools  also the test command's tools (headless Chromium + chromedriver, Nix)
#          --check            check and report only; install and build nothing
# Idempotent and quick when nothing changed. Progress goes to stderr.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/prereqs.sh
source "$repo/scripts/lib/prereqs.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/userstream/target}"

checks=("${PREREQS_BASE[@]}")
check_only=false
for arg in "$@"; do
  case $arg in
    --with-test-tools) checks+=("${PREREQS_TESTS[@]}") ;;
    --check) check_only=true ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bootstrap: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

# Runs the named checks; sets `failed` to those that fail, printing why.
run_checks() {
  failed=()
  local name why
  for name in "$@"; do
    if why=$("check_$name" 2>&1); then
      echo "bootstrap: ok      $name" >&2
    else
      echo "bootstrap: MISSING $name: $why" >&2
      failed+=("$name")
    fi
  done
}

run_checks "${checks[@]}"
if ((${#failed[@]})); then
  have_apt=no
  command -v apt-get >/dev/null && have_apt=apt
  packages=$(packages_for "${failed[@]}")
  manual=$(manual_only "${failed[@]}")
  if [[ $check_only == true || -n $manual || -z $packages || $have_apt != apt || $(id -u) -ne 0 ]]; then
    echo "bootstrap: cannot go on; install what is missing, then run this again:" >&2
    prereq_advice "$have_apt" "${failed[@]}" >&2
    exit 1
  fi
  echo "bootstrap: installing $packages (apt-get)" >&2
  apt-get update -qq >&2
  # shellcheck disable=SC2086 # the package list is words
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >&2
  run_checks "${failed[@]}"
  if ((${#failed[@]})); then
    echo "bootstrap: still missing after installing $packages:" >&2
    prereq_advice "$have_apt" "${failed[@]}" >&2
    exit 1
  fi
fi
[[ $check_only == true ]] && exit 0

if [[ ! -x "$CARGO_TARGET_DIR/release/userstream" ]]; then
  echo "bootstrap: building userstream (release; ~10 min on 2 cores the first time)" >&2
fi
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -p userstream >&2
