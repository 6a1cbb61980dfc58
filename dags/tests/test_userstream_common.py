"""Unit tests of the DAGs' helper module: pure functions, and the runner against a fake binary."""

from __future__ import annotations

import logging
import os
import stat
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from airflow.exceptions import AirflowFailException

import userstream_common as us

# --- binary and source resolution -----------------------------------------------------------


def test_binary_from_variable_wins_over_env():
    binary = us.resolve_binary("/opt/a/userstream", {"USERSTREAM_BIN": "/opt/b/userstream"})
    assert binary.path == "/opt/a/userstream"
    assert "Variable 'userstream_bin'" in binary.origin


def test_binary_from_env_when_variable_unset_or_blank():
    for variable in (None, "", "  "):
        binary = us.resolve_binary(variable, {"USERSTREAM_BIN": " /opt/b/userstream "})
        assert binary.path == "/opt/b/userstream"
        assert "USERSTREAM_BIN" in binary.origin


def test_binary_unconfigured_fails_clearly_without_retry():
    with pytest.raises(us.UserstreamConfigError) as err:
        us.resolve_binary(None, {})
    assert isinstance(err.value, AirflowFailException)  # retrying cannot help
    message = str(err.value)
    assert "userstream_bin" in message and "USERSTREAM_BIN" in message


def test_binary_relative_path_rejected():
    with pytest.raises(us.UserstreamConfigError, match="not absolute"):
        us.resolve_binary("userstream", {})


def test_check_executable(tmp_path):
    missing = us.Binary(str(tmp_path / "nope"), "environment variable USERSTREAM_BIN")
    with pytest.raises(us.UserstreamConfigError, match="USERSTREAM_BIN.*does not exist"):
        us.check_executable(missing)
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(us.UserstreamConfigError, match="not executable"):
        us.check_executable(us.Binary(str(plain), "x"))
    plain.chmod(0o755)
    assert us.check_executable(us.Binary(str(plain), "x")).path == str(plain)


def test_find_binary_reads_variable_then_env(monkeypatch, tmp_path):
    from airflow.sdk import Variable

    exe = tmp_path / "userstream"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setattr(Variable, "get", lambda key, default=None: None)
    monkeypatch.setenv("USERSTREAM_BIN", str(exe))
    assert us.find_binary().path == str(exe)
    monkeypatch.delenv("USERSTREAM_BIN")
    with pytest.raises(us.UserstreamConfigError):
        us.find_binary()
    monkeypatch.setattr(
        Variable, "get", lambda key, default=None: str(exe) if key == "userstream_bin" else None
    )
    assert us.find_binary().origin.startswith("Airflow Variable")


def test_source_precedence():
    env = {"USERSTREAM_SOURCE": "http://env.example/api/"}
    assert us.resolve_source("https://param.example/api/", "http://var.example/", env) == (
        "https://param.example/api/"
    )
    assert us.resolve_source("", "http://var.example/", env) == "http://var.example/"
    assert us.resolve_source(None, None, env) == "http://env.example/api/"
    assert (
        us.resolve_source(None, None, {"USERSTREAM_SOURCE_URL": "http://cli.example/"})
        == "http://cli.example/"
    )
    assert us.resolve_source(None, None, {}) == "http://127.0.0.1:8765/api/"
    # A moved users-api port moves the default, as it does for the binary.
    moved = {"USERSTREAM_USERS_API_PORT": "18765"}
    assert us.resolve_source(None, None, moved) == "http://127.0.0.1:18765/api/"
    with pytest.raises(us.UserstreamConfigError, match="not a port"):
        us.resolve_source(None, None, {"USERSTREAM_USERS_API_PORT": "x"})


@pytest.mark.parametrize("bad", ["127.0.0.1:8765/api", "ftp://x/", "http://", "not a url"])
def test_source_must_be_http_url(bad):
    with pytest.raises(us.UserstreamConfigError, match="not an http"):
        us.resolve_source(bad, None, {})


# --- seeds and commands ---------------------------------------------------------------------


def test_seed_from_logical_date_is_stable_and_utc():
    when = datetime(2026, 11, 26, 14, 15, tzinfo=UTC)
    assert us.seed_for_run(when, datetime.now(UTC)) == "userstream-20261126T141500Z"
    # The same instant in another zone is the same seed (a replay fetches the same users).
    cet = when.astimezone(timezone(timedelta(hours=1)))
    assert us.seed_for_run(cet, datetime.now(UTC)) == "userstream-20261126T141500Z"
    assert us.seed_for_run(when, when) != us.seed_for_run(when + timedelta(minutes=5), when)


def test_seed_falls_back_to_run_after_for_manual_runs():
    run_after = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert us.seed_for_run(None, run_after) == "userstream-20260102T030405Z"
    assert us.seed_for_run(None, run_after.replace(tzinfo=None)) == "userstream-20260102T030405Z"


def test_commands():
    assert us.setup_command() == ["setup", "--dags", "unchanged"]
    assert us.stream_ensure_command() == ["stream", "ensure", "--json"]
    assert us.verify_command() == ["verify", "--json"]
    assert us.produce_command(2000, "http://127.0.0.1:8765/api/", "userstream-x", 3) == [
        "produce",
        "--count",
        "2000",
        "--source",
        "http://127.0.0.1:8765/api/",
        "--seed",
        "userstream-x",
        "--start-page",
        "3",
        "--json",
    ]


@pytest.mark.parametrize(
    ("count", "seed", "page"),
    [(0, "s", 1), (-1, "s", 1), (True, "s", 1), ("10", "s", 1), (10, "", 1), (10, "a b", 1), (10, "s", 0)],
)
def test_produce_command_rejects_bad_arguments(count, seed, page):
    with pytest.raises(us.UserstreamConfigError):
        us.produce_command(count, "http://h/api/", seed, page)


def test_failure_message_quotes_command_code_and_tail():
    tail = [f"stderr: line {i}" for i in range(30)]
    message = us.failure_message(["/bin/userstream", "produce", "--count", "5"], 3, tail)
    assert message.startswith("`/bin/userstream produce --count 5` exited with code 3")
    assert "line 29" in message and "line 10" in message and "line 9\n" not in message
    assert message.count("\n  | ") == us.TAIL_LINES
    assert "killed by signal 9" in us.failure_message(["x"], -9, [])
    assert "printed nothing" in us.failure_message(["x"], 1, [])


# --- JSON output ----------------------------------------------------------------------------


def test_parse_json_plain_and_pretty():
    assert us.parse_json_output('{"produced": 5}\n') == {"produced": 5}
    pretty = '{\n  "a": {\n    "b": 1\n  }\n}'
    assert us.parse_json_output(pretty) == {"a": {"b": 1}}


def test_parse_json_after_log_lines():
    out = "INFO starting\nWARN slow { not json\n" + '{"active": true, "id": "q"}'
    assert us.parse_json_output(out) == {"active": True, "id": "q"}
    out = 'progress...\n{\n  "kafka_count": 3,\n  "nested": {"x": [1, 2]}\n}\n'
    assert us.parse_json_output(out)["kafka_count"] == 3


@pytest.mark.parametrize("bad", ["", "   \n", "no json here", "[1, 2]", '{"unterminated": '])
def test_parse_json_errors(bad):
    with pytest.raises(us.JsonOutputError):
        us.parse_json_output(bad)


def test_count_of():
    assert us.count_of(None) == 0
    assert us.count_of(7) == 7
    assert us.count_of(3.0) == 3
    assert us.count_of(["a", "b"]) == 2
    assert us.count_of({"count": 4, "sample": ["x"]}) == 4
    with pytest.raises(us.UserstreamError):
        us.count_of("many")


def test_produce_summary():
    doc = {"produced": 1990, "rejected": 10, "dlq": 10, "users_per_second": 812.5}
    assert us.produce_summary(doc, 2000) == doc
    with pytest.raises(us.UserstreamError, match="produced none"):
        us.produce_summary({"produced": 0, "rejected": 5, "dlq": 5}, 2000)
    with pytest.raises(us.UserstreamError, match="lacks dlq or dlq_produced"):
        us.produce_summary({"produced": 1, "rejected": 0}, 1)


def test_produce_summary_of_the_producers_run_summary():
    # The field names of userstream-ingest's RunSummary.
    doc = {
        "topic": "users",
        "dlq_topic": "users.dlq",
        "seed": "userstream-x",
        "start_page": 1,
        "resume_page": 2,
        "stop_reason": "CountReached",
        "users_produced": 2000,
        "rejected": 0,
        "dlq_produced": 0,
        "users_per_sec": 1500.0,
        "failure": None,
    }
    assert us.produce_summary(doc, 2000) == {
        "produced": 2000,
        "rejected": 0,
        "dlq": 0,
        "users_per_second": 1500.0,
        "resume_page": 2,
        "stop_reason": "CountReached",
        "failure": None,
    }


def test_stream_status_flat():
    status = us.stream_status({"active": False, "id": "q", "name": "users", "exception": "boom"})
    assert status["active"] is False
    assert status["queries"][0]["name"] == "users"
    assert status["queries"][0]["exception"] == "boom"
    assert status["queries"][0]["held_after_end"] is False
    with pytest.raises(us.UserstreamError, match="active"):
        us.stream_status({"active": "yes"})


def test_stream_status_of_a_job_with_several_queries():
    # The shape of userstream-stream's StreamStatus.
    doc = {
        "session_id": "s1",
        "queries": [
            {
                "name": "users",
                "active": True,
                "id": "a",
                "run_id": "r",
                "message": "Waiting for data to arrive",
                "trigger_active": False,
                "last_progress": {"batch_id": 4, "timestamp": "t", "num_input_rows": 10},
                "exception": None,
            },
            {"name": "rejected", "active": False, "id": "b", "exception": "StreamingQueryException: x"},
        ],
    }
    status = us.stream_status(doc)
    assert status["active"] is False and status["session_id"] == "s1"
    assert [q["exception"] for q in status["queries"]] == [None, "StreamingQueryException: x"]
    progress = us.stream_progress(status)
    assert progress["users"]["progress"]["batch_id"] == 4
    assert progress["rejected"] == {"id": "b", "active": False, "progress": None}
    doc["queries"][1].update(active=True, exception=None)
    assert us.stream_status(doc)["active"] is True
    assert us.stream_status({"session_id": "s", "queries": []})["active"] is False


def test_exception_values():
    def text(exc):
        return us.stream_status({"active": False, "name": "q", "exception": exc})["queries"][0]["exception"]

    assert text(None) is None
    assert text("") is None
    assert text({"message": "boom", "stack_trace": "at x"}) == "boom\nat x"
    assert "code" in text({"code": 3})


# The shape of `userstream stream ensure --json` (userstream-stream's EnsureReport).
ENSURE_DOWN = {
    "actions": [
        "query users is not running (Spark gave no exception)",
        "started: users  started  id a  run r; session s1; decoding schema ids [1]",
    ],
    "status": {
        "session_id": "s1",
        "queries": [
            {
                "name": "users",
                "active": False,
                "id": "a",
                "run_id": "r",
                "message": None,
                "trigger_active": False,
                "last_progress": None,
                "exception": "\norg.apache.spark.sql.streaming.StreamingQueryException: boom\n\tat x.y",
                "held_after_end": False,
            },
            {"name": "users-rejected", "active": True, "id": "b", "exception": None},
        ],
    },
}


def test_stream_ensure_report():
    report = us.stream_ensure_report(ENSURE_DOWN)
    assert report["actions"] == ENSURE_DOWN["actions"]
    assert report["status"]["active"] is False and report["status"]["session_id"] == "s1"
    assert [q["name"] for q in report["status"]["queries"]] == ["users", "users-rejected"]
    nothing = us.stream_ensure_report({"actions": [], "status": {"session_id": "s", "queries": []}})
    assert nothing["actions"] == []
    for bad in ({}, {"actions": "x", "status": {}}, {"actions": [], "status": None}):
        with pytest.raises(us.UserstreamError, match="stream ensure printed no"):
            us.stream_ensure_report(bad)


def test_first_line():
    assert us.first_line("\n  boom  \n\tat x") == "boom"
    assert us.first_line("") == ""
    long = us.first_line("x" * 1000)
    assert len(long) == us.FIRST_LINE_CHARS + 1 and long.endswith("…")


def test_stream_down_message_names_what_is_down_and_what_to_run():
    text = us.stream_down_message(us.stream_ensure_report(ENSURE_DOWN))
    lines = text.splitlines()
    assert lines[0] == "the streaming job is still down after one pass of the supervisor's policy"
    assert lines[1] == "- users: org.apache.spark.sql.streaming.StreamingQueryException: boom"
    assert "users-rejected" not in text.split("this pass:")[0]  # active: not listed as down
    assert "  query users is not running (Spark gave no exception)" in lines
    assert "at x.y" not in text
    assert "userstream stream status --json" in text and "userstream stream ensure" in text
    assert "spark-connect" not in text
    held = {"name": "users", "active": False, "held_after_end": True}
    text = us.stream_down_message(us.stream_ensure_report({"actions": [], "status": {"queries": [held]}}))
    assert "- users: ended, but Spark still holds it" in text and "this pass:" not in text
    assert "userstream stack restart spark-connect" in text
    none = us.stream_down_message(us.stream_ensure_report({"actions": [], "status": {"queries": []}}))
    assert "lists no query" in none


def test_progress_summary_camel_and_snake_case():
    spark = {
        "id": "q",
        "batchId": 12,
        "timestamp": "2026-11-26T14:00:00.000Z",
        "numInputRows": 2000,
        "inputRowsPerSecond": 400.0,
        "processedRowsPerSecond": 1000.0,
        "sources": [],
    }
    summary = us.progress_summary(spark)
    assert summary == {
        "batch_id": 12,
        "timestamp": "2026-11-26T14:00:00.000Z",
        "num_input_rows": 2000,
        "input_rows_per_second": 400.0,
        "processed_rows_per_second": 1000.0,
    }
    assert us.progress_summary({"batch_id": 1, "num_input_rows": 5})["num_input_rows"] == 5
    assert us.progress_summary('{"batchId": 3}')["batch_id"] == 3
    assert us.progress_summary(None) is None
    assert us.progress_summary("garbage") == {"raw": "garbage"}


# --- quality --------------------------------------------------------------------------------

REPORT = {
    "kafka_count": 4000,
    "cassandra_count": 4000,
    "missing_ids": [],
    "extra": 0,
    "field_mismatches": 0,
    "rejected_rows": 0,
    "dlq_count": 12,
}


def test_verify_counts_accepts_lists_and_numbers():
    counts = us.verify_counts({**REPORT, "missing_ids": ["a", "b"], "field_mismatches": {"count": 1}})
    assert counts["missing"] == 2 and counts["field_mismatches"] == 1 and counts["kafka_count"] == 4000
    assert counts["dlq_count"] == 12
    with pytest.raises(us.UserstreamError, match="lacks cassandra_count or cassandra_rows"):
        us.verify_counts({k: v for k, v in REPORT.items() if k != "cassandra_count"})


def test_verify_counts_of_the_stream_crates_report():
    # The shape of userstream-verify's VerifyReport: id lists are samples, counts are complete.
    doc = {
        "topic": "users",
        "keyspace": "userstream",
        "kafka_records": 4010,
        "kafka_decoded": 4000,
        "kafka_undecodable": 10,
        "kafka_unique_ids": 4000,
        "cassandra_rows": 3950,
        "rejected_rows": 10,
        "missing_count": 50,
        "missing_ids": ["id"] * 20,
        "extra_count": 0,
        "extra_ids": [],
        "sampled": 200,
        "field_mismatch_count": 1,
        "field_mismatches": [{"id": "u1", "field": "email", "expected": "a", "actual": "b"}],
        "ok": False,
    }
    counts = us.verify_counts(doc)
    assert counts == {
        "kafka_count": 4000,
        "cassandra_count": 3950,
        "missing": 50,
        "extra": 0,
        "field_mismatches": 1,
        "rejected_rows": 10,
        "dlq_count": None,
    }
    samples = us.report_samples(doc)
    assert len(samples["missing_ids"]) == us.SAMPLE_SIZE and "extra_ids" not in samples
    checks = us.quality_checks(counts, us.QualityLimits(), {"rejected_rows": 10})
    text = us.quality_report(checks, samples)
    assert "FAIL missing in Cassandra" in text and "FAIL field mismatches" in text
    assert "ok   new rejected rows" in text and "10 -> 10" in text
    assert "n/a" in text and "not in the verify report" in text
    assert '"field": "email"' in text


def test_quality_all_pass_and_report():
    counts = us.verify_counts(REPORT)
    checks = us.quality_checks(counts, us.QualityLimits(), {"dlq_count": 10, "rejected_rows": 0})
    assert all(c.ok for c in checks)
    text = us.quality_report(checks)
    assert text.startswith("data quality: all checks passed")
    assert "10 -> 12" in text


def test_quality_failures_are_named():
    counts = us.verify_counts({**REPORT, "cassandra_count": 3990, "missing_ids": 10, "dlq_count": 500})
    checks = us.quality_checks(counts, us.QualityLimits(max_dlq_growth=100), {"dlq_count": 12})
    failed = {c.name for c in checks if not c.ok}
    assert failed == {"missing in Cassandra", "DLQ growth"}
    text = us.quality_report(checks)
    assert text.startswith("data quality: 2 of 5 check(s) failed")
    assert "FAIL missing in Cassandra" in text and "Kafka 4000, Cassandra 3990" in text
    assert "FAIL DLQ growth" in text and "12 -> 500" in text


def test_growth_without_baseline_counts_everything():
    counts = us.verify_counts({**REPORT, "dlq_count": 50, "rejected_rows": 3})
    checks = {c.name: c for c in us.quality_checks(counts, us.QualityLimits(), None)}
    assert checks["DLQ growth"].ok and checks["DLQ growth"].value == 50
    assert "no earlier run" in checks["DLQ growth"].detail
    assert not checks["new rejected rows"].ok and checks["new rejected rows"].value == 3


def test_only_lagging():
    limits = us.QualityLimits()
    assert us.only_lagging(us.verify_counts({**REPORT, "missing_ids": 5}), limits)
    assert not us.only_lagging(us.verify_counts(REPORT), limits)
    assert not us.only_lagging(us.verify_counts({**REPORT, "missing_ids": 5, "field_mismatches": 1}), limits)


def test_quality_limits_from_params():
    limits = us.QualityLimits.from_params({"max_missing": 3, "max_dlq_growth": 0, "settle_seconds": 9})
    assert limits == us.QualityLimits(max_missing=3, max_dlq_growth=0)
    with pytest.raises(us.UserstreamConfigError):
        us.QualityLimits.from_params({"max_extra": -1})


# --- the runner, against a fake binary ------------------------------------------------------


def _fake_binary(tmp_path: Path, body: str) -> us.Binary:
    exe = tmp_path / "userstream"
    exe.write_text(f"#!{sys.executable}\nimport sys, time, json\n" + textwrap.dedent(body))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return us.Binary(str(exe), "test")


def test_run_streams_both_outputs_into_the_log(tmp_path, caplog):
    binary = _fake_binary(
        tmp_path,
        """
        print("log line on stderr", file=sys.stderr, flush=True)
        print(json.dumps({"args": sys.argv[1:]}))
        """,
    )
    with caplog.at_level(logging.INFO, logger="userstream_common"):
        doc, result = us.run_userstream_json(["verify", "--json"], timeout=30, binary=binary)
    assert doc == {"args": ["verify", "--json"]}
    assert result.returncode == 0
    assert "[stderr] log line on stderr" in caplog.text
    assert '[stdout] {"args"' in caplog.text
    assert "exited with code 0" in caplog.text


def test_run_failure_carries_exit_code_and_last_lines(tmp_path):
    binary = _fake_binary(
        tmp_path,
        """
        for i in range(40):
            print(f"step {i}", file=sys.stderr)
        print("error: kafka unreachable at 127.0.0.1:9092", file=sys.stderr)
        sys.exit(4)
        """,
    )
    with pytest.raises(us.CommandFailed) as err:
        us.run_userstream(["setup"], timeout=30, binary=binary)
    assert err.value.returncode == 4
    message = str(err.value)
    assert "exited with code 4" in message
    assert "kafka unreachable" in message and "step 39" in message and "step 5\n" not in message


def test_run_json_tolerates_nonzero_exit_with_report(tmp_path):
    binary = _fake_binary(tmp_path, 'print(json.dumps({"kafka_count": 1}))\nsys.exit(1)\n')
    doc, result = us.run_userstream_json(["verify", "--json"], timeout=30, binary=binary, allow_nonzero=True)
    assert doc == {"kafka_count": 1} and result.returncode == 1
    with pytest.raises(us.CommandFailed):
        us.run_userstream_json(["verify", "--json"], timeout=30, binary=binary)


def test_run_json_nonzero_without_report_is_a_command_failure(tmp_path):
    binary = _fake_binary(tmp_path, 'print("panic: boom", file=sys.stderr)\nsys.exit(2)\n')
    with pytest.raises(us.CommandFailed, match="code 2"):
        us.run_userstream_json(["stream", "status", "--json"], timeout=30, binary=binary, allow_nonzero=True)


def test_run_json_zero_without_report_is_an_output_error(tmp_path):
    binary = _fake_binary(tmp_path, 'print("hello")\n')
    with pytest.raises(us.JsonOutputError):
        us.run_userstream_json(["verify", "--json"], timeout=30, binary=binary)


def test_run_timeout_stops_the_command(tmp_path):
    marker = tmp_path / "pid"
    binary = _fake_binary(
        tmp_path,
        f"""
        import os
        open({str(marker)!r}, "w").write(str(os.getpid()))
        print("waiting", file=sys.stderr, flush=True)
        time.sleep(60)
        """,
    )
    with pytest.raises(us.CommandTimedOut, match="did not finish within 1s"):
        us.run_userstream(["produce"], timeout=1, binary=binary)
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
