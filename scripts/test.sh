#!/usr/bin/env bash
# Every test: format and lint checks, unit tests, integration tests against the real stack
# (installed and started here), DAG tests, the console in headless Chromium, then the stack is
# stopped and its ports checked free. Screenshots and logs land in test-output/.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/userstream/target}"
export USERSTREAM_RUNTIME_DIR="${USERSTREAM_RUNTIME_DIR:-$HOME/.cache/userstream/runtime}"
export USERSTREAM_STATE_DIR="${USERSTREAM_STATE_DIR:-$repo/.userstream}"
export USERSTREAM_DAGS_DIR="$repo/dags"
mkdir -p "$repo/test-output"
# Like the userstream binary (crates/stack/src/private.rs): what the tests themselves write
# under the state directory (checkpoints, journals) is private too, and the security test
# checks every path of it.
umask 077

# Every test below runs with every stack port moved off its default, by the environment, the
# way a user moves them: stack up, setup, produce, stream, verify, the console, the tests and
# the DAGs' scheduled runs all have to follow the ports (one declaration: crates/endpoints).
# USERSTREAM_TEST_DEFAULT_PORTS=1 runs them on the defaults.
if [[ ${USERSTREAM_TEST_DEFAULT_PORTS:-0} != 1 ]]; then
  export USERSTREAM_KAFKA_PORT=19092 USERSTREAM_KAFKA_CONTROLLER_PORT=19093 \
    USERSTREAM_REGISTRY_PORT=18081 USERSTREAM_REGISTRY_MANAGEMENT_PORT=19000 \
    USERSTREAM_CASSANDRA_PORT=19042 USERSTREAM_CASSANDRA_STORAGE_PORT=17000 \
    USERSTREAM_SPARK_MASTER_PORT=17077 \
    USERSTREAM_SPARK_MASTER_UI_PORT=18082 USERSTREAM_SPARK_WORKER_UI_PORT=18083 \
    USERSTREAM_SPARK_CONNECT_PORT=25002 USERSTREAM_SPARK_DRIVER_UI_PORT=14040 \
    USERSTREAM_AIRFLOW_PORT=18080 USERSTREAM_CONSOLE_PORT=18088 USERSTREAM_USERS_API_PORT=18765
fi
# Addresses come from the ports; an override left in the caller's shell would point elsewhere.
unset USERSTREAM_KAFKA_BOOTSTRAP USERSTREAM_REGISTRY_URL USERSTREAM_CASSANDRA \
  USERSTREAM_SPARK_CONNECT_URL USERSTREAM_SOURCE_URL USERSTREAM_CONSOLE_LISTEN
bin="$CARGO_TARGET_DIR/release/userstream"
started=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - started ))s)"; }

step "bootstrap: prerequisites (checked by what they do, installed when missing, headless Chromium included) and the release build"
scripts/bootstrap.sh --with-test-tools

step "bootstrap's prerequisite logic (unit tests) and its real check on this machine"
scripts/tests/prereqs_test.sh

step "format and lint"
cargo fmt --all --check
cargo clippy --release --locked --workspace --all-targets -- -D warnings

step "Nix files: parse, pure evaluation, versions match the local stack"
scripts/check-nix.sh

step "stack install (cached after the first run)"
"$bin" stack install

stop_stack() {
  step "stack down"
  "$bin" stack down || true
}
trap stop_stack EXIT

step "stack up"
"$bin" stack up
# A report, not a gate: `stack up` has just waited for every service to be healthy, and the tests
# below check every engine they use. Exit code 3 here would mean a health check flapped since.
"$bin" stack status || echo "(stack status exited $?: a service changed state since \`stack up\`; the tests below use every engine)"
export USERSTREAM_STACK_STARTED=1
export USERSTREAM_BIN="$bin"

# Every test below runs on a stack that has been used: the pipeline's own topic and table
# hold a million users (the console once timed out scanning half that). Loaded through the
# real pipeline once per state directory and kept.
baseline=${USERSTREAM_TEST_BASELINE_USERS:-1000000}
marker="$USERSTREAM_STATE_DIR/data/test-baseline-$baseline.done"
if [[ -f $marker ]]; then
  step "a used stack: $baseline users already loaded ($marker)"
else
  step "a used stack: $baseline users through the real pipeline (setup, stream, produce, verify)"
  "$bin" setup --dags paused
  "$bin" stream start
  "$bin" produce --count "$baseline" --seed test-baseline 2>&1 | tail -n 3
  # verify waits until the job has caught up with the cut, and reports its own peak memory.
  "$bin" verify --settle 20m --sample 500 | tee "$repo/test-output/verify-baseline.txt"
  touch "$marker"
fi

step "unit and integration tests (cargo test)"
cargo test --release --locked --workspace --no-fail-fast 2>&1 | tee "$repo/test-output/cargo-test.log"

step "bench e2e: a small backlog through the real pipeline, with each service's CPU per 1,000 rows (figures, not a timed gate)"
# Fails when a row is lost or the bench itself breaks (it once failed at once for want of a
# registry login, and nothing noticed). The figures land in test-output/ for comparison.
"$bin" bench e2e --backlog 20000 --json > "$repo/test-output/bench-e2e.json"
python3 - "$repo/test-output/bench-e2e.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cost = {c["service"]: c["cpu_ms_per_1k_rows"] for c in report["cost"]}
missing = [s for s in ("kafka", "registry", "cassandra", "spark-worker", "spark-connect", "producer") if s not in cost]
assert not missing, f"bench e2e reports no cost for {missing}"
assert cost["cassandra"] > 0 and cost["spark-worker"] > 0, f"no CPU measured: {cost}"
print(f"bench e2e: {report['landed']} rows landed, {report['window_rows_per_sec']:.0f} rows/s, "
      f"{report['total_cpu_ms_per_1k_rows']:.0f} CPU-ms per 1,000 rows")
PY

step "fault test: Kafka stopped mid-produce (the producer waits, then delivers everything)"
# It stops a shared service, so it runs alone, after everything else has finished with the stack.
# --workspace keeps the feature set of the run above, so nothing is rebuilt.
cargo test --release --locked --workspace --test kafka -- --ignored a_kafka_outage 2>&1 | tee "$repo/test-output/fault-kafka.log"

step "rotating the application role's password (the Connect server and the job restart with it)"
# Alone: it restarts the Spark Connect server, which the tests above use concurrently.
cargo test --release --locked --workspace --test security -- --ignored rotating_the_app_password 2>&1 | tee "$repo/test-output/rotation.log"

step "chaos: every engine killed and restarted, Cassandra and Kafka paused, a new schema version, a replay, the producer killed and resumed; while users are produced and streamed"
# Every scenario must end with 0 users lost, 0 duplicated, nothing rejected, recovery within 5m.
# --stall-after 60s: the Cassandra scenario needs the stall rule (see README, self-healing).
"$bin" chaos --keepalive 5s --stall-after 60s --json > "$repo/test-output/chaos.json" \
  2> >(tee "$repo/test-output/chaos.log" >&2)

if [[ -d "$repo/dags/tests" ]]; then
  step "DAG lint and tests (ruff, pytest in the Airflow venv)"
  "$USERSTREAM_RUNTIME_DIR/airflow/venv/bin/ruff" check "$repo/dags"
  "$USERSTREAM_RUNTIME_DIR/airflow/venv/bin/python" -m pytest -q "$repo/dags/tests" 2>&1 | tee "$repo/test-output/pytest.log"
fi

step "console in headless Chromium (stops the registry and brings it back)"
cargo test --release --locked --workspace --test browser -- --ignored --nocapture 2>&1 | tee "$repo/test-output/browser.log"

step "no secret in any log, page file or argument after the whole run"
cargo test --release --locked --workspace --test security -- --ignored no_secret_in_any_log_after_the_whole_run 2>&1 | tee "$repo/test-output/secrets-scan.log"

trap - EXIT
stop_stack
step "ports are free after down"
# The stack's own ports, as it was configured for this run (moved or not).
stack_ports=$("$bin" stack status --json 2>/dev/null | python3 -c 'import json,sys; print("|".join(sorted({str(p) for r in json.load(sys.stdin) for p in r.get("ports", [])})))' || true)
stack_ports=${stack_ports:-9092|9093|8081|9000|9042|7000|7199|7077|8082|8083|15002|4040|8080}
busy=$(ss -ltnH 2>/dev/null | awk '{print $4}' | grep -E ":($stack_ports)\$" || true)
if [[ -n "$busy" ]]; then
  echo "still listening after stack down: $busy" >&2
  exit 1
fi

step "the README's first command on a fresh state directory, with users_stream triggered as the demo starts the job"
# A new user's first run: every engine formatted from nothing, the job started while the DAG's
# `stream ensure` acts on it too (both take the job's control lock; see README, one controller).
python3 "$repo/scripts/tests/demo_with_dags.py" 2>&1 | tee "$repo/test-output/demo.log"

echo "all tests passed in $(( $(date +%s) - started ))s"
