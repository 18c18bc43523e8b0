"""docs/api.md documents the whole schema as served: every type, field, argument, enum value and root
operation, with the schema's types, and a line of prose for every operation."""
from __future__ import annotations

import re
from pathlib import Path

from graphql import introspection_from_schema, parse, print_ast

from podium.schema import schema

API_MD = Path(__file__).resolve().parents[2] / "docs/api.md"
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}
ROOTS = ("Query", "Mutation", "Subscription")
HINT = ("document it in docs/api.md: add it to the ```graphql block of its domain, as schema/schema.graphql "
        "has it, and say in the prose around it who may call it and what it does")


def _type_name(ref: dict) -> str:
    """An introspection type reference as SDL: [Session!]!"""
    if ref["kind"] == "NON_NULL":
        return _type_name(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return f"[{_type_name(ref['ofType'])}]"
    return ref["name"]


def served() -> dict[str, set[str]]:
    """Every name the running schema has, as 'Type', 'Type.field: T', 'Type.field(arg: T)', 'Enum.VALUE'."""
    names: dict[str, set[str]] = {}
    for t in introspection_from_schema(schema._schema, input_value_deprecation=True)["__schema"]["types"]:
        if t["name"].startswith("__") or t["name"] in BUILT_IN:
            continue
        entries = names.setdefault(f"{t['name']} ({t['kind']})", set())
        for i in t.get("interfaces") or []:
            entries.add(f"{t['name']} implements {i['name']}")
        for f in (t.get("fields") or []) + (t.get("inputFields") or []):
            entries.add(f"{t['name']}.{f['name']}: {_type_name(f['type'])}")
            for a in f.get("args") or []:
                entries.add(f"{t['name']}.{f['name']}({a['name']}: {_type_name(a['type'])})")
        for v in t.get("enumValues") or []:
            entries.add(f"{t['name']}.{v['name']}")
    return names


KINDS = {"object_type": "OBJECT", "interface_type": "INTERFACE", "input_object_type": "INPUT_OBJECT",
         "enum_type": "ENUM", "scalar_type": "SCALAR", "union_type": "UNION"}


def graphql_blocks(text: str) -> str:
    return "\n".join(re.findall(r"```graphql\n(.*?)```", text, flags=re.S))


def prose(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.S)


def documented(text: str) -> dict[str, set[str]]:
    """The same names, from the ```graphql blocks of docs/api.md (`extend type` merged into its type)."""
    names: dict[str, set[str]] = {}
    for node in parse(graphql_blocks(text)).definitions:
        kind = KINDS.get(node.kind.removesuffix("_definition").removesuffix("_extension"))
        if kind is None:
            continue
        name = node.name.value
        entries = names.setdefault(f"{name} ({kind})", set())
        for i in getattr(node, "interfaces", None) or []:
            entries.add(f"{name} implements {i.name.value}")
        for f in getattr(node, "fields", None) or []:
            entries.add(f"{name}.{f.name.value}: {print_ast(f.type)}")
            for a in getattr(f, "arguments", None) or []:
                entries.add(f"{name}.{f.name.value}({a.name.value}: {print_ast(a.type)})")
        for v in getattr(node, "values", None) or []:
            entries.add(f"{name}.{v.name.value}")
    return names


def _flat(names: dict[str, set[str]]) -> set[str]:
    return set(names) | {entry for entries in names.values() for entry in entries}


def test_every_name_in_the_schema_is_documented():
    missing = sorted(_flat(served()) - _flat(documented(API_MD.read_text())))
    assert not missing, f"{len(missing)} names of the schema are not in docs/api.md ({HINT}):\n  " + "\n  ".join(missing)


def test_docs_name_nothing_the_schema_lacks():
    stale = sorted(_flat(documented(API_MD.read_text())) - _flat(served()))
    assert not stale, ("docs/api.md names what the schema does not have (renamed, retyped or removed: "
                       "correct docs/api.md to match schema/schema.graphql):\n  " + "\n  ".join(stale))


def test_every_operation_is_described_in_prose():
    text = prose(API_MD.read_text())
    undescribed = [f"{root}.{name}" for root in ROOTS
                   for name in schema._schema.get_type(root).fields
                   if not re.search(rf"`{name}[`(]", text)]
    assert not undescribed, ("operations without a word of prose in docs/api.md (name each as `name` or "
                             "`name(args)` with who may call it and what it does; " + HINT + "):\n  "
                             + "\n  ".join(undescribed))


def test_the_check_sees_the_schema():
    """Guards the checks above against a parse that finds nothing."""
    names = served()
    assert "Query (OBJECT)" in names and "Mutation (OBJECT)" in names and "Subscription (OBJECT)" in names
    assert "Session.enrollments(first: Int)" in names["Session (OBJECT)"]
    assert "ErrorCode.RESOURCE_CONFLICT" in names["ErrorCode (ENUM)"]
    assert len(documented(API_MD.read_text())) > 50
