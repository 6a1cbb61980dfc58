"""Helpers shared by the userstream DAGs.

Find the ``userstream`` binary (Airflow Variable ``userstream_bin``, else env ``USERSTREAM_BIN``,
never a guessed path), run it with its stdout and stderr streamed line by line into the task
log, and read the JSON it prints with ``--json``.

Everything here except :func:`find_binary`, :func:`check_executable`, :func:`run_userstream`
and :func:`run_userstream_json` is pure (no I/O) and unit-tested in ``tests/``. Nothing runs at
import time: the DAG files import this module while Airflow parses them.

This file holds no DAG; ``.airflowignore`` keeps the DAG processor from parsing it as one.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from airflow.exceptions import AirflowFailException

log = logging.getLogger(__name__)

BIN_VARIABLE = "userstream_bin"
"""Airflow Variable naming the ``userstream`` binary (wins over the environment)."""
BIN_ENV = "USERSTREAM_BIN"
"""Environment variable naming the binary; the stack sets it for every Airflow process."""
SOURCE_VARIABLE = "userstream_source"
"""Airflow Variable with the default users source URL for ``users_ingest``."""
SOURCE_ENV = "USERSTREAM_SOURCE"
"""Environment variable with the default users source URL (after the Variable)."""
SOURCE_CLI_ENV = "USERSTREAM_SOURCE_URL"
"""The variable `userstream produce` itself reads; honoured last, so one setting serves both."""
USERS_API_PORT_ENV = "USERSTREAM_USERS_API_PORT"
"""The local users-api's port; the stack exports every port to Airflow (default 8765)."""
DEFAULT_USERS_API_PORT = 8765
"""The binary's default for ``USERSTREAM_USERS_API_PORT`` (crates/endpoints)."""
TAIL_LINES = 20
"""How many of the command's last output lines a failure message quotes."""
KILL_GRACE_SECONDS = 10.0
"""How long a command gets to exit after SIGTERM before it is killed."""


class UserstreamError(Exception):
    """A ``userstream`` command failed or printed something unusable; a retry may help."""


class UserstreamConfigError(AirflowFailException):
    """The DAGs are misconfigured (binary not set or not executable, bad parameter).

    An ``AirflowFailException``: the task fails without retrying, since retrying cannot help.
    """


class CommandFailed(UserstreamError):
    """The command exited with a code it should not have."""

    def __init__(self, argv: Sequence[str], returncode: int, tail: Sequence[str]):
        self.argv = tuple(argv)
        self.returncode = returncode
        self.tail = tuple(tail)
        super().__init__(failure_message(argv, returncode, tail))


class CommandTimedOut(UserstreamError):
    """The command ran past its timeout and was stopped."""


class JsonOutputError(UserstreamError):
    """The command's stdout held no JSON object."""


@dataclass(frozen=True)
class Binary:
    """The ``userstream`` executable and where its path came from (for error messages)."""

    path: str
    origin: str


@dataclass(frozen=True)
class CommandResult:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    tail: tuple[str, ...] = field(default_factory=tuple)


# --- pure functions -------------------------------------------------------------------------


def resolve_binary(variable_value: str | None, env: Mapping[str, str]) -> Binary:
    """Pick the binary: the Airflow Variable if set, else ``USERSTREAM_BIN``; never a guess."""
    candidates = (
        (f"Airflow Variable '{BIN_VARIABLE}'", variable_value),
        (f"environment variable {BIN_ENV}", env.get(BIN_ENV)),
    )
    for origin, value in candidates:
        if value is None or not str(value).strip():
            continue
        path = str(value).strip()
        if not os.path.isabs(path):
            raise UserstreamConfigError(
                f"the userstream binary path {path!r} from the {origin} is not absolute; "
                "set it to the absolute path of the binary"
            )
        return Binary(path=path, origin=origin)
    raise UserstreamConfigError(
        "cannot find the userstream binary: set the Airflow Variable "
        f"'{BIN_VARIABLE}' or the environment variable {BIN_ENV} (the stack sets it for "
        "every Airflow process) to the absolute path of the `userstream` binary"
    )


def resolve_source(param: str | None, variable_value: str | None, env: Mapping[str, str]) -> str:
    """The users source URL: the run's ``source`` param, the Variable, the env, the local API.

    The local users-api URL is the producer's own default: given it with nothing listening
    there, `userstream produce` serves users in process for the run.
    """
    for value in (param, variable_value, env.get(SOURCE_ENV), env.get(SOURCE_CLI_ENV)):
        if value is not None and str(value).strip():
            return validate_source(str(value).strip())
    return local_source(env)


def local_source(env: Mapping[str, str]) -> str:
    """The local users-api at the stack's ``USERSTREAM_USERS_API_PORT`` (as the binary derives it)."""
    port = str(env.get(USERS_API_PORT_ENV) or DEFAULT_USERS_API_PORT).strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UserstreamConfigError(f"{USERS_API_PORT_ENV}={port!r} is not a port number")
    return f"http://127.0.0.1:{int(port)}/api/"


def validate_source(url: str) -> str:
    """Accept only absolute http(s) URLs, so a typo fails here and not deep in the producer."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserstreamConfigError(f"source {url!r} is not an http(s) URL")
    return url


def seed_for_run(logical_date: datetime | None, run_after: datetime) -> str:
    """The users-source seed of one DAG run.

    Derived from the logical date (or, for a manual run without one, the run's ``run_after``),
    so clearing and re-running a run fetches the very same users again; Cassandra upserts them.
    """
    when = logical_date if logical_date is not None else run_after
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return "userstream-" + when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserstreamConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def setup_command() -> list[str]:
    """``userstream setup``: topics, subject, keyspace and tables (idempotent).

    ``--dags unchanged``: which DAGs run is the operator's choice in Airflow; a run of
    users_setup must not unpause DAGs someone paused on purpose.
    """
    return ["setup", "--dags", "unchanged"]


def produce_command(count: int, source: str, seed: str, start_page: int = 1) -> list[str]:
    """``userstream produce``: one bounded, reproducible batch, with a JSON summary."""
    count = _positive_int("count", count)
    start_page = _positive_int("start_page", start_page)
    if not seed or any(c.isspace() for c in seed):
        raise UserstreamConfigError(f"seed must be a non-empty word, got {seed!r}")
    return [
        "produce",
        "--count",
        str(count),
        "--source",
        validate_source(source),
        "--seed",
        seed,
        "--start-page",
        str(start_page),
        "--json",
    ]


def stream_ensure_command() -> list[str]:
    """``userstream stream ensure --json``: one pass of the stream supervisor's policy.

    Prints ``{"actions": [...], "status": <as stream status --json>}``; exits 1 when a query is
    still down after the pass (and on errors, with no JSON then).
    """
    return ["stream", "ensure", "--json"]


def verify_command(*, full: bool) -> list[str]:
    """``userstream verify --json`` (exits non-zero when Kafka and Cassandra differ).

    ``full``: every record against every row (finds extra rows; its cost grows with the table).
    Otherwise ``--incremental``: only the records since the last verified cut, their rows read by
    key (the binary compares everything when it has no usable cut, and says so).
    """
    return ["verify", "--json"] if full else ["verify", "--incremental", "--json"]


def display_command(argv: Sequence[str]) -> str:
    """The command as a shell would show it."""
    return shlex.join(argv)


def failure_message(argv: Sequence[str], returncode: int, tail: Sequence[str]) -> str:
    """A readable failure: the command, its exit code and its last output lines."""
    how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}"
    lines = list(tail)[-TAIL_LINES:]
    text = f"`{display_command(argv)}` {how}"
    if lines:
        text += f"; last {len(lines)} output line(s):\n" + "\n".join(f"  | {line}" for line in lines)
    else:
        text += " and printed nothing"
    return text


def parse_json_output(stdout: str) -> dict[str, Any]:
    """The JSON object a ``--json`` command printed on stdout.

    The whole of stdout is tried first; then, in case log lines came before it, the text from
    the last line that starts with ``{`` (a one-line document) or from the line that opens a
    pretty-printed one.
    """
    text = stdout.strip()
    if not text:
        raise JsonOutputError("the command printed nothing on stdout, expected a JSON object")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
        lines = text.splitlines()
        for start in range(len(lines) - 1, -1, -1):
            if not lines[start].startswith("{"):
                continue
            try:
                doc = json.loads("\n".join(lines[start:]))
            except json.JSONDecodeError:
                continue
            break
        if doc is None:
            tail = "\n".join(f"  | {line}" for line in lines[-5:])
            raise JsonOutputError(f"no JSON object in the command's stdout; it ended with:\n{tail}") from None
    if not isinstance(doc, dict):
        raise JsonOutputError(f"expected a JSON object on stdout, got {type(doc).__name__}")
    return doc


# The fields of the binary's `--json` outputs that the DAGs read: one spelling each, the Rust
# struct's. The schemas in `dags/contracts/` are generated from those structs by
# `userstream json-schema --write dags/contracts` (a Rust test keeps them current), and
# `tests/test_contracts.py` checks every field named here against them.

PRODUCE_COUNTS = {"produced": "users_produced", "rejected": "rejected", "dlq": "dlq_produced"}
"""``produce --json`` (RunSummary): the counts, by the name the DAGs give them."""
PRODUCE_RATE = "users_per_sec"
PRODUCE_KEPT = ("resume_page", "stop_reason", "failure")
"""``produce --json`` fields a DAG passes on as they are."""

QUERY_FIELDS = ("name", "id", "active", "message", "exception", "held_after_end", "last_progress")
"""``stream status --json`` (StreamStatus): the fields read of each of its ``queries``."""
PROGRESS_FIELDS = (
    "batch_id",
    "timestamp",
    "num_input_rows",
    "input_rows_per_second",
    "processed_rows_per_second",
)
"""The fields kept of a query's ``last_progress``."""

VERIFY_COUNTS = {
    "kafka_count": "kafka_unique_ids",
    "missing": "missing_count",
    "field_mismatches": "field_mismatch_count",
    "rejected_rows": "rejected_rows",
    "recheck_failed": "recheck_failed",
}
"""``verify --json`` (VerifyReport): the counts, by the name the DAGs give them. In incremental
mode they cover the records since the last verified cut (``rejected_rows`` included)."""
VERIFY_FULL_ONLY = {"cassandra_count": "cassandra_rows", "extra": "extra_count"}
"""Counts only the full comparison computes; ``null`` in incremental mode."""
VERIFY_DLQ = "dlq_count"
"""Dead letters held; ``null`` when the report was not asked to count them."""
VERIFY_MODE = "mode"
"""Which comparison ran: one of ``VERIFY_MODES``."""
VERIFY_MODES = ("full", "incremental")
VERIFY_SAMPLES = ("missing_ids", "extra_ids", "recheck_failed_ids", "field_mismatches")
"""``verify --json`` lists of a few examples each (the counts above are complete)."""


def _field(doc: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in doc:
        raise UserstreamError(
            f"{what} has no field {key!r} (see dags/contracts/): {json.dumps(dict(doc), default=str)[:2000]}"
        )
    return doc[key]


def count_of(value: Any, key: str = "count") -> int:
    """A count field's value: a non-negative integer."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise UserstreamError(f"expected a count in {key!r}, got {value!r}")


def _counts(doc: Mapping[str, Any], fields: Mapping[str, str], what: str) -> dict[str, int]:
    return {name: count_of(_field(doc, key, what), key) for name, key in fields.items()}


def produce_summary(doc: Mapping[str, Any], count: int) -> dict[str, Any]:
    """Check ``produce --json`` output; a batch that produced nothing is an error."""
    summary: dict[str, Any] = _counts(doc, PRODUCE_COUNTS, "produce summary")
    summary["users_per_second"] = _field(doc, PRODUCE_RATE, "produce summary")
    for key in PRODUCE_KEPT:
        summary[key] = _field(doc, key, "produce summary")
    if count > 0 and summary["produced"] == 0:
        raise UserstreamError(
            f"produce asked for {count} users and produced none "
            f"(rejected {summary['rejected']}, dead-lettered {summary['dlq']})"
        )
    return summary


def _query(doc: Mapping[str, Any]) -> dict[str, Any]:
    query = {key: _field(doc, key, "a query of stream status") for key in QUERY_FIELDS}
    if not isinstance(query["active"], bool):
        raise UserstreamError(f"stream status has no boolean 'active': {dict(doc)}")
    query["exception"] = query["exception"] or None
    query["held_after_end"] = query["held_after_end"] is True
    return query


def stream_status(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise ``stream status --json`` output to ``{active, session_id, queries: [...]}``;
    the job is active when every query is.
    """
    raw = _field(doc, "queries", "stream status")
    if not isinstance(raw, list):
        raise UserstreamError(f"stream status 'queries' is not a list: {raw!r}")
    queries = [_query(q) for q in raw if isinstance(q, Mapping)]
    active = bool(queries) and all(q["active"] for q in queries)
    return {"active": active, "session_id": _field(doc, "session_id", "stream status"), "queries": queries}


def stream_ensure_report(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``stream ensure --json`` output: ``{actions: [one line each], status: normalised}``."""
    actions = doc.get("actions")
    status = doc.get("status")
    if not isinstance(actions, list) or not isinstance(status, Mapping):
        raise UserstreamError(
            "stream ensure printed no 'actions' list and 'status' object: "
            f"{json.dumps(dict(doc), default=str)[:2000]}"
        )
    return {"actions": [str(a) for a in actions], "status": stream_status(status)}


FIRST_LINE_CHARS = 300
"""How much of an exception's first line a failure quotes (Spark's can be a whole plan)."""


def first_line(text: str) -> str:
    """The first non-blank line of a (possibly plan-sized) Spark message, at most 300 chars."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= FIRST_LINE_CHARS else line[:FIRST_LINE_CHARS] + "…"


def stream_down_message(report: Mapping[str, Any]) -> str:
    """Why ``stream ensure`` left the job down, and what to run by hand.

    Each query still down with its exception's first line, the pass's actions, then the
    commands to look further and to try again.
    """
    status = report.get("status") or {}
    lines = ["the streaming job is still down after one pass of the supervisor's policy"]
    down = [q for q in status.get("queries", []) if not q.get("active")]
    if not status.get("queries"):
        lines.append("- Spark Connect lists no query of the job")
    held = False
    for q in down:
        name = q.get("name") or "query"
        if q.get("held_after_end"):
            held = True
            lines.append(f"- {name}: ended, but Spark still holds it (stuck in cleanup)")
        elif q.get("exception"):
            lines.append(f"- {name}: {first_line(q['exception'])}")
        else:
            lines.append(f"- {name}: not running (Spark gave no exception)")
    actions = list(report.get("actions") or [])
    if actions:
        lines.append("this pass:")
        lines.extend(f"  {action}" for action in actions)
    lines.append("by hand:")
    lines.append("  userstream stream status --json   # the full exception of each query")
    lines.append("  userstream stack status           # are Kafka, the registry, Cassandra, Spark up?")
    if held:
        lines.append("  userstream stack restart spark-connect   # releases a query Spark still holds")
    lines.append("  userstream stream ensure          # once the cause is fixed (or wait for the next run)")
    return "\n".join(lines)


def progress_summary(last_progress: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The few numbers worth keeping from a streaming query's last progress (or ``None``)."""
    if last_progress is None:
        return None
    return {key: last_progress.get(key) for key in PROGRESS_FIELDS}


def stream_progress(status: Mapping[str, Any]) -> dict[str, Any]:
    """Per query name: its id, whether it is active, and its progress summary."""
    return {
        str(q["name"] or i): {
            "id": q["id"],
            "active": q["active"],
            "progress": progress_summary(q["last_progress"]),
        }
        for i, q in enumerate(status["queries"])
    }


@dataclass(frozen=True)
class Check:
    """One data-quality check: a measured value against its limit."""

    name: str
    value: int | None
    limit: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Passed, or not measurable (``value`` is ``None``)."""
        return self.value is None or self.value <= self.limit


@dataclass(frozen=True)
class QualityLimits:
    """Thresholds of ``users_quality`` (its params)."""

    max_missing: int = 0
    max_extra: int = 0
    max_field_mismatches: int = 0
    max_rejected_growth: int = 0
    max_dlq_growth: int = 100
    max_recheck_failures: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QualityLimits:
        """Read the limits from a run's params (missing keys keep their defaults)."""
        values = {}
        for name in cls.__dataclass_fields__:
            if name in params and params[name] is not None:
                value = params[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise UserstreamConfigError(f"param {name} must be a non-negative integer, got {value!r}")
                values[name] = value
        return cls(**values)


def verify_counts(doc: Mapping[str, Any]) -> dict[str, int | None]:
    """The counts of a ``verify --json`` report; ``dlq_count`` is ``None`` when not reported,
    the full-only counts (``VERIFY_FULL_ONLY``) in incremental mode."""
    counts: dict[str, int | None] = dict(_counts(doc, VERIFY_COUNTS, "verify report"))
    for name, key in {**VERIFY_FULL_ONLY, "dlq_count": VERIFY_DLQ}.items():
        value = _field(doc, key, "verify report")
        counts[name] = None if value is None else count_of(value, key)
    return counts


def verify_mode(doc: Mapping[str, Any]) -> str:
    """Which comparison a ``verify --json`` report comes from: ``full`` or ``incremental``."""
    mode = _field(doc, VERIFY_MODE, "verify report")
    if mode not in VERIFY_MODES:
        raise UserstreamError(f"verify report has mode {mode!r}, expected one of {VERIFY_MODES}")
    return mode


def only_lagging(counts: Mapping[str, int | None], limits: QualityLimits) -> bool:
    """True when the only failure is rows still on their way to Cassandra (worth waiting for)."""
    return (
        (counts["missing"] or 0) > limits.max_missing
        and (counts["extra"] or 0) <= limits.max_extra
        and (counts["field_mismatches"] or 0) <= limits.max_field_mismatches
    )


def _growth(now: int | None, before: int | None) -> tuple[int | None, str]:
    if now is None:
        return None, "not in the verify report"
    if before is None:
        return now, f"{now} in all (no earlier run to compare with)"
    return now - before, f"{before} -> {now}"


def _rejected_growth(
    now: int | None, before: int | None, mode: str, previous_mode: str
) -> tuple[int | None, str]:
    if now is not None and mode == "incremental":
        # Counted over the records since the last verified cut: already the growth.
        return now, f"{now} among the records since the last verified cut"
    if now is not None and before is not None and previous_mode == "incremental":
        return now, f"{now} in all (the previous run was incremental: its count covers only its records)"
    return _growth(now, before)


def quality_checks(
    counts: Mapping[str, int | None],
    limits: QualityLimits,
    previous: Mapping[str, int | None] | None,
    *,
    mode: str = "full",
    previous_mode: str = "full",
) -> list[Check]:
    """Evaluate one verify report of ``mode``. Dead letters only ever accumulate, so they are
    measured as growth since the previous run's report (the whole count when there is none).
    Rejected rows too, after a full run; an incremental run counts only those of the records it
    read, which is the growth since the last verified cut. Extra rows and failed rechecks are
    only measured by the mode that looks for them (``n/a`` otherwise).
    """
    previous = previous or {}
    rejected, rejected_detail = _rejected_growth(
        counts["rejected_rows"], previous.get("rejected_rows"), mode, previous_mode
    )
    dlq, dlq_detail = _growth(counts["dlq_count"], previous.get("dlq_count"))
    incremental = mode == "incremental"
    if counts["cassandra_count"] is None:
        missing_detail = f"{counts['kafka_count']} ids since the last verified cut, their rows read by key"
    else:
        missing_detail = f"Kafka {counts['kafka_count']}, Cassandra {counts['cassandra_count']}"
    return [
        Check("missing in Cassandra", counts["missing"], limits.max_missing, missing_detail),
        Check(
            "extra in Cassandra",
            counts["extra"],
            limits.max_extra,
            "only a full run looks for them (param full)" if counts["extra"] is None else "",
        ),
        Check("field mismatches", counts["field_mismatches"], limits.max_field_mismatches),
        Check("new rejected rows", rejected, limits.max_rejected_growth, rejected_detail),
        Check("DLQ growth", dlq, limits.max_dlq_growth, dlq_detail),
        Check(
            "failed rechecks",
            counts["recheck_failed"] if incremental else None,
            limits.max_recheck_failures,
            "older records whose row no longer reflects them" if incremental else "incremental runs only",
        ),
    ]


SAMPLE_SIZE = 5
"""How many ids or field mismatches a quality report quotes per kind."""


def report_samples(doc: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A few of the ids and field mismatches a verify report lists, for a readable failure."""
    samples = {}
    for key in VERIFY_SAMPLES:
        value = doc.get(key)
        if isinstance(value, list) and value:
            samples[key] = value[:SAMPLE_SIZE]
    return samples


def quality_report(checks: Sequence[Check], samples: Mapping[str, Sequence[Any]] | None = None) -> str:
    """A fixed-width table of the checks, failures marked, then samples of what differs."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        status = "ok  " if c.ok else "FAIL"
        value = "n/a" if c.value is None else str(c.value)
        line = f"{status} {c.name:<{width}}  {value:>8} (limit {c.limit})"
        if c.detail:
            line += f"  {c.detail}"
        lines.append(line)
    failed = [c.name for c in checks if not c.ok]
    head = (
        f"data quality: {len(failed)} of {len(checks)} check(s) failed"
        if failed
        else "data quality: all checks passed"
    )
    for key, values in (samples or {}).items():
        lines.append(f"some {key.replace('_', ' ')}:")
        lines.extend(f"  {json.dumps(v, sort_keys=True, default=str)}" for v in values)
    return head + "\n" + "\n".join(lines)


# --- I/O: only ever called from inside a running task ---------------------------------------


def check_executable(binary: Binary) -> Binary:
    """Fail clearly (and without retries) when the configured binary cannot be run."""
    if not os.path.isfile(binary.path):
        raise UserstreamConfigError(
            f"the userstream binary {binary.path} (from the {binary.origin}) does not exist"
        )
    if not os.access(binary.path, os.X_OK):
        raise UserstreamConfigError(
            f"the userstream binary {binary.path} (from the {binary.origin}) is not executable"
        )
    return binary


def optional_variable(key: str, otherwise: str) -> str | None:
    """An Airflow Variable, or ``None`` when it is unset."""
    from airflow.sdk import Variable

    # Airflow logs an unset Variable at error level; say beforehand that unset is fine.
    log.info("reading Airflow Variable %r (unset is fine: then %s)", key, otherwise)
    return Variable.get(key, default=None)


def find_binary() -> Binary:
    """Resolve and check the binary from the Airflow Variable or the environment."""
    variable = optional_variable(BIN_VARIABLE, f"the environment variable {BIN_ENV} is used")
    return check_executable(resolve_binary(variable, os.environ))


def _pump(stream: Any, name: str, tail: deque[str], lock: threading.Lock, keep: list[str] | None) -> None:
    for raw in stream:
        line = raw.rstrip("\r\n")
        if keep is not None:
            keep.append(line)
        if not line.strip():
            continue
        log.info("[%s] %s", name, line)
        with lock:
            tail.append(f"{name}: {line}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_userstream(
    args: Sequence[str],
    *,
    timeout: float,
    binary: Binary | None = None,
    check: bool = True,
) -> CommandResult:
    """Run ``userstream <args>``, streaming its stdout and stderr into the task log line by line.

    With ``check`` a non-zero exit raises :class:`CommandFailed` quoting the exit code and the
    last output lines. The command is stopped (SIGTERM, then SIGKILL) when it outlives
    ``timeout`` seconds or when the task itself is interrupted.
    """
    binary = binary or find_binary()
    argv = [binary.path, *args]
    log.info("running %s (binary from the %s)", display_command(argv), binary.origin)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    lock = threading.Lock()
    stdout_lines: list[str] = []
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    )
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, "stdout", tail, lock, stdout_lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "stderr", tail, lock, None), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        for pump in pumps:
            pump.join(timeout=5)
        with lock:
            lines = list(tail)
        raise CommandTimedOut(
            f"`{display_command(argv)}` did not finish within {timeout:g}s and was stopped; "
            "last output:\n" + "\n".join(f"  | {line}" for line in lines)
        ) from None
    except BaseException:
        # The task is being stopped (execution timeout, SIGTERM): do not leave the child behind.
        _stop(proc)
        raise
    for pump in pumps:
        pump.join(timeout=5)
    with lock:
        lines = list(tail)
    log.info("%s exited with code %d", display_command(argv), returncode)
    if check and returncode != 0:
        raise CommandFailed(argv, returncode, lines)
    return CommandResult(tuple(argv), returncode, "\n".join(stdout_lines), tuple(lines))


def run_userstream_json(
    args: Sequence[str], *, timeout: float, binary: Binary | None = None, allow_nonzero: bool = False
) -> tuple[dict[str, Any], CommandResult]:
    """Run a ``--json`` command and parse its stdout.

    With ``allow_nonzero`` a non-zero exit still counts when it printed its JSON report (``verify``
    exits non-zero on a difference and still reports); without a report the command failed.
    """
    result = run_userstream(args, timeout=timeout, binary=binary, check=not allow_nonzero)
    try:
        doc = parse_json_output(result.stdout)
    except JsonOutputError:
        if result.returncode != 0:
            raise CommandFailed(result.argv, result.returncode, result.tail) from None
        raise
    return doc, result
