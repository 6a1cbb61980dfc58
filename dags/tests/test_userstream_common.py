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
from contracts import example, part

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
    assert us.verify_command(full=True) == ["verify", "--json"]
    assert us.verify_command(full=False) == ["verify", "--incremental", "--json"]
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
    assert us.count_of(0) == 0
    assert us.count_of(7) == 7
    for bad in (None, True, -1, 3.0, ["a"], "many"):
        with pytest.raises(us.UserstreamError, match="expected a count"):
            us.count_of(bad)


def test_produce_summary_of_the_producers_run_summary():
    doc = example(
        "produce",
        seed="userstream-x",
        start_page=1,
        resume_page=2,
        stop_reason="count",
        users_produced=2000,
        rejected=3,
        dlq_produced=3,
        users_per_sec=1500.0,
    )
    assert us.produce_summary(doc, 2000) == {
        "produced": 2000,
        "rejected": 3,
        "dlq": 3,
        "users_per_second": 1500.0,
        "resume_page": 2,
        "stop_reason": "count",
        "failure": None,
    }
    with pytest.raises(us.UserstreamError, match="produced none"):
        us.produce_summary(example("produce", rejected=5, dlq_produced=5), 2000)
    lacking = {k: v for k, v in doc.items() if k != "dlq_produced"}
    with pytest.raises(us.UserstreamError, match="no field 'dlq_produced'"):
        us.produce_summary(lacking, 1)


def query(**fields):
    """A QueryStatus as `stream status --json` prints it."""
    return part("stream-status", "QueryStatus", **fields)


def test_stream_status_of_a_job_with_several_queries():
    progress = part("stream-status", "Progress", batch_id=4, timestamp="t", num_input_rows=10)
    doc = example(
        "stream-status",
        session_id="s1",
        queries=[
            query(
                name="users",
                active=True,
                id="a",
                message="Waiting for data to arrive",
                last_progress=progress,
            ),
            query(name="rejected", id="b", exception="StreamingQueryException: x"),
        ],
    )
    status = us.stream_status(doc)
    assert status["active"] is False and status["session_id"] == "s1"
    assert [q["exception"] for q in status["queries"]] == [None, "StreamingQueryException: x"]
    assert status["queries"][1]["held_after_end"] is False
    summary = us.stream_progress(status)
    assert summary["users"]["progress"]["batch_id"] == 4
    assert summary["rejected"] == {"id": "b", "active": False, "progress": None}
    doc["queries"][1].update(active=True, exception=None)
    assert us.stream_status(doc)["active"] is True
    assert us.stream_status(example("stream-status", session_id="s"))["active"] is False


def test_stream_status_names_what_it_lacks():
    with pytest.raises(us.UserstreamError, match="no field 'queries'"):
        us.stream_status({"active": False, "name": "users"})
    not_a_bool = example("stream-status", queries=[query()])
    not_a_bool["queries"][0]["active"] = "yes"
    with pytest.raises(us.UserstreamError, match="boolean 'active'"):
        us.stream_status(not_a_bool)
    assert (
        us.stream_status(example("stream-status", queries=[query(exception="")]))["queries"][0]["exception"]
        is None
    )


def ensure_report(actions, *queries, session_id="s1"):
    """An EnsureReport as `stream ensure --json` prints it."""
    status = part("stream-ensure", "StreamStatus", session_id=session_id, queries=list(queries))
    return example("stream-ensure", actions=list(actions), status=status)


ENSURE_DOWN = ensure_report(
    [
        "query users is not running (Spark gave no exception)",
        "started: users  started  id a  run r; session s1; decoding schema ids [1]",
    ],
    query(
        name="users",
        id="a",
        run_id="r",
        exception="\norg.apache.spark.sql.streaming.StreamingQueryException: boom\n\tat x.y",
    ),
    query(name="users-rejected", active=True, id="b"),
)


def test_stream_ensure_report():
    report = us.stream_ensure_report(ENSURE_DOWN)
    assert report["actions"] == ENSURE_DOWN["actions"]
    assert report["status"]["active"] is False and report["status"]["session_id"] == "s1"
    assert [q["name"] for q in report["status"]["queries"]] == ["users", "users-rejected"]
    nothing = us.stream_ensure_report(ensure_report([], session_id="s"))
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
    held = query(name="users", held_after_end=True)
    text = us.stream_down_message(us.stream_ensure_report(ensure_report([], held)))
    assert "- users: ended, but Spark still holds it" in text and "this pass:" not in text
    assert "userstream stack restart spark-connect" in text
    none = us.stream_down_message(us.stream_ensure_report(ensure_report([])))
    assert "lists no query" in none


def test_progress_summary_keeps_the_few_numbers():
    progress = part(
        "stream-status",
        "Progress",
        batch_id=12,
        timestamp="2026-11-26T14:00:00.000Z",
        num_input_rows=2000,
        input_rows_per_second=400.0,
        processed_rows_per_second=1000.0,
    )
    assert us.progress_summary(progress) == {
        "batch_id": 12,
        "timestamp": "2026-11-26T14:00:00.000Z",
        "num_input_rows": 2000,
        "input_rows_per_second": 400.0,
        "processed_rows_per_second": 1000.0,
    }
    assert us.progress_summary(None) is None


# --- quality --------------------------------------------------------------------------------


def verify_report(**fields):
    """A VerifyReport as `verify --json` prints it: 4,000 users in both stores unless told."""
    counts = dict(mode="full", kafka_unique_ids=4000, cassandra_rows=4000, extra_count=0, dlq_count=12)
    return example("verify", **{**counts, **fields})


def incremental_report(**fields):
    """A VerifyReport of `verify --incremental`: 300 new users, their rows read by key."""
    counts = dict(
        mode="incremental", kafka_unique_ids=300, cassandra_rows=None, extra_count=None, rechecked=200
    )
    return verify_report(**{**counts, **fields})


REPORT = verify_report()


def test_verify_counts_read_one_field_each():
    counts = us.verify_counts(verify_report(missing_count=2, field_mismatch_count=1, missing_ids=["a", "b"]))
    assert counts["missing"] == 2 and counts["field_mismatches"] == 1 and counts["kafka_count"] == 4000
    assert counts["dlq_count"] == 12
    assert us.verify_counts(verify_report(dlq_count=None))["dlq_count"] is None
    with pytest.raises(us.UserstreamError, match="no field 'cassandra_rows'"):
        us.verify_counts({k: v for k, v in REPORT.items() if k != "cassandra_rows"})


def test_verify_counts_of_a_failed_report():
    # Id lists are samples, counts are complete.
    mismatch = part("verify", "FieldMismatch", id="00000000-0000-4000-8000-000000000001", field="email")
    doc = verify_report(
        kafka_records=4010,
        kafka_decoded=4000,
        kafka_undecodable=10,
        cassandra_rows=3950,
        rejected_rows=10,
        dlq_count=None,
        missing_count=50,
        missing_ids=["00000000-0000-4000-8000-000000000002"] * 20,
        sampled=200,
        field_mismatch_count=1,
        field_mismatches=[mismatch],
    )
    counts = us.verify_counts(doc)
    assert counts == {
        "kafka_count": 4000,
        "cassandra_count": 3950,
        "missing": 50,
        "extra": 0,
        "field_mismatches": 1,
        "rejected_rows": 10,
        "recheck_failed": 0,
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
    counts = us.verify_counts(verify_report(cassandra_rows=3990, missing_count=10, dlq_count=500))
    checks = us.quality_checks(counts, us.QualityLimits(max_dlq_growth=100), {"dlq_count": 12})
    failed = {c.name for c in checks if not c.ok}
    assert failed == {"missing in Cassandra", "DLQ growth"}
    text = us.quality_report(checks)
    assert text.startswith("data quality: 2 of 6 check(s) failed")
    assert "FAIL missing in Cassandra" in text and "Kafka 4000, Cassandra 3990" in text
    assert "FAIL DLQ growth" in text and "12 -> 500" in text


def test_growth_without_baseline_counts_everything():
    counts = us.verify_counts(verify_report(dlq_count=50, rejected_rows=3))
    checks = {c.name: c for c in us.quality_checks(counts, us.QualityLimits(), None)}
    assert checks["DLQ growth"].ok and checks["DLQ growth"].value == 50
    assert "no earlier run" in checks["DLQ growth"].detail
    assert not checks["new rejected rows"].ok and checks["new rejected rows"].value == 3


def test_an_incremental_report_leaves_the_full_only_counts_unmeasured():
    doc = incremental_report(missing_count=1, missing_ids=["00000000-0000-4000-8000-000000000003"])
    assert us.verify_mode(doc) == "incremental"
    counts = us.verify_counts(doc)
    assert counts["cassandra_count"] is None and counts["extra"] is None and counts["kafka_count"] == 300
    checks = {c.name: c for c in us.quality_checks(counts, us.QualityLimits(), None, mode="incremental")}
    assert checks["extra in Cassandra"].value is None and checks["extra in Cassandra"].ok
    assert "only a full run" in checks["extra in Cassandra"].detail
    assert not checks["missing in Cassandra"].ok
    assert "300 ids since the last verified cut" in checks["missing in Cassandra"].detail
    assert checks["failed rechecks"].value == 0 and checks["failed rechecks"].ok
    text = us.quality_report(list(checks.values()))
    assert "n/a (limit 0)  only a full run looks for them" in text
    assert us.only_lagging(counts, us.QualityLimits())


def test_rejected_growth_follows_the_mode():
    limits = us.QualityLimits(max_rejected_growth=5)
    incremental = us.verify_counts(incremental_report(rejected_rows=3))
    # An incremental count is already the growth since the last verified cut, whatever before.
    for previous_mode in ("full", "incremental"):
        checks = {
            c.name: c
            for c in us.quality_checks(
                incremental, limits, {"rejected_rows": 40}, mode="incremental", previous_mode=previous_mode
            )
        }
        assert checks["new rejected rows"].value == 3, previous_mode
        assert "since the last verified cut" in checks["new rejected rows"].detail
    full = us.verify_counts(verify_report(rejected_rows=43))
    checks = {c.name: c for c in us.quality_checks(full, limits, {"rejected_rows": 40})}
    assert checks["new rejected rows"].value == 3 and checks["new rejected rows"].detail == "40 -> 43"
    # After an incremental run there is no total to subtract: the whole count, said so.
    checks = {
        c.name: c for c in us.quality_checks(full, limits, {"rejected_rows": 3}, previous_mode="incremental")
    }
    assert checks["new rejected rows"].value == 43 and not checks["new rejected rows"].ok
    assert "previous run was incremental" in checks["new rejected rows"].detail


def test_failed_rechecks_count_in_incremental_runs_only():
    limits = us.QualityLimits()
    counts = us.verify_counts(incremental_report(recheck_failed=2))
    checks = {c.name: c for c in us.quality_checks(counts, limits, None, mode="incremental")}
    assert not checks["failed rechecks"].ok and checks["failed rechecks"].value == 2
    full = {c.name: c for c in us.quality_checks(us.verify_counts(REPORT), limits, None)}
    assert full["failed rechecks"].value is None and full["failed rechecks"].detail == "incremental runs only"
    assert us.QualityLimits.from_params({"max_recheck_failures": 3}).max_recheck_failures == 3


def test_verify_mode_is_read_from_the_report():
    assert us.verify_mode(REPORT) == "full"
    with pytest.raises(us.UserstreamError, match="mode 'partial'"):
        us.verify_mode({**REPORT, "mode": "partial"})
    with pytest.raises(us.UserstreamError, match="no field 'mode'"):
        us.verify_mode({k: v for k, v in REPORT.items() if k != "mode"})


def test_only_lagging():
    limits = us.QualityLimits()
    assert us.only_lagging(us.verify_counts(verify_report(missing_count=5)), limits)
    assert not us.only_lagging(us.verify_counts(REPORT), limits)
    assert not us.only_lagging(
        us.verify_counts(verify_report(missing_count=5, field_mismatch_count=1)), limits
    )


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
