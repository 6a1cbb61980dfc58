"""
### users_ingest

Produces one bounded batch of users into Kafka: `userstream produce --count N --source URL
--seed S --start-page P --json`. The producer validates and normalises each user, encodes it as
Avro under the registry, and sends what it rejects to the dead-letter topic `users.dlq`.

**Schedule:** every 5 minutes, one run at a time, no catch-up.

**Replays:** the seed is derived from the run's logical date (a manual run without one uses its
`run_after`), so clearing and re-running a run fetches the same users again; Cassandra upserts
them by `id`, nothing is duplicated.

**Params:**
- `count` (default 2000): users in the batch.
- `source`: users API URL; empty means the Airflow Variable `userstream_source`, else the
  environment variable `USERSTREAM_SOURCE` (or `USERSTREAM_SOURCE_URL`, which the producer reads
  too), else the local users-api at `USERSTREAM_USERS_API_PORT` (8765 by default; with nothing
  listening there, `userstream produce` serves it in process for the run).
- `start_page` (default 1): first page fetched with the seed.

**Retries:** 3, with exponential backoff from 30 s (at most 5 min). The summary (produced,
rejected, dlq, users_per_second, seed, source) is the task's XCom and is in its log.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

import userstream_common as us

log = logging.getLogger(__name__)


@dag(
    dag_id="users_ingest",
    schedule="*/5 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["userstream"],
    doc_md=__doc__,
    params={
        "count": Param(2000, type="integer", minimum=1, maximum=1_000_000, description="Users in the batch."),
        "source": Param(
            "",
            type="string",
            description=(
                "Users API URL. Empty: Variable userstream_source, env USERSTREAM_SOURCE, "
                "else the local users-api."
            ),
        ),
        "start_page": Param(1, type="integer", minimum=1, description="First page fetched with the seed."),
    },
    default_args={
        "owner": "userstream",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=5),
    },
)
def users_ingest():
    @task(execution_timeout=timedelta(minutes=10))
    def produce() -> dict[str, Any]:
        """Produce one batch; the seed comes from the logical date so reruns are replays."""
        context = get_current_context()
        params = context["params"]
        seed = us.seed_for_run(context.get("logical_date"), context["dag_run"].run_after)
        source_param = params.get("source") or None
        source_variable = None
        if not source_param:
            source_variable = us.optional_variable(
                us.SOURCE_VARIABLE, f"{us.SOURCE_ENV} or the local users-api is used"
            )
        source = us.resolve_source(source_param, source_variable, os.environ)
        count = params["count"]
        args = us.produce_command(count, source, seed, params.get("start_page", 1))
        doc, _ = us.run_userstream_json(args, timeout=timedelta(minutes=9).total_seconds())
        summary = us.produce_summary(doc, count)
        summary.update(seed=seed, source=source, count=count)
        log.info("produced batch: %s", summary)
        return summary

    produce()


users_ingest()
