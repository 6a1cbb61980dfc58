"""A stand-in for the `userstream` binary in tests (run as a script, never imported).

Its state lives in the JSON file named by FAKE_STATE: whether the streaming query is active,
how many status polls it takes to come up after `stream start`, what `verify` reports (a queue
whose last entry repeats), the exit code of `setup`. Every command line it receives is appended
to the file named by FAKE_CALLS. Output shapes follow the Rust CLI: `produce --json` prints a
RunSummary (pretty-printed), `stream status --json` a StreamStatus, `verify --json` a VerifyReport.
"""

import json
import os
import sys
from pathlib import Path


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
        summary = {
            "topic": "users",
            "seed": args[args.index("--seed") + 1],
            "users_produced": int(args[args.index("--count") + 1]),
            "rejected": 0,
            "dlq_produced": 0,
            "users_per_sec": 1000.0,
            "resume_page": 2,
            "stop_reason": "count",
            "failure": None,
        }
        print(json.dumps(summary, indent=2))
    elif args[:2] == ["stream", "status"]:
        polls = state.get("polls_until_active")
        if polls is not None and state.get("started"):
            state["polls_until_active"] = polls - 1
            state["active"] = polls <= 1
        query = {
            "name": "users",
            "active": state["active"],
            "id": "q1",
            "last_progress": state.get("last_progress"),
            "exception": state.get("exception"),
        }
        print(json.dumps({"session_id": "s1", "queries": [query]}))
    elif args[:2] == ["stream", "start"]:
        state["started"] = True
        if state.get("start_fails"):
            state["exception"] = "org.apache.spark.sql.streaming.StreamingQueryException: Cassandra down"
    elif args[:1] == ["verify"]:
        reports = state["verify"]
        report = reports.pop(0) if len(reports) > 1 else reports[0]
        print(json.dumps(report))
        code = 0 if report["missing_count"] == 0 and report["field_mismatch_count"] == 0 else 1
    else:
        print(f"error: unrecognized subcommand {args!r}", file=sys.stderr)
        code = 2
    state_file.write_text(json.dumps(state))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
