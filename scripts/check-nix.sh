#!/usr/bin/env bash
# What can be checked of the Nix side without nixpkgs, a Nix daemon or the network:
#   1. every .nix file parses (nix-instantiate --parse; this also rejects undefined variables);
#   2. the versions in nix/versions.nix equal the local stack's pins, read here with sed
#      (independently of nix/pins.nix, which the Nix tests use);
#   3. nix/tests/eval.nix: pure parts evaluated (versions, service table, compose generator,
#      flake.lock), and the table's JVM options/config keys/ports compared with the Rust stack;
#   4. nix/tests/wiring.nix: flake.nix's outputs evaluated against a stub nixpkgs;
#      nix/tests/closure.nix: each image refers to its own engine's runtime and JDK only;
#   5. every generated image entrypoint passes `bash -n`, and its command for each service is
#      one the binary has (`--help` parses; an engine's name renders with `stack render`);
#   6. no placeholder hash, and every fixed-output hash recomputed from the real files: the
#      jar sets (resolved as the Nix build resolves them: the Maven release nix/versions.nix
#      pins, downloaded from Maven Central and checked against its sha512, on JDK 17, into a
#      local repository of its own; hashed as Nix hashes a directory), pyspark's sdist (its
#      lock hash), Apicurio's tarball (Maven Central's sha256), each Airflow wheel.
#      Downloads are cached under ~/.cache/userstream, so a second run is quick.
# Nothing is built. Installs Debian's nix-bin (Nix 2.8) when nix-instantiate is missing.
# Exits non-zero on any failure; the last line is "nix checks: N passed, M failed".
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if ! command -v nix-instantiate >/dev/null; then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "check-nix: nix-instantiate is missing; install Nix (Debian: apt-get install nix-bin)" >&2
    exit 1
  fi
  echo "check-nix: installing nix-bin (apt-get)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nix-bin >&2
fi

# Evaluation only: no builds, so no build users. Without this, Nix warns on every call that
# the group 'nixbld' does not exist (Debian's nix-bin does not create it), and the warning
# lands in the values read below.
export NIX_CONFIG="build-users-group ="

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Read-only: evaluation never writes to /nix/store, so no daemon or store permissions needed.
nix_eval() { nix-instantiate --readonly-mode --eval --strict --json -E "$1"; }
# A JSON string (as printed by nix_eval) to raw text. perl-base is on every Debian system.
json_string() {
  perl -0777 -pe 's/^\s*"//; s/"\s*$//;
    s/\\(["\\\/bfnrt]|u([0-9a-fA-F]{4}))/defined $2 ? chr(hex $2) : {q(")=>q("),q(\\)=>q(\\),q(\/)=>q(\/),b=>"\b",f=>"\f",n=>"\n",r=>"\r",t=>"\t"}->{$1}/ge'
}
# A JSON list of "ok ..."/"FAIL ..." strings (as printed by nix_eval), one result a line.
# Escaped newlines in a message become " | ", and long messages are cut, to keep one line each.
json_list_lines() {
  perl -0777 -ne 'while (/"((?:[^"\\]|\\.)*)"/g) {
      my $s = $1;
      $s =~ s/\\(["\\\/bfnrt]|u([0-9a-fA-F]{4}))/defined $2 ? chr(hex $2) : {q(")=>q("),q(\\)=>q(\\),q(\/)=>q(\/),b=>"",f=>"",n=>" | ",r=>"",t=>" "}->{$1}/ge;
      $s = substr($s, 0, 700) . " ..." if length($s) > 700;
      print "$s\n";
    }'
}
count_results() {
  local line
  while IFS= read -r line; do
    case "$line" in
      "ok "*) ok "${line#ok }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      *) fail "unexpected test output: $line" ;;
    esac
  done < <(json_list_lines <<<"$1")
}

echo "== parse (nix-instantiate --parse)"
while IFS= read -r file; do
  if err=$(nix-instantiate --parse "$file" 2>&1 >/dev/null); then
    ok "parses: $file"
  else
    fail "parses: $file: $err"
  fi
done < <(find flake.nix nix -name '*.nix' | sort)

echo "== versions: nix/versions.nix against the local stack's pin files (sed)"
pin() { sed -n "$1" "$2" | head -n1; }
declare -A local_pins=(
  [kafka]="$(pin 's/.*<kafka.version>\([^<]*\)<.*/\1/p' stack/maven/kafka/pom.xml)"
  [log4j]="$(pin 's/.*<log4j.version>\([^<]*\)<.*/\1/p' stack/maven/kafka/pom.xml)"
  [kafkaScala]="$(pin 's/.*<artifactId>kafka_\([0-9.]*\)<.*/\1/p' stack/maven/kafka/pom.xml)"
  [cassandra]="$(pin 's/.*<cassandra.version>\([^<]*\)<.*/\1/p' stack/maven/cassandra/pom.xml)"
  [spark]="$(pin 's/^pyspark==\([^ ]*\).*/\1/p' stack/python/pyspark.lock)"
  [sparkScala]="$(pin 's/.*<artifactId>spark-connect_\([0-9.]*\)<.*/\1/p' stack/maven/spark/pom.xml)"
  [py4j]="$(pin 's/^py4j==\([^ ]*\).*/\1/p' stack/python/pyspark.lock)"
  [sparkCassandraConnector]="$(pin 's/.*spark-cassandra-connector_[0-9.]*<\/artifactId><version>\([^<]*\)<.*/\1/p' stack/maven/spark/pom.xml)"
  [apicurio]="$(pin 's/.*<apicurio.version>\([^<]*\)<.*/\1/p' stack/maven/registry/pom.xml)"
  [airflow]="$(pin 's/^apache-airflow==\([^ ]*\).*/\1/p' stack/python/airflow.lock)"
  [rustMsrv]="$(pin 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
)
spark_pom="$(pin 's/.*<spark.version>\([^<]*\)<.*/\1/p' stack/maven/spark/pom.xml)"
if [[ "$spark_pom" == "${local_pins[spark]}" ]]; then
  ok "local stack: spark pom ($spark_pom) and pyspark.lock agree"
else
  fail "local stack: spark pom ($spark_pom) and pyspark.lock (${local_pins[spark]}) disagree"
fi
for key in $(printf '%s\n' "${!local_pins[@]}" | sort); do
  want="${local_pins[$key]}"
  got="$(nix_eval "(import ./nix/versions.nix).$key" 2>&1 | tr -d '"')" || got="(error: $got)"
  if [[ -n "$want" && "$want" == "$got" ]]; then
    ok "version $key = $got"
  else
    fail "version $key: nix/versions.nix has '$got', the local stack pins '$want'"
  fi
done

echo "== pure evaluation (nix/tests/eval.nix)"
if out=$(nix_eval 'import ./nix/tests/eval.nix {}' 2>&1); then
  count_results "$out"
else
  fail "nix/tests/eval.nix does not evaluate: $out"
fi

echo "== flake wiring against a stub nixpkgs (nix/tests/wiring.nix)"
if out=$(nix_eval 'import ./nix/tests/wiring.nix {}' 2>&1); then
  count_results "$out"
else
  fail "nix/tests/wiring.nix does not evaluate: $out"
fi

echo "== each image refers to its own engine's runtime only (nix/tests/closure.nix)"
if out=$(nix_eval 'import ./nix/tests/closure.nix {}' 2>&1); then
  count_results "$out"
else
  fail "nix/tests/closure.nix does not evaluate: $out"
fi

echo "== generated entrypoints are valid bash"
images_expr='
  let
    stub = import ./nix/tests/stub-pkgs.nix;
    out = (import ./flake.nix).outputs { self = { }; nixpkgs = { legacyPackages.x86_64-linux = stub; }; };
  in import ./nix/images.nix {
    pkgs = stub // { writeShellScript = _: text: text; };
    stack = import ./nix/stack.nix { versions = import ./nix/versions.nix; };
    packages = out.legacyPackages.x86_64-linux.runtimes;
  }'
for image in kafka registry cassandra spark airflow userstream; do
  if text=$(nix_eval "builtins.head ($images_expr).$image.config.Entrypoint" 2>&1) \
    && err=$(json_string <<<"$text" | bash -n 2>&1); then
    ok "bash -n: $image entrypoint"
  else
    fail "bash -n: $image entrypoint: ${err:-$text}"
  fi
done

echo "== each image's entrypoint command is one the binary has"
bin="${USERSTREAM_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/userstream}"
if [[ ! -x "$bin" ]]; then
  fail "no userstream binary at $bin to check the entrypoints against (cargo build --release first)"
else
  scratch=$(mktemp -d)
  while IFS='|' read -r name command; do
    read -ra argv <<<"$command"
    if ! out=$("$bin" "${argv[@]}" --help 2>&1 >/dev/null); then
      fail "$name: \`userstream $command\` is not a command of the binary: $out"
    elif [[ ${argv[0]} == stack ]]; then
      # The engine's name must be one `stack` runs: rendering it proves it (same specs).
      if out=$("$bin" stack render "$name" --out "$scratch/$name" 2>&1); then
        ok "$name: userstream $command (renders $(ls "$scratch/$name" | wc -l) files)"
      elif grep -q "not installed" <<<"$out"; then
        ok "$name: userstream $command (runtimes not installed here, so not rendered)"
      else
        fail "$name: userstream stack render $name: $out"
      fi
    else
      ok "$name: userstream $command"
    fi
  done < <(nix_eval 'map (s: "${s.name}|${builtins.concatStringsSep " " s.command}") (import ./nix/stack.nix { versions = import ./nix/versions.nix; }).services' \
    | json_list_lines)
  rm -rf "$scratch"
fi

echo "== no placeholder hash anywhere in the Nix files"
if hits=$(grep -rnE --include='*.nix' 'sha256-A{43}=|fakeHash|fakeSha256' flake.nix nix); then
  fail "placeholder hashes: $hits"
else
  ok "no placeholder hash in flake.nix and nix/"
fi

echo "== fixed-output hashes recomputed from the real files"
sri_of_hex() { echo "sha256-$(xxd -r -p <<<"$1" | base64)"; }
hash_of() { nix_eval "(import ./nix/hashes.nix).$1" | tr -d '"'; }
# The jar sets, resolved as nix/packages.nix resolves them: the same pinned plugin goal, with
# the Maven release nix/versions.nix pins (Apache's binary distribution from Maven Central,
# its sha512 checked against Central's, its sha256 against nix/hashes.nix), on JDK 17, with
# no rc files, no user settings and a local repository only these runs fill (cached under
# ~/.cache/userstream/nix-m2, so only the first run downloads); hashed as Nix hashes a
# directory (NAR).
goal=org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies
if grep -qF "\"$goal\"" crates/stack/src/install.rs && grep -qF "$goal" nix/packages.nix; then
  ok "stack install and nix/packages.nix run the same pinned Maven goal ($goal)"
else
  fail "crates/stack/src/install.rs (COPY_DEPENDENCIES) and nix/packages.nix must both run $goal"
fi
maven_version=$(nix_eval '(import ./nix/versions.nix).maven' | tr -d '"')
maven_cache="$HOME/.cache/userstream/nix-maven"
maven_tar="apache-maven-$maven_version-bin.tar.gz"
maven_url="https://repo1.maven.org/maven2/org/apache/maven/apache-maven/$maven_version/$maven_tar"
maven_home="$maven_cache/apache-maven-$maven_version"
mvn_pinned=""
mkdir -p "$maven_cache"
if [[ ! -f "$maven_cache/$maven_tar" ]] \
  && ! { curl -fsS --max-time 300 -o "$maven_cache/$maven_tar.part" "$maven_url" \
    && curl -fsS --max-time 60 -o "$maven_cache/$maven_tar.sha512" "$maven_url.sha512" \
    && mv "$maven_cache/$maven_tar.part" "$maven_cache/$maven_tar"; }; then
  fail "maven: could not download Maven $maven_version from $maven_url"
elif [[ "$(cut -c1-128 "$maven_cache/$maven_tar.sha512")" != "$(sha512sum "$maven_cache/$maven_tar" | cut -c1-128)" ]]; then
  fail "maven: $maven_cache/$maven_tar does not match Maven Central's sha512 (delete it to download it again)"
elif [[ "$(sri_of_hex "$(sha256sum "$maven_cache/$maven_tar" | cut -c1-64)")" != "$(hash_of maven)" ]]; then
  fail "maven: nix/hashes.nix has $(hash_of maven), $maven_tar (sha512 as Central's) hashes to $(sri_of_hex "$(sha256sum "$maven_cache/$maven_tar" | cut -c1-64)"): set maven to that"
else
  [[ -x "$maven_home/bin/mvn" ]] || tar xzf "$maven_cache/$maven_tar" -C "$maven_cache"
  ok "maven = $(hash_of maven) ($maven_tar from Maven Central, sha512 as published)"
  mvn_pinned="$maven_home/bin/mvn"
fi
# JDK 17, as the Nix build runs Maven (a home whose release file says 17).
java17=""
for home in ${USERSTREAM_JAVA_HOME:-} /usr/lib/jvm/*; do
  if grep -qs '^JAVA_VERSION="17' "$home/release" && [[ -x "$home/bin/java" ]]; then java17=$home; break; fi
done
[[ -n "$java17" ]] || fail "jar sets: no Java 17 JDK here (set USERSTREAM_JAVA_HOME) to run Maven on, as the Nix build does"
scratch=$(mktemp -d)
mkdir -p "$scratch/home"
for pair in kafka:kafkaJars cassandra:cassandraJars spark:sparkConnectorJars; do
  component=${pair%%:*} attr=${pair#*:}
  [[ -n "$mvn_pinned" && -n "$java17" ]] || { fail "$attr: not recomputed (no pinned Maven or no JDK 17, above)"; continue; }
  if env -u MAVEN_OPTS -u MAVEN_ARGS -u M2_HOME -u MAVEN_HOME HOME="$scratch/home" MAVEN_SKIP_RC=1 JAVA_HOME="$java17" \
      "$mvn_pinned" -B -q -Dstyle.color=never -Dmaven.repo.local="$HOME/.cache/userstream/nix-m2" \
      -f "stack/maven/$component/pom.xml" "$goal" \
      -DoutputDirectory="$scratch/$component" >"$scratch/$component.log" 2>&1; then
    got=$(sri_of_hex "$(nix-hash --type sha256 "$scratch/$component")")
    want=$(hash_of "$attr")
    if [[ "$got" == "$want" ]]; then
      ok "$attr = $got (NAR hash of the jars of stack/maven/$component/pom.xml, Maven $maven_version)"
    else
      fail "$attr: nix/hashes.nix has $want, but the jars of stack/maven/$component/pom.xml resolved with Maven $maven_version (as \`nix build\` resolves them) hash to $got. If the pom or the Maven pin changed on purpose, set $attr = \"$got\"; in nix/hashes.nix; otherwise the resolution differs from what the hash was made from: a user's first \`nix build\` would stop with a hash mismatch"
    fi
  else
    fail "$attr: mvn copy-dependencies (Maven $maven_version) failed: $(tail -n 5 "$scratch/$component.log")"
  fi
done
rm -rf "$scratch"
# pyspark's sdist: the lock's sha256 comes from PyPI's digest of the very file.
lock_hex=$(sed -n '/^pyspark==/,/^[^ ]/s/.*--hash=sha256:\([0-9a-f]*\).*/\1/p' stack/python/pyspark.lock | head -n1)
if [[ -n "$lock_hex" && "$(sri_of_hex "$lock_hex")" == "$(hash_of pyspark)" ]]; then
  ok "pyspark = $(hash_of pyspark) (the sdist's sha256 in stack/python/pyspark.lock)"
else
  fail "pyspark: nix/hashes.nix has $(hash_of pyspark), stack/python/pyspark.lock has sha256 $lock_hex"
fi
# Apicurio's tarball: Maven Central publishes its sha256 next to it.
apicurio=$(nix_eval '(import ./nix/versions.nix).apicurio' | tr -d '"')
central=$(curl -fsS --max-time 60 "https://repo1.maven.org/maven2/io/apicurio/apicurio-registry-app/$apicurio/apicurio-registry-app-$apicurio-all.tar.gz.sha256" | cut -c1-64) || central=""
if [[ -n "$central" && "$(sri_of_hex "$central")" == "$(hash_of apicurio)" ]]; then
  ok "apicurio = $(hash_of apicurio) (Maven Central's sha256 of apicurio-registry-app-$apicurio-all.tar.gz)"
else
  fail "apicurio: nix/hashes.nix has $(hash_of apicurio), Maven Central says '${central:-no answer}'"
fi
# The Airflow wheels: the list must be the lock's, and each file, downloaded (cached under
# ~/.cache/userstream/nix-wheels), must hash to what the list says.
if out=$(scripts/lock-nix-wheels.sh --check 2>&1); then
  ok "$out"
else
  fail "$out"
fi
if out=$(python3 - nix/airflow-wheels.json "$HOME/.cache/userstream/nix-wheels" <<'PY' 2>&1
import concurrent.futures, hashlib, json, os, sys, urllib.request
wheels, cache = json.load(open(sys.argv[1])), sys.argv[2]
os.makedirs(cache, exist_ok=True)
def check(w):
    path = os.path.join(cache, w["name"])
    if not os.path.exists(path):
        with urllib.request.urlopen(w["url"], timeout=300) as r, open(path + ".part", "wb") as f:
            f.write(r.read())
        os.replace(path + ".part", path)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return None if digest == w["sha256"] else f'{w["name"]}: file {digest}, list {w["sha256"]}'
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    bad = [b for b in pool.map(check, wheels) if b]
if bad:
    sys.exit("\n".join(bad))
print(f"{len(wheels)} wheels")
PY
); then
  ok "Airflow wheels: $out downloaded and hashed, each equal to nix/airflow-wheels.json"
else
  fail "Airflow wheels: $out"
fi

echo "nix checks: $passed passed, $failed failed"
((failed == 0))
