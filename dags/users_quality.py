"""
### users_quality

Data-quality checks over the whole pipeline, from `userstream verify --incremental --json`
(the Kafka records since the last verified cut against their users' Cassandra rows and fields).

1. `verify`: runs the verification. Incremental by default: only the records produced since the
   last run that found no difference, their rows read by key, plus a sample of older records
   rechecked, so a run costs what came since, not what the table holds (the binary compares
   everything when it has no usable cut yet, and the report says so). `full=true` runs the full
   comparison instead, which also finds extra rows. Rows still on their way (missing from
   Cassandra while nothing else is wrong) are waited for, up to `settle_seconds`, re-checking
   every `settle_poll_seconds`. The report is the task's XCom.
2. `check`: compares the report with the limits below. Dead letters only accumulate, so they
   are checked as growth since the previous run's report (the first run compares the total).
   Rejected rows too after a full run; an incremental run counts those of the records it read,
   which already is the growth since the last verified cut. Extra rows are checked by full runs
   only, failed rechecks by incremental ones (`n/a` otherwise). Fails with a readable table of
   every check and a sample of the offending ids and fields; it also fails when `verify` itself
   found a difference, unless `require_verify_ok` is off (for runs whose limits were loosened on
   purpose).

**Schedule:** every 10 minutes, one run at a time, no catch-up.

**Params:** `full` (false), `max_missing` (0), `max_extra` (0), `max_field_mismatches` (0),
`max_rejected_growth` (0 per run), `max_dlq_growth` (100 per run), `max_recheck_failures` (0),
`require_verify_ok` (true), `settle_seconds` (180), `settle_poll_seconds` (15).
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
        "full": Param(
            False,
            type="boolean",
            description="Compare every record with every row (also finds extra rows; its cost grows "
            "with the table) instead of only the records since the last verified cut.",
        ),
        "max_missing": _limit(0, "Kafka keys allowed to be absent from Cassandra (after settling)."),
        "max_extra": _limit(0, "Cassandra rows allowed without a Kafka record."),
        "max_field_mismatches": _limit(0, "Rows allowed to differ from their Kafka record."),
        "max_rejected_growth": _limit(0, "New rows in rejected_rows allowed since the previous run."),
        "max_dlq_growth": _limit(100, "Dead-letter records allowed since the previous run."),
        "max_recheck_failures": _limit(
            0, "Older records allowed whose user's row no longer reflects them (incremental runs)."
        ),
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
        """Run `userstream verify [--incremental] --json`, waiting out rows that are still in flight."""
        params = get_current_context()["params"]
        limits = us.QualityLimits.from_params(params)
        command = us.verify_command(full=params.get("full") is True)
        deadline = time.monotonic() + params["settle_seconds"]
        while True:
            # An incremental run that found a difference left its cut where it was: the next
            # attempt reads the same records again, plus whatever came since.
            doc, result = us.run_userstream_json(command, timeout=VERIFY_TIMEOUT, allow_nonzero=True)
            counts = us.verify_counts(doc)
            if not us.only_lagging(counts, limits) or time.monotonic() >= deadline:
                break
            log.info(
                "%d row(s) not yet in Cassandra; re-checking in %ds",
                counts["missing"],
                params["settle_poll_seconds"],
            )
            time.sleep(params["settle_poll_seconds"])
        mode = us.verify_mode(doc)
        if doc.get("fallback_reason"):
            log.info("verify compared everything this time: %s", doc["fallback_reason"])
        log.info("verify (%s, exit code %d): %s", mode, result.returncode, counts)
        return {
            "counts": counts,
            "mode": mode,
            "exit_code": result.returncode,
            "samples": us.report_samples(doc),
        }

    @task(retries=0, execution_timeout=timedelta(minutes=2))
    def check(report: dict[str, Any]) -> dict[str, Any]:
        """Compare the report with the limits and with the previous run's report."""
        context = get_current_context()
        params = context["params"]
        limits = us.QualityLimits.from_params(params)
        previous_counts, previous_mode = None, "full"
        ti = context["ti"]
        previous_run = ti.get_previous_dagrun()
        if previous_run is not None:
            previous = ti.xcom_pull(task_ids="verify", run_id=previous_run.run_id)
            if isinstance(previous, dict) and isinstance(previous.get("counts"), dict):
                previous_counts = previous["counts"]
                # Reports from before incremental runs existed carry no mode: they were full.
                previous_mode = previous.get("mode", "full")
        checks = us.quality_checks(
            report["counts"],
            limits,
            previous_counts,
            mode=report.get("mode", "full"),
            previous_mode=previous_mode,
        )
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
