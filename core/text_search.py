"""Case-insensitive text search that answers the same on SQLite and PostgreSQL.

Neither database folds case the same way as the other (SQLite's `lower()` knows only ASCII), so the
text to search is folded here, in Python, when a row is written (a `search_text` column), and the
term is folded the same way when asked: the database only compares folded text with `LIKE`.
"""
from __future__ import annotations

import unicodedata

MAX_TERM = 200
"""The longest search term taken: a longer one is refused, not run as a slow query."""
LIKE_ESCAPE = "\\"


def fold(text: str | None) -> str:
    """Text as it is compared: Unicode-normalised (NFKC) and case-folded ("Straße" matches "STRASSE")."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def search_text(*parts: str | None) -> str:
    """The folded text a row is found by, its parts one per line (a term never spans two of them)."""
    return "\n".join(fold(part) for part in parts if part)


def contains_pattern(term: str) -> str:
    """A LIKE pattern (escape character `\\`) for rows whose folded text contains the folded term."""
    folded = fold(term)
    for special in (LIKE_ESCAPE, "%", "_"):
        folded = folded.replace(special, LIKE_ESCAPE + special)
    return f"%{folded}%"
