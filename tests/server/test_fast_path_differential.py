"""The plain-data fast path and graphql-core's stock execution answer every query alike, over HTTP on
the demo data: a query per field of the Query type and per Node type (every field the schema serves,
to the depth the limits allow), and every query document the test suite sends."""
from __future__ import annotations

import ast
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from graphql import (
    FieldNode, GraphQLEnumType, GraphQLField, GraphQLID, GraphQLInputObjectType, GraphQLInt, GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull, GraphQLUnionType, InlineFragmentNode, ListValueNode, ObjectValueNode,
    OperationDefinitionNode, OperationType, TokenKind, VariableNode, ast_from_value, get_named_type, is_leaf_type,
    Undefined, parse, print_ast, type_from_ast, validate, value_from_ast_untyped,
)
from graphql.language import Lexer, Source, Visitor, visit
from graphql.utilities import TypeInfo, TypeInfoVisitor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from podium.core.demo import load_demo
from podium.core.settings import Settings
from podium.schema import execution, schema
from podium.schema.limits import MAX_DEPTH, MAX_TOKENS

from .conftest import ADMIN_TOKEN

SCHEMA = schema._schema
TESTS = Path(__file__).parents[1]
FAR_PAST = datetime.now(timezone.utc) - timedelta(days=400)
FAR_FUTURE = datetime.now(timezone.utc) + timedelta(days=400)
IDS = """{ sessions(first: 100) { edges { node { id seatsTaken waitlistCount
             enrollments(first: 100) { edges { node { id learner { id } } } } } } }
           courses(first: 100) { edges { node { id } } }   people(first: 100) { edges { node { id } } }
           resources(first: 100) { edges { node { id kind } } }   programs(first: 100) { edges { node { id } } }
           certifications(first: 100) { edges { node { id } } }   venues(first: 100) { edges { node { id } } } }"""
COVERED: set[tuple[str, str]] = {("Query", "node")}
"""(type, field) pairs the generated documents ask for."""
TOKEN = """mutation($i: IssueTokenInput!) { issueToken(input: $i) { token } }"""


# --- the documents -------------------------------------------------------------------------

def documents_in_tests() -> list[str]:
    """Every query document (no mutation or subscription) written in the test suite."""
    found = []
    for path in sorted(set(TESTS.rglob("*.py")) - {Path(__file__)}):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and "{" in node.value):
                continue
            try:
                document = parse(node.value)
            except Exception:  # noqa: BLE001 - a string that is not GraphQL
                continue
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if (operations and all(o.operation == OperationType.QUERY for o in operations)
                    and not validate(SCHEMA, document) and node.value not in found):
                found.append(node.value)
    return found


def fields_asked(text: str) -> set[tuple[str, str]]:
    """(type, field) of every field a document asks for."""
    info, asked = TypeInfo(SCHEMA), set()

    class Fields(Visitor):
        def enter_field(self, node, *_):
            parent = info.get_parent_type()
            if parent is not None:
                asked.add((parent.name, node.name.value))

    visit(parse(text), TypeInfoVisitor(info, Fields()))
    return asked


def _tokens(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


class Unfillable(Exception):
    """A required argument this test has no value for: the field (or document) is left out."""


def _value(name: str, graphql_type, ids: dict[str, list[str]]):
    """A value for an argument: small pages, wide date windows, an ID of the type its name says;
    None leaves an optional argument out."""
    named = get_named_type(graphql_type)
    if name == "first":
        return 3
    if not isinstance(graphql_type, GraphQLNonNull):
        return None
    if isinstance(graphql_type.of_type, GraphQLList):
        item = get_named_type(graphql_type.of_type)
        if isinstance(item, GraphQLEnumType):  # e.g. a report's metrics: the first one
            return [next(iter(item.values.values())).value]
        raise Unfillable(name)
    if isinstance(named, GraphQLInputObjectType):  # e.g. a report's input: its required fields
        return {field: _value(field, value.type, ids) for field, value in named.fields.items()
                if isinstance(value.type, GraphQLNonNull) and value.default_value is Undefined}
    if named.name == "Date":
        return (FAR_FUTURE if name == "to" else FAR_PAST).date()
    if named is GraphQLInt:
        return 3650 if name == "withinDays" else 3
    if named is GraphQLID and name.endswith("Id") and ids.get(name[:-2].capitalize()):
        return ids[name[:-2].capitalize()][0]
    if named.name == "DateTime":
        return FAR_FUTURE if name == "to" else FAR_PAST
    if named.name == "Boolean":
        return False
    if named.name == "String":  # e.g. an evaluation link's token: one that is not known
        return "x"
    if isinstance(named, GraphQLEnumType):
        return next(iter(named.values.values())).value
    raise Unfillable(name)


def _field(name: str, field: GraphQLField, depth: int, ids, path: tuple = ()) -> str | None:
    """The field with its arguments and selection; None when it cannot be asked (an argument this
    test cannot fill, or objects deeper than `depth` or already on the path: a cycle)."""
    try:
        values = {a: (arg.type, _value(a, arg.type, ids)) for a, arg in field.args.items()}
    except Unfillable:
        return None
    spelled = ", ".join(f"{a}: {print_ast(ast_from_value(value, graphql_type))}"
                        for a, (graphql_type, value) in values.items() if value is not None)
    head = f"{name}({spelled})" if spelled else name
    named = get_named_type(field.type)
    if is_leaf_type(named):
        return head
    if depth <= 1 or named.name in path:
        return None
    inner = _selection(named, depth - 1, ids, path)
    return f"{head} {{ {inner} }}" if inner else None


def _selection(graphql_type, depth: int, ids, path: tuple = ()) -> str:
    """Every field of the type (objects to `depth` levels); interfaces and unions per possible type."""
    path = (*path, graphql_type.name)
    if isinstance(graphql_type, (GraphQLInterfaceType, GraphQLUnionType)):
        return " ".join(["__typename"] + [f"... on {t.name} {{ {_selection(t, depth, ids, path)} }}"
                                          for t in SCHEMA.get_possible_types(graphql_type)])
    parts = [_field(name, field, depth, ids, path) for name, field in graphql_type.fields.items()]
    for name, part in zip(graphql_type.fields, parts):
        if part:
            COVERED.add((graphql_type.name, name))
    return " ".join(["__typename"] + [p for p in parts if p])


def _deepest(make) -> str:
    """The deepest document `make(depth)` builds within the token and depth limits."""
    for depth in range(MAX_DEPTH - 2, 0, -1):
        document = make(depth)
        if _tokens(document) < MAX_TOKENS - 50 and not validate(SCHEMA, parse(document)):
            return document
    raise AssertionError("no document fits the limits")


def served_fields() -> set[tuple[str, str]]:
    """(type, field) of every field a query can reach."""
    seen, todo, fields = set(), [SCHEMA.query_type], set()
    while todo:
        graphql_type = todo.pop()
        if graphql_type.name in seen or is_leaf_type(graphql_type):
            continue
        seen.add(graphql_type.name)
        if isinstance(graphql_type, (GraphQLInterfaceType, GraphQLUnionType)):
            todo += SCHEMA.get_possible_types(graphql_type)
            continue
        for name, field in graphql_type.fields.items():
            fields.add((graphql_type.name, name))
            todo.append(get_named_type(field.type))
    return fields


def contract_documents(ids: dict[str, list[str]]) -> list[str]:
    """A document per field of the Query type, and per Node type through `node(id:)`."""
    query = SCHEMA.query_type
    documents = [_deepest(lambda depth, name=name, field=field: f"{{ {_field(name, field, depth, ids) or name} }}")
                 for name, field in query.fields.items() if name != "node"]
    COVERED.update(("Query", name) for name in query.fields)
    for type_name, type_ids in ids.items():
        for node_id in type_ids:
            documents.append(_deepest(lambda depth, t=type_name, i=node_id: (
                f'{{ node(id: {json.dumps(i)}) {{ id ... on {t} {{ {_selection(SCHEMA.type_map[t], depth, ids)} }} }} }}')))
    return documents


def _uses(document) -> dict[str, tuple[str, list[str]]]:
    """Each variable's argument name, with the fragment types selected under the field it is passed to."""
    uses: dict[str, tuple[str, list[str]]] = {}

    def value(name, node, under):
        if isinstance(node, VariableNode):
            uses[node.name.value] = (name, under)
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                value(field.name.value, field.value, under)
        elif isinstance(node, ListValueNode):
            for item in node.values:
                value(name, item, under)

    def walk(selection_set):
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                under = [s.type_condition.name.value for s in
                         (selection.selection_set.selections if selection.selection_set else ())
                         if isinstance(s, InlineFragmentNode) and s.type_condition]
                for argument in selection.arguments or ():
                    value(argument.name.value, argument.value, under)
            walk(selection.selection_set)

    for definition in document.definitions:
        walk(definition.selection_set)
    return uses


def variables_for(text: str, ids: dict[str, list[str]]) -> dict | None:
    """Values for a document's variables from what each is passed as; None when one cannot be filled."""
    document, values = parse(text), {}
    uses = _uses(document)
    for operation in (d for d in document.definitions if isinstance(d, OperationDefinitionNode)):
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            argument, under = uses.get(name, (name, []))
            try:
                if argument == "id":
                    kind = under[0] if under else "Session"
                    if not ids.get(kind):
                        raise Unfillable(name)
                    value = ids[kind][0]
                else:
                    graphql_type = type_from_ast(SCHEMA, definition.type)
                    value = _value(argument, graphql_type, ids)
                    if isinstance(value, (dict, list)):  # an input object or a list, spelled as JSON
                        value = value_from_ast_untyped(ast_from_value(value, graphql_type))
                    else:
                        value = value if value is None else get_named_type(graphql_type).coerce_output_value(value)
            except Unfillable:
                return None
            if value is not None:
                values[name] = value
    return values


# --- the comparison ------------------------------------------------------------------------

async def _world(api, database_url) -> tuple[dict[str, list[str]], dict[str, str | None]]:
    """The demo data; a few IDs of each Node type (fullest session first); an admin and a learner."""
    await load_demo(Settings(database_url=database_url))
    data = await api.data(IDS)
    sessions = sorted((e["node"] for e in data["sessions"]["edges"]),
                      key=lambda s: (-s["waitlistCount"], -s["seatsTaken"], s["id"]))
    rooms_first = sorted((e["node"] for e in data["resources"]["edges"]), key=lambda r: r["kind"] != "ROOM")
    enrollments = [e["node"] for s in sessions for e in s["enrollments"]["edges"]]
    nodes = {"Session": [s["id"] for s in sessions], "Resource": [r["id"] for r in rooms_first],
             "Enrollment": [e["id"] for e in enrollments],
             **{t: [e["node"]["id"] for e in data[key]["edges"]] for t, key in
                (("Course", "courses"), ("Person", "people"), ("Program", "programs"),
                 ("Certification", "certifications"), ("Venue", "venues"))}}
    ids = {t: [found[0], found[-1]] for t, found in nodes.items() if found}
    learner = enrollments[0]["learner"]["id"]
    issued = await api.data(TOKEN, {"i": {"personId": learner, "role": "LEARNER"}})
    return ids, {"admin": ADMIN_TOKEN, "learner": issued["issueToken"]["token"]}


def _comparable(body: dict) -> dict:
    errors = sorted(body.get("errors") or [], key=lambda e: (json.dumps(e.get("path")), e["message"]))
    return {"data": body.get("data"), "errors": errors}


# graphql-core's stock execution, the reference here, leaves sibling resolvers' coroutines un-awaited when a
# field of a list fails (e.g. a learner's FORBIDDEN Venue.travelTimes): its noise, not a difference.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore:coroutine .* was never awaited")
async def test_the_fast_path_answers_every_query_as_stock_execution_does(api, database_url, monkeypatch):
    ids, viewers = await _world(api, database_url)
    from_tests = [(text, variables_for(text, ids)) for text in documents_in_tests()]
    runnable = [(text, variables) for text, variables in from_tests if variables is not None]
    assert len(runnable) >= 0.9 * len(from_tests) and len(runnable) > 40, [t for t, v in from_tests if v is None]
    documents = [(text, {}) for text in contract_documents(ids)] + runnable
    # a field reached only through a cycle (e.g. TravelTime.fromVenue, under a Venue) is asked by a test's document
    covered = COVERED.union(*(fields_asked(text) for text, _ in runnable))
    assert served_fields() <= covered, served_fields() - covered

    planned = []
    run = execution._run
    monkeypatch.setattr(execution, "_run", lambda plan, value: planned.append(plan) or run(plan, value))
    fast = schema.execution_context_class
    assert fast is execution.PlainDataExecutionContext
    differences, answered = [], 0
    for text, variables in documents:
        for viewer, token in viewers.items():
            answers = []
            for context_class in (fast, StrawberryGraphQLCoreExecutionContext):
                monkeypatch.setattr(schema, "execution_context_class", context_class)
                answers.append(_comparable(await api(text, variables, token=token)))
            if answers[0] != answers[1]:
                differences.append((viewer, text, variables, answers))
            answered += answers[0]["data"] is not None and not answers[0]["errors"]
    assert not differences, differences[:3]
    assert answered > len(documents), "most documents are answered without errors for some viewer"
    assert len(planned) > 1000, "the fast path answered a good part of them"
