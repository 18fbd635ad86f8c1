"""The rules a schema cannot say: one fault each, seen through JSON and through XML.

Every case mutates the valid 7-Б example, so the fault is the only problem, and asserts the
same location rendered as a JSON pointer and as an XPath: the rules are written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from archive_service.errors import InvalidInput
from archive_service.journal import parse_export
from archive_service.journal.location import Location
from archive_service.journal.xml_form import from_export, xpath

from .helpers import to_json

Export = dict[str, Any]


def _first_mark(export: Export, subject: int = 0, value: str | None = None) -> dict[str, str]:
    for lesson in export["subjects"][subject]["lessons"]:
        for mark in lesson["marks"]:
            if value is None or mark["value"] == value:
                return mark
    raise AssertionError("the example has no such mark")


def _mark_location(export: Export, mark: dict[str, str], field: str) -> Location:
    for index, lesson in enumerate(export["subjects"][0]["lessons"]):
        for position, candidate in enumerate(lesson["marks"]):
            if candidate is mark:
                return Location(("subjects", 0, "lessons", index, "marks", position, field))
    raise AssertionError("mark not found")


def _set_mark(value: str) -> Callable[[Export], Location]:
    def change(export: Export) -> Location:
        mark = _first_mark(export)
        mark["value"] = value
        return _mark_location(export, mark, "value")

    return change


def _verbal_in_grade_7(export: Export) -> Location:
    return _set_mark("має значні успіхи")(export)


def _duplicate_mark(export: Export) -> Location:
    lesson = export["subjects"][0]["lessons"][0]
    lesson["marks"].append({"pupil": lesson["marks"][0]["pupil"], "value": "9"})
    return Location(("subjects", 0, "lessons", 0, "marks", len(lesson["marks"]) - 1, "pupil"))


def _result(field: str, value: str) -> Callable[[Export], Location]:
    def change(export: Export) -> Location:
        export["subjects"][2]["results"][3][field] = value
        return Location(("subjects", 2, "results", 3, field))

    return change


def _duplicate_result(export: Export) -> Location:
    results = export["subjects"][0]["results"]
    results.append({"pupil": results[0]["pupil"], "annual": "10"})
    return Location(("subjects", 0, "results", len(results) - 1, "pupil"))


def _duplicate_subject(export: Export) -> Location:
    export["subjects"][3]["id"] = export["subjects"][1]["id"]
    return Location(("subjects", 3, "id"))


def _duplicate_lesson(export: Export) -> Location:
    lessons = export["subjects"][1]["lessons"]
    lessons[5]["id"] = lessons[2]["id"]
    return Location(("subjects", 1, "lessons", 5, "id"))


def _lesson_date(value: str) -> Callable[[Export], Location]:
    def change(export: Export) -> Location:
        export["subjects"][3]["lessons"][7]["date"] = value
        return Location(("subjects", 3, "lessons", 7, "date"))

    return change


def _class_name(export: Export) -> Location:
    export["class"]["name"] = "8-Б"
    return Location(("class", "name"))


def _school_year(export: Export) -> Location:
    export["school_year"] = "2023/2025"
    return Location(("school_year",))


def _exported_at(export: Export) -> Location:
    export["source"]["exported_at"] = "2024-13-20T10:00:00+03:00"
    return Location(("source", "exported_at"))


def _unknown_result_pupil(export: Export) -> Location:
    export["subjects"][0]["results"][0]["pupil"] = "p77"
    return Location(("subjects", 0, "results", 0, "pupil"))


CASES: list[tuple[str, Callable[[Export], Location], tuple[str, ...]]] = [
    ("grade 13", _set_mark("13"), ('"13"', "from 1 to 12")),
    ("grade 0", _set_mark("0"), ('"0"', "out of range", "from 1 to 12")),
    ("leading zero", _set_mark("07"), ('"07"', "from 1 to 12")),
    ("not a mark", _set_mark("відм."), ('"відм."', "not a valid mark")),
    ("verbal in grade 7", _verbal_in_grade_7, ("grades 1–4", "grade 7")),
    ("two marks in one lesson", _duplicate_mark, ("already has a mark", "at most one")),
    ("result 13", _result("annual", "13"), ('"13"', "from 1 to 12", "зарах.")),
    ("absence as result", _result("semester_1", "н"), ("absence", "not a period result")),
    ("unknown result pupil", _unknown_result_pupil, ('"p77"', "unknown pupil")),
    ("two result rows", _duplicate_result, ("already has a results entry",)),
    ("duplicate subject id", _duplicate_subject, ("Subject id", "already used")),
    ("duplicate lesson id", _duplicate_lesson, ("Lesson id", "already used")),
    ("date before the year", _lesson_date("2023-08-31"), ("2023-08-31", "2023-09-01")),
    ("impossible date", _lesson_date("2023-02-30"), ('"2023-02-30"', "calendar date")),
    ("class name and grade", _class_name, ('"8-Б"', "grade is 7")),
    ("school year", _school_year, ('"2023/2025"', "consecutive")),
    ("export time", _exported_at, ('"2024-13-20T10:00:00+03:00"', "UTC offset")),
]


@pytest.mark.parametrize(("change", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("form", ["json", "xml"])
def test_one_fault_one_problem_at_its_place(
    export_7b: Export,
    form: str,
    change: Callable[[Export], Location],
    fragments: tuple[str, ...],
) -> None:
    location = change(export_7b)
    data = to_json(export_7b) if form == "json" else from_export(export_7b)
    with pytest.raises(InvalidInput) as caught:
        parse_export(data)
    assert type(caught.value) is InvalidInput and caught.value.status == 422
    [detail] = caught.value.details
    expected_path = "/" + "/".join(map(str, location.steps)) if form == "json" else xpath(location)
    assert detail.path == expected_path
    for fragment in fragments:
        assert fragment in detail.message


def test_verbal_levels_are_fine_in_grade_2(export_7b: Export) -> None:
    export_7b["class"].update(name="2-Б", grade=2)
    _first_mark(export_7b)["value"] = "демонструє помітний прогрес"
    export_7b["subjects"][0]["results"][0]["annual"] = "має значні успіхи"
    journal = parse_export(to_json(export_7b)).journal
    assert journal.school_class.uses_verbal_assessment


def test_class_name_without_a_number_needs_no_agreement(export_7b: Export) -> None:
    export_7b["class"]["name"] = "Клас «Бджілки»"
    assert parse_export(to_json(export_7b)).journal.school_class.name == "Клас «Бджілки»"


def test_all_problems_are_reported_together(export_7b: Export) -> None:
    _set_mark("13")(export_7b)
    _class_name(export_7b)
    _duplicate_subject(export_7b)
    with pytest.raises(InvalidInput) as caught:
        parse_export(to_json(export_7b))
    assert len(caught.value.details) == 3
    assert "3 problems" in caught.value.message
