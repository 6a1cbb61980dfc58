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
# Quiet when all is well: the checks are skipped while their fingerprint (the tools, the JDKs,
# the package database, scripts/lib/prereqs.sh) is one that passed before, and cargo's output
# shows only when it builds something or fails. Anything it prints goes to stderr.
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
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bootstrap: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

# Runs the named checks; sets `failed` to those that fail and `report` to one line per check.
run_checks() {
  failed=()
  report=()
  local name why
  for name in "$@"; do
    if why=$("check_$name" 2>&1); then
      report+=("bootstrap: ok      $name")
    else
      report+=("bootstrap: MISSING $name: $why")
      failed+=("$name")
    fi
  done
}

print_report() {
  printf '%s\n' "${report[@]}" >&2
}

# Checks that passed are remembered by fingerprint (the newest few, so that runs with and
# without --with-test-tools do not evict each other), in a file only this user can read.
fingerprints="$HOME/.cache/userstream/bootstrap/prereqs-passed"

passed_before() {
  [[ -f $fingerprints ]] && grep -qxF "$1" "$fingerprints"
}

remember_passed() {
  local dir tmp
  dir=$(dirname "$fingerprints")
  mkdir -p "$dir" || return
  chmod 700 "$dir" || return
  tmp=$(mktemp "$dir/.prereqs-passed.XXXXXX") || return # mode 0600
  { echo "$1"; grep -vxF "$1" "$fingerprints" 2>/dev/null | head -n 7; } >"$tmp"
  mv -f "$tmp" "$fingerprints" || { rm -f "$tmp"; return 1; }
}

# Passes cargo's output through (after the header "$1") only once it says more than
# "Finished": a no-op build stays silent; a rebuild (minutes), a wait for the build directory's
# lock or a failure shows everything, as it happens.
unless_only_finished() {
  local header=$1 line shown=false
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $shown == false ]]; then
      [[ $line == *Finished* ]] && continue
      shown=true
      if [[ -n $header ]]; then echo "$header"; fi
    fi
    printf '%s\n' "$line"
  done
}

fingerprint=$(prereq_fingerprint "${checks[@]}")
if [[ $check_only == true ]] || ! passed_before "$fingerprint"; then
  run_checks "${checks[@]}"
  if [[ $check_only == true ]] || ((${#failed[@]})); then
    print_report
  fi
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
      print_report
      echo "bootstrap: still missing after installing $packages:" >&2
      prereq_advice "$have_apt" "${failed[@]}" >&2
      exit 1
    fi
    fingerprint=$(prereq_fingerprint "${checks[@]}")
  fi
  remember_passed "$fingerprint" || true # a read-only cache only costs the next run the checks
fi
[[ $check_only == true ]] && exit 0

if [[ -x "$CARGO_TARGET_DIR/release/userstream" ]]; then
  header="bootstrap: building userstream (release)"
else
  echo "bootstrap: building userstream (release; ~10 min on 2 cores the first time)" >&2
  header=""
fi
color=never
[[ -t 2 ]] && color=always
cargo build --release --locked --color "$color" --manifest-path "$repo/Cargo.toml" -p userstream 2>&1 |
  unless_only_finished "$header" >&2
