"""NOT_FOUND messages name the type in words a reader expects."""
from __future__ import annotations

import pytest

from podium.core.errors import DomainError
from podium.core.models import EvaluationForm, SessionSeries
from podium.core.services.records import get_or_404
from podium.schema.relay import decode_id


async def test_a_missing_row_is_named_in_words(sessions):
    async with sessions() as db:
        with pytest.raises(DomainError, match=r"No session series with that id\. "):
            await get_or_404(db, SessionSeries, 424242, "seriesId")
        with pytest.raises(DomainError, match=r"No evaluation form with that id\. "):
            await get_or_404(db, EvaluationForm, 424242, "formId")


def test_an_id_of_another_type_is_named_with_its_article():
    with pytest.raises(DomainError, match=r"is not the ID of an evaluation form\. "):
        decode_id("U2Vzc2lvbjox", "EvaluationForm", "formId")
    with pytest.raises(DomainError, match=r"is not the ID of a session\. "):
        decode_id("Q291cnNlOjE=", "Session", "sessionId")
