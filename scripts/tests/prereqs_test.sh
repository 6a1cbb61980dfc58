#!/usr/bin/env bash
# Unit tests of the pure parts of scripts/lib/prereqs.sh (version parsing, which packages to
# install, what to tell a user who cannot install), of the fingerprint that lets bootstrap skip
# checks that passed (on a fake tool), then bootstrap's real check on this machine.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/prereqs.sh
source "$repo/scripts/lib/prereqs.sh"

passed=0
failed=0
expect() { # expect NAME ACTUAL EXPECTED
  if [[ $2 == "$3" ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n  expected: %q\n  actual:   %q\n' "$1" "$3" "$2"
  fi
}

expect "openjdk 17" "$(java_major_from_version_output <<<'openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)')" 17
expect "temurin 25" "$(java_major_from_version_output <<<'openjdk version "25" 2025-09-16 LTS')" 25
expect "java 8" "$(java_major_from_version_output <<<'java version "1.8.0_402"')" 8
expect "java 21 with build" "$(java_major_from_version_output <<<'openjdk version "21.0.4+7-LTS" 2024-07-16')" 21
expect "not java" "$(java_major_from_version_output <<<'bash: java: command not found' || echo none)" none

expect "cargo version" "$(rust_version_from_output <<<'cargo 1.95.0 (f2d3ce0bd 2026-03-21)')" "1 95"
expect "rustc version" "$(rust_version_from_output <<<'rustc 1.88.0 (6b00bc388 2025-06-23)')" "1 88"
expect "garbage version" "$(rust_version_from_output <<<'hello' || echo none)" none

# protoc without its well-known types is the trap a fresh machine hit: both packages, once.
expect "protoc packages" "$(packages_for protoc)" "protobuf-compiler libprotobuf-dev"
expect "deduplicated, in order" "$(packages_for protoc cxx protoc python)" \
  "protobuf-compiler libprotobuf-dev cmake g++ make python3 python3-venv"
expect "no package for java21" "$(packages_for java21 cargo)" ""
expect "manual only" "$(manual_only protoc java21 maven cargo | tr '\n' ' ')" "java21 cargo "
expect "nothing manual" "$(manual_only protoc maven)" ""

advice=$(prereq_advice apt protoc java21)
expect "advice names the protoc packages" "$(grep -c 'protobuf-compiler libprotobuf-dev' <<<"$advice")" 2
expect "advice has one apt line" "$(grep -c 'sudo apt-get install -y protobuf-compiler libprotobuf-dev$' <<<"$advice")" 1
expect "advice says where a JDK 21 comes from" "$(grep -c 'Java 21 or newer JDK' <<<"$advice")" 1
expect "no apt line without apt" "$(prereq_advice none maven | grep -c apt-get)" 0

# Every check a run uses has packages (maybe none), advice, and the tools it runs.
for name in "${PREREQS_BASE[@]}" "${PREREQS_TESTS[@]}"; do
  expect "advice for $name" "$([[ -n ${PREREQ_MANUAL[$name]-} ]] && echo yes)" yes
  expect "check for $name" "$(declare -F "check_$name" >/dev/null && echo yes)" yes
  expect "tools of $name" "$([[ -n ${PREREQ_TOOLS[$name]-} ]] && echo yes)" yes
done

expect "tools deduplicated, in order" "$(prereq_tools cxx pkg-config openssl java17 java21)" \
  "cmake make g++ pkg-config cc java"
expect "no tools for no checks" "$(prereq_tools)" ""

# The fingerprint follows the tools a check runs: a tool replaced (new mtime) or gone means
# checking again; the same state gives the same fingerprint.
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
printf '#!/bin/sh\nexit 0\n' >"$fake/userstream-probe-tool"
chmod +x "$fake/userstream-probe-tool"
touch -d @1000000000 "$fake/userstream-probe-tool"
PREREQ_TOOLS[probe]="userstream-probe-tool"
PREREQ_TOOLS[gone]="userstream-no-such-tool"
input=$(PATH="$fake:$PATH" prereq_fingerprint_input probe)
expect "input names the checks" "$(head -n1 <<<"$input")" "checks: probe"
expect "input has this library's hash" "$(grep -cE '^prereqs.sh: [0-9a-f-]+$' <<<"$input")" 1
expect "input has the tool's identity" \
  "$(grep -cE "^tool userstream-probe-tool $fake/userstream-probe-tool [0-9]+ 1000000000$" <<<"$input")" 1
expect "input has the environment read" "$(grep -c '^env JAVA_HOME=' <<<"$input")" 1
expect "input says a tool is absent" \
  "$(prereq_fingerprint_input gone | grep -c '^tool userstream-no-such-tool absent$')" 1
first=$(PATH="$fake:$PATH" prereq_fingerprint probe)
expect "same state, same fingerprint" "$(PATH="$fake:$PATH" prereq_fingerprint probe)" "$first"
touch -d @1000000001 "$fake/userstream-probe-tool"
expect "a replaced tool changes it" "$([[ $(PATH="$fake:$PATH" prereq_fingerprint probe) != "$first" ]] && echo yes)" yes
expect "the checks asked change it" "$([[ $(prereq_fingerprint probe gone) != "$(prereq_fingerprint probe)" ]] && echo yes)" yes
unset 'PREREQ_TOOLS[probe]' 'PREREQ_TOOLS[gone]'

# The real thing: every prerequisite of the build, the stack and the tests holds here.
if "$repo/scripts/bootstrap.sh" --check --with-test-tools; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL bootstrap --check --with-test-tools on this machine"
fi

echo "prereqs: $passed passed, $failed failed"
((failed == 0))
