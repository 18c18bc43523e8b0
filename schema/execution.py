"""A fast path for the commonest field of all: a plain attribute holding a scalar or an enum.

graphql-core builds a resolve-info object, parses arguments and walks `complete_value` for every
field; for the ~1,600 plain leaves of a 100-session page that was a third of the request. Plain
leaves are read and serialized directly; anything else, or anything unusual about a value (null in
a non-null field, a value the scalar refuses), takes graphql-core's ordinary path and its errors.
"""
from __future__ import annotations

from typing import Any

from graphql import GraphQLField, GraphQLLeafType, GraphQLNonNull, Undefined, is_leaf_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_plain_leaves: dict[int, tuple[str, GraphQLLeafType, bool] | None] = {}


def _plain_leaf(field: GraphQLField) -> tuple[str, GraphQLLeafType, bool] | None:
    """(the Python attribute, the leaf type, whether it is non-null) for a resolver-less scalar or
    enum field of a strawberry type, else None."""
    key = id(field)
    if key not in _plain_leaves:
        field_type, non_null = field.type, isinstance(field.type, GraphQLNonNull)
        if non_null:
            field_type = field_type.of_type
        definition = (field.extensions or {}).get("strawberry-definition")
        plain = (getattr(field.resolve, "_is_default", False) and not field.args and is_leaf_type(field_type)
                 and definition is not None and definition.base_resolver is None)
        _plain_leaves[key] = (definition.python_name, field_type, non_null) if plain else None
    return _plain_leaves[key]


def _untouched(resolve):
    return resolve


class PlainLeafExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # No middleware (an extension's `resolve` hook) wraps resolvers: plain leaves may skip them.
        self.plain_leaves = manager is None or manager.get_field_resolver(_untouched) is _untouched

    def execute_field(self, parent_type, source, field_details_list, path, position_context) -> Any:
        field = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        leaf = field and self.plain_leaves and _plain_leaf(field)
        if leaf:
            try:
                value = getattr(source, leaf[0])
                if value is None:
                    if not leaf[2]:
                        return None
                else:
                    coerced = leaf[1].coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # noqa: BLE001 - the ordinary path below reports it properly
                pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
