"""Ukrainian words the document prints for model values, kept in one place for the template."""

from __future__ import annotations

import datetime as dt

from archive_service.journal.model import VERBAL_LEVELS, LessonKind

MONTHS_NOMINATIVE = (
    "січень", "лютий", "березень", "квітень", "травень", "червень",
    "липень", "серпень", "вересень", "жовтень", "листопад", "грудень",
)

#: For a month that has a single grid column: the full name would overflow the 7.4 mm cell.
MONTHS_SHORT = (
    "січ", "лют", "бер", "квіт", "трав", "черв", "лип", "серп", "вер", "жовт", "лист", "груд",
)

#: One- or two-letter codes shown above a grid column for lessons whose marks weigh more.
LESSON_KIND_CODES = {
    LessonKind.REGULAR: "",
    LessonKind.THEMATIC: "Т",
    LessonKind.TEST: "К",
    LessonKind.PRACTICAL: "П",
}

LESSON_KIND_LEGEND = (
    "Т — тематична оцінка; К — контрольна робота; П — практична (лабораторна) робота "
    "(стовпці таких уроків затінено); н — відсутність на уроці."
)

#: Verbal levels (grades 1–4) are too long for a grid cell; the grid prints these
#: abbreviations and a legend spells them out.
VERBAL_ABBREVIATIONS = dict(zip(VERBAL_LEVELS, ("ЗУ", "ПП", "ДР", "ПЗП"), strict=True))

VERBAL_LEGEND = "; ".join(f"{short} — {full}" for full, short in VERBAL_ABBREVIATIONS.items())

MEDIA_TYPE_NAMES = {"application/json": "JSON", "application/xml": "XML", "text/xml": "XML"}


def format_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def format_timestamp(moment: dt.datetime) -> str:
    """``30.06.2024 12:05:07 (UTC+03:00)``: unambiguous without relying on the reader's zone."""
    offset = moment.utcoffset()
    if offset is None:
        zone = "UTC"
    else:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "−"
        zone = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{moment.strftime('%d.%m.%Y %H:%M:%S')} ({zone})"


def abbreviate_mark(value: str) -> str:
    return VERBAL_ABBREVIATIONS.get(value, value)
