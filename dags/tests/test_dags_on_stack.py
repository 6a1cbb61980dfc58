"""The DAGs on the real, running stack (`userstream stack up`).

Skipped unless USERSTREAM_STACK_STARTED=1 (scripts/test.sh sets it after `stack up`); once the
stack is said to be up, everything here must pass, and an unreachable service is a failure.

1. `airflow dags test` of users_setup, users_ingest, users_stream and users_quality, in that
   order, with the environment the stack gives its Airflow processes (rebuilt here from the
   state directory: same AIRFLOW_HOME, database, DAG folder and shared secrets);
2. afterwards Cassandra holds the users the ingest run produced (`userstream verify --json`);
3. one run triggered through Airflow's REST API with the generated admin credentials succeeds.

Configuration: USERSTREAM_STATE_DIR (default: the repository's `.userstream`), USERSTREAM_BIN
(else $CARGO_TARGET_DIR/release/userstream, the binary scripts/test.sh builds),
USERSTREAM_AIRFLOW_PORT (default 8080). The `airflow` CLI is the one next to this Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

DAGS_DIR = Path(__file__).resolve().parent.parent
REPO = DAGS_DIR.parent
DAG_ORDER = ("users_setup", "users_ingest", "users_stream", "users_quality")
STARTED = os.environ.get("USERSTREAM_STACK_STARTED") == "1"
on_stack = pytest.mark.skipif(not STARTED, reason="needs the running stack (USERSTREAM_STACK_STARTED=1)")

# How long each `airflow dags test` may take (quality waits up to its settle time for rows).
DAG_TEST_TIMEOUT = {"users_setup": 900, "users_ingest": 900, "users_stream": 900, "users_quality": 1800}
LAND_TIMEOUT = 300
REST_RUN_TIMEOUT = 600


def state_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("USERSTREAM_STATE_DIR") or REPO / ".userstream").resolve()


def userstream_bin(env: Mapping[str, str]) -> str:
    if env.get("USERSTREAM_BIN"):
        return env["USERSTREAM_BIN"]
    if env.get("CARGO_TARGET_DIR"):
        return str(Path(env["CARGO_TARGET_DIR"]) / "release" / "userstream")
    pytest.fail("set USERSTREAM_BIN (or CARGO_TARGET_DIR, as scripts/test.sh does) to find `userstream`")


def airflow_url(env: Mapping[str, str]) -> str:
    return f"http://127.0.0.1:{env.get('USERSTREAM_AIRFLOW_PORT') or 8080}"


class RedactedEnv(dict):
    """An environment holding secrets: its repr (in pytest tracebacks, logs) shows none of them."""

    def __repr__(self) -> str:
        return f"<environment of {len(self)} variables>"


def stack_airflow_env(
    base: Mapping[str, str], state: Path, secrets: Mapping[str, str], binary: str
) -> RedactedEnv:
    """The environment `userstream stack up` gives Airflow.

    From crates/stack/src/engines/airflow/render.rs airflow_env.
    """
    home = state / "data" / "airflow"
    url = airflow_url(base)
    env = RedactedEnv((k, v) for k, v in base.items() if not k.startswith("AIRFLOW"))
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": secrets["secret_key"],
            "AIRFLOW__CORE__FERNET_KEY": secrets["fernet_key"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                home / "simple_auth_manager_passwords.json"
            ),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(state / "logs" / "airflow-tasks"),
            "USERSTREAM_BIN": binary,
            "USERSTREAM_STATE_DIR": str(state),
        }
    )
    return env


def test_stack_env_mirrors_the_stack(tmp_path):
    secrets = {"jwt_secret": "j", "secret_key": "s", "fernet_key": "f", "admin_password": "p"}
    base = {"AIRFLOW_HOME": "/elsewhere", "AIRFLOW__CORE__UNIT_TEST_MODE": "True", "PATH": "/bin"}
    env = stack_airflow_env(base, Path("/srv/us"), secrets, "/bin/us")
    assert env["AIRFLOW_HOME"] == "/srv/us/data/airflow"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "sqlite:////srv/us/data/airflow/airflow.db"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "j" and env["AIRFLOW__CORE__FERNET_KEY"] == "f"
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env and env["PATH"] == "/bin"
    assert "p" not in env.values()  # the admin password never goes into the environment
    assert "j" not in repr(env) and "f" not in repr(env).replace("of", "")


# --- helpers for the on-stack tests ---------------------------------------------------------


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _run(argv: list[str], env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            argv, env=dict(env), capture_output=True, text=True, timeout=timeout, cwd=str(REPO), check=False
        )
    except subprocess.TimeoutExpired as err:
        out = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        pytest.fail(f"{' '.join(argv)} did not finish within {timeout}s:\n{_tail(out)}")


class Api:
    """A tiny client of Airflow's REST API, authenticated as the generated admin."""

    def __init__(self, base_url: str, password: str):
        self.base_url = base_url
        token = self.call("POST", "/auth/token", {"username": "admin", "password": password}, auth=False)
        self.token = token["access_token"]

    def call(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            pytest.fail(f"{method} {path}: HTTP {err.code}: {err.read().decode(errors='replace')[:2000]}")
        except urllib.error.URLError as err:
            pytest.fail(f"{method} {path}: Airflow at {self.base_url} is unreachable: {err.reason}")
        return json.loads(raw) if raw else None

    def __repr__(self) -> str:
        return f"Api({self.base_url!r})"

    def log(self, path: str) -> str:
        """A task log as text (the API serves it as JSON events)."""
        request = urllib.request.Request(
            self.base_url + path,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                content = json.loads(response.read()).get("content") or []
        except (urllib.error.URLError, ValueError) as err:
            return f"(no log: {err})"
        lines = []
        for event in content:
            if isinstance(event, dict):
                line = str(event.get("event", ""))
                for detail in event.get("error_detail") or []:
                    line += f"\n{detail.get('exc_type')}: {detail.get('exc_value')}"
                lines.append(line)
            else:
                lines.append(str(event))
        return "\n".join(lines)

    def latest_run(self, dag_id: str) -> dict:
        runs = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-start_date&limit=1")["dag_runs"]
        assert runs, f"no run of {dag_id}"
        return runs[0]

    def failure_logs(self, dag_id: str, run_id: str) -> str:
        tis = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        out = []
        for ti in tis:
            if ti["state"] != "success":
                task = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}"
                path = f"{task}/logs/{ti['try_number'] or 1}"
                out.append(
                    f"--- {ti['task_id']} ({ti['state']}):\n{_tail(self.log(path + '?full_content=true'))}"
                )
        return "\n".join(out)


class Stack:
    """What the on-stack tests need; its repr (shown by pytest on failure) has no secrets."""

    def __init__(self, env: RedactedEnv, airflow: str, binary: str, admin_password: str, url: str):
        self.env = env
        self.airflow = airflow
        self.bin = binary
        self.admin_password = admin_password
        self.url = url

    def __repr__(self) -> str:
        return f"Stack(url={self.url!r}, bin={self.bin!r}, airflow={self.airflow!r})"


@pytest.fixture(scope="module")
def stack() -> Stack:
    state = state_dir(os.environ)
    # The stack's one secrets file (mode 0600): Airflow's secrets are its top-level keys.
    secrets_file = state / "secrets.json"
    if not secrets_file.is_file():
        pytest.fail(f"the stack is said to be up but {secrets_file} does not exist")
    secrets = json.loads(secrets_file.read_text())
    binary = userstream_bin(os.environ)
    if not os.access(binary, os.X_OK):
        pytest.fail(f"userstream binary {binary} is missing or not executable")
    env = stack_airflow_env(os.environ, state, secrets, binary)
    airflow = Path(sys.executable).with_name("airflow")
    return Stack(env, str(airflow), binary, secrets["admin_password"], airflow_url(os.environ))


def _verify(stack: Stack) -> tuple[dict, subprocess.CompletedProcess]:
    import userstream_common as us

    done = _run([stack.bin, "verify", "--json"], stack.env, timeout=600)
    try:
        return us.verify_counts(us.parse_json_output(done.stdout)), done
    except us.UserstreamError as err:
        pytest.fail(f"verify gave no report ({err}), exit {done.returncode}:\n{_tail(done.stderr)}")


@pytest.mark.stack
@on_stack
def test_dags_in_order_then_cassandra_holds_the_ingested_users(stack):
    for dag_id in DAG_ORDER:
        done = _run([stack.airflow, "dags", "test", dag_id], stack.env, DAG_TEST_TIMEOUT[dag_id])
        assert done.returncode == 0, (
            f"`airflow dags test {dag_id}` exited with {done.returncode}:\n"
            f"{_tail(done.stdout)}\n--- stderr:\n{_tail(done.stderr)}"
        )

    api = Api(stack.url, stack.admin_password)
    run = api.latest_run("users_ingest")
    assert run["state"] == "success", run
    xcom = api.call(
        "GET",
        f"/api/v2/dags/users_ingest/dagRuns/{run['dag_run_id']}/taskInstances/produce/xcomEntries/"
        "return_value?deserialize=true&stringify=false",
    )
    summary = xcom["value"]
    if isinstance(summary, str):
        summary = json.loads(summary)
    produced = summary["produced"]
    assert produced > 0, summary

    deadline = time.monotonic() + LAND_TIMEOUT
    while True:
        counts, done = _verify(stack)
        landed = counts["missing"] == 0 and counts["cassandra_count"] >= produced
        if landed or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert landed, (
        f"the ingest run produced {produced} users (seed {summary.get('seed')}), but after "
        f"{LAND_TIMEOUT}s verify says {counts}:\n{_tail(done.stderr)}"
    )
    assert counts["kafka_count"] >= produced and counts["field_mismatches"] == 0, counts


@pytest.mark.stack
@on_stack
def test_trigger_users_setup_through_the_rest_api(stack):
    dag_id = "users_setup"
    api = Api(stack.url, stack.admin_password)
    was_paused = api.call("GET", f"/api/v2/dags/{dag_id}")["is_paused"]
    api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    try:
        run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
        run_id = run["dag_run_id"]
        deadline = time.monotonic() + REST_RUN_TIMEOUT
        while run["state"] not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(3)
            run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    finally:
        if was_paused:
            api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
    assert run["state"] == "success", (
        f"run {run_id} of {dag_id} ended {run['state']!r} (or timed out after {REST_RUN_TIMEOUT}s):\n"
        + api.failure_logs(dag_id, run_id)
    )


SCHEDULED = ("users_ingest", "users_stream", "users_quality")
SCHEDULED_RUN_TIMEOUT = 900


def _scheduled_runs(api: Api, dag_id: str, since: str) -> list[dict]:
    runs = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-start_date&limit=20")["dag_runs"]
    return [r for r in runs if r.get("run_type") == "scheduled" and (r.get("queued_at") or "") >= since]


@pytest.mark.stack
@on_stack
def test_setup_turns_orchestration_on_and_scheduled_runs_succeed_while_users_flow(stack):
    """`userstream setup` unpauses the scheduled DAGs; Airflow then runs each on its own, and
    users_quality is green although users_ingest and a producer write while it verifies."""
    api = Api(stack.url, stack.admin_password)
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())  # Airflow's timestamps are UTC ISO 8601
    done = _run([stack.bin, "setup"], stack.env, timeout=600)
    assert done.returncode == 0, (
        f"setup exited {done.returncode}:\n{_tail(done.stdout)}\n{_tail(done.stderr)}"
    )
    for dag_id in SCHEDULED:
        assert api.call("GET", f"/api/v2/dags/{dag_id}")["is_paused"] is False, f"{dag_id} still paused"
    # Records keep arriving while the scheduled runs verify: the quality check compares one cut.
    producer = subprocess.Popen(
        [
            stack.bin,
            "produce",
            "--duration",
            "600s",
            "--rate",
            "100",
            "--seed",
            f"scheduled-{int(time.time())}",
        ],
        env=dict(stack.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(REPO),
    )
    finished: dict[str, dict] = {}
    try:
        deadline = time.monotonic() + SCHEDULED_RUN_TIMEOUT
        while len(finished) < len(SCHEDULED) and time.monotonic() < deadline:
            for dag_id in SCHEDULED:
                if dag_id in finished:
                    continue
                done_runs = [
                    r for r in _scheduled_runs(api, dag_id, since) if r["state"] in ("success", "failed")
                ]
                if done_runs:
                    finished[dag_id] = done_runs[-1]
            time.sleep(5)
        assert producer.poll() is None, f"the background producer stopped early (exit {producer.returncode})"
    finally:
        producer.terminate()
        try:
            producer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            producer.kill()
        # Quiet again for the tests that follow (they stop services on purpose).
        for dag_id in SCHEDULED:
            api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
    missing = [d for d in SCHEDULED if d not in finished]
    assert not missing, f"no scheduled run of {missing} finished within {SCHEDULED_RUN_TIMEOUT}s of unpausing"
    for dag_id, run in finished.items():
        assert run["state"] == "success", (
            f"scheduled run {run['dag_run_id']} of {dag_id} ended {run['state']}:\n"
            + api.failure_logs(dag_id, run["dag_run_id"])
        )
    ingest, quality = finished["users_ingest"], finished["users_quality"]
    overlap = (ingest["start_date"] or "") < (quality["end_date"] or "") and (quality["start_date"] or "") < (
        ingest["end_date"] or ""
    )
    print(
        f"scheduled runs: ingest {ingest['start_date']}..{ingest['end_date']}, "
        f"quality {quality['start_date']}..{quality['end_date']} (overlap: {overlap}); "
        "a producer wrote at 100 users/s throughout"
    )


SUPERVISED_FOR = 120
TRIGGER_EVERY = 10


def _journal(stack: Stack) -> list[dict]:
    path = state_dir(stack.env) / "data" / "checkpoints" / "userstream-users.events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _kill_service(stack: Stack, service: str) -> None:
    import signal

    done = _run([stack.bin, "stack", "status", "--json"], stack.env, timeout=120)
    rows = json.loads(done.stdout or "[]")
    pid = next((r.get("pid") for r in rows if r.get("service") == service), None)
    assert pid, f"{service} is not running: {done.stdout[:2000]}"
    os.killpg(os.getpgid(pid), signal.SIGKILL)


@pytest.mark.stack
@on_stack
def test_a_supervisor_and_the_scheduled_dag_do_not_both_act(stack):
    """`stream run` supervises while users_stream is triggered every 10 s for 2 minutes and
    Cassandra is killed once: every event in the job's journal is the supervisor's own (the
    DAG's `stream ensure` only reports while a supervisor lives), and nothing is lost."""
    api = Api(stack.url, stack.admin_password)
    dag_id = "users_stream"
    was_paused = api.call("GET", f"/api/v2/dags/{dag_id}")["is_paused"]
    before = len(_journal(stack))
    supervisor = subprocess.Popen(
        [stack.bin, "stream", "--keepalive", "5s", "--stall-after", "45s", "run"],
        env=dict(stack.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
    )
    producer = subprocess.Popen(
        [
            stack.bin,
            "produce",
            "--duration",
            f"{SUPERVISED_FOR}s",
            "--rate",
            "200",
            "--seed",
            f"supervised-{int(time.time())}",
        ],
        env=dict(stack.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(REPO),
    )
    run_ids = []
    try:
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        began = time.monotonic()
        killed = False
        while time.monotonic() - began < SUPERVISED_FOR:
            run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
            run_ids.append(run["dag_run_id"])
            if not killed and time.monotonic() - began > 30:
                _kill_service(stack, "cassandra")
                killed = True
                time.sleep(15)
                done = _run([stack.bin, "stack", "up"], stack.env, timeout=600)
                assert done.returncode == 0, f"stack up after killing Cassandra:\n{_tail(done.stderr)}"
            time.sleep(TRIGGER_EVERY)
        assert producer.wait(timeout=300) == 0, "the producer failed"
        assert supervisor.poll() is None, f"`stream run` ended early:\n{supervisor.communicate()[1]}"
        deadline = time.monotonic() + LAND_TIMEOUT
        while True:
            counts, done = _verify(stack)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(10)
        assert done.returncode == 0, f"verify after the supervised window: {counts}\n{_tail(done.stderr)}"
        # Every run of the DAG in the window saw the supervisor and only reported.
        reported = 0
        for run_id in run_ids:
            run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            while run["state"] not in ("success", "failed"):
                time.sleep(3)
                run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            task = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/ensure"
            log = api.log(f"{task}/logs/1?full_content=true")
            if "supervises the job: this pass only reports" in log:
                reported += 1
        assert reported >= len(run_ids) // 2, (
            f"only {reported} of {len(run_ids)} DAG runs reported the supervisor"
        )
    finally:
        if was_paused:
            api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        if producer.poll() is None:
            producer.kill()
        supervisor.send_signal(2)  # SIGINT: it stops the queries as it exits
        try:
            _, stderr = supervisor.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            _, stderr = supervisor.communicate()
        # Leave the job running for the tests that follow, as it was.
        _run([stack.bin, "stream", "start"], stack.env, timeout=600)
    own = [line.removeprefix("stream: ") for line in stderr.splitlines() if line.startswith("stream: ")]
    events = [e["event"] for e in _journal(stack)[before:]]
    # The journal holds what the supervisor said, and the one `stream start` above at most.
    foreign = [e for e in events if e not in own and not e.startswith("started: ")]
    stalls = [e for e in own if " stalled: " in e]
    remedies = [e for e in own if e.startswith("Spark Connect server restarted") or e.startswith("restarted")]
    print(
        f"supervised window: {len(run_ids)} DAG runs, {len(own)} supervisor events, "
        f"{len(stalls)} stalls, {len(remedies)} remedies"
    )
    assert not foreign, (
        f"events in the journal that the supervisor did not make: {foreign}\nsupervisor said:\n{stderr}"
    )
