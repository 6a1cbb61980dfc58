"""
### users_quality

Data-quality checks over the whole pipeline, from `userstream verify --json` (Kafka end offsets
and keys against Cassandra rows and fields).

1. `verify`: runs the verification. Rows still on their way (missing from Cassandra while
   nothing else is wrong) are waited for, up to `settle_seconds`, re-checking every
   `settle_poll_seconds`. The report is the task's XCom.
2. `check`: compares the report with the limits below. Rejected rows and dead letters only
   accumulate, so they are checked as growth since the previous run's report (the first run
   compares the totals). Fails with a readable table of every check and a sample of the
   offending ids and fields; it also fails when `verify` itself found a difference, unless
   `require_verify_ok` is off (for runs whose limits were loosened on purpose).

**Schedule:** every 10 minutes, one run at a time, no catch-up.

**Params:** `max_missing` (0), `max_extra` (0), `max_field_mismatches` (0),
`max_rejected_growth` (0 per run), `max_dlq_growth` (100 per run), `require_verify_ok` (true),
`settle_seconds` (180), `settle_poll_seconds` (15).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

import userstream_common as us

log = logging.getLogger(__name__)

VERIFY_TIMEOUT = timedelta(minutes=5).total_seconds()


class QualityCheckFailed(us.UserstreamError):
    """At least one data-quality check is over its limit."""


def _limit(default: int, description: str) -> Param:
    return Param(default, type="integer", minimum=0, description=description)


@dag(
    dag_id="users_quality",
    schedule="*/10 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["userstream"],
    doc_md=__doc__,
    params={
        "max_missing": _limit(0, "Kafka keys allowed to be absent from Cassandra (after settling)."),
        "max_extra": _limit(0, "Cassandra rows allowed without a Kafka record."),
        "max_field_mismatches": _limit(0, "Rows allowed to differ from their Kafka record."),
        "max_rejected_growth": _limit(0, "New rows in rejected_rows allowed since the previous run."),
        "max_dlq_growth": _limit(100, "Dead-letter records allowed since the previous run."),
        "require_verify_ok": Param(
            True, type="boolean", description="Also fail when `userstream verify` exits non-zero."
        ),
        "settle_seconds": _limit(180, "How long to wait for rows still in flight."),
        "settle_poll_seconds": Param(
            15, type="integer", minimum=1, maximum=300, description="Re-check interval."
        ),
    },
    default_args={
        "owner": "userstream",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
    },
)
def users_quality():
    @task(execution_timeout=timedelta(minutes=20))
    def verify() -> dict[str, Any]:
        """Run `userstream verify --json`, waiting out rows that are still in flight."""
        params = get_current_context()["params"]
        limits = us.QualityLimits.from_params(params)
        deadline = time.monotonic() + params["settle_seconds"]
        while True:
            doc, result = us.run_userstream_json(
                us.verify_command(), timeout=VERIFY_TIMEOUT, allow_nonzero=True
            )
            counts = us.verify_counts(doc)
            if not us.only_lagging(counts, limits) or time.monotonic() >= deadline:
                break
            log.info(
                "%d row(s) not yet in Cassandra; re-checking in %ds",
                counts["missing"],
                params["settle_poll_seconds"],
            )
            time.sleep(params["settle_poll_seconds"])
        log.info("verify (exit code %d): %s", result.returncode, counts)
        return {"counts": counts, "exit_code": result.returncode, "samples": us.report_samples(doc)}

    @task(retries=0, execution_timeout=timedelta(minutes=2))
    def check(report: dict[str, Any]) -> dict[str, Any]:
        """Compare the report with the limits and with the previous run's report."""
        context = get_current_context()
        params = context["params"]
        limits = us.QualityLimits.from_params(params)
        previous_counts = None
        ti = context["ti"]
        previous_run = ti.get_previous_dagrun()
        if previous_run is not None:
            previous = ti.xcom_pull(task_ids="verify", run_id=previous_run.run_id)
            if isinstance(previous, dict) and isinstance(previous.get("counts"), dict):
                previous_counts = previous["counts"]
        checks = us.quality_checks(report["counts"], limits, previous_counts)
        text = us.quality_report(checks, report.get("samples"))
        failed = not all(c.ok for c in checks)
        if not failed and report["exit_code"] != 0 and params.get("require_verify_ok", True):
            # verify saw a difference the limits here do not cover: say so rather than pass quietly.
            text += (
                f"\n`userstream verify` exited with code {report['exit_code']} (a difference; "
                "see the verify task log); set require_verify_ok=false to rely on the limits alone"
            )
            failed = True
        if failed:
            raise QualityCheckFailed(text)
        log.info("%s", text)
        return {"passed": True, "checks": {c.name: c.value for c in checks}}

    check(verify())


users_quality()
