"""Turn a checked export structure (the JSON shape) into the immutable journal model.

Runs only after the schema and the rules have passed, so it converts without re-checking;
a failure here is a bug in the checks, not bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from archive_service.journal import values
from archive_service.journal.model import (
    ExportSource,
    Institution,
    Journal,
    Lesson,
    LessonKind,
    Mark,
    Period,
    PeriodResult,
    Pupil,
    SchoolClass,
    Subject,
)

Node = Mapping[str, Any]
T = TypeVar("T")


def build_journal(export: Node) -> Journal:
    source = export["source"]
    institution = export["institution"]
    school_class = export["class"]
    return Journal(
        institution=Institution(name=institution["name"], edrpou=institution["edrpou"]),
        school_year=_required(values.school_year(export["school_year"])),
        school_class=SchoolClass(
            name=school_class["name"],
            grade=int(school_class["grade"]),
            homeroom_teacher=school_class["homeroom_teacher"],
        ),
        pupils=tuple(Pupil(id=p["id"], full_name=p["full_name"]) for p in export["pupils"]),
        subjects=tuple(_subject(s) for s in export["subjects"]),
        source=ExportSource(
            platform=source["platform"],
            exported_at=_required(values.timestamp(source["exported_at"])),
            format_version=source["format_version"],
        ),
    )


def _subject(subject: Node) -> Subject:
    return Subject(
        id=subject["id"],
        name=subject["name"],
        teacher=subject["teacher"],
        lessons=tuple(_lesson(lesson) for lesson in subject["lessons"]),
        results=tuple(
            PeriodResult(pupil_id=row["pupil"], period=period, value=row[period.value])
            for row in subject.get("results", ())
            for period in Period
            if row.get(period.value) is not None
        ),
    )


def _lesson(lesson: Node) -> Lesson:
    return Lesson(
        id=lesson["id"],
        date=_required(values.calendar_date(lesson["date"])),
        topic=lesson["topic"],
        homework=lesson.get("homework"),
        kind=LessonKind(lesson.get("kind", LessonKind.REGULAR.value)),
        marks=tuple(
            Mark(
                pupil_id=mark["pupil"],
                value=mark["value"],
                kind=_required(values.mark_kind(mark["value"])),
                comment=mark.get("comment"),
            )
            for mark in lesson.get("marks", ())
        ),
    )


def _required(value: T | None) -> T:
    if value is None:  # pragma: no cover - the rules refuse such input before building
        raise AssertionError("build_journal() was given an export that did not pass the rules")
    return value
