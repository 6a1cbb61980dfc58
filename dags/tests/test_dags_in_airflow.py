"""`airflow dags test` of every DAG in a throw-away Airflow, against the fake binary.

No stack needed: a fresh AIRFLOW_HOME and SQLite database (`airflow db migrate`), this
repository's DAG folder, and fake_userstream.py as USERSTREAM_BIN. This runs the tasks through
Airflow's real task runner: params, the run context, Variables (unset), XCom between tasks and
from the previous run (users_quality's DLQ baseline). About a minute and a half; deselect with
`-m "not airflow_cli"` for a quick loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from contracts import write_stand_in

pytestmark = pytest.mark.airflow_cli

DAGS_DIR = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

# An incremental run's report (the stand-in leaves the full-only counts null).
GOOD_REPORT = {
    "kafka_unique_ids": 2000,
    "missing_count": 0,
    "missing_ids": [],
    "field_mismatch_count": 0,
    "field_mismatches": [],
    "rejected_rows": 0,
    "rechecked": 200,
    "dlq_count": 4,
}


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("airflow-cli")
    home = root / "home"
    home.mkdir()
    exe = root / "userstream"
    write_stand_in(exe)
    state = root / "fake-state.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "USERSTREAM_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API_AUTH__JWT_SECRET": "test-only-jwt-secret",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "USERSTREAM_BIN": str(exe),
            "FAKE_STATE": str(state),
            "FAKE_CALLS": str(root / "calls.jsonl"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    done = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env


def _set_state(env: dict, **state) -> None:
    Path(env["FAKE_STATE"]).write_text(json.dumps(state))


def _calls(env: dict) -> list[list[str]]:
    path = Path(env["FAKE_CALLS"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _dags_test(
    env: dict, dag_id: str, logical_date: str, conf: dict | None = None
) -> subprocess.CompletedProcess:
    argv = [AIRFLOW, "dags", "test", dag_id, logical_date]
    if conf is not None:
        argv += ["-c", json.dumps(conf)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def _ok(done: subprocess.CompletedProcess) -> bool:
    return done.returncode == 0


def _why(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"


def test_all_dags_in_order(airflow_env):
    env = airflow_env
    _set_state(env, active=False, exception="session expired", verify=[GOOD_REPORT])

    done = _dags_test(env, "users_setup", "2026-11-26T10:00:00+00:00")
    assert _ok(done), _why(done)

    done = _dags_test(env, "users_ingest", "2026-11-26T10:05:00+00:00", {"count": 50})
    assert _ok(done), _why(done)
    produce = [c for c in _calls(env) if c[:1] == ["produce"]]
    assert produce and produce[-1][produce[-1].index("--seed") + 1] == "userstream-20261126T100500Z"
    assert produce[-1][produce[-1].index("--count") + 1] == "50"

    done = _dags_test(env, "users_stream", "2026-11-26T10:06:00+00:00")
    assert _ok(done), _why(done)
    assert ["stream", "ensure", "--json"] in _calls(env)
    assert "stream ensure: query users is down: session expired" in done.stdout + done.stderr, _why(done)

    done = _dags_test(env, "users_quality", "2026-11-26T10:10:00+00:00")
    assert _ok(done), _why(done)
    assert "data quality: all checks passed" in done.stdout + done.stderr
    assert ["verify", "--incremental", "--json"] in _calls(env)


def test_quality_measures_dlq_growth_from_the_previous_run(airflow_env):
    env = airflow_env
    _set_state(env, active=True, verify=[GOOD_REPORT])
    done = _dags_test(env, "users_quality", "2026-11-26T11:00:00+00:00")
    assert _ok(done), _why(done)
    _set_state(env, active=True, verify=[{**GOOD_REPORT, "dlq_count": 400}])
    done = _dags_test(env, "users_quality", "2026-11-26T11:10:00+00:00")
    out = done.stdout + done.stderr
    assert not _ok(done), _why(done)
    assert "FAIL DLQ growth" in out and "4 -> 400" in out, _why(done)


def test_a_failing_command_fails_the_run_with_its_output(airflow_env):
    env = airflow_env
    _set_state(env, active=True, setup_exit=3, verify=[GOOD_REPORT])
    done = _dags_test(env, "users_setup", "2026-11-26T12:00:00+00:00")
    out = done.stdout + done.stderr
    assert not _ok(done), _why(done)
    assert "exited with code 3" in out and "fake userstream setup" in out, _why(done)
