"""Test set-up for the DAG tests.

Airflow reads its configuration when first imported, so the environment is set here, before any
test module imports it: a throw-away AIRFLOW_HOME with its own SQLite file, no example DAGs,
unit-test mode, and this repository's `dags/` as the DAG folder (and on `sys.path`, as Airflow's
DAG bundle puts it for the dag-processor and workers). Whatever AIRFLOW_* the shell exported
(for instance the running stack's) must not reach these tests; the on-stack test builds its own
environment for the `airflow` CLI.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

DAGS_DIR = Path(__file__).resolve().parent.parent
_TMP = Path(tempfile.mkdtemp(prefix="userstream-dag-tests-"))
_HOME = _TMP / "airflow"
_HOME.mkdir()

for _key in [k for k in os.environ if k.startswith("AIRFLOW_")]:
    del os.environ[_key]
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(_HOME / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_HOME / "logs"),
    }
)
if str(DAGS_DIR) not in sys.path:
    sys.path.insert(0, str(DAGS_DIR))

# Only now, with the environment in place, may Airflow be imported. Its task decorator, on its
# first import, emits a DeprecatedImportWarning from inside Airflow (providers-standard importing
# `airflow.operators.branch` through common-compat); the DAG processor has it imported before it
# parses any DAG file, so it is imported here too, and the DAG tests see only our own warnings.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"The `airflow\.operators\.", category=DeprecationWarning)
    from airflow.sdk import task as _task  # noqa: F401, E402


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)
