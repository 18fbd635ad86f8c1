"""parse_export(): the published examples, format choice, size limit, error shape."""

from __future__ import annotations

import codecs
import json
from typing import Any

import pytest

from archive_service.errors import (
    InvalidInput,
    MalformedInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from archive_service.journal import ParsedExport, parse_export
from archive_service.journal.model import MarkKind, Period
from archive_service.journal.parse import MAX_PROBLEMS
from archive_service.journal.xml_form import from_export

from .helpers import EXAMPLES, INVALID, to_json

JSON_7B = (EXAMPLES / "journal-7b.json").read_bytes()
XML_7B = (EXAMPLES / "journal-7b.xml").read_bytes()


def test_json_and_xml_examples_give_the_same_journal() -> None:
    from_json = parse_export(JSON_7B, "application/json")
    from_xml = parse_export(XML_7B, "application/xml")
    assert from_json.journal == from_xml.journal
    journal = from_json.journal
    assert journal.school_class.name == "7-Б" and journal.school_class.grade == 7
    assert journal.school_year.label == "2023/2024"
    assert len(journal.institution.edrpou) == 8
    assert len(journal.pupils) == 12 and len(journal.subjects) == 4
    values = {result.value for s in journal.subjects for result in s.results}
    assert {"зарах.", "н/а"} <= values
    kinds = {mark.kind for s in journal.subjects for lesson in s.lessons for mark in lesson.marks}
    assert kinds == {MarkKind.POINTS, MarkKind.ABSENT}
    assert {r.period for r in journal.subjects[0].results} == set(Period)
    assert journal.source.exported_at.utcoffset() is not None


def test_parsed_export_describes_the_source_file() -> None:
    assert parse_export(JSON_7B) == ParsedExport(
        parse_export(JSON_7B).journal, "json", "application/json", "journal.json"
    )
    parsed = parse_export(XML_7B, "text/xml; charset=utf-8")
    assert (parsed.format, parsed.media_type, parsed.filename) == (
        "xml",
        "application/xml",
        "journal.xml",
    )


def test_grade_2_example_is_assessed_verbally() -> None:
    journal = parse_export((EXAMPLES / "journal-2a.json").read_bytes()).journal
    assert journal.school_class.grade == 2
    kinds = {mark.kind for s in journal.subjects for lesson in s.lessons for mark in lesson.marks}
    assert MarkKind.VERBAL in kinds and MarkKind.POINTS not in kinds


@pytest.mark.parametrize("media_type", [None, "", "application/octet-stream", "text/plain"])
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (JSON_7B, "json"),
        (XML_7B, "xml"),
        (b" \r\n\t" + JSON_7B, "json"),
        (codecs.BOM_UTF8 + JSON_7B, "json"),
        (codecs.BOM_UTF8 + XML_7B, "xml"),
    ],
)
def test_generic_or_missing_media_type_is_sniffed(
    media_type: str | None, data: bytes, expected: str
) -> None:
    assert parse_export(data, media_type).format == expected


@pytest.mark.parametrize(
    ("media_type", "data", "expected"),
    [
        ("application/json; charset=utf-8", JSON_7B, "json"),
        ("Application/JSON", JSON_7B, "json"),
        ("application/vnd.journal+json", JSON_7B, "json"),
        ("text/xml", XML_7B, "xml"),
        ("application/vnd.journal+xml", XML_7B, "xml"),
    ],
)
def test_declared_media_type_decides(media_type: str, data: bytes, expected: str) -> None:
    assert parse_export(data, media_type).format == expected


def test_declared_type_wins_over_content() -> None:
    with pytest.raises(MalformedInput) as caught:
        parse_export(XML_7B, "application/json")
    assert "looks like XML" in caught.value.message


@pytest.mark.parametrize("media_type", ["application/pdf", "text/csv", "multipart/form-data"])
def test_unsupported_media_type(media_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        parse_export(JSON_7B, media_type)
    assert caught.value.status == 415
    assert caught.value.details[0].path == "Content-Type"
    assert media_type in caught.value.message


@pytest.mark.parametrize("data", [b"%PDF-1.7", b"", b"   ", b"[1, 2]"])
def test_content_that_is_neither_json_nor_xml(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_export(data)


def test_size_limit_is_checked_before_parsing() -> None:
    assert parse_export(JSON_7B, max_bytes=len(JSON_7B)).format == "json"
    with pytest.raises(PayloadTooLarge) as caught:
        parse_export(b"{" * (len(JSON_7B) + 1), max_bytes=len(JSON_7B))
    assert caught.value.status == 413
    assert str(len(JSON_7B)) in caught.value.message
    assert caught.value.details[0].path == "/"


@pytest.mark.parametrize(
    ("name", "error", "path"),
    [
        ("bad-json.json", MalformedInput, "/"),
        ("bad-xml.xml", MalformedInput, "/"),
        ("entity-bomb.xml", MalformedInput, "/"),
        ("unknown-pupil.json", InvalidInput, "/subjects/0/lessons/1/marks/1/pupil"),
        (
            "unknown-pupil.xml",
            InvalidInput,
            "/j:journal/j:subjects/j:subject[1]/j:lessons/j:lesson[2]/j:marks/j:mark[2]/@pupil",
        ),
        ("grade-13.json", InvalidInput, "/subjects/0/lessons/2/marks/1/value"),
        ("date-outside-year.json", InvalidInput, "/subjects/0/lessons/3/date"),
        ("duplicate-pupil-id.json", InvalidInput, "/pupils/12/id"),
    ],
)
def test_each_invalid_example_is_refused_at_its_fault(
    name: str, error: type[InvalidInput], path: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_export((INVALID / name).read_bytes())
    assert type(caught.value) is error
    assert [d.path for d in caught.value.details] == [path]
    assert caught.value.details[0].message


def test_grade_13_message_names_the_value_and_the_range() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_export((INVALID / "grade-13.json").read_bytes())
    message = caught.value.details[0].message
    assert '"13"' in message and "from 1 to 12" in message


def test_an_invalid_example_mended_parses() -> None:
    """The invalid examples are valid journals with one fault each."""
    broken = json.loads((INVALID / "grade-13.json").read_text("utf-8"))
    broken["subjects"][0]["lessons"][2]["marks"][1]["value"] = "12"
    parse_export(to_json(broken))


def test_problems_are_collected_and_capped(export_7b: dict[str, Any]) -> None:
    marks = [m for s in export_7b["subjects"] for lesson in s["lessons"] for m in lesson["marks"]]
    assert len(marks) > MAX_PROBLEMS
    for mark in marks:
        mark["value"] = "13"
    with pytest.raises(InvalidInput) as caught:
        parse_export(to_json(export_7b))
    assert len(caught.value.details) == MAX_PROBLEMS
    assert f"more than {MAX_PROBLEMS} problems" in caught.value.message


def test_schema_errors_point_at_the_missing_or_unexpected_field(
    export_7b: dict[str, Any],
) -> None:
    del export_7b["subjects"][1]["lessons"][0]["topic"]
    export_7b["pupils"][0]["nickname"] = "Даря"
    with pytest.raises(InvalidInput) as caught:
        parse_export(to_json(export_7b))
    assert type(caught.value) is InvalidInput
    by_path = {d.path: d.message for d in caught.value.details}
    assert set(by_path) == {"/subjects/1/lessons/0/topic", "/pupils/0/nickname"}
    assert "required" in by_path["/subjects/1/lessons/0/topic"]
    assert '"nickname"' in by_path["/pupils/0/nickname"]


def test_schema_errors_in_xml_carry_xpaths(export_7b: dict[str, Any]) -> None:
    export_7b["subjects"][0]["lessons"][4]["date"] = "2023-9-4"
    export_7b["institution"]["edrpou"] = "1234567"
    with pytest.raises(InvalidInput) as caught:
        parse_export(from_export(export_7b), "application/xml")
    paths = {d.path for d in caught.value.details}
    assert paths == {
        "/j:journal/j:institution/@edrpou",
        "/j:journal/j:subjects/j:subject[1]/j:lessons/j:lesson[5]/@date",
    }
    assert all("{urn:" not in d.message for d in caught.value.details)


def test_unsupported_format_version_is_the_only_complaint(export_7b: dict[str, Any]) -> None:
    """Another version's export would drown in schema errors: the version is all that is said."""
    export_7b["source"]["format_version"] = "2.0"
    xml = from_export(export_7b).replace(b"pupils>", b"learners>")
    export_7b["pupils"] = "a different shape in version 2"
    cases = [(to_json(export_7b), "/source/format_version"),
             (xml, "/j:journal/j:source/@format_version")]  # fmt: skip
    for data, path in cases:
        with pytest.raises(InvalidInput) as caught:
            parse_export(data)
        assert [d.path for d in caught.value.details] == [path]
        message = caught.value.details[0].message
        assert '"2.0"' in message and '"1.0"' in message


def test_every_refusal_has_a_path_and_a_message() -> None:
    for path in sorted(INVALID.iterdir()):
        with pytest.raises(InvalidInput) as caught:
            parse_export(path.read_bytes())
        assert caught.value.details, path.name
        assert all(d.path and d.message for d in caught.value.details), path.name
