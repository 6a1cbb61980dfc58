#!/usr/bin/env bash
# Rewrites the hashes in stack/python/*.lock. For every `name==version` pin, the sha256 of every
# file PyPI has for that release (the wheels for all platforms and the sdist) becomes a
# `--hash=sha256:...` line, so `pip install --require-hashes` (as `userstream stack install`
# runs it) accepts exactly these files on any machine and nothing else.
# Run it after changing a pin: edit the `name==version` line (comments are kept as they are),
# then run this and commit the lock. Needs python3 and access to pypi.org.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for lock in stack/python/pyspark.lock stack/python/airflow.lock; do
  python3 - "$lock" <<'PY'
import json, sys, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor

path = sys.argv[1]

def get(url):
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.load(r)

def hashes(pin):
    name, version = pin.split("==")
    try:  # the release's own document
        files = get(f"https://pypi.org/pypi/{name}/{version}/json")["urls"]
    except urllib.error.HTTPError:  # some mirrors only serve the project document
        files = get(f"https://pypi.org/pypi/{name}/json")["releases"].get(version, [])
    if not files:
        sys.exit(f"{path}: PyPI has no files for {pin}")
    return sorted({f["digests"]["sha256"] for f in files})

# Comments and blank lines stay; a pin is its first line (`name==version`, maybe with ` \`);
# old `--hash` continuation lines are dropped and written anew.
lines = [l.rstrip("\n") for l in open(path)]
kept = [l for l in lines if not l.lstrip().startswith("--hash=")]
pins = [l.rstrip(" \\") for l in kept if l.strip() and not l.startswith("#")]
with ThreadPoolExecutor(8) as pool:
    found = dict(zip(pins, pool.map(hashes, pins)))
out = []
for l in kept:
    pin = l.rstrip(" \\")
    if pin in found:
        out.append(" \\\n".join([pin] + [f"    --hash=sha256:{h}" for h in found[pin]]))
    else:
        out.append(l)
open(path, "w").write("\n".join(out) + "\n")
print(f"{path}: {len(pins)} pins, {sum(map(len, found.values()))} hashes")
PY
done
