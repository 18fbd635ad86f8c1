"""The rules of a journal export that a schema cannot say.

They run on the format-neutral export structure (the JSON shape; XML is converted to it first)
after schema validation has passed, so shapes and types can be trusted here and only meaning is
checked. Each rule yields :class:`Problem` values with a :class:`Location`, never a rendered
path: the same rule serves JSON and XML. Messages are written for the person who has to fix the
export: what is wrong, the offending value, and what is expected instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from archive_service.journal import text, values
from archive_service.journal.location import ROOT, Location, Problem, quote
from archive_service.journal.model import (
    ABSENT,
    PERIOD_RESULT_WORDS,
    SUPPORTED_FORMAT_VERSIONS,
    VERBAL_ASSESSMENT_GRADES,
    VERBAL_LEVELS,
    MarkKind,
    Period,
    SchoolYear,
)

Export = Mapping[str, Any]

FORMAT_VERSION_LOCATION = ROOT / "source" / "format_version"
#: Free-text fields that may span lines (TAB, LF and CR allowed); all other text is one line.
MULTILINE_FIELDS = frozenset({"topic", "homework", "comment"})
_LEADING_NUMBER = re.compile(r"\s*([0-9]+)")
_FIRST_VERBAL, _LAST_VERBAL = VERBAL_ASSESSMENT_GRADES[0], VERBAL_ASSESSMENT_GRADES[-1]


def check_format_version(version: object) -> Problem | None:
    """Checked before the schema: another version's export would drown in schema errors."""
    if version is None or version in SUPPORTED_FORMAT_VERSIONS:
        return None
    supported = ", ".join(quote(v) for v in SUPPORTED_FORMAT_VERSIONS)
    return Problem(
        FORMAT_VERSION_LOCATION,
        f"Export format version {quote(version)} is not supported: expected {supported}.",
    )


def check_export(export: Export, repertoire: text.Repertoire | None = None) -> Iterator[Problem]:
    """Every rule problem of a schema-valid export: first its text, then its meaning.

    :param repertoire: what the archival document can print; text outside it is refused
        (None: not checked).
    """
    yield from check_text(export, repertoire)
    yield from _check_header(export)
    year = values.school_year(export["school_year"])
    grade: int = export["class"]["grade"]
    pupils: Sequence[Mapping[str, Any]] = export["pupils"]
    yield from _unique_ids(ROOT / "pupils", pupils, "Pupil", lambda p: quote(p["full_name"]))
    known_pupils = frozenset(p["id"] for p in pupils)
    subjects: Sequence[Mapping[str, Any]] = export["subjects"]
    yield from _unique_ids(ROOT / "subjects", subjects, "Subject", lambda s: quote(s["name"]))
    for index, subject in enumerate(subjects):
        where = ROOT / "subjects" / index
        lessons = subject["lessons"]
        yield from _unique_ids(
            where / "lessons", lessons, "Lesson", lambda lesson: f"the lesson of {lesson['date']}"
        )
        for number, lesson in enumerate(lessons):
            yield from _check_lesson(where / "lessons" / number, lesson, year, grade, known_pupils)
        results = subject.get("results", ())
        yield from _check_results(where / "results", results, grade, known_pupils)


def check_text(export: Export, repertoire: text.Repertoire | None = None) -> Iterator[Problem]:
    """Every string of the export, in document order: no control or invisible formatting
    characters (:mod:`archive_service.journal.text`), and only what the fonts can print."""
    for location, value in _strings(ROOT, export):
        field = next((s for s in reversed(location.steps) if isinstance(s, str)), "")
        message = text.refused_character_message(value, multiline=field in MULTILINE_FIELDS)
        if message is None and repertoire is not None:
            message = text.uncovered_message(value, repertoire)
        if message is not None:
            yield Problem(location, message)


def _strings(where: Location, node: object) -> Iterator[tuple[Location, str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(where / key, value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(where / index, value)


def _check_header(export: Export) -> Iterator[Problem]:
    exported_at = export["source"]["exported_at"]
    if values.timestamp(exported_at) is None:
        yield Problem(
            ROOT / "source" / "exported_at",
            f"{quote(exported_at)} is not a real date and time: expected ISO 8601 with a UTC "
            'offset, such as "2024-06-20T10:00:00+03:00".',
        )
    label = export["school_year"]
    if values.school_year(label) is None:
        yield Problem(
            ROOT / "school_year",
            f'School year {quote(label)} must name two consecutive years, such as "2023/2024".',
        )
    school_class = export["class"]
    leading = _LEADING_NUMBER.match(school_class["name"])
    if leading is not None and int(leading[1]) != school_class["grade"]:
        yield Problem(
            ROOT / "class" / "name",
            f"Class name {quote(school_class['name'])} starts with {int(leading[1])} but the "
            f"class grade is {school_class['grade']}: the name's number must equal the grade.",
        )


def _unique_ids(
    where: Location,
    items: Sequence[Mapping[str, Any]],
    what: str,
    describe: Callable[[Mapping[str, Any]], str],
) -> Iterator[Problem]:
    first_holder: dict[str, Mapping[str, Any]] = {}
    for index, item in enumerate(items):
        holder = first_holder.setdefault(item["id"], item)
        if holder is not item:
            yield Problem(
                where / index / "id",
                f"{what} id {quote(item['id'])} is already used (by {describe(holder)}): "
                "expected a unique id.",
            )


def _check_lesson(
    where: Location,
    lesson: Mapping[str, Any],
    year: SchoolYear | None,
    grade: int,
    known_pupils: frozenset[str],
) -> Iterator[Problem]:
    day = values.calendar_date(lesson["date"])
    if day is None:
        yield Problem(
            where / "date",
            f"{quote(lesson['date'])} is not a real calendar date: expected YYYY-MM-DD.",
        )
    elif year is not None and not year.contains(day):
        yield Problem(
            where / "date",
            f"Lesson date {day.isoformat()} is outside the school year {year.label}: expected a "
            f"date from {year.first_day.isoformat()} to {year.last_day.isoformat()}.",
        )
    marked: dict[str, str] = {}
    for index, mark in enumerate(lesson.get("marks", ())):
        at = where / "marks" / index
        pupil = mark["pupil"]
        if pupil not in known_pupils:
            yield _unknown_pupil(at / "pupil", pupil, "Mark")
        elif pupil in marked:
            yield Problem(
                at / "pupil",
                f"Pupil {quote(pupil)} already has a mark ({quote(marked[pupil])}) in this "
                "lesson: expected at most one mark per pupil per lesson.",
            )
        else:
            marked[pupil] = mark["value"]
        message = _mark_value_problem(mark["value"], grade)
        if message is not None:
            yield Problem(at / "value", message)


def _check_results(
    where: Location,
    results: Sequence[Mapping[str, Any]],
    grade: int,
    known_pupils: frozenset[str],
) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, result in enumerate(results):
        at = where / index
        pupil = result["pupil"]
        if pupil not in known_pupils:
            yield _unknown_pupil(at / "pupil", pupil, "Result")
        elif pupil in seen:
            yield Problem(
                at / "pupil",
                f"Pupil {quote(pupil)} already has a results entry in this subject: expected "
                "one entry per pupil holding the semester and annual results.",
            )
        seen.add(pupil)
        for period in Period:
            value = result.get(period.value)
            if value is not None:
                message = _result_value_problem(value, grade)
                if message is not None:
                    yield Problem(at / period.value, message)


def _unknown_pupil(where: Location, pupil: str, what: str) -> Problem:
    return Problem(
        where,
        f"{what} for unknown pupil {quote(pupil)}: expected the id of a pupil in the pupils list.",
    )


def _expected(grade: int, *, absent: bool, words: bool) -> str:
    options = ["points from 1 to 12"]
    if absent:
        options.append(f"{quote(ABSENT)} for an absence")
    if words:
        options.append(", ".join(quote(w) for w in PERIOD_RESULT_WORDS))
    if grade in VERBAL_ASSESSMENT_GRADES:
        options.append("a verbal level (" + ", ".join(quote(v) for v in VERBAL_LEVELS) + ")")
    if len(options) == 2:
        return f"expected {options[0]} or {options[1]}"
    return "expected " + "; ".join(options[:-1]) + "; or " + options[-1]


def _mark_value_problem(value: str, grade: int) -> str | None:
    kind = values.mark_kind(value)
    expected = _expected(grade, absent=True, words=False)
    if kind is MarkKind.VERBAL and grade not in VERBAL_ASSESSMENT_GRADES:
        return _verbal_outside_primary(value, grade, expected)
    if kind is not None:
        return None
    if values.looks_like_points(value):
        return f"Mark {quote(value)} is out of range: {expected}."
    return f"Mark {quote(value)} is not a valid mark: {expected}."


def _result_value_problem(value: str, grade: int) -> str | None:
    kind = values.mark_kind(value)
    expected = _expected(grade, absent=False, words=True)
    if kind is MarkKind.VERBAL and grade not in VERBAL_ASSESSMENT_GRADES:
        return _verbal_outside_primary(value, grade, expected)
    if kind is MarkKind.ABSENT:
        return (
            f"Result {quote(value)} marks an absence in a lesson, not a period result: {expected}."
        )
    if kind is not None or values.is_result_word(value):
        return None
    if values.looks_like_points(value):
        return f"Result {quote(value)} is out of range: {expected}."
    return f"Result {quote(value)} is not a valid period result: {expected}."


def _verbal_outside_primary(value: str, grade: int, expected: str) -> str:
    return (
        f"Verbal assessment {quote(value)} is only used in grades {_FIRST_VERBAL}–{_LAST_VERBAL}, "
        f"but this class is grade {grade}: {expected}."
    )
