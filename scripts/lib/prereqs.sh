# Prerequisites of userstream, each checked by what it must do (not by a binary's presence),
# and the Debian packages that provide it. Sourced by scripts/bootstrap.sh; the pure functions
# (parsing, planning, messages) are tested by scripts/tests/prereqs_test.sh.
#
# Every system package the build, the stack and the tests use is named in PREREQ_PACKAGES.

# name -> Debian packages that provide it ("" = not installable with apt here: say what to do).
declare -gA PREREQ_PACKAGES=(
  [protoc]="protobuf-compiler libprotobuf-dev"  # spark-connect-rs compiles Spark's protos, which import google/protobuf/*.proto
  [cxx]="cmake g++ make"                        # rdkafka builds librdkafka from source with CMake
  [pkg-config]="pkg-config"                     # librdkafka's build looks up zlib/zstd with it
  [openssl]="libssl-dev"                        # librdkafka's SASL/SCRAM (Kafka logins) is built only with OpenSSL
  [maven]="maven"                               # `stack install` resolves the connector jars with Maven
  [java17]="openjdk-17-jdk-headless"            # Kafka, Cassandra 5.0 (11 or 17 only) and Spark 3.5
  [java21]=""                                   # Apicurio Registry 3.3 is compiled for Java 21
  [python]="python3 python3-venv"               # pyspark and Airflow venvs
  [iproute2]="iproute2"                         # `ss`: the test command checks the ports are free
  [cargo]=""                                    # Rust toolchain, from rustup
  [chromium]="chromium chromium-driver"         # tests only: the console in headless Chromium
  [nix]="nix-bin"                               # tests only: scripts/check-nix.sh parses and evaluates nix/
)

# name -> what to do when apt cannot provide it (or is not available).
declare -gA PREREQ_MANUAL=(
  [protoc]="install protoc with its well-known types (Debian: protobuf-compiler libprotobuf-dev)"
  [cxx]="install cmake, make and a C++ compiler"
  [pkg-config]="install pkg-config"
  [openssl]="install OpenSSL's development files (Debian: libssl-dev)"
  [maven]="install Apache Maven 3.8+"
  [java17]="install a Java 17 JDK (e.g. openjdk-17-jdk-headless) or set USERSTREAM_JAVA_HOME"
  [java21]="install a Java 21 or newer JDK under /usr/lib/jvm (e.g. Temurin 21 from adoptium.net) or set USERSTREAM_REGISTRY_JAVA_HOME"
  [python]="install Python 3.10-3.13 with the venv module (Debian: python3 python3-venv)"
  [iproute2]="install iproute2 (the \`ss\` command)"
  [cargo]="install Rust >= 1.89 with rustup (https://rustup.rs), then open a new shell"
  [chromium]="install Chromium and its WebDriver (Debian: chromium chromium-driver)"
  [nix]="install Nix's command-line tools (Debian: nix-bin)"
)

# name -> the commands the check runs. Their identity (resolved path, size, mtime) is part of
# the fingerprint that lets bootstrap skip checks that passed before (prereq_fingerprint_input).
declare -gA PREREQ_TOOLS=(
  [protoc]="protoc"
  [cxx]="cmake make g++"
  [pkg-config]="pkg-config"
  [openssl]="pkg-config cc"
  [maven]="mvn"
  [java17]="java"
  [java21]="java"
  [python]="python3"
  [iproute2]="ss"
  [cargo]="cargo"
  [chromium]="chromium chromedriver"
  [nix]="nix-instantiate"
)

# The environment the checks read (directly, or through the tools they run).
PREREQ_ENV=(PATH JAVA_HOME USERSTREAM_JAVA_HOME USERSTREAM_REGISTRY_JAVA_HOME USERSTREAM_PYTHON
  PKG_CONFIG_PATH RUSTUP_TOOLCHAIN PYENV_VERSION)

# This file: its content is part of the fingerprint, so a changed check runs again.
PREREQS_LIB="${BASH_SOURCE[0]}"

# The checks bootstrap runs for the build and the stack; the test command adds PREREQS_TESTS.
PREREQS_BASE=(cargo protoc cxx pkg-config openssl maven java17 java21 python iproute2)
PREREQS_TESTS=(chromium nix)

# --- pure functions -------------------------------------------------------------------------

# Major version from the first line of `java -version` output on stdin:
#   openjdk version "17.0.15" 2025-04-15 -> 17;  java version "1.8.0_402" -> 8;  "25" -> 25.
java_major_from_version_output() {
  local line version major rest
  line=$(grep -m1 -E 'version "' || true)
  [[ $line =~ version\ \"([^\"]+)\" ]] || return 1
  version=${BASH_REMATCH[1]}
  major=${version%%[.+_-]*}
  if [[ $major == 1 ]]; then
    rest=${version#1.}
    major=${rest%%[.+_-]*}
  fi
  [[ $major =~ ^[0-9]+$ ]] || return 1
  echo "$major"
}

# Major.minor of `cargo --version` / `rustc --version` on stdin: "cargo 1.95.0 (…)" -> "1 95".
rust_version_from_output() {
  local line
  line=$(head -n1)
  [[ $line =~ [a-z]+\ ([0-9]+)\.([0-9]+)\. ]] || return 1
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

# The Debian packages that provide the failed checks named in "$@", deduplicated, in order.
# Checks with no package are left out (see prereq_manual_steps).
packages_for() {
  local name pkg seen=" " out=()
  for name in "$@"; do
    for pkg in ${PREREQ_PACKAGES[$name]-}; do
      if [[ $seen != *" $pkg "* ]]; then
        seen+="$pkg "
        out+=("$pkg")
      fi
    done
  done
  echo "${out[*]}"
}

# The commands the checks named in "$@" run (PREREQ_TOOLS), deduplicated, in order.
prereq_tools() {
  local name tool seen=" " out=()
  for name in "$@"; do
    for tool in ${PREREQ_TOOLS[$name]-}; do
      if [[ $seen != *" $tool "* ]]; then
        seen+="$tool "
        out+=("$tool")
      fi
    done
  done
  echo "${out[*]}"
}

# The failed checks in "$@" that apt cannot fix: one per line.
manual_only() {
  local name
  for name in "$@"; do
    [[ -z ${PREREQ_PACKAGES[$name]-} ]] && echo "$name"
  done
  return 0
}

# What to tell a user who cannot (or may not) let the script install: the exact commands.
# $1: "apt" when apt-get exists, anything else otherwise; the rest: failed check names.
prereq_advice() {
  local have_apt=$1
  shift
  local name pkgs
  for name in "$@"; do
    echo "  - $name: ${PREREQ_MANUAL[$name]}"
  done
  pkgs=$(packages_for "$@")
  if [[ -n $pkgs && $have_apt == apt ]]; then
    echo "  Debian/Ubuntu, in one go: sudo apt-get update && sudo apt-get install -y $pkgs"
  fi
}

# --- fingerprint (I/O, cheap): what the checks' outcome depends on ----------------------------

# One line per file: "<path> <size> <mtime>", or "<path> absent".
file_identity() {
  local path
  for path in "$@"; do
    stat -L -c '%n %s %Y' -- "$path" 2>/dev/null || echo "$path absent"
  done
}

# What the outcome of the checks named in "$@" depends on, one fact a line: the checks asked
# for, this file's content, the environment they read, the identity of every tool they run,
# the JDK homes they would try, and the Debian package database (an install or removal of a
# library such as libssl-dev or libprotobuf-dev changes no tool). Runs no tool but
# `cargo --version` (rustup swaps toolchains behind one proxy binary); well under 0.1 s.
prereq_fingerprint_input() {
  local tool path var
  echo "checks: $*"
  echo "prereqs.sh: $(hash_stdin <"$PREREQS_LIB")"
  for var in "${PREREQ_ENV[@]}"; do
    echo "env $var=${!var-<unset>}"
  done
  for tool in $(prereq_tools "$@") ${USERSTREAM_PYTHON:+"$USERSTREAM_PYTHON"}; do
    if path=$(command -v "$tool"); then
      echo "tool $tool $(file_identity "$path")"
    else
      echo "tool $tool absent"
    fi
  done
  if [[ " $* " == *" cargo "* ]]; then
    echo "cargo: $(cargo --version 2>&1)"
  fi
  if [[ " $* " == *" java"* ]]; then
    { jdk_homes "${USERSTREAM_JAVA_HOME:-}"; jdk_homes "${USERSTREAM_REGISTRY_JAVA_HOME:-}"; } |
      sort -u | while read -r path; do file_identity "$path/bin/java" "$path/release"; done
  fi
  # pyenv's shims pick the interpreter from this file (or PYENV_VERSION, above).
  file_identity "${PYENV_ROOT:-$HOME/.pyenv}/version" /var/lib/dpkg/status
}

# SHA-256 of stdin in hex (a CRC where coreutils is missing).
hash_stdin() {
  if command -v sha256sum >/dev/null; then
    sha256sum | cut -d' ' -f1
  else
    cksum | tr ' ' -
  fi
}

# The fingerprint of the checks named in "$@": a hash of prereq_fingerprint_input.
prereq_fingerprint() {
  prereq_fingerprint_input "$@" | hash_stdin
}

# --- checks (I/O): each proves the capability by using it; prints why on failure ---------------

check_cargo() {
  local v
  command -v cargo >/dev/null || { echo "cargo not on PATH"; return 1; }
  v=$(cargo --version 2>/dev/null) && v=$(rust_version_from_output <<<"$v") || { echo "cargo --version failed"; return 1; }
  read -r major minor <<<"$v"
  if ((major < 1 || (major == 1 && minor < 89))); then
    echo "Rust $major.$minor is too old (Cargo.lock needs 1.89)"
    return 1
  fi
}

check_protoc() {
  local dir out
  command -v protoc >/dev/null || { echo "protoc not on PATH"; return 1; }
  dir=$(mktemp -d)
  printf 'syntax = "proto3";\nimport "google/protobuf/any.proto";\nmessage Probe { google.protobuf.Any a = 1; }\n' >"$dir/probe.proto"
  if ! out=$(protoc -I"$dir" --descriptor_set_out="$dir/out.pb" "$dir/probe.proto" 2>&1); then
    rm -rf "$dir"
    echo "protoc cannot compile a file importing google/protobuf/any.proto: ${out%%$'\n'*}"
    return 1
  fi
  rm -rf "$dir"
}

check_cxx() {
  local dir
  command -v cmake >/dev/null && cmake --version >/dev/null 2>&1 || { echo "cmake does not run"; return 1; }
  command -v make >/dev/null || { echo "make not on PATH"; return 1; }
  dir=$(mktemp -d)
  if ! printf '#include <string>\nint main() { std::string s("ok"); return s.size() == 2 ? 0 : 1; }\n' |
    g++ -x c++ - -o "$dir/probe" 2>/dev/null || ! "$dir/probe"; then
    rm -rf "$dir"
    echo "g++ cannot compile and run a C++ program"
    return 1
  fi
  rm -rf "$dir"
}

check_pkg-config() {
  pkg-config --version >/dev/null 2>&1 || { echo "pkg-config does not run"; return 1; }
}

check_openssl() {
  local dir flags
  flags=$(pkg-config --cflags --libs openssl 2>/dev/null) || { echo "pkg-config does not know openssl (libssl-dev missing?)"; return 1; }
  dir=$(mktemp -d)
  # shellcheck disable=SC2086 # the flags are words
  if ! printf '#include <openssl/evp.h>\nint main(void) { return EVP_sha512() ? 0 : 1; }\n' |
    cc -x c - -o "$dir/probe" $flags 2>/dev/null || ! "$dir/probe"; then
    rm -rf "$dir"
    echo "cannot compile and run a program against OpenSSL (SHA-512, which SCRAM needs)"
    return 1
  fi
  rm -rf "$dir"
}

check_maven() {
  mvn -v >/dev/null 2>&1 || { echo "mvn -v failed (is Maven installed?)"; return 1; }
}

# JDK homes to consider: explicit setting, JAVA_HOME, the java on PATH, /usr/lib/jvm/*.
jdk_homes() {
  local explicit=$1 java
  [[ -n $explicit ]] && echo "$explicit"
  [[ -n ${JAVA_HOME:-} ]] && echo "$JAVA_HOME"
  if java=$(command -v java 2>/dev/null); then
    java=$(readlink -f "$java")
    dirname "$(dirname "$java")"
  fi
  local home
  for home in /usr/lib/jvm/*; do
    [[ -d $home && ! -L $home ]] && echo "$home"
  done
  return 0
}

# Prints "<major> <home>" for every JDK home whose bin/java runs.
runnable_jdks() {
  local home major output
  while read -r home; do
    [[ -x $home/bin/java ]] || continue
    output=$("$home/bin/java" -version 2>&1) || continue
    major=$(java_major_from_version_output <<<"$output") || continue
    echo "$major $home"
  done < <(jdk_homes "$1")
}

# (The lists are captured before matching: `grep -q` closing a pipe early fails it under pipefail.)
check_java17() {
  local jdks
  jdks=$(runnable_jdks "${USERSTREAM_JAVA_HOME:-}")
  if ! grep -qE '^17 ' <<<"$jdks"; then
    echo "no Java 17 runs (checked USERSTREAM_JAVA_HOME, JAVA_HOME, PATH, /usr/lib/jvm)"
    return 1
  fi
}

check_java21() {
  local jdks
  jdks=$(runnable_jdks "${USERSTREAM_REGISTRY_JAVA_HOME:-}")
  if ! awk '$1 >= 21 { found = 1 } END { exit !found }' <<<"$jdks"; then
    echo "no Java 21 or newer runs (checked USERSTREAM_REGISTRY_JAVA_HOME, JAVA_HOME, PATH, /usr/lib/jvm)"
    return 1
  fi
}

check_python() {
  local py=${USERSTREAM_PYTHON:-python3}
  command -v "$py" >/dev/null || { echo "$py not on PATH"; return 1; }
  if ! "$py" -c 'import sys, venv, ensurepip; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 3)' 2>/dev/null; then
    echo "$py is not Python 3.10-3.13 with the venv and ensurepip modules ($("$py" --version 2>&1))"
    return 1
  fi
}

check_iproute2() {
  ss -ltn >/dev/null 2>&1 || { echo "ss -ltn does not run"; return 1; }
}

check_nix() {
  NIX_CONFIG="build-users-group =" nix-instantiate --eval -E '1 + 1' >/dev/null 2>&1 ||
    { echo "nix-instantiate cannot evaluate an expression"; return 1; }
}

check_chromium() {
  chromium --version >/dev/null 2>&1 || { echo "chromium does not run"; return 1; }
  chromedriver --version >/dev/null 2>&1 || { echo "chromedriver does not run"; return 1; }
}
