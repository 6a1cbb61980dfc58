"""A stand-in for the `userstream` binary in tests (run as a script, never imported).

Its state lives in the JSON file named by FAKE_STATE: whether the streaming query is active
(`active`, `exception`, `last_progress`), what one `stream ensure` pass does
about it (`start_fails`: the started query fails at once, so it is still down; `stalled`: an
active query is restarted; `ensure_error`: the pass errs and prints no JSON), what `verify`
reports (a queue whose last entry repeats), the exit code of `setup`. Every command line it
receives is appended to the file named by FAKE_CALLS. Every document it prints is built and
checked by `contracts.py` against the binary's published schemas (`dags/contracts/`):
`produce --json` a RunSummary and `stream ensure --json` an EnsureReport (both pretty-printed),
`verify --json` a VerifyReport (the state's report over a complete one of the command line's
mode: `--incremental` or full). The directory of
`contracts.py` is put on `sys.path` by whoever writes this script out as a binary.
"""

import json
import os
import sys
from pathlib import Path

from contracts import example, part

STARTED = (
    "started: users                        started          id q1  run r2  checkpoint /ck/users; "
    "users-rejected               already running  id q2  run r1  checkpoint /ck/users-rejected; "
    "session s1; decoding schema ids [1]"
)


def status(state: dict) -> dict:
    """A StreamStatus (`stream status --json`) of the job's users query."""
    progress = state.get("last_progress")
    query = part(
        "stream-ensure",
        "QueryStatus",
        name="users",
        active=state["active"],
        id="q1",
        run_id="r1",
        message="Waiting for data to arrive" if state["active"] else None,
        last_progress=None if progress is None else part("stream-ensure", "Progress", **progress),
        exception=state.get("exception"),
    )
    return part("stream-ensure", "StreamStatus", session_id="s1", queries=[query])


def ensure(state: dict) -> int:
    """One `stream ensure --json` pass: 0 when the query is active afterwards, else 1."""
    if state.get("ensure_error"):
        print(f"error: {state['ensure_error']}", file=sys.stderr)
        return 1
    actions = []
    if not state["active"]:
        exception = state.get("exception")
        if exception:
            first = exception.strip().splitlines()[0]
            actions.append(f"query users is down: {first} (full text: `userstream stream status --json`)")
        else:
            actions.append("query users is not running (Spark gave no exception)")
    elif state.get("stalled"):
        actions.append(
            "query users stalled: 1200 records wait in Kafka and no batch finished for 3m 5s; "
            "restart the queries from their checkpoints"
        )
        state["stalled"] = False
    if actions:
        actions.append(STARTED)
        if state.get("start_fails"):
            state["active"] = False
            state["exception"] = (
                "org.apache.spark.sql.streaming.StreamingQueryException: Cassandra down\n"
                "\tat org.apache.spark.sql.execution.streaming.StreamExecution.runStream"
            )
        else:
            state["active"] = True
            state["exception"] = None
    print(json.dumps(example("stream-ensure", actions=actions, status=status(state)), indent=2))
    return 0 if state["active"] else 1


def verify_shape(args: list[str]) -> dict:
    """What the mode of a `verify` command line fixes in its report: an incremental run leaves
    the full-only counts null and names its cut file."""
    if "--incremental" not in args:
        return {"mode": "full"}
    return {
        "mode": "incremental",
        "cassandra_rows": None,
        "extra_count": None,
        "out_of_reach_rows": None,
        "cut_file": "/state/data/verify/userstream.users.cut.json",
        "cut_saved": True,
    }


def main(args: list[str]) -> int:
    state_file = Path(os.environ["FAKE_STATE"])
    state = json.loads(state_file.read_text())
    with open(os.environ["FAKE_CALLS"], "a") as calls:
        calls.write(json.dumps(args) + "\n")
    print("fake userstream " + " ".join(args), file=sys.stderr)
    code = 0
    if args[:1] == ["setup"]:
        code = state.get("setup_exit", 0)
    elif args[:1] == ["produce"]:
        summary = example(
            "produce",
            topic="users",
            seed=args[args.index("--seed") + 1],
            users_produced=int(args[args.index("--count") + 1]),
            users_per_sec=1000.0,
            resume_page=2,
            stop_reason="count",
        )
        print(json.dumps(summary, indent=2))
    elif args[:2] == ["stream", "ensure"]:
        code = ensure(state)
    elif args[:1] == ["verify"]:
        reports = state["verify"]
        told = reports.pop(0) if len(reports) > 1 else reports[0]
        report = example("verify", **{**verify_shape(args), **told})
        print(json.dumps(report))
        differs = report["missing_count"] or report["field_mismatch_count"] or report["recheck_failed"]
        code = 1 if differs else 0
    else:
        print(f"error: unrecognized subcommand {args!r}", file=sys.stderr)
        code = 2
    state_file.write_text(json.dumps(state))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
