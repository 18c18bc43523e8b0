"""The plain-data fast path answers exactly what graphql-core's ordinary path answers, errors included."""
from __future__ import annotations

import enum

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
