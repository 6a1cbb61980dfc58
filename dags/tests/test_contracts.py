"""The DAGs read the binary's ``--json`` outputs as their schemas say (``dags/contracts/``,
generated from the Rust structs; a Rust test keeps them current): every field a DAG reads is
there, with the type the DAG's code expects, and is always printed (or may be null where the
code handles null).
"""

from __future__ import annotations

import json

import pytest

import userstream_common as us
from contracts import CONTRACTS_DIR, example, field, schema, types

# (output, path to the field, JSON types the DAG code handles). A count must be an integer
# (count_of refuses anything else); a field the code passes through may be anything.
READ = [
    *[("produce", (key,), {"integer"}) for key in us.PRODUCE_COUNTS.values()],
    ("produce", (us.PRODUCE_RATE,), {"number"}),
    *[("produce", (key,), None) for key in us.PRODUCE_KEPT],
    ("stream-ensure", ("actions",), {"array"}),
    ("stream-ensure", ("status",), {"object"}),
    ("stream-ensure", ("status", "session_id"), {"string"}),
    ("stream-ensure", ("status", "queries"), {"array"}),
    ("stream-ensure", ("status", "queries", "items", "active"), {"boolean"}),
    ("stream-ensure", ("status", "queries", "items", "name"), {"string"}),
    ("stream-ensure", ("status", "queries", "items", "id"), {"string", "null"}),
    ("stream-ensure", ("status", "queries", "items", "exception"), {"string", "null"}),
    ("stream-ensure", ("status", "queries", "items", "held_after_end"), {"boolean"}),
    ("stream-ensure", ("status", "queries", "items", "last_progress"), {"object", "null"}),
    *[("stream-status", ("queries", "items", key), None) for key in us.QUERY_FIELDS],
    *[("stream-status", ("queries", "items", "last_progress", key), None) for key in us.PROGRESS_FIELDS],
    *[("verify", (key,), {"integer"}) for key in us.VERIFY_COUNTS.values()],
    *[("verify", (key,), {"integer", "null"}) for key in us.VERIFY_FULL_ONLY.values()],
    ("verify", (us.VERIFY_DLQ,), {"integer", "null"}),
    ("verify", (us.VERIFY_MODE,), {"string"}),
    ("verify", ("fallback_reason",), {"string", "null"}),
    *[("verify", (key,), {"array"}) for key in us.VERIFY_SAMPLES],
]


@pytest.mark.parametrize(
    ("output", "path", "handled"), READ, ids=lambda v: "/".join(v) if isinstance(v, tuple) else None
)
def test_every_field_a_dag_reads_is_printed_with_a_type_it_handles(output, path, handled):
    try:
        node, required = field(output, *path)
    except KeyError:
        pytest.fail(f"{output} --json has no field {'/'.join(path)}: the DAGs read it (see dags/contracts/)")
    # The last step may be inside an optional object (last_progress): the DAG checks it for null.
    assert required or "last_progress" in path[:-1], f"{output}: {'/'.join(path)} is not always printed"
    if handled is not None:
        printed = types(node)
        assert printed and printed <= handled, (
            f"{output}: {'/'.join(path)} is {printed}, the DAGs handle {handled}"
        )


def test_every_output_has_a_published_schema():
    names = sorted(p.name for p in CONTRACTS_DIR.glob("*.schema.json"))
    assert names == [
        "produce.schema.json",
        "stream-ensure.schema.json",
        "stream-status.schema.json",
        "verify.schema.json",
    ]
    for name in names:
        assert json.loads((CONTRACTS_DIR / name).read_text())["$schema"].startswith(
            "https://json-schema.org/"
        )


def test_a_document_with_a_field_the_binary_never_prints_is_refused():
    with pytest.raises(KeyError, match="users_per_second"):
        example("produce", users_per_second=1.0)
    with pytest.raises(AssertionError, match="users_produced"):
        example("produce", users_produced="many")
    assert schema("produce")["title"] == "RunSummary"


def test_the_verify_modes_the_dags_know_are_the_binary_s():
    node, _ = field("verify", us.VERIFY_MODE)
    printed = {branch["const"] for branch in node["oneOf"]}
    assert printed == set(us.VERIFY_MODES)
