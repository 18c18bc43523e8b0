"""The plain-data fast path answers exactly what graphql-core's ordinary path answers, errors included."""
from __future__ import annotations

import enum
import warnings

import pytest
import strawberry

from podium.schema import execution
from podium.schema.execution import PlainDataExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Part:
    name: str
    colour: Colour
    weight: int | None


@strawberry.type
class Thing:
    id: strawberry.ID
    name: str
    tags: list[str]
    parts: list[Part]
    main: Part | None

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times


def _things(broken: bool) -> list[Thing]:
    part = Part(name="bolt", colour=Colour.RED, weight=None)
    things = [Thing(id=strawberry.ID(str(n)), name=f"thing {n}", tags=["a", "b"], parts=[part, part],
                    main=part if n % 2 else None) for n in range(3)]
    if broken:
        things[1].name = None          # null in a non-null field
        things[2].parts[0] = Part(name="nut", colour="GREEN", weight=2)  # a value the enum refuses
        things[0].main = Part(name="beam", colour=Colour.BLUE, weight=2**40)  # beyond a GraphQL Int
    return things


def _schema(fast: bool, broken: bool) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def things(self) -> list[Thing]:
            return _things(broken)

    return strawberry.Schema(Query, execution_context_class=PlainDataExecutionContext if fast else None)


QUERIES = [
    "{ things { id name tags parts { name colour weight } main { name weight } } }",
    "{ things { __typename id label: name a: tags b: tags parts { ...P } } } fragment P on Part { __typename name }",
    "query($x: Boolean!) { things { name @include(if: $x) tags @skip(if: $x) main { colour } } }",
    "{ things { name shout(times: 2) parts { name } } }",
]


@pytest.mark.parametrize("broken", [False, True])
@pytest.mark.parametrize("query", QUERIES)
def test_the_fast_path_changes_nothing_a_client_sees(query, broken, monkeypatch):
    planned = []
    run = execution._run
    monkeypatch.setattr(execution, "_run", lambda plan, value: planned.append(plan) or run(plan, value))
    results = []
    for fast in (True, False):
        result = _schema(fast, broken).execute_sync(query, variable_values={"x": True})
        results.append((result.data, sorted((e.message, tuple(e.path or ())) for e in result.errors or [])))
    assert results[0] == results[1]
    assert bool(results[0][1]) is broken, results[0]
    assert planned, "the fast path answered at least part of the query"


class MovedOn(PlainDataExecutionContext.__mro__[1]):
    """graphql-core as a later release might have it: execute_field without position_context."""

    def execute_field(self, parent_type, source, field_details_list, path):
        return super().execute_field(parent_type, source, field_details_list, path, None)


def test_a_changed_graphql_core_turns_the_fast_path_off_with_one_warning():
    assert execution.execution_context_class() is PlainDataExecutionContext
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        chosen = execution.execution_context_class(MovedOn)
    assert chosen is None  # strawberry's stock execution
    assert len(said) == 1 and "execute_field" in str(said[0].message) and "stock" in str(said[0].message)
    stock = strawberry.Schema(_schema(True, False).query, execution_context_class=chosen)
    assert stock.execute_sync(QUERIES[0]).data == _schema(False, False).execute_sync(QUERIES[0]).data
