"""
### users_stream

Supervises the Spark Structured Streaming job (Kafka `users` -> Cassandra) that runs on the
Spark Connect server.

1. `check_status`: `userstream stream status --json`.
2. `ensure_running`: when a query of the job is not active (it stopped, failed, or its Spark
   Connect session expired), `userstream stream start` restarts it from its checkpoint, then
   the status is polled until every query is active. If the job cannot be brought back within
   `start_timeout_seconds`, or a restarted query fails, the task fails with the query's
   exception in the message.
3. `record_progress`: logs each query's last progress (batch id, input rows, rows per second)
   and returns it as the task's XCom.

**Schedule:** every 2 minutes, one run at a time, no catch-up.

**Params:** `start_timeout_seconds` (default 180), `poll_seconds` (default 5).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

import userstream_common as us

log = logging.getLogger(__name__)

STATUS_TIMEOUT = timedelta(minutes=2).total_seconds()
START_TIMEOUT = timedelta(minutes=5).total_seconds()


class StreamDown(us.UserstreamError):
    """The streaming query is not running and could not be restarted."""


def _status() -> dict[str, Any]:
    doc, _ = us.run_userstream_json(us.stream_status_command(), timeout=STATUS_TIMEOUT, allow_nonzero=True)
    return us.stream_status(doc)


@dag(
    dag_id="users_stream",
    schedule="*/2 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    tags=["userstream"],
    doc_md=__doc__,
    params={
        "start_timeout_seconds": Param(
            180, type="integer", minimum=10, maximum=1800, description="How long a restart may take."
        ),
        "poll_seconds": Param(5, type="integer", minimum=1, maximum=60, description="Status poll interval."),
    },
    default_args={
        "owner": "userstream",
        "retries": 1,
        "retry_delay": timedelta(seconds=20),
    },
)
def users_stream():
    @task(execution_timeout=timedelta(minutes=3))
    def check_status() -> dict[str, Any]:
        """Ask the Spark Connect server about the query."""
        status = _status()
        for q in status["queries"]:
            log.info(
                "streaming query %s (id %s): active=%s %s",
                q["name"],
                q["id"],
                q["active"],
                q["message"] or "",
            )
        return status

    @task(execution_timeout=timedelta(minutes=12))
    def ensure_running(status: dict[str, Any]) -> dict[str, Any]:
        """Restart the query when it is not active; fail with its exception when that fails."""
        if status["active"]:
            return status
        params = get_current_context()["params"]
        previous = us.exception_text(status)
        if previous:
            log.warning("streaming query is not active; its last exception:\n%s", previous)
        else:
            log.warning("streaming query is not active (no exception reported); starting it")
        us.run_userstream(us.stream_start_command(), timeout=START_TIMEOUT)
        deadline = time.monotonic() + params["start_timeout_seconds"]
        while True:
            current = _status()
            if current["active"]:
                log.info("streaming queries active again: %s", [q["id"] for q in current["queries"]])
                return current
            error = us.exception_text(current)
            # Until the restarted query reports, status may still show the old query's exception.
            if error and error != previous:
                raise StreamDown(f"the streaming query failed after a restart:\n{error}")
            if time.monotonic() >= deadline:
                raise StreamDown(
                    f"the streaming query is still not active {params['start_timeout_seconds']}s after "
                    f"`userstream stream start`; its last exception:\n{error or previous or 'none reported'}"
                )
            time.sleep(params["poll_seconds"])

    @task(execution_timeout=timedelta(minutes=1))
    def record_progress(status: dict[str, Any]) -> dict[str, Any]:
        """Log each query's last progress and keep it as the XCom."""
        queries = us.stream_progress(status)
        for name, q in queries.items():
            if q["progress"] is None:
                log.info("streaming query %s (id %s) has not completed a batch yet", name, q["id"])
            else:
                log.info("streaming query %s (id %s) progress: %s", name, q["id"], q["progress"])
        return {"session_id": status.get("session_id"), "queries": queries}

    record_progress(ensure_running(check_status()))


users_stream()
