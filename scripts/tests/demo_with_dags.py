#!/usr/bin/env python3
"""The README's first command on a fresh state directory, with the DAGs firing at it.

Runs `./userstream demo` with a new USERSTREAM_STATE_DIR; the moment the demo starts the
streaming job, it unpauses users_stream and triggers a run through Airflow's REST API, so the
DAG's `stream ensure` and the demo's `stream start` act on the job at the same instant (the
race a new user once hit). Passes when the demo exits 0; prints the demo's time and the DAG
run's state. Stops the fresh stack and removes its state directory afterwards.

Usage: scripts/tests/demo_with_dags.py [--keep]   (the stack's ports come from the environment)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JOB_STEP = "start the streaming query on Spark"


def airflow_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('USERSTREAM_AIRFLOW_PORT') or 8080}"


def call(method: str, path: str, body: object = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(airflow_url() + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def trigger_users_stream(state: Path, outcome: dict) -> None:
    """Unpause users_stream and trigger one run (errors are kept, not raised: a thread)."""
    try:
        secrets = json.loads((state / "secrets.json").read_text())
        token = call("POST", "/auth/token", {"username": "admin", "password": secrets["admin_password"]})
        token = token["access_token"]
        call("PATCH", "/api/v2/dags/users_stream", {"is_paused": False}, token)
        run = call("POST", "/api/v2/dags/users_stream/dagRuns", {"logical_date": None}, token)
        outcome["run_id"] = run["dag_run_id"]
        outcome["token"] = token
        print(f"demo_with_dags: triggered users_stream run {run['dag_run_id']}", flush=True)
    except Exception as err:  # noqa: BLE001 - reported by the main thread
        outcome["error"] = repr(err)


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    state = Path(tempfile.mkdtemp(prefix="userstream-demo-"))
    env = dict(os.environ, USERSTREAM_STATE_DIR=str(state))
    began = time.monotonic()
    demo = subprocess.Popen(
        [str(REPO / "userstream"), "demo"],
        env=env,
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    outcome: dict = {}
    trigger = None
    assert demo.stdout is not None
    for line in demo.stdout:
        print(line, end="", flush=True)
        if trigger is None and JOB_STEP in line:
            trigger = threading.Thread(target=trigger_users_stream, args=(state, outcome))
            trigger.start()
    code = demo.wait()
    took = time.monotonic() - began
    if trigger is not None:
        trigger.join()
    state_of_run = "not triggered"
    if "run_id" in outcome:
        path = f"/api/v2/dags/users_stream/dagRuns/{outcome['run_id']}"
        deadline = time.monotonic() + 300
        while True:
            state_of_run = call("GET", path, token=outcome["token"]).get("state", "?")
            if state_of_run in ("success", "failed") or time.monotonic() > deadline:
                break
            time.sleep(5)
    print(
        f"demo_with_dags: demo exited {code} in {took:.0f}s on a fresh state directory; "
        f"users_stream run triggered at its job step: {state_of_run} {outcome.get('error', '')}",
        flush=True,
    )
    subprocess.run([str(REPO / "userstream"), "stack", "down"], env=env, cwd=str(REPO), check=False)
    if not keep:
        shutil.rmtree(state, ignore_errors=True)
    if trigger is None:
        print("demo_with_dags: the demo never reached its job step", file=sys.stderr)
        return 1
    if "error" in outcome:
        print(f"demo_with_dags: triggering users_stream failed: {outcome['error']}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
