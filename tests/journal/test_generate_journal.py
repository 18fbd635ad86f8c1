"""The synthetic journals are valid, realistic in shape, and the same for the same seed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import ModuleType

import pytest

from archive_service.journal import parse_export
from archive_service.journal.model import (
    VERBAL_LEVELS,
    Journal,
    LessonKind,
    MarkKind,
    Period,
)

SIZES = {
    "standard": {"pupils": 30, "subjects": 14},
    "large": {"pupils": 35, "subjects": 18},
    "small": {"pupils": 8, "subjects": 3, "full_year": False},
    "grade-2": {"pupils": 20, "subjects": 9, "grade": 2},
}
_parsed: dict[str, Journal] = {}


def _journal(generator: ModuleType, size: str) -> Journal:
    """Parse each size once per run (JSON and XML), checking both give the same journal."""
    if size not in _parsed:
        export = generator.generate_export(seed=1, **SIZES[size])
        from_json = parse_export(generator.export_to_json(export), "application/json").journal
        from_xml = parse_export(generator.export_to_xml(export), "application/xml").journal
        assert from_json == from_xml
        _parsed[size] = from_json
    return _parsed[size]


@pytest.mark.parametrize("size", list(SIZES))
def test_output_passes_validation_in_json_and_xml(generator: ModuleType, size: str) -> None:
    journal = _journal(generator, size)
    assert len(journal.pupils) == SIZES[size]["pupils"]
    assert len(journal.subjects) == SIZES[size]["subjects"]


def test_standard_journal_is_a_full_school_year(generator: ModuleType) -> None:
    journal = _journal(generator, "standard")
    lessons = [lesson for s in journal.subjects for lesson in s.lessons]
    assert 900 <= len(lessons) <= 1100
    marks = [m for lesson in lessons for m in lesson.marks]
    assert 8_000 <= len(marks) <= 14_000
    first, last = journal.period_covered or (None, None)
    assert first == dt.date(2023, 9, 1) and last is not None and last.month == 5
    breaks = generator.holidays(2023)
    for lesson in lessons:
        assert lesson.date.weekday() < 5
        assert not any(start <= lesson.date <= end for start, end in breaks)
    kinds = {lesson.kind for lesson in lessons}
    assert kinds == set(LessonKind)
    assert {m.kind for m in marks} == {MarkKind.POINTS, MarkKind.ABSENT}
    assert any(lesson.homework is None for lesson in lessons)


def test_about_a_third_of_the_class_is_marked_in_a_regular_lesson(generator: ModuleType) -> None:
    journal = _journal(generator, "standard")
    regular = [l for s in journal.subjects for l in s.lessons if l.kind is LessonKind.REGULAR]  # noqa: E741
    share = sum(len(l.marks) for l in regular) / (len(regular) * len(journal.pupils))  # noqa: E741
    assert 0.2 < share < 0.4


def test_text_is_ukrainian_with_its_special_letters(generator: ModuleType) -> None:
    journal = _journal(generator, "standard")
    names = " ".join(p.full_name for p in journal.pupils)
    names += " " + " ".join(s.teacher for s in journal.subjects)
    for letter in "іїєґ’":
        assert letter in names.lower(), letter
    subject_names = {s.name for s in journal.subjects}
    assert {"Українська мова", "Алгебра", "Геометрія", "Історія України"} <= subject_names


def test_pupils_are_in_ukrainian_alphabetical_order(generator: ModuleType) -> None:
    names = [p.full_name for p in _journal(generator, "large").pupils]
    assert names == sorted(names, key=generator.ukrainian_sort_key)
    assert generator.ukrainian_sort_key("Ґонта") > generator.ukrainian_sort_key("Гнатюк")
    assert generator.ukrainian_sort_key("Ярош") > generator.ukrainian_sort_key("Їжак")


def test_results_follow_from_the_marks(generator: ModuleType) -> None:
    journal = _journal(generator, "standard")
    for subject in journal.subjects:
        by_pupil: dict[str, dict[Period, str]] = {}
        for result in subject.results:
            by_pupil.setdefault(result.pupil_id, {})[result.period] = result.value
        assert set(by_pupil) == {p.id for p in journal.pupils}
        for values in by_pupil.values():
            first, second, annual = (values[p] for p in Period)
            if first.isdigit() and second.isdigit():
                assert int(annual) == int((int(first) + int(second)) / 2 + 0.5)


def test_grade_2_is_assessed_verbally(generator: ModuleType) -> None:
    journal = _journal(generator, "grade-2")
    values = {m.value for s in journal.subjects for l in s.lessons for m in l.marks}  # noqa: E741
    assert values <= {*VERBAL_LEVELS, "н"}
    assert {s.name for s in journal.subjects} >= {"Я досліджую світ", "Математика"}


def test_same_seed_same_journal_other_seed_other_journal(generator: ModuleType) -> None:
    def export(seed: int) -> bytes:
        return generator.export_to_json(generator.generate_export(pupils=8, subjects=3, seed=seed))

    assert export(5) == export(5)
    assert export(5) != export(6)


def test_impossible_requests_are_refused(generator: ModuleType) -> None:
    with pytest.raises(ValueError, match="subjects"):
        generator.generate_export(subjects=40)
    with pytest.raises(ValueError, match="grade"):
        generator.generate_export(grade=13)


def test_cli_writes_the_requested_size_and_format(generator: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "small.xml"
    assert (
        generator.main(["--size", "small", "--format", "xml", "--seed", "3", "-o", str(target)])
        == 0
    )
    journal = parse_export(target.read_bytes()).journal
    assert (len(journal.pupils), len(journal.subjects)) == (8, 3)
    covered = journal.period_covered
    assert covered is not None and covered[1] < dt.date(2023, 10, 28)

    target = tmp_path / "override.json"
    generator.main(["--size", "small", "--pupils", "5", "--grade", "3", "-o", str(target)])
    export = json.loads(target.read_text("utf-8"))
    assert len(export["pupils"]) == 5 and export["class"]["grade"] == 3
