"""Every type, field, argument, input and operation of the v1 contract (api_contract.graphql) exists
in the built schema with the contract's name and type; the schema may add, never rename, drop or tighten."""
from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLNonNull, GraphQLObjectType,
    GraphQLScalarType, build_schema,
)

from podium.schema import schema

CONTRACT = build_schema(Path(__file__).with_name("api_contract.graphql").read_text())
BUILT = schema._schema


def _differences() -> list[str]:
    problems = []
    for name, wanted in CONTRACT.type_map.items():
        if name.startswith("__"):
            continue
        have = BUILT.type_map.get(name)
        if not isinstance(have, type(wanted)):
            problems.append(f"{name}: missing or not a {type(wanted).__name__}")
            continue
        if isinstance(wanted, GraphQLEnumType):
            problems += [f"{name}.{v}: missing value" for v in wanted.values if v not in have.values]
        if isinstance(wanted, (GraphQLObjectType, GraphQLInterfaceType)):
            have_interfaces = {i.name for i in have.interfaces}
            problems += [f"{name}: does not implement {i.name}" for i in wanted.interfaces if i.name not in have_interfaces]
            for field_name, field in wanted.fields.items():
                got = have.fields.get(field_name)
                if got is None or str(got.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: want {field.type}, have {got and got.type}")
                    continue
                for arg_name, arg in field.args.items():
                    got_arg = got.args.get(arg_name)
                    if got_arg is None or str(got_arg.type) != str(arg.type):
                        problems.append(f"{name}.{field_name}({arg_name}): want {arg.type}, have {got_arg and got_arg.type}")
                problems += [f"{name}.{field_name}({a}): a required argument the contract lacks"
                             for a, arg in got.args.items() if a not in field.args and isinstance(arg.type, GraphQLNonNull)]
        if isinstance(wanted, GraphQLInputObjectType):
            for field_name, field in wanted.fields.items():
                got = have.fields.get(field_name)
                if got is None or str(got.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: want {field.type}, have {got and got.type}")
            problems += [f"{name}.{f}: a required input field the contract lacks"
                         for f, field in have.fields.items() if f not in wanted.fields and isinstance(field.type, GraphQLNonNull)]
    return problems


def test_the_built_schema_holds_the_whole_contract():
    assert _differences() == []


def test_the_contract_is_not_empty():
    """Guards the check above against a contract file that parses to nothing."""
    kinds = {type(t) for n, t in CONTRACT.type_map.items() if not n.startswith("__")}
    assert {GraphQLObjectType, GraphQLInputObjectType, GraphQLEnumType, GraphQLInterfaceType, GraphQLScalarType} <= kinds
    assert len(CONTRACT.query_type.fields) == 6 and len(CONTRACT.mutation_type.fields) == 11
    assert list(CONTRACT.subscription_type.fields) == ["sessionChanged"]
