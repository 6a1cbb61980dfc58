"""
### users_setup

Idempotent set-up of the userstream pipeline: runs `userstream setup`, which creates the Kafka
topics (`users`, `users.dlq`), registers the Avro schema under the subject `users-value`
(compatibility BACKWARD) and creates the Cassandra keyspace and tables.

**Schedule:** none; trigger it once after the stack is up (running it again changes nothing).

**Configuration:** the `userstream` binary comes from the Airflow Variable `userstream_bin`, else
the environment variable `USERSTREAM_BIN` (set by `userstream stack up`); the endpoints come from
the `USERSTREAM_*` environment the stack gives every Airflow process. The command's output is in
the task log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task

import userstream_common as us


@dag(
    dag_id="users_setup",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=20),
    tags=["userstream"],
    doc_md=__doc__,
    default_args={
        "owner": "userstream",
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
    },
)
def users_setup():
    @task(execution_timeout=timedelta(minutes=10))
    def setup() -> None:
        """Create topics, schema subject, keyspace and tables (idempotent)."""
        us.run_userstream(us.setup_command(), timeout=timedelta(minutes=9).total_seconds())

    setup()


users_setup()
