"""Every DAG file parses cleanly and has the shape the pipeline relies on."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.models.dagbag import DagBag
from airflow.serialization.serialized_objects import SerializedDAG

DAGS_DIR = Path(__file__).resolve().parent.parent

EXPECTED = {
    "users_setup": {
        "schedule": None,
        "tasks": {"setup": 1},
        "edges": set(),
    },
    "users_ingest": {
        "schedule": "*/5 * * * *",
        "tasks": {"produce": 3},
        "edges": set(),
    },
    "users_stream": {
        "schedule": "*/2 * * * *",
        "tasks": {"ensure": 1, "record_progress": 1},
        "edges": {("ensure", "record_progress")},
    },
    "users_quality": {
        "schedule": "*/10 * * * *",
        "tasks": {"verify": 1, "check": 0},
        "edges": {("verify", "check")},
    },
}


@pytest.fixture(scope="module")
def parsed():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(DAGS_DIR), include_examples=False)
    return bag, caught


@pytest.fixture(scope="module")
def dagbag(parsed):
    return parsed[0]


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_no_warnings_from_dag_files(parsed):
    bag, caught = parsed
    # What the DAG processor would show in the UI as warnings of our files.
    assert bag.captured_warnings == {}
    ours = [w for w in caught if Path(w.filename).resolve().is_relative_to(DAGS_DIR)]
    assert ours == [], [f"{w.filename}:{w.lineno}: {w.message}" for w in ours]


def test_exactly_the_expected_dags(dagbag):
    assert set(dagbag.dag_ids) == set(EXPECTED)


def test_one_dag_per_file_named_after_it(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert Path(dag.fileloc).name == f"{dag_id}.py"


def test_helper_and_tests_are_not_parsed_as_dag_files(dagbag):
    parsed_files = {Path(stat.file).name for stat in dagbag.dagbag_stats}
    assert parsed_files == {f"{dag_id}.py" for dag_id in EXPECTED}


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_schedule_tasks_retries(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    want = EXPECTED[dag_id]
    assert dag.timetable.summary == (want["schedule"] or "None")
    assert {t.task_id: t.retries for t in dag.tasks} == want["tasks"]
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert edges == want["edges"]


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_common_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags == {"userstream"}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.owner == "userstream"
    assert dag.dagrun_timeout is not None and dag.dagrun_timeout <= timedelta(hours=1)
    assert dag.doc_md and dag_id in dag.doc_md
    for t in dag.tasks:
        assert t.owner == "userstream"
        assert t.execution_timeout is not None, t.task_id
        if dag.dagrun_timeout is not None:
            assert t.execution_timeout <= dag.dagrun_timeout, t.task_id


def test_scheduled_dags_time_out_before_they_pile_up(dagbag):
    # A run may not outlive a few of its intervals (max_active_runs=1 queues the rest).
    intervals = {"users_ingest": 5, "users_stream": 2, "users_quality": 10}
    for dag_id, minutes in intervals.items():
        assert dagbag.dags[dag_id].dagrun_timeout <= timedelta(minutes=minutes * 8), dag_id


def test_ingest_retries_back_off(dagbag):
    produce = dagbag.dags["users_ingest"].get_task("produce")
    assert produce.retries == 3
    assert produce.retry_exponential_backoff
    assert produce.retry_delay > timedelta(0)
    assert produce.max_retry_delay is not None


def test_params(dagbag):
    ingest = dagbag.dags["users_ingest"].params
    assert ingest["count"] == 2000
    assert ingest["source"] == ""
    assert ingest["start_page"] == 1
    quality = dagbag.dags["users_quality"].params
    limits = ("max_missing", "max_extra", "max_field_mismatches", "max_rejected_growth", "max_dlq_growth")
    for name in (*limits, "max_recheck_failures"):
        assert isinstance(quality[name], int) and quality[name] >= 0, name
    # Incremental unless asked: the scheduled run's cost follows what came since the last one.
    assert quality["full"] is False
    # The stream's policy (timeouts, stall bound) is the binary's: `userstream stream ensure --help`.
    assert dagbag.dags["users_stream"].params.dump() == {}


def test_no_hard_coded_binary_path():
    for path in DAGS_DIR.glob("*.py"):
        text = path.read_text()
        assert "target/release" not in text and "target/debug" not in text, path
        assert "/usr/local/bin/userstream" not in text, path


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_serializes(dagbag, dag_id):
    # The dag-processor stores every DAG serialized; an unserializable one never reaches the UI.
    SerializedDAG.to_dict(dagbag.dags[dag_id])
