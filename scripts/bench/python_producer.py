#!/usr/bin/env python3
"""A plain-Python producer: the baseline `userstream produce` is measured against.

It does the same job as `userstream produce`, the way a careful Python developer would write
it: fetch pages of users from a randomuser-compatible API over HTTP (one kept-alive session,
the next pages fetched while this one is encoded), check each user minimally, build the
record of `crates/model/schema/user.avsc`, encode it with fastavro's schemaless writer in the
Confluent framing (magic byte 0, the schema id as 4 bytes big-endian), and produce it with
confluent-kafka, keyed by the user's id, with the Rust producer's librdkafka settings
(idempotent, acks=all, lz4, linger 10 ms, large batches, the Java client's partitioner).
A full local queue is waited out with `poll`, as backpressure.

Logins are found as the Rust side finds them: `userstream stack credentials --json` (run with
the caller's environment, so `USERSTREAM_STATE_DIR` applies) prints the stack's addresses and
logins on its standard output, read here through a pipe, never put in argv; Kafka is reached
as the `producer` user (SASL/SCRAM-SHA-512), the registry as its `producer` (HTTP basic).
The schema is registered under the value subject (the registry answers with the id it already
has for the same schema).

What it leaves out, being a baseline: the dead-letter topic (a rejected user is counted and
dropped), retries of failed pages, and the derived-field and secret rules beyond what the
record needs.

At the end it prints one JSON object: users produced, seconds, users per second, and this
process's CPU seconds (librdkafka's threads included, as in the Rust process's figure).

`--dry-run` fetches, checks and encodes, and produces nothing: no Kafka, no registry, no
logins (schema id 0). That is the Python side's own cost per user.

Needs Python 3.11 or later and scripts/bench/requirements.txt (compare-producers.sh makes
the venv).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import struct
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import fastavro
import requests

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "crates/model/schema/user.avsc"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Pages fetched ahead of the one being encoded.
PREFETCH = 2


class Rejected(ValueError):
    """A user that cannot become a record."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--source", required=True, help="the API, e.g. http://127.0.0.1:8765/api/"
    )
    p.add_argument("--count", type=int, required=True, help="users to produce")
    p.add_argument("--results-per-page", type=int, default=5000)
    p.add_argument("--seed", default="userstream")
    p.add_argument("--start-page", type=int, default=1)
    p.add_argument("--topic", default="users")
    p.add_argument("--subject", help="value subject; default <topic>-value")
    p.add_argument(
        "--userstream",
        default="userstream",
        help="the userstream command whose `stack credentials --json` gives the logins",
    )
    p.add_argument("--dry-run", action="store_true", help="fetch and encode; no Kafka")
    return p.parse_args(argv)


def stack_credentials(userstream: str) -> dict:
    """The stack's addresses and logins, from `userstream stack credentials --json`."""
    done = subprocess.run(
        [userstream, "stack", "credentials", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(
            f"`{userstream} stack credentials --json` failed ({done.stderr.strip()}): "
            "is the stack up (`userstream stack up`)?"
        )
    return json.loads(done.stdout)


def register_schema(registry: dict, subject: str, schema_text: str) -> int:
    """The schema id of `schema_text` under `subject`, registering it if new."""
    login = registry["users"]["producer"]
    url = f"{registry['url'].rstrip('/')}/subjects/{quote(subject, safe='')}/versions"
    response = requests.post(
        url,
        json={"schema": schema_text},
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        auth=(login["username"], login["password"]),
        timeout=30,
    )
    if response.status_code != 200:
        sys.exit(
            f"registering the schema at {url}: HTTP {response.status_code} {response.text}"
        )
    return int(response.json()["id"])


def kafka_producer(kafka: dict):
    """A producer with the Rust producer's settings, logged in as the stack's `producer`."""
    from confluent_kafka import Producer  # only a real run needs librdkafka

    login = kafka["users"]["producer"]
    return Producer(
        {
            "bootstrap.servers": kafka["bootstrap"],
            "security.protocol": "sasl_plaintext",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": login["username"],
            "sasl.password": login["password"],
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": 10,
            "batch.size": 1_000_000,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 100_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "partitioner": "murmur2_random",
        }
    )


_sessions = threading.local()


def fetch_page(source: str, seed: str, page: int, results: int):
    """One page: its request URL, its seed and its parsed `results`. Each fetching thread keeps
    its own kept-alive session (a `requests.Session` is not meant to be shared by threads)."""
    if not hasattr(_sessions, "session"):
        _sessions.session = requests.Session()
    response = _sessions.session.get(
        source, params={"results": results, "seed": seed, "page": page}, timeout=30
    )
    response.raise_for_status()
    body = json.loads(response.content)
    if "error" in body:
        raise RuntimeError(f"page {page}: the API answered {body['error']!r}")
    return response.url, body.get("info", {}).get("seed") or seed, body["results"]


def text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Rejected(f"expected a string, got {value!r}")


def millis(date: str | None) -> int | None:
    if date is None:
        return None
    at = datetime.fromisoformat(date)
    return (at - EPOCH) // MILLISECOND


def degrees(value, limit: float) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not -limit <= number <= limit:
        raise Rejected(f"{number} is out of range")
    return number


def street_number(value) -> int | None:
    if value is None:
        return None
    number = int(value)
    if not INT_MIN <= number <= INT_MAX:
        raise Rejected(f"street number {number} is out of range")
    return number


def postcode(value) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    return None if value is None else str(int(value))


def display_address(r: dict) -> str | None:
    """As `userstream_model::derive::display_address`: absent or blank parts left out."""

    def join(sep: str, parts) -> str | None:
        kept = [p.strip(" ") for p in parts if p is not None and p.strip(" ")]
        return sep.join(kept) or None

    number = None if r["street_number"] is None else str(r["street_number"])
    street = join(" ", [number, r["street_name"]])
    region = join(" ", [r["state"], r["postcode"]])
    return join(", ", [street, r["city"], region, r["country"]])


def record(
    entry: dict, index: int, url: str, seed: str, page: int, produced_at: int
) -> dict:
    """The Avro record of one `results[]` entry; `Rejected` when it cannot be one."""
    if not isinstance(entry, dict):
        raise Rejected("not an object")
    login = entry.get("login") or {}
    if not isinstance(login.get("uuid"), str) or not isinstance(
        login.get("username"), str
    ):
        raise Rejected("login.uuid or login.username missing")
    name = entry.get("name") or {}
    location = entry.get("location") or {}
    street = location.get("street") or {}
    coordinates = location.get("coordinates") or {}
    tz = location.get("timezone") or {}
    id_card = entry.get("id") or {}
    id_name = text(id_card.get("name"))
    r = {
        "id": str(uuid.UUID(login["uuid"].strip())),
        "title": text(name.get("title")),
        "first_name": text(name.get("first")),
        "last_name": text(name.get("last")),
        "gender": text(entry.get("gender")),
        "street_number": street_number(street.get("number")),
        "street_name": text(street.get("name")),
        "city": text(location.get("city")),
        "state": text(location.get("state")),
        "country": text(location.get("country")),
        "postcode": postcode(location.get("postcode")),
        "latitude": degrees(coordinates.get("latitude"), 90.0),
        "longitude": degrees(coordinates.get("longitude"), 180.0),
        "timezone_offset": text(tz.get("offset")),
        "timezone_description": text(tz.get("description")),
        "email": text(entry.get("email")),
        "username": login["username"],
        "dob": millis(text((entry.get("dob") or {}).get("date"))),
        "registered": millis(text((entry.get("registered") or {}).get("date"))),
        "phone": text(entry.get("phone")),
        "cell": text(entry.get("cell")),
        "id_name": id_name if id_name and id_name.strip() else None,
        "id_value": text(id_card.get("value")),
        "picture_url": text((entry.get("picture") or {}).get("large")),
        "nationality": text(entry.get("nat")),
        "produced_at": produced_at,
        "source_url": url,
        "source_seed": seed,
        "source_page": page,
        "source_index": index,
    }
    r["display_address"] = display_address(r)
    return r


class Deliveries:
    """Counts acknowledgements: one callable for every message, no closure per message."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.first_error: str | None = None

    def __call__(self, error, _message) -> None:
        if error is None:
            self.ok += 1
        else:
            self.failed += 1
            self.first_error = self.first_error or str(error)


def send(producer, topic: str, key: str, value: bytes, deliveries: Deliveries) -> None:
    """Produces one message, waiting for room when the local queue is full (backpressure)."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=deliveries)
            return
        except BufferError:
            producer.poll(0.05)


def pages(args: argparse.Namespace):
    """(page number, users wanted) for each page of the run, the last one trimmed."""
    left, page = args.count, args.start_page
    while left > 0:
        take = min(left, args.results_per_page)
        yield page, take
        left -= take
        page += 1


def run(args: argparse.Namespace) -> dict:
    schema_text = SCHEMA_FILE.read_text()
    parsed = fastavro.parse_schema(json.loads(schema_text))
    producer, deliveries = None, Deliveries()
    schema_id = 0
    if not args.dry_run:
        stack = stack_credentials(args.userstream)
        schema_id = register_schema(
            stack["registry"], args.subject or f"{args.topic}-value", schema_text
        )
        producer = kafka_producer(stack["kafka"])
    header = struct.pack(">bI", 0, schema_id)
    started = time.perf_counter()
    encoded = rejected = value_bytes = 0
    plan = list(pages(args))
    with ThreadPoolExecutor(PREFETCH) as fetcher:

        def fetch(page: int, take: int):
            # As the Rust producer, the last page asks for only the users it still needs.
            return fetcher.submit(fetch_page, args.source, args.seed, page, take)

        ahead = [fetch(*task) for task in plan[:PREFETCH]]
        for i, (page, take) in enumerate(plan):
            url, seed, entries = ahead.pop(0).result()
            if i + PREFETCH < len(plan):
                ahead.append(fetch(*plan[i + PREFETCH]))
            produced_at = (datetime.now(UTC) - EPOCH) // MILLISECOND
            for index, entry in enumerate(entries[:take]):
                try:
                    r = record(entry, index, url, seed, page, produced_at)
                except (Rejected, ValueError, TypeError, AttributeError):
                    rejected += 1
                    continue
                out = io.BytesIO()
                out.write(header)
                fastavro.schemaless_writer(out, parsed, r)
                value = out.getvalue()
                value_bytes += len(value)
                encoded += 1
                if producer is not None:
                    send(producer, args.topic, r["id"], value, deliveries)
            if producer is not None:
                producer.poll(0)
    undelivered = producer.flush(300) if producer is not None else 0
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    users = encoded if args.dry_run else deliveries.ok
    return {
        "producer": "python",
        "dry_run": args.dry_run,
        "users": users,
        "rejected": rejected,
        "delivery_errors": deliveries.failed + undelivered,
        "first_delivery_error": deliveries.first_error,
        "seconds": round(seconds, 3),
        "users_per_sec": round(users / seconds, 1) if seconds > 0 else None,
        "cpu_seconds": round(cpu, 3),
        "cpu_seconds_per_1000_users": round(cpu * 1000 / users, 4) if users else None,
        "avg_value_bytes": round(value_bytes / encoded, 1) if encoded else None,
        "schema_id": schema_id,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=2))
    return 0 if report["delivery_errors"] == 0 and report["users"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
