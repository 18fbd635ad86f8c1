"""The class journal export (format v1) as immutable Python values.

Parsing (``journal.parse``) builds these from JSON or XML; rendering reads them. Nothing here
does I/O. Values are kept exactly as exported (no case folding, no apostrophe normalisation) so
that text round-trips into the archival document.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

#: The export format versions this code understands.
SUPPORTED_FORMAT_VERSIONS = ("1.0",)

#: Verbal (descriptive) assessment levels used in grades 1–4 (НУШ).
VERBAL_LEVELS = (
    "має значні успіхи",
    "демонструє помітний прогрес",
    "досягає результату з допомогою вчителя",
    "потребує значної підтримки",
)

#: Grades whose pupils may be assessed verbally (НУШ, primary school).
VERBAL_ASSESSMENT_GRADES = range(1, 5)

#: Marker for an absence in a lesson's marks.
ABSENT = "н"

#: Non-numeric period results.
CREDITED = "зарах."  # зараховано: passed a non-graded course
NOT_ASSESSED = "н/а"  # не атестований
EXEMPT = "звільн."  # звільнений (e.g. physical education on medical grounds)
PERIOD_RESULT_WORDS = (CREDITED, NOT_ASSESSED, EXEMPT)


class MarkKind(enum.Enum):
    """What a mark cell holds."""

    POINTS = "points"  # 1–12 on the 12-point scale
    ABSENT = "absent"  # «н»
    VERBAL = "verbal"  # descriptive assessment, grades 1–4


class LessonKind(enum.Enum):
    """Why a lesson's marks matter; the renderer highlights non-regular lessons."""

    REGULAR = "regular"
    THEMATIC = "thematic"  # тематична оцінка
    TEST = "test"  # контрольна робота
    PRACTICAL = "practical"  # практична / лабораторна робота


class Period(enum.Enum):
    SEMESTER_1 = "semester_1"
    SEMESTER_2 = "semester_2"
    ANNUAL = "annual"


@dataclass(frozen=True)
class Institution:
    name: str
    #: ЄДРПОУ code: exactly 8 digits.
    edrpou: str


@dataclass(frozen=True)
class SchoolYear:
    """``2023/2024``: from 1 September of the first year to 31 August of the second."""

    start_year: int

    @property
    def label(self) -> str:
        return f"{self.start_year}/{self.start_year + 1}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.start_year, 9, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.start_year + 1, 8, 31)

    def contains(self, day: dt.date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class SchoolClass:
    #: As the school writes it: ``7-Б``, ``11-А``, ``1-В``.
    name: str
    #: Grade level 1–12.
    grade: int
    homeroom_teacher: str

    @property
    def uses_verbal_assessment(self) -> bool:
        """Grades 1–4 may be assessed verbally instead of with points."""
        return self.grade in VERBAL_ASSESSMENT_GRADES


@dataclass(frozen=True)
class Pupil:
    #: Stable identifier from the platform; never shown as a name.
    id: str
    full_name: str


@dataclass(frozen=True)
class Mark:
    pupil_id: str
    #: Exactly as exported: ``"10"``, ``"н"`` or a verbal level.
    value: str
    kind: MarkKind
    #: Optional teacher's comment on the mark.
    comment: str | None = None

    @property
    def points(self) -> int | None:
        return int(self.value) if self.kind is MarkKind.POINTS else None


@dataclass(frozen=True)
class Lesson:
    id: str
    date: dt.date
    topic: str
    homework: str | None
    kind: LessonKind
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class PeriodResult:
    pupil_id: str
    period: Period
    #: ``"1"``–``"12"``, a verbal level, ``зарах.``, ``н/а`` or ``звільн.``.
    value: str


@dataclass(frozen=True)
class Subject:
    id: str
    name: str
    teacher: str
    lessons: tuple[Lesson, ...]
    results: tuple[PeriodResult, ...]


@dataclass(frozen=True)
class ExportSource:
    #: Name of the e-journal platform that produced the export.
    platform: str
    exported_at: dt.datetime
    #: Version of this export format the exporter wrote (``"1.0"``).
    format_version: str


@dataclass(frozen=True)
class Journal:
    """One class's journal for one school year."""

    institution: Institution
    school_year: SchoolYear
    school_class: SchoolClass
    pupils: tuple[Pupil, ...]
    subjects: tuple[Subject, ...]
    source: ExportSource

    def pupil(self, pupil_id: str) -> Pupil:
        for p in self.pupils:
            if p.id == pupil_id:
                return p
        raise KeyError(pupil_id)

    @property
    def period_covered(self) -> tuple[dt.date, dt.date] | None:
        """First and last lesson date, or None for a journal without lessons."""
        dates = [lesson.date for s in self.subjects for lesson in s.lessons]
        return (min(dates), max(dates)) if dates else None
