"""The DAGs' task functions, run against a fake `userstream` binary.

The fake (fake_userstream.py) keeps its state in a JSON file (is the query active, what verify
reports) and appends every command line it receives to a log, so the tests see exactly what the
tasks ran.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.models.dagbag import DagBag
from airflow.sdk import Variable

from contracts import write_stand_in

DAGS_DIR = Path(__file__).resolve().parent.parent


# What the scheduled (incremental) run reports: 100 users since the last verified cut; the
# stand-in leaves the full-only counts null.
GOOD_REPORT = {
    "kafka_unique_ids": 100,
    "missing_count": 0,
    "missing_ids": [],
    "field_mismatch_count": 0,
    "field_mismatches": [],
    "rejected_rows": 0,
    "rechecked": 200,
    "dlq_count": 3,
}
GOOD_COUNTS = {
    "kafka_count": 100,
    "cassandra_count": None,
    "missing": 0,
    "extra": None,
    "field_mismatches": 0,
    "rejected_rows": 0,
    "recheck_failed": 0,
    "dlq_count": 3,
}
INCREMENTAL = ["verify", "--incremental", "--json"]
GOOD_ID = "9b2f0c1e-0000-4000-8000-00000000000a"


@pytest.fixture(scope="module")
def dagbag():
    return DagBag(dag_folder=str(DAGS_DIR), include_examples=False)


class Fake:
    def __init__(self, tmp_path: Path, monkeypatch):
        self.state_file = tmp_path / "state.json"
        self.calls_file = tmp_path / "calls.jsonl"
        exe = tmp_path / "userstream"
        write_stand_in(exe)
        self.set(active=True)
        monkeypatch.setenv("USERSTREAM_BIN", str(exe))
        monkeypatch.setenv("FAKE_STATE", str(self.state_file))
        monkeypatch.setenv("FAKE_CALLS", str(self.calls_file))
        monkeypatch.delenv("USERSTREAM_SOURCE", raising=False)
        self.variables: dict[str, str] = {}
        monkeypatch.setattr(Variable, "get", lambda key, default=None: self.variables.get(key, default))

    def set(self, **state):
        self.state_file.write_text(json.dumps(state))

    def calls(self) -> list[list[str]]:
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return Fake(tmp_path, monkeypatch)


def run_task(dagbag, monkeypatch, dag_id, task_id, *args, logical_date=None, params=None, ti=None):
    """Call a task's function with a minimal context, as the task runner would."""
    dag = dagbag.dags[dag_id]
    fn = dag.get_task(task_id).python_callable
    merged = dag.params.dump()
    merged.update(params or {})
    context = {
        "params": merged,
        "logical_date": logical_date,
        "dag_run": SimpleNamespace(run_after=datetime(2026, 11, 26, 15, 0, tzinfo=UTC)),
        "ti": ti,
    }
    if "get_current_context" in fn.__globals__:
        monkeypatch.setitem(fn.__globals__, "get_current_context", lambda: context)
    if "time" in fn.__globals__:
        monkeypatch.setattr(fn.__globals__["time"], "sleep", lambda s: None)
    return fn(*args)


def test_setup_runs_setup(dagbag, monkeypatch, fake):
    run_task(dagbag, monkeypatch, "users_setup", "setup")
    assert fake.calls() == [["setup", "--dags", "unchanged"]]


def test_setup_failure_fails_the_task(dagbag, monkeypatch, fake):
    import userstream_common as us

    fake.set(setup_exit=5)
    with pytest.raises(us.CommandFailed, match="exited with code 5"):
        run_task(dagbag, monkeypatch, "users_setup", "setup")


def test_ingest_seed_from_logical_date_and_default_source(dagbag, monkeypatch, fake):
    when = datetime(2026, 11, 26, 14, 5, tzinfo=UTC)
    # The local users-api at the documented port (the test command moves every port).
    monkeypatch.setenv("USERSTREAM_USERS_API_PORT", "8765")
    summary = run_task(dagbag, monkeypatch, "users_ingest", "produce", logical_date=when)
    assert fake.calls() == [
        [
            "produce",
            "--count",
            "2000",
            "--source",
            "http://127.0.0.1:8765/api/",
            "--seed",
            "userstream-20261126T140500Z",
            "--start-page",
            "1",
            "--json",
        ]
    ]
    assert summary["produced"] == 2000 and summary["seed"] == "userstream-20261126T140500Z"
    # A rerun of the same run is a replay: the same command.
    run_task(dagbag, monkeypatch, "users_ingest", "produce", logical_date=when)
    assert fake.calls()[0] == fake.calls()[1]


def test_ingest_params_and_variable_source(dagbag, monkeypatch, fake):
    fake.variables["userstream_source"] = "https://randomuser.me/api/"
    run_task(dagbag, monkeypatch, "users_ingest", "produce", params={"count": 10, "start_page": 4})
    call = fake.calls()[0]
    assert call[call.index("--source") + 1] == "https://randomuser.me/api/"
    assert call[call.index("--count") + 1] == "10"
    assert call[call.index("--start-page") + 1] == "4"
    assert call[call.index("--seed") + 1] == "userstream-20261126T150000Z"  # run_after: manual run
    run_task(dagbag, monkeypatch, "users_ingest", "produce", params={"source": "http://other:1/api/"})
    call = fake.calls()[1]
    assert call[call.index("--source") + 1] == "http://other:1/api/"


ENSURE = ["stream", "ensure", "--json"]


def test_stream_active_is_left_alone(dagbag, monkeypatch, fake, caplog):
    fake.set(active=True, last_progress={"batch_id": 7, "num_input_rows": 50})
    with caplog.at_level(logging.INFO):
        report = run_task(dagbag, monkeypatch, "users_stream", "ensure")
    assert fake.calls() == [ENSURE]  # one pass, nothing else
    assert report["actions"] == [] and report["status"]["active"] is True
    assert "stream ensure: nothing to do" in caplog.text
    progress = run_task(dagbag, monkeypatch, "users_stream", "record_progress", report)
    assert progress["queries"]["users"]["progress"]["batch_id"] == 7
    assert progress["queries"]["users"]["id"] == "q1"
    assert progress["session_id"] == "s1"


def test_stream_down_is_started_and_each_action_logged(dagbag, monkeypatch, fake, caplog):
    fake.set(active=False, exception="session expired\n\tat somewhere")
    with caplog.at_level(logging.INFO):
        report = run_task(dagbag, monkeypatch, "users_stream", "ensure")
    assert fake.calls() == [ENSURE]
    assert report["status"]["active"] is True
    assert len(report["actions"]) == 2
    assert report["actions"][0].startswith("query users is down: session expired (full text")
    assert report["actions"][1].startswith("started: users")
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stream ensure: ")]
    assert logged == [f"stream ensure: {a}" for a in report["actions"]]
    progress = run_task(dagbag, monkeypatch, "users_stream", "record_progress", report)
    assert progress["queries"]["users"]["progress"] is None


def test_stream_stall_is_healed(dagbag, monkeypatch, fake):
    fake.set(active=True, stalled=True)
    report = run_task(dagbag, monkeypatch, "users_stream", "ensure")
    assert report["status"]["active"] is True
    assert "stalled" in report["actions"][0] and report["actions"][1].startswith("started:")
    # The next pass finds nothing to do.
    assert run_task(dagbag, monkeypatch, "users_stream", "ensure")["actions"] == []


def test_stream_still_down_after_the_pass_fails_with_its_exception(dagbag, monkeypatch, fake):
    fake.set(active=False, exception=None, start_fails=True)
    with pytest.raises(Exception) as err:
        run_task(dagbag, monkeypatch, "users_stream", "ensure")
    assert type(err.value).__name__ == "StreamDown"
    text = str(err.value)
    assert text.startswith("the streaming job is still down after one pass")
    # The first line of the exception, not the stack trace.
    assert "- users: org.apache.spark.sql.streaming.StreamingQueryException: Cassandra down" in text
    assert "StreamExecution.runStream" not in text
    assert "query users is not running (Spark gave no exception)" in text  # what the pass did
    assert "userstream stream status --json" in text and "userstream stream ensure" in text
    assert fake.calls() == [ENSURE]


def test_stream_ensure_error_fails_with_its_output(dagbag, monkeypatch, fake):
    import userstream_common as us

    fake.set(active=False, ensure_error="Spark Connect at sc://127.0.0.1:15002 is unreachable")
    with pytest.raises(us.CommandFailed, match="(?s)exited with code 1.*is unreachable"):
        run_task(dagbag, monkeypatch, "users_stream", "ensure")


class FakeTI:
    def __init__(self, previous_report):
        self.previous_report = previous_report

    def get_previous_dagrun(self):
        return None if self.previous_report is None else SimpleNamespace(run_id="scheduled__prev")

    def xcom_pull(self, task_ids, run_id):
        assert task_ids == "verify" and run_id == "scheduled__prev"
        return self.previous_report


def test_quality_waits_for_rows_in_flight_then_passes(dagbag, monkeypatch, fake):
    lagging = {**GOOD_REPORT, "missing_count": 10}
    fake.set(verify=[lagging, lagging, GOOD_REPORT])
    report = run_task(dagbag, monkeypatch, "users_quality", "verify")
    assert report == {"counts": GOOD_COUNTS, "mode": "incremental", "exit_code": 0, "samples": {}}
    assert fake.calls() == [INCREMENTAL] * 3
    ti = FakeTI({"counts": {**GOOD_COUNTS, "dlq_count": 1}, "mode": "incremental", "exit_code": 0})
    result = run_task(dagbag, monkeypatch, "users_quality", "check", report, ti=ti)
    assert result["passed"] and result["checks"]["DLQ growth"] == 2
    assert result["checks"]["extra in Cassandra"] is None  # only a full run looks for them


def test_quality_full_param_runs_the_full_comparison(dagbag, monkeypatch, fake):
    fake.set(verify=[{**GOOD_REPORT, "cassandra_rows": 100, "extra_count": 1, "extra_ids": [GOOD_ID]}])
    report = run_task(dagbag, monkeypatch, "users_quality", "verify", params={"full": True})
    assert fake.calls() == [["verify", "--json"]]
    assert report["mode"] == "full" and report["counts"]["cassandra_count"] == 100
    with pytest.raises(Exception) as err:
        run_task(dagbag, monkeypatch, "users_quality", "check", report, ti=FakeTI(None))
    text = str(err.value)
    assert "FAIL extra in Cassandra" in text and GOOD_ID in text
    assert "failed rechecks" in text and "incremental runs only" in text


def test_quality_counts_rejections_of_an_incremental_run_as_new(dagbag, monkeypatch, fake):
    # The previous run (full) counted 10 rejected rows in all; this incremental run read 2
    # new rejected records since the last verified cut: 2 new, not 2 - 10.
    fake.set(verify=[{**GOOD_REPORT, "kafka_undecodable": 2, "rejected_rows": 2}])
    report = run_task(dagbag, monkeypatch, "users_quality", "verify")
    full_counts = {**GOOD_COUNTS, "rejected_rows": 10, "cassandra_count": 90, "extra": 0}
    previous = {"counts": full_counts, "mode": "full", "exit_code": 0}
    with pytest.raises(Exception, match="FAIL new rejected rows +2 .*since the last verified cut"):
        run_task(dagbag, monkeypatch, "users_quality", "check", report, ti=FakeTI(previous))
    loose = {"max_rejected_growth": 2}
    result = run_task(
        dagbag, monkeypatch, "users_quality", "check", report, params=loose, ti=FakeTI(previous)
    )
    assert result["checks"]["new rejected rows"] == 2


def test_quality_fails_on_an_older_record_whose_row_went_back(dagbag, monkeypatch, fake):
    fake.set(verify=[{**GOOD_REPORT, "recheck_failed": 1, "recheck_failed_ids": [GOOD_ID]}])
    report = run_task(dagbag, monkeypatch, "users_quality", "verify")
    assert fake.calls() == [INCREMENTAL]  # not lag: no waiting
    with pytest.raises(Exception) as err:
        run_task(dagbag, monkeypatch, "users_quality", "check", report, ti=FakeTI(None))
    text = str(err.value)
    assert "FAIL failed rechecks" in text and "some recheck failed ids" in text and GOOD_ID in text


def test_quality_fails_with_a_readable_report(dagbag, monkeypatch, fake):
    bad = {
        **GOOD_REPORT,
        "field_mismatch_count": 2,
        "field_mismatches": [
            {
                "id": "9b2f0c1e-0000-4000-8000-000000000002",
                "field": "email",
                "expected": "a@x",
                "actual": "b@x",
            }
        ],
        "missing_count": 1,
        "missing_ids": ["9b2f0c1e-0000-4000-8000-000000000001"],
        "dlq_count": 500,
    }
    fake.set(verify=[bad])
    report = run_task(dagbag, monkeypatch, "users_quality", "verify")
    assert fake.calls() == [INCREMENTAL]  # not just lag: no waiting
    assert report["exit_code"] == 1
    ti = FakeTI({"counts": GOOD_COUNTS, "mode": "incremental", "exit_code": 0})
    with pytest.raises(Exception) as err:
        run_task(dagbag, monkeypatch, "users_quality", "check", report, ti=ti)
    text = str(err.value)
    assert "3 of 6 check(s) failed" in text
    assert "FAIL field mismatches" in text and "FAIL missing in Cassandra" in text
    assert "FAIL DLQ growth" in text and "3 -> 500" in text
    assert "9b2f0c1e-0000-4000-8000-000000000001" in text and '"field": "email"' in text


def test_quality_fails_when_verify_reports_a_difference_the_limits_allow(dagbag, monkeypatch, fake):
    loose = {"max_missing": 5}
    fake.set(verify=[{**GOOD_REPORT, "missing_count": 2}])
    report = run_task(dagbag, monkeypatch, "users_quality", "verify", params=loose)
    with pytest.raises(Exception, match="exited with code 1"):
        run_task(dagbag, monkeypatch, "users_quality", "check", report, params=loose, ti=FakeTI(None))
    loose["require_verify_ok"] = False
    result = run_task(dagbag, monkeypatch, "users_quality", "check", report, params=loose, ti=FakeTI(None))
    assert result["passed"]


def test_quality_gives_up_waiting_after_settle_time(dagbag, monkeypatch, fake):
    lagging = {**GOOD_REPORT, "missing_count": 10}
    fake.set(verify=[lagging])
    report = run_task(dagbag, monkeypatch, "users_quality", "verify", params={"settle_seconds": 0})
    with pytest.raises(Exception, match="FAIL missing in Cassandra"):
        run_task(dagbag, monkeypatch, "users_quality", "check", report, ti=FakeTI(None))
