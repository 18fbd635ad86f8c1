"""One location, two notations."""

from __future__ import annotations

import pytest

from archive_service.journal.location import ROOT, Location, json_pointer, quote
from archive_service.journal.xml_form import xpath

CASES = [
    (ROOT, "/", "/j:journal"),
    (ROOT / "school_year", "/school_year", "/j:journal/@school_year"),
    (ROOT / "source" / "format_version", "/source/format_version",
     "/j:journal/j:source/@format_version"),
    (ROOT / "class" / "name", "/class/name", "/j:journal/j:class/j:name"),
    (ROOT / "pupils" / 3 / "id", "/pupils/3/id", "/j:journal/j:pupils/j:pupil[4]/@id"),
    (ROOT / "pupils" / 0 / "full_name", "/pupils/0/full_name",
     "/j:journal/j:pupils/j:pupil[1]/j:full_name"),
    (ROOT / "subjects" / 0 / "lessons" / 3 / "marks" / 2 / "value",
     "/subjects/0/lessons/3/marks/2/value",
     "/j:journal/j:subjects/j:subject[1]/j:lessons/j:lesson[4]/j:marks/j:mark[3]/@value"),
    (ROOT / "subjects" / 1 / "results" / 0 / "annual", "/subjects/1/results/0/annual",
     "/j:journal/j:subjects/j:subject[2]/j:results/j:result[1]/@annual"),
    (ROOT / "subjects" / 1 / "lessons" / 0 / "homework", "/subjects/1/lessons/0/homework",
     "/j:journal/j:subjects/j:subject[2]/j:lessons/j:lesson[1]/j:homework"),
]  # fmt: skip


@pytest.mark.parametrize(("location", "pointer", "path"), CASES)
def test_rendering(location: Location, pointer: str, path: str) -> None:
    assert json_pointer(location) == pointer
    assert xpath(location) == path


def test_json_pointer_escapes_tilde_and_slash() -> None:
    assert json_pointer(Location(("a/b", "c~d"))) == "/a~1b/c~0d"


def test_quote_shows_the_value_and_cuts_huge_ones() -> None:
    assert quote("Мар’яна") == '"Мар’яна"'
    long = quote("x" * 1000)
    assert len(long) == 80 and long.endswith("…")
