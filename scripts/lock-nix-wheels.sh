#!/usr/bin/env bash
# Writes nix/airflow-wheels.json: for every pin of stack/python/airflow.lock, the one file pip
# installs on x86_64 Linux with CPython 3.11 (the images' platform), as its PyPI URL and
# sha256. nix/packages.nix fetches each with fetchurl (a wheel's sha256 is its Nix flat hash),
# so the Airflow venv of the images needs no hand-filled hash.
# Run it after changing airflow.lock (after scripts/lock-python.sh). Needs CPython 3.11 (the
# installed Airflow venv's, by default; USERSTREAM_PYTHON311 to choose) and access to PyPI.
# --check compares instead of writing (scripts/check-nix.sh runs it).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out=nix/airflow-wheels.json
python="${USERSTREAM_PYTHON311:-${USERSTREAM_RUNTIME_DIR:-$HOME/.cache/userstream/runtime}/airflow/venv/bin/python}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "lock-nix-wheels: $python is not CPython 3.11; set USERSTREAM_PYTHON311 (or run \`userstream stack install\` first)" >&2
  exit 1
fi
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
# A dry run resolves exactly the files `pip install --require-hashes` would take here, without
# installing; the report names each file's URL and the hash pip checked it against.
"$python" -m pip install --disable-pip-version-check --quiet --dry-run --ignore-installed \
  --no-deps --only-binary=:all: --require-hashes --report "$report" -r stack/python/airflow.lock
generated="$("$python" - "$report" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
wheels = []
for item in report["install"]:
    info = item["download_info"]
    url = info["url"]
    wheels.append({
        "name": url.rsplit("/", 1)[1],
        "url": url,
        "sha256": info["archive_info"]["hashes"]["sha256"],
    })
wheels.sort(key=lambda w: w["name"].lower())
print(json.dumps(wheels, indent=1))
PY
)"
if [[ ${1:-} == --check ]]; then
  if [[ "$generated" == "$(cat "$out")" ]]; then
    echo "lock-nix-wheels: $out matches stack/python/airflow.lock ($(grep -c '"url"' "$out") wheels)"
  else
    echo "lock-nix-wheels: $out is out of date with stack/python/airflow.lock; run scripts/lock-nix-wheels.sh" >&2
    diff <(echo "$generated") "$out" | head -20 >&2 || true
    exit 1
  fi
else
  echo "$generated" > "$out"
  echo "lock-nix-wheels: wrote $out ($(grep -c '"url"' "$out") wheels)"
fi
