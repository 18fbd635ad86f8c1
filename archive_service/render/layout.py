"""Shapes a journal into ready-to-lay-out tables for the Typst template.

Everything that needs thought (ordering pupils, matching marks to cells, splitting wide grids
into sheets, counting absences, choosing words) happens here in Python, where it is fast and
testable; the template only draws tables with fixed column counts. The result is plain JSON
values, handed to Typst as data and never spliced into markup.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from archive_service.journal.model import (
    ABSENT,
    Journal,
    Lesson,
    LessonKind,
    MarkKind,
    Period,
    Pupil,
    Subject,
)
from archive_service.render import labels
from archive_service.render.collation import ukrainian_sort_key
from archive_service.render.document import DocumentInfo, RenderError

#: Date columns per landscape grid sheet: 7.4 mm each beside the number and name columns.
GRID_COLUMNS_PER_SHEET = 29
#: Subjects per landscape summary sheet (three columns each).
SUMMARY_SUBJECTS_PER_SHEET = 7

JSON = dict[str, Any]

TEST_NOTICE = (
    "ТЕСТОВИЙ ПІДПИС — НЕ КВАЛІФІКОВАНИЙ. Цей примірник підписано ключем тестової "
    "інфраструктури вбудованої конфігурації. Такий підпис не є кваліфікованим електронним "
    "підписом (КЕП) і не надає документу юридичної сили архівного примірника."
)


@dataclass(frozen=True)
class AttachmentFacts:
    """What the title page and the embedding need to know about the original export."""

    #: File name inside the Typst root and inside the PDF.
    path: str
    media_type: str
    #: Hex SHA-256 of the export's bytes; printed when the export cannot be embedded.
    sha256: str
    #: False for profiles that forbid embedded files (PDF/A-1b): the export is then kept beside
    #: the document in the archive, and the printed hash ties the two together.
    embedded: bool = True


@dataclass(frozen=True)
class _NumberedPupil:
    number: str
    pupil: Pupil


Cell = str | None


def flat_table(rows: Iterable[Sequence[str]], strong_columns: Iterable[int] = ()) -> JSON:
    """Row-major cells for a fixed-column Typst table, plus which cells to print in bold.

    Empty cells become ``None`` (Typst lays out nothing for them, roughly a third faster than
    an empty string), and bold is given as cell indices so the template touches only the few
    emphasised cells instead of mapping a function over tens of thousands.
    """
    bold = frozenset(strong_columns)
    cells: list[Cell] = []
    strong: list[int] = []
    for row in rows:
        for column, value in enumerate(row):
            if value and column in bold:
                strong.append(len(cells))
            cells.append(value or None)
    return {"cells": cells, "strong": strong}


def build_layout(journal: Journal, attachment: AttachmentFacts, info: DocumentInfo) -> JSON:
    """The complete document as JSON values, in reading order."""
    roster = _roster(journal.pupils)
    verbal = journal.school_class.uses_verbal_assessment
    year = journal.school_year.label
    class_name = journal.school_class.name
    institution = journal.institution.name
    return {
        "meta": {
            "title": f"Класний журнал {class_name}, {year} — {institution}",
            "author": [institution],
            "keywords": [
                "класний журнал",
                class_name,
                year,
                f"ЄДРПОУ {journal.institution.edrpou}",
                f"документ {info.document_id}",
                f"версія {info.version}",
            ],
        },
        "running_header": f"{institution} · {class_name} клас · {year} навчальний рік",
        "footer": f"Класний журнал {class_name} · {year}",
        "attachment": {
            "path": attachment.path,
            "mime": attachment.media_type,
            "description": _attachment_description(attachment),
        }
        if attachment.embedded
        else None,
        "title_page": _title_page(journal, attachment, info),
        "pupils": flat_table([p.number, p.pupil.full_name] for p in roster),
        "legend": labels.LESSON_KIND_LEGEND,
        "verbal_legend": labels.VERBAL_LEGEND if verbal else None,
        "subjects": [_subject(subject, roster, verbal) for subject in journal.subjects],
        "summary_sheets": _summary_sheets(journal.subjects, roster, verbal, class_name, year),
        "attendance": _attendance(journal, roster),
    }


def _roster(pupils: Sequence[Pupil]) -> list[_NumberedPupil]:
    ordered = sorted(pupils, key=lambda p: ukrainian_sort_key(p.full_name))
    return [_NumberedPupil(str(i), p) for i, p in enumerate(ordered, start=1)]


def _format_name(media_type: str) -> str:
    return labels.MEDIA_TYPE_NAMES.get(media_type, media_type)


def _attachment_description(attachment: AttachmentFacts) -> str:
    return (
        f"Оригінальний експорт класного журналу ({_format_name(attachment.media_type)}), "
        "з якого створено цей документ; вкладено без змін, байт у байт."
    )


def _title_page(journal: Journal, attachment: AttachmentFacts, info: DocumentInfo) -> JSON:
    covered = journal.period_covered
    period = (
        f"{labels.format_date(covered[0])} – {labels.format_date(covered[1])}"
        if covered
        else "записів про уроки немає"
    )
    source = journal.source
    rows = [
        ("Заклад освіти", journal.institution.name),
        ("Код ЄДРПОУ", journal.institution.edrpou),
        ("Клас", journal.school_class.name),
        ("Навчальний рік", journal.school_year.label),
        ("Класний керівник", journal.school_class.homeroom_teacher),
        ("Період записів", period),
        ("Учнів / предметів", f"{len(journal.pupils)} / {len(journal.subjects)}"),
        ("Платформа експорту", source.platform),
        ("Час експорту", labels.format_timestamp(source.exported_at)),
        (
            "Формат експорту",
            f"{_format_name(attachment.media_type)}, версія формату {source.format_version}; "
            + (
                f"оригінальний файл «{attachment.path}» вкладено в цей PDF"
                if attachment.embedded
                else f"оригінальний файл «{attachment.path}» ({attachment.media_type})"
            ),
        ),
        ("Ідентифікатор документа", info.document_id),
        ("Версія документа", str(info.version)),
    ]
    return {
        "class_line": f"{journal.school_class.name} клас",
        "year_line": f"{journal.school_year.label} навчальний рік",
        "rows": [list(row) for row in rows],
        "verification_note": [p for p in info.verification_note.splitlines() if p.strip()],
        "test_notice": TEST_NOTICE if info.test_pki else None,
        "source_hash": None if attachment.embedded else _source_hash_note(attachment),
    }


def _source_hash_note(attachment: AttachmentFacts) -> JSON:
    """The link to the export for a profile that cannot embed it: where it is, and its hash."""
    return {
        "text": (
            f"Оригінальний експорт (файл «{attachment.path}», {attachment.media_type}), з якого "
            "створено цей документ, зберігається в архіві разом із ним без змін; його контрольна "
            "сума SHA-256 збігається з наведеною нижче."
        ),
        "sha256": attachment.sha256,
    }


def _chronological(lessons: Iterable[Lesson]) -> list[Lesson]:
    return sorted(lessons, key=lambda lesson: lesson.date)


def _cell_values(
    lessons: Sequence[Lesson], pupil_ids: set[str], verbal: bool
) -> list[dict[str, str]]:
    """Per lesson, pupil id → printed cell text (several marks joined by a space)."""
    cells: list[dict[str, str]] = []
    for lesson in lessons:
        by_pupil: dict[str, list[str]] = defaultdict(list)
        for mark in lesson.marks:
            if mark.pupil_id not in pupil_ids:
                raise RenderError(
                    f"Урок {lesson.id} ({lesson.date}) має оцінку для невідомого учня "
                    f"{mark.pupil_id!r}."
                )
            shown = labels.abbreviate_mark(mark.value) if verbal else mark.value
            by_pupil[mark.pupil_id].append(shown)
        cells.append({pupil: " ".join(values) for pupil, values in by_pupil.items()})
    return cells


def _balanced_chunks(count: int, limit: int) -> list[range]:
    """Split ``count`` columns into the fewest sheets of at most ``limit``, evenly filled."""
    if count == 0:
        return []
    sheets = math.ceil(count / limit)
    size = math.ceil(count / sheets)
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _month_spans(dates: Sequence[dt.date]) -> list[list[Any]]:
    """``[[month label, column count], …]`` for the grid's top header row."""
    counts: list[tuple[tuple[int, int], int]] = []
    for day in dates:
        month = (day.year, day.month)
        if counts and counts[-1][0] == month:
            counts[-1] = (month, counts[-1][1] + 1)
        else:
            counts.append((month, 1))
    return [
        [(labels.MONTHS_NOMINATIVE if span > 1 else labels.MONTHS_SHORT)[month - 1], span]
        for (_, month), span in counts
    ]


def _grid_sheets(
    subject: Subject, lessons: Sequence[Lesson], roster: Sequence[_NumberedPupil], verbal: bool
) -> list[JSON]:
    cells = _cell_values(lessons, {p.pupil.id for p in roster}, verbal)
    chunks = _balanced_chunks(len(lessons), GRID_COLUMNS_PER_SHEET)
    sheets = []
    for number, chunk in enumerate(chunks, start=1):
        sheet_lessons = [lessons[i] for i in chunk]
        kinds = [labels.LESSON_KIND_CODES[lesson.kind] for lesson in sheet_lessons]
        rows = (
            [entry.number, entry.pupil.full_name]
            + [cells[i].get(entry.pupil.id, "") for i in chunk]
            for entry in roster
        )
        sheets.append(
            {
                "caption": (
                    f"вчитель: {subject.teacher} · облік навчальних досягнень, "
                    f"аркуш {number} з {len(chunks)}"
                ),
                "months": _month_spans([lesson.date for lesson in sheet_lessons]),
                "days": [f"{lesson.date.day:02d}" for lesson in sheet_lessons],
                "kinds": [kind or None for kind in kinds],
                # Shading, not bold, marks weighted lessons: a column fill costs Typst nothing,
                # emboldening thousands of cells costs a tenth of a second.
                "weighted": [kind != "" for kind in kinds],
                "body": flat_table(rows)["cells"],
            }
        )
    return sheets


_LESSON_RECORD_COLUMNS = 4


def _lesson_record(lessons: Sequence[Lesson]) -> JSON:
    """Number, date, topic, homework; a test lesson's whole row is bold."""
    table = flat_table(
        [str(number), lesson.date.strftime("%d.%m"), lesson.topic, lesson.homework or ""]
        for number, lesson in enumerate(lessons, start=1)
    )
    tests = {number for number, lesson in enumerate(lessons) if lesson.kind is LessonKind.TEST}
    table["strong"] = [
        index
        for index, cell in enumerate(table["cells"])
        if cell is not None and index // _LESSON_RECORD_COLUMNS in tests
    ]
    return table


def _results_by_pupil(subject: Subject) -> dict[str, dict[Period, str]]:
    results: dict[str, dict[Period, str]] = defaultdict(dict)
    for result in subject.results:
        results[result.pupil_id][result.period] = result.value
    return results


_PERIODS = (Period.SEMESTER_1, Period.SEMESTER_2, Period.ANNUAL)


def _subject(subject: Subject, roster: Sequence[_NumberedPupil], verbal: bool) -> JSON:
    lessons = _chronological(subject.lessons)
    results = _results_by_pupil(subject)
    return {
        "name": subject.name,
        "teacher": subject.teacher,
        "grid_sheets": _grid_sheets(subject, lessons, roster, verbal),
        "lessons": _lesson_record(lessons),
        "results": flat_table(
            [entry.number, entry.pupil.full_name]
            + [results.get(entry.pupil.id, {}).get(period, "") for period in _PERIODS]
            for entry in roster
        ),
    }


def _summary_sheets(
    subjects: Sequence[Subject],
    roster: Sequence[_NumberedPupil],
    verbal: bool,
    class_name: str,
    year: str,
) -> list[JSON]:
    chunks = _balanced_chunks(len(subjects), SUMMARY_SUBJECTS_PER_SHEET)
    sheets = []
    for number, chunk in enumerate(chunks, start=1):
        sheet_subjects = [subjects[i] for i in chunk]
        results = [_results_by_pupil(subject) for subject in sheet_subjects]
        rows = []
        for entry in roster:
            row = [entry.number, entry.pupil.full_name]
            for by_pupil in results:
                for period in _PERIODS:
                    value = by_pupil.get(entry.pupil.id, {}).get(period, "")
                    row.append(labels.abbreviate_mark(value) if verbal else value)
            rows.append(row)
        sheets.append(
            {
                "caption": f"{class_name} · {year} · аркуш {number} з {len(chunks)}",
                "subjects": [subject.name for subject in sheet_subjects],
                # Every third value column (the annual result) is bold.
                "body": flat_table(rows, range(4, 2 + 3 * len(sheet_subjects), 3)),
            }
        )
    return sheets


def _attendance(journal: Journal, roster: Sequence[_NumberedPupil]) -> JSON:
    """Absences («н») per pupil, by semester; semester I ends with the calendar year."""
    second_semester_starts = dt.date(journal.school_year.start_year + 1, 1, 1)
    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    for subject in journal.subjects:
        for lesson in subject.lessons:
            counter = first if lesson.date < second_semester_starts else second
            for mark in lesson.marks:
                if mark.kind is MarkKind.ABSENT or mark.value == ABSENT:
                    counter[mark.pupil_id] += 1
    rows = [
        [
            entry.number,
            entry.pupil.full_name,
            str(first[entry.pupil.id]),
            str(second[entry.pupil.id]),
            str(first[entry.pupil.id] + second[entry.pupil.id]),
        ]
        for entry in roster
    ]
    total_first, total_second = sum(first.values()), sum(second.values())
    total = ["", "Разом", str(total_first), str(total_second), str(total_first + total_second)]
    return {"body": flat_table(rows), "total": [cell or None for cell in total]}
