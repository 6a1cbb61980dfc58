"""
### users_stream

Keeps the Spark Structured Streaming job (Kafka `users` -> Cassandra, on the Spark Connect
server) running. The policy is the Rust stream supervisor's, the same one `userstream stream
run` applies continuously; each run of this DAG applies it once (`userstream stream ensure
--help`).

1. `ensure`: `userstream stream ensure --json`, one pass of the policy. It starts the queries
   that are not running (from their checkpoints), restarts them for a new schema version, and
   applies the stall rule: a query that is active but finishes no batch for `--stall-after`
   (3 min) while records wait in Kafka is restarted, then the Spark Connect server is. A stall
   is judged between runs (what the last pass saw is kept in
   `<checkpoints>/<query>.watch.json`). Each action is one log line ("nothing to do" when there
   was none). When a query is still down after the pass, the task fails with each down query's
   first exception line and what to run by hand. Its XCom: the actions and the status.
2. `record_progress`: logs each query's last progress (batch id, input rows, rows per second)
   and returns it as the task's XCom.

**Schedule:** every 2 minutes, one run at a time, no catch-up.

**Stall bound:** `USERSTREAM_STALL_AFTER` in the Airflow workers' environment (default `3m`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

import userstream_common as us

log = logging.getLogger(__name__)

# A pass may stop a stalled query (Spark waits up to 60 s), restart the Spark Connect server and
# start the queries again.
ENSURE_TIMEOUT = timedelta(minutes=10).total_seconds()


class StreamDown(us.UserstreamError):
    """A streaming query is still down after one pass of the supervisor's policy."""


@dag(
    dag_id="users_stream",
    schedule="*/2 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    tags=["userstream"],
    doc_md=__doc__,
    default_args={
        "owner": "userstream",
        "retries": 1,
        "retry_delay": timedelta(seconds=20),
    },
)
def users_stream():
    @task(execution_timeout=timedelta(minutes=12))
    def ensure() -> dict[str, Any]:
        """One pass of the supervisor's policy; fail when a query is still down afterwards."""
        doc, result = us.run_userstream_json(
            us.stream_ensure_command(), timeout=ENSURE_TIMEOUT, allow_nonzero=True
        )
        # 0: every query is active after the pass; 1 with a report: one is still down.
        if result.returncode not in (0, 1):
            raise us.CommandFailed(result.argv, result.returncode, result.tail)
        report = us.stream_ensure_report(doc)
        if not report["actions"]:
            log.info("stream ensure: nothing to do")
        for action in report["actions"]:
            log.info("stream ensure: %s", action)
        if result.returncode != 0:
            raise StreamDown(us.stream_down_message(report))
        return report

    @task(execution_timeout=timedelta(minutes=1))
    def record_progress(report: dict[str, Any]) -> dict[str, Any]:
        """Log each query's last progress and keep it as the XCom."""
        status = report["status"]
        queries = us.stream_progress(status)
        for name, q in queries.items():
            if q["progress"] is None:
                log.info("streaming query %s (id %s) has not completed a batch yet", name, q["id"])
            else:
                log.info("streaming query %s (id %s) progress: %s", name, q["id"], q["progress"])
        return {"session_id": status.get("session_id"), "queries": queries}

    record_progress(ensure())


users_stream()
