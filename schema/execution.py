"""A fast path for plain data: fields that are plain attributes, down to the leaves.

graphql-core builds a resolve-info object, parses arguments and walks `complete_value` for every
field; on a 100-session page (~2,000 fields, nearly all plain attributes of objects the page query
built) that machinery was most of the request. A field whose whole selection is plain (attributes
without resolvers, scalars, enums, concrete object types, lists of them, `__typename`; no
arguments, directives or @defer) is computed directly from a plan made once per selection.
Anything unusual about a value (null in a non-null field, a value a scalar refuses, an object of
the wrong type) drops that field back to graphql-core's ordinary path, which reports it properly.

The path overrides graphql-core's executor; `execution_context_class()` checks at import that the
executor still has the shape relied on, and otherwise warns once and leaves execution stock.
"""
from __future__ import annotations

import inspect
import warnings
from collections import OrderedDict
from typing import Any

import graphql
from graphql import (
    GraphQLBoolean, GraphQLField, GraphQLID, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType,
    GraphQLSchema, GraphQLString, Undefined, is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

try:
    from strawberry.resolvers import is_default_resolver
except ImportError:  # checked by incompatibility(): without it nothing is taken as plain
    def is_default_resolver(resolve) -> bool:
        return False

LEAF, OBJECT, LIST, TYPENAME = range(4)
# Values these scalars serialize unchanged (Int only within 32 bits): no call needed.
AS_IS = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool, GraphQLInt: int}
INT_RANGE = range(-(2**31), 2**31)


class _Unusual(Exception):
    """A value the plan does not cover: take the ordinary path for this field."""


def _attribute(field: GraphQLField) -> str | None:
    """The Python attribute behind a resolver-less, argument-less field of a strawberry type."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if (definition is None or definition.base_resolver is not None or field.args
            or not is_default_resolver(field.resolve)):
        return None
    return definition.python_name


def _run(plan: tuple, value: Any) -> Any:
    kind = plan[0]
    if kind == LEAF:
        _, leaf_type, non_null, as_is = plan
        if value is None:
            if non_null:
                raise _Unusual
            return None
        if type(value) is as_is and (as_is is not int or value in INT_RANGE):
            return value
        coerced = leaf_type.coerce_output_value(value)
        if coerced is None or coerced is Undefined:
            raise _Unusual
        return coerced
    if kind == OBJECT:
        _, object_type, non_null, fields, verified = plan
        if value is None:
            if non_null:
                raise _Unusual
            return None
        if type(value) not in verified:
            if object_type.is_type_of is not None and not object_type.is_type_of(value, None):
                raise _Unusual
            verified.add(type(value))  # is_type_of answers by class: once per class is enough
        return {key: sub[1] if sub[0] == TYPENAME else _run(sub[1], getattr(value, sub[0]))
                for key, sub in fields}
    _, item_plan, non_null = plan  # LIST
    if value is None:
        if non_null:
            raise _Unusual
        return None
    if isinstance(value, (str, bytes, dict)):
        raise _Unusual
    return [_run(item_plan, item) for item in value]


_PLANS: OrderedDict[int, tuple[Any, dict]] = OrderedDict()
"""id(operation) -> (operation, its plans), for operations whose selections no directive changes: the
parser cache hands every request of one query text the same nodes, so an enrol plans its payload once,
not per request. Bounded like the parser cache."""
PLANS_KEPT = 512
_UNPLANNED = object()  # not planned yet (None: planned, and not plain)


def _plans_of(operation, fragments: dict) -> dict:
    """The plans of an operation, shared by its requests; a fresh dict (this request's own) when a
    directive (@include, @skip, @defer) may select differently by the request's variables."""
    known = _PLANS.get(id(operation))
    if known is not None and known[0] is operation:
        return known[1]
    plans: dict = {}
    if not _directed(operation, fragments):
        _PLANS[id(operation)] = (operation, plans)
        while len(_PLANS) > PLANS_KEPT:
            _PLANS.popitem(last=False)
    return plans


def _directed(operation, fragments: dict) -> bool:
    """Whether the operation or a fragment it may spread carries any directive."""
    def directed(selection_set) -> bool:
        return any(node.directives or (getattr(node, "selection_set", None) is not None
                                       and directed(node.selection_set)) for node in selection_set.selections)

    return bool(operation.directives) or directed(operation.selection_set) or any(
        fragment.directives or directed(fragment.selection_set) for fragment in fragments.values())


class PlainDataExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # An extension's `resolve` hook wraps every resolver: then nothing is plain.
        self.plain_allowed = manager is None or manager.get_field_resolver(_run) is _run
        self.plans = _plans_of(self.operation, self.fragment_definitions) if self.plain_allowed else {}

    def execute_field(self, parent_type, source, field_details_list, path, position_context) -> Any:
        if self.plain_allowed:
            plan = self._plan(parent_type, field_details_list)
            if plan is not None:
                try:
                    return _run(plan[1], getattr(source, plan[0]))
                except Exception:  # noqa: BLE001 - _Unusual, or a scalar refusing a value: the ordinary path reports it
                    pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _plan(self, parent_type: GraphQLObjectType, field_details_list) -> tuple[str, tuple] | None:
        """(attribute, plan) of a field whose whole selection is plain, else None; memoized on the
        field's nodes in the document (`_plans_of`)."""
        key = (parent_type, *[id(details.node) for details in field_details_list])
        cached = self.plans.get(key, _UNPLANNED)
        if cached is _UNPLANNED:
            cached = self.plans[key] = self._make_plan(parent_type, field_details_list)
        return cached

    def _make_plan(self, parent_type: GraphQLObjectType, field_details_list) -> tuple[str, tuple] | None:
        if any(d.defer_usage is not None or d.node.directives for d in field_details_list):
            return None
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        attribute = field and _attribute(field)
        if not attribute:
            return None
        plan = self._type_plan(field.type, field_details_list)
        return None if plan is None else (attribute, plan)

    def _type_plan(self, graphql_type, field_details_list) -> tuple | None:
        non_null = isinstance(graphql_type, GraphQLNonNull)
        if non_null:
            graphql_type = graphql_type.of_type
        if isinstance(graphql_type, GraphQLList):
            item = self._type_plan(graphql_type.of_type, field_details_list)
            return None if item is None else (LIST, item, non_null)
        if is_leaf_type(graphql_type):
            return (LEAF, graphql_type, non_null, AS_IS.get(graphql_type))
        if not isinstance(graphql_type, GraphQLObjectType):
            return None  # interfaces and unions resolve their type: the ordinary path
        collected = self.collect_subfields(graphql_type, field_details_list)
        if collected.new_defer_usages:
            return None
        fields = []
        for response_key, sub_list in collected.grouped_field_set.items():
            if sub_list[0].node.name.value == "__typename":
                if any(d.node.directives for d in sub_list):
                    return None
                fields.append((response_key, (TYPENAME, graphql_type.name)))
                continue
            sub_plan = self._plan(graphql_type, sub_list)
            if sub_plan is None:
                return None
            fields.append((response_key, sub_plan))
        return (OBJECT, graphql_type, non_null, tuple(fields), set())


# What the fast path calls or overrides in graphql-core's executor, with its parameters.
RELIED_ON = {
    "execute_field": ("self", "parent_type", "source", "field_details_list", "path", "position_context"),
    "collect_subfields": ("self", "return_type", "field_details_list"),
}


def _parameters(base: type, name: str) -> tuple[str, ...] | None:
    """The parameter names of `base.name`, from the nearest class that spells them out (not *args)."""
    for cls in base.__mro__:
        method = cls.__dict__.get(name)
        if method is None:
            continue
        parameters = inspect.signature(method).parameters.values()
        if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
            return tuple(p.name for p in parameters)
    return None


def incompatibility(base: type = StrawberryGraphQLCoreExecutionContext) -> str | None:
    """What of graphql-core's executor (or strawberry's default resolvers) differs from what the fast
    path was written against, or None when it all matches."""
    for name, wanted in RELIED_ON.items():
        have = _parameters(base, name)
        if have != wanted:
            return f"{name}{wanted} is now {name}{have}"
    missing = {"middleware_manager", "operation", "fragment_definitions"} - set(_parameters(base, "__init__") or ())
    if missing:
        return f"the executor no longer takes {', '.join(sorted(missing))}"
    try:
        from graphql.execution.collect_fields import CollectedFields, FieldDetails
        from strawberry.resolvers import is_default_resolver  # noqa: F401 - present is all that is asked
    except ImportError as error:
        return str(error)
    if not {"node", "defer_usage"} <= set(FieldDetails._fields):
        return f"FieldDetails has fields {FieldDetails._fields}"
    if not {"grouped_field_set", "new_defer_usages"} <= set(CollectedFields._fields):
        return f"CollectedFields has fields {CollectedFields._fields}"
    if not callable(getattr(GraphQLSchema, "get_field", None)):
        return "GraphQLSchema.get_field is gone"
    return None


def execution_context_class(base: type = StrawberryGraphQLCoreExecutionContext) -> type | None:
    """The fast path when graphql-core matches it; else None (strawberry's stock execution), said once."""
    problem = incompatibility(base)
    if problem is None:
        return PlainDataExecutionContext
    warnings.warn(f"Podium's plain-data fast path is off, stock GraphQL execution is used (slower): "
                  f"graphql-core {graphql.__version__} differs: {problem}", RuntimeWarning, stacklevel=2)
    return None
