#!/usr/bin/env bash
# Compares `userstream produce` with a plain-Python producer (python_producer.py beside this
# script) on a running stack (`./userstream stack up`, then `./userstream setup`).
#
# Both read the same users API (a `userstream users-api` started here on a free loopback
# port, stopped at the end) and produce the same users (same seed, pages of 5000) to the same
# topic, logged in as the stack's `producer`. Each producer's CPU seconds are its whole
# process's (user + system, all threads, librdkafka's included), from the kernel's accounting
# of finished children; the users API's CPU is in neither.
#
# Prints each side's users/s and CPU seconds per 1,000 users and the ratios (Rust over
# Python for users/s, Python over Rust for CPU), then the same as one JSON object on the last
# line of stdout.
#
# Usage: scripts/bench/compare-producers.sh [--count N] [--topic TOPIC] [--seed SEED]
#   --count  users per producer (default 100000)
#   --topic  default `users` (the `producer` login may write only `users` and `users.dlq`)
#   --seed   default `userstream`, `produce`'s: a rerun overwrites the same keys
# Environment: USERSTREAM_STATE_DIR as for every command (default .userstream here);
# USERSTREAM_BIN, the binary to run (default: the one ./userstream builds and runs);
# BENCH_VENV (default $HOME/.cache/userstream/bench-venv), created from requirements.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

count=100000
topic=users
seed=userstream
while (($#)); do
  case $1 in
    --count) count=$2; shift 2 ;;
    --topic) topic=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare-producers: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The binary itself, not the ./userstream wrapper: the wrapper's build check would count as
# the producer's CPU. The wrapper builds it first if needed; the defaults are the wrapper's.
if [[ -z ${USERSTREAM_BIN:-} ]]; then
  "$repo/userstream" --version >/dev/null
  USERSTREAM_BIN="${CARGO_TARGET_DIR:-$HOME/.cache/userstream/target}/release/userstream"
fi
export USERSTREAM_STATE_DIR="${USERSTREAM_STATE_DIR:-$repo/.userstream}"

# The venv, rebuilt when requirements.txt changes.
venv="${BENCH_VENV:-$HOME/.cache/userstream/bench-venv}"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "compare-producers: installing the bench venv in $venv" >&2
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi
py="$venv/bin/python"

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
source_url="http://127.0.0.1:$port/api/"
"$USERSTREAM_BIN" users-api --bind "127.0.0.1:$port" 2>"${TMPDIR:-/tmp}/compare-producers-users-api.log" &
api_pid=$!
trap 'kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true' EXIT
"$py" - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/health"
deadline = time.monotonic() + 30
while True:
    try:
        urllib.request.urlopen(url, timeout=1).read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"compare-producers: the users API did not answer at {url} within 30 s")
        time.sleep(0.2)
PY

# Runs a command that prints JSON on stdout; prints {"report": that JSON, "cpu_seconds",
# "wall_seconds"} with the command's own CPU time.
measured() {
  "$py" -c '
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
if done.returncode != 0:
    sys.exit(f"compare-producers: {sys.argv[1]} exited with {done.returncode}")
print(json.dumps({"report": json.loads(done.stdout), "wall_seconds": wall,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime}))
' "$@"
}

echo "compare-producers: userstream produce, $count users from $source_url to $topic" >&2
rust=$(measured "$USERSTREAM_BIN" produce --source "$source_url" --count "$count" \
  --results-per-page 5000 --seed "$seed" --topic "$topic" --progress-interval 0s --json)
echo "compare-producers: python_producer.py, the same" >&2
python=$(measured "$py" "$here/python_producer.py" --source "$source_url" --count "$count" \
  --results-per-page 5000 --seed "$seed" --topic "$topic" --userstream "$USERSTREAM_BIN")

"$py" - "$rust" "$python" "$count" <<'PY'
import json, sys

rust, python, count = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])

def figures(run, users, users_per_sec):
    return {
        "users": users,
        "users_per_sec": round(users_per_sec, 1),
        "cpu_seconds": round(run["cpu_seconds"], 3),
        "cpu_seconds_per_1000_users": round(run["cpu_seconds"] * 1000 / max(users, 1), 4),
        "wall_seconds": round(run["wall_seconds"], 3),
    }

r = figures(rust, rust["report"]["users_produced"], rust["report"]["users_per_sec"])
p = figures(python, python["report"]["users"], python["report"]["users_per_sec"])
result = {
    "count": count,
    "rust": r,
    "python": p,
    "users_per_sec_ratio": round(r["users_per_sec"] / p["users_per_sec"], 2),
    "cpu_per_user_ratio": round(
        p["cpu_seconds_per_1000_users"] / r["cpu_seconds_per_1000_users"], 2
    ),
}
for name, f in (("rust", r), ("python", p)):
    print(f"{name:<7} {f['users']:>9} users  {f['users_per_sec']:>10.0f} users/s  "
          f"{f['cpu_seconds_per_1000_users']:.4f} CPU s per 1000 users")
print(f"rust/python users/s: {result['users_per_sec_ratio']}x; "
      f"python/rust CPU per user: {result['cpu_per_user_ratio']}x")
print(json.dumps(result))
PY
