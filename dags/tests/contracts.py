"""The binary's ``--json`` outputs, as their JSON Schemas in ``dags/contracts/`` say.

The schemas are generated from the Rust structs (``userstream json-schema --write
dags/contracts``; a Rust test fails when they are stale). Tests build their documents with
:func:`example`, so every document a test feeds the DAG code is one the binary could print,
and the stand-in binary (``fake_userstream.py``) prints the same kind.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
STAND_IN = Path(__file__).resolve().with_name("fake_userstream.py")


def write_stand_in(exe: Path) -> Path:
    """Writes the stand-in binary (``fake_userstream.py``) as the executable ``exe``: run by this
    interpreter, with this directory on its ``sys.path`` so it builds its output here.
    """
    head = f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(STAND_IN.parent)!r})\n"
    exe.write_text(head + STAND_IN.read_text())
    exe.chmod(0o755)
    return exe


@cache
def schema(output: str) -> dict[str, Any]:
    """The schema of ``output`` (``produce``, ``verify``, ``stream-status``, ``stream-ensure``)."""
    return json.loads((CONTRACTS_DIR / f"{output}.schema.json").read_text())


def resolve(output: str, node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` (``#/$defs/Name``) followed."""
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = schema(output)["$defs"][name]
    return node


def types(node: dict[str, Any]) -> set[str]:
    """The JSON types a (resolved) schema node allows."""
    kind = node.get("type")
    if isinstance(kind, list):
        return set(kind)
    if isinstance(kind, str):
        return {kind}
    if "enum" in node:
        return {type_name(v) for v in node["enum"]}
    if "oneOf" in node or "anyOf" in node:
        return set().union(*(types(n) for n in node.get("oneOf", node.get("anyOf", []))))
    return set()


def type_name(value: Any) -> str:
    """The JSON type name of a Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float,)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def field(output: str, *path: str) -> tuple[dict[str, Any], bool]:
    """The schema node of the field at ``path`` (``"queries"``, ``"items"``, ``"name"``), and
    whether every object on the way requires it. ``KeyError`` when the schema has no such field.
    """
    node, required = resolve(output, schema(output)), True
    for step in path:
        if step == "items":
            node = resolve(output, node["items"])
            continue
        if "properties" not in node:
            # An optional object (`anyOf: [{$ref}, {type: null}]`): its object branch.
            node = resolve(output, next(n for n in node.get("anyOf", []) if n.get("type") != "null"))
        required = required and step in node.get("required", [])
        node = resolve(output, node["properties"][step])
    return node, required


def _default(output: str, node: dict[str, Any]) -> Any:
    node = resolve(output, node)
    allowed = types(node)
    if "null" in allowed:
        return None
    if "enum" in node:
        return node["enum"][0]
    if "oneOf" in node or "anyOf" in node:
        return _default(output, (node.get("oneOf") or node["anyOf"])[0])
    if "const" in node:
        return node["const"]
    for kind, value in (("integer", 0), ("number", 0.0), ("string", ""), ("boolean", False), ("array", [])):
        if kind in allowed:
            return copy.copy(value)
    return {key: _default(output, node["properties"][key]) for key in node.get("required", [])}


def example(output: str, **fields: Any) -> dict[str, Any]:
    """A document of ``output`` with every required field at a plain default (0, "", [], null,
    false), then ``fields`` over it; checked against the schema. A field the schema does not
    have is a ``KeyError``: tests cannot invent fields the binary never prints.
    """
    doc = _default(output, schema(output))
    properties = resolve(output, schema(output))["properties"]
    for key, value in fields.items():
        if key not in properties:
            raise KeyError(f"{output} has no field {key!r}")
        doc[key] = value
    validate(output, doc)
    return doc


def validate(output: str, doc: Any) -> None:
    """``AssertionError`` listing every way ``doc`` breaks ``output``'s schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema(output))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        raise AssertionError(
            f"not a valid {output} document:\n"
            + "\n".join(f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
        )


def part(output: str, definition: str, **fields: Any) -> dict[str, Any]:
    """An object of the schema's ``$defs/<definition>`` (``QueryStatus``, ``Progress``, ...),
    built like :func:`example`; the whole document it goes into is checked by ``example``.
    """
    node = schema(output)["$defs"][definition]
    doc = _default(output, node)
    for key, value in fields.items():
        if key not in node["properties"]:
            raise KeyError(f"{definition} has no field {key!r}")
        doc[key] = value
    return doc
