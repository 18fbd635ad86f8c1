"""How the scalar values of an export are read: dates, school years, marks, period results.

Both the rules (which explain what is wrong) and the builder (which trusts that nothing is)
interpret values here, so the two can never disagree on what a value means.
"""

from __future__ import annotations

import datetime as dt
import re

from archive_service.journal.model import (
    ABSENT,
    PERIOD_RESULT_WORDS,
    VERBAL_LEVELS,
    MarkKind,
    SchoolYear,
)

_SCHOOL_YEAR = re.compile(r"([0-9]{4})/([0-9]{4})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_POINTS = re.compile(r"[1-9]|1[0-2]")
_DIGITS = re.compile(r"[+-]?[0-9]+")

MIN_POINTS = 1
MAX_POINTS = 12


def school_year(label: str) -> SchoolYear | None:
    """``2023/2024`` → SchoolYear(2023); None unless the two years are consecutive."""
    match = _SCHOOL_YEAR.fullmatch(label)
    if match is None or int(match[2]) != int(match[1]) + 1:
        return None
    return SchoolYear(int(match[1]))


def calendar_date(text: str) -> dt.date | None:
    """A real ``YYYY-MM-DD`` date, or None (``2023-02-30`` is not one)."""
    if _DATE.fullmatch(text) is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def timestamp(text: str) -> dt.datetime | None:
    """An ISO 8601 date-time that carries its UTC offset, or None.

    A timestamp without an offset is refused rather than guessed: an archival record must not
    depend on the time zone of the server that happened to read it.
    """
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def mark_kind(value: str) -> MarkKind | None:
    """What a mark cell holds, or None if it is no mark at all (grade rules are separate)."""
    if value == ABSENT:
        return MarkKind.ABSENT
    if value in VERBAL_LEVELS:
        return MarkKind.VERBAL
    if _POINTS.fullmatch(value):
        return MarkKind.POINTS
    return None


def looks_like_points(value: str) -> bool:
    """A whole number, in range or not: worth telling the client the range rather than the list."""
    return _DIGITS.fullmatch(value.strip()) is not None


def is_result_word(value: str) -> bool:
    return value in PERIOD_RESULT_WORDS
