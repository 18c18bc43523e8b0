"""Which of a series' rules (SeriesRule) makes an occurrence, as SQL: what feeds, invites and the API say of it."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..models import SeriesOccurrence, SeriesRule


def occurrence_rule_sql(occurrence: Any = SeriesOccurrence) -> Any:
    """The RRULE line of the rule that makes `occurrence` (a SeriesOccurrence, or an alias of it): its series'
    rule with the greatest first occurrence at or before it; correlated to the occurrence's row."""
    return (select(SeriesRule.rule).where(SeriesRule.series_id == occurrence.series_id,
                                         SeriesRule.first_occurrence <= occurrence.number)
            .order_by(SeriesRule.first_occurrence.desc()).limit(1).correlate(occurrence).scalar_subquery())
