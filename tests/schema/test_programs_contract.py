"""The v1 contract's "Blended programs" (programs_contract.graphql) holds in the built schema: every name and type there, as written."""
from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLNonNull, GraphQLObjectType, build_schema

from podium.schema import schema

CONTRACT = build_schema(Path(__file__).with_name("programs_contract.graphql").read_text())
STUBS = {"DateTime", "Node", "Person", "Course", "Session", "PageInfo", "ErrorCode", "UserError"}


def _differences() -> list[str]:
    built, problems = schema._schema, []
    for name, wanted in CONTRACT.type_map.items():
        if name.startswith("__") or name in STUBS or name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        have = built.type_map.get(name)
        if not isinstance(have, type(wanted)):
            problems.append(f"{name}: missing or not a {type(wanted).__name__}")
            continue
        if isinstance(wanted, GraphQLEnumType):
            problems += [f"{name}.{v}: missing" for v in wanted.values if v not in have.values]
        if isinstance(wanted, (GraphQLObjectType, GraphQLInputObjectType)):
            for field_name, field in wanted.fields.items():
                got = have.fields.get(field_name)
                if got is None or str(got.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: want {field.type}, have {got and got.type}")
                    continue
                for arg_name, arg in getattr(field, "args", {}).items():
                    got_arg = got.args.get(arg_name)
                    if got_arg is None or str(got_arg.type) != str(arg.type):
                        problems.append(f"{name}.{field_name}({arg_name}): want {arg.type}")
            if isinstance(wanted, GraphQLInputObjectType):
                problems += [f"{name}.{f}: required but not in the contract" for f, field in have.fields.items()
                             if f not in wanted.fields and isinstance(field.type, GraphQLNonNull)]
        if isinstance(wanted, GraphQLObjectType):
            problems += [f"{name}: does not implement {i.name}" for i in wanted.interfaces
                         if i.name not in {x.name for x in have.interfaces}]
    return problems


def test_the_built_schema_holds_the_blended_programs_contract():
    assert _differences() == []
    assert {"programTemplates", "programs"} <= set(CONTRACT.query_type.fields)
