"""The static cost of an operation: how many objects its answer could hold at most, known before
any resolver runs.

Each object in the answer costs 1. A connection multiplies its selection by `first` (or the default
page); a list of objects by its cap below; leaves are free. Fields are merged by response key as
execution merges them, so a fragment spread twice in one selection is expanded once there; a
selection nested deeper than any valid document can be (a fragment that reaches itself) is refused
rather than followed. Introspection is free: the schema bounds it. Abstract selections count every
type condition (an upper bound).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLList, GraphQLNonNull, GraphQLSchema,
    InlineFragmentNode, IntValueNode, OperationDefinitionNode, SelectionSetNode, VariableNode, get_named_type,
    is_leaf_type,
)

from .relay import DEFAULT_PAGE

DEFAULT_LIST_CAP = 50
"""A list of objects not named below: the input limits keep lists (instructors, qualifications,
stages) to 50."""

LIST_CAPS = {
    "Resource.bookings": 200,            # a window of at most 92 days (scheduling/queries.py)
    "Resource.timeOff": 200,             # a window of at most 366 days (availability/queries.py)
    "Resource.hoursExceptions": 367,     # one per date of a window of at most 366 days
    "Availability.slots": 200,           # `first` is at most 200 (core/limits.py AVAILABILITY_SLOTS)
    "AvailabilitySlot.parts": 14,        # AVAILABILITY_PARTS
    "Session.unmatchedParticipants": 100,
    "Series.sessions": 366,              # a series has at most 366 occurrences (core/services/series.py)
    "Program.readiness": 100,
    "Program.certifications": 100,
    "Query.expiringCertifications": 1_000,  # its documented cap
    "Query.programTemplates": 100,
    "Report.rows": 1_000,                # at most 10,000; most reports have far fewer (reports/types.py)
    "Report.totals": 19,                 # one per Metric
    "ReportRow.values": 19,
    "Enrollment.assessmentScores": 2,    # PRE and POST
    "EvaluationSummary.questions": 50,   # MAX_QUESTIONS of a form (core/services/evaluations.py)
    "ReportRow.dimensions": 5,           # one per Dimension
}
"""Lists that can hold more than the default; the caps are estimates for costing, documented in
docs/operations.md."""

ERRORS_CAP = 10
"""`errors: [UserError!]!` of a payload: one per refused input field at most, in practice."""

MAX_NESTING = 64
"""Deeper than the depth limit allows: only a fragment cycle gets here."""


class CyclicFragment(Exception):
    """A selection that never ends (validation refuses fragment cycles too; the cost never follows one)."""


def list_cap(parent: str, field: str) -> int:
    if field == "errors":
        return ERRORS_CAP
    return LIST_CAPS.get(f"{parent}.{field}", DEFAULT_LIST_CAP)


def operation_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                   fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any] | None) -> int:
    """The cost of one operation of a validated document."""
    return operation_cost_and_reads(schema, operation, fragments, variables)[0]


def operation_cost_and_reads(schema: GraphQLSchema, operation: OperationDefinitionNode,
                             fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any] | None
                             ) -> tuple[int, bool]:
    """`operation_cost`, and whether it depended on the variables (else it holds for any of them)."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0, False
    defaults = {d.variable.name.value: d.default_value for d in operation.variable_definitions or ()}
    costing = _Costing(schema, fragments, variables or {}, defaults)
    return costing.cost([operation.selection_set], root, 1, 0), costing.read_variables


class _Costing:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        self.schema, self.fragments = schema, fragments
        self.variables, self.defaults = variables, defaults
        self.read_variables = False  # whether the cost depended on a variable (a `first: $n`)

    def cost(self, selection_sets: list[SelectionSetNode], parent: Any, page: int, depth: int) -> int:
        """Cost of the merged selections on ONE object of type `parent`; `page`: the enclosing connection's size."""
        if depth > MAX_NESTING:
            raise CyclicFragment
        total = 0
        for (owner, _key), nodes in self.collect(selection_sets, parent).items():
            total += self.field(nodes, owner, page, depth)
        return total

    def collect(self, selection_sets: list[SelectionSetNode], parent: Any) -> dict[tuple, list[FieldNode]]:
        """Fields by (type, response key) through fragments, each fragment once, as execution collects them."""
        grouped: dict[tuple, list[FieldNode]] = {}
        seen: set[str] = set()
        stack = [(s, parent) for s in reversed(selection_sets)]
        while stack:
            selection_set, owner = stack.pop()
            for node in reversed(selection_set.selections):
                if isinstance(node, FieldNode):
                    key = node.alias.value if node.alias else node.name.value
                    grouped.setdefault((owner, key), []).append(node)
                elif isinstance(node, InlineFragmentNode):
                    condition = node.type_condition
                    target = self.schema.get_type(condition.name.value) if condition else owner
                    stack.append((node.selection_set, target or owner))
                elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                    seen.add(node.name.value)
                    definition = self.fragments.get(node.name.value)
                    target = definition and self.schema.get_type(definition.type_condition.name.value)
                    if target is not None:
                        stack.append((definition.selection_set, target))
        return grouped

    def field(self, nodes: list[FieldNode], owner: Any, page: int, depth: int) -> int:
        node = nodes[0]
        name = node.name.value
        if name.startswith("__"):
            return 0  # __typename, and introspection: bounded by the schema
        definition = getattr(owner, "fields", {}).get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        inner_page = page
        if "first" in definition.args and named.name.endswith("Connection"):
            count, inner_page = 1, self.page_size(node)
        elif _is_list(definition.type):
            count = page if name == "edges" and owner.name.endswith("Connection") else list_cap(owner.name, name)
        else:
            count = 1
        selections = [n.selection_set for n in nodes if n.selection_set]
        return count * (1 + self.cost(selections, named, inner_page, depth + 1))

    def page_size(self, node: FieldNode) -> int:
        """`first` as given (a literal or a variable), else the default page; a value that is no
        whole number costs as 0 (the request fails validation or the resolver refuses it)."""
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                self.read_variables = True
                name = value.name.value
                if name in self.variables:
                    raw = self.variables[name]
                else:
                    default = self.defaults.get(name)
                    raw = int(default.value) if isinstance(default, IntValueNode) else None
            elif isinstance(value, IntValueNode):
                raw = int(value.value)
            else:
                raw = None  # null: the default page
            if raw is None:
                return DEFAULT_PAGE
            return max(raw, 0) if isinstance(raw, int) and not isinstance(raw, bool) else 0
        return DEFAULT_PAGE


def _is_list(graphql_type: Any) -> bool:
    if isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    return isinstance(graphql_type, GraphQLList)
