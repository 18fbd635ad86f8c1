"""Hostile XML is refused before it costs anything; honest XML round-trips exactly."""

from __future__ import annotations

from typing import Any

import pytest

from archive_service.errors import InvalidInput, MalformedInput
from archive_service.journal import parse_export
from archive_service.journal.xml_form import NAMESPACE, from_export, to_export

from .helpers import INVALID

DTD_MESSAGE = "DTDs and entities are not allowed"
HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _with_doctype(export: dict[str, Any], doctype: bytes) -> bytes:
    body = from_export(export).removeprefix(HEADER)
    return HEADER + doctype + b"\n" + body


def _refusal(data: bytes) -> MalformedInput:
    with pytest.raises(MalformedInput) as caught:
        parse_export(data, "application/xml")
    return caught.value


def test_entity_bomb_is_refused_at_the_doctype() -> None:
    error = _refusal((INVALID / "entity-bomb.xml").read_bytes())
    assert error.status == 400
    assert DTD_MESSAGE in error.message
    assert [d.path for d in error.details] == ["/"]


@pytest.mark.parametrize(
    "doctype",
    [
        b"<!DOCTYPE journal>",
        b'<!DOCTYPE journal SYSTEM "http://127.0.0.1:9/journal.dtd">',
        b'<!DOCTYPE journal [<!ENTITY school SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE journal [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>',
    ],
    ids=["bare", "external-dtd", "external-entity", "parameter-entity"],
)
def test_any_doctype_is_refused_even_without_entities(
    export_7b: dict[str, Any], doctype: bytes
) -> None:
    """A valid journal behind a harmless-looking DOCTYPE is still refused."""
    assert DTD_MESSAGE in _refusal(_with_doctype(export_7b, doctype)).message


def test_doctype_in_another_encoding_is_refused(export_7b: dict[str, Any]) -> None:
    text = _with_doctype(export_7b, b"<!DOCTYPE journal>").decode("utf-8")
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert DTD_MESSAGE in _refusal(data).message


def test_undeclared_entity_reference_is_malformed(export_7b: dict[str, Any]) -> None:
    data = from_export(export_7b).replace(b"<platform>", b"<platform>&secret;", 1)
    assert "not well-formed" in _refusal(data).message


def test_xinclude_is_refused_with_its_path(export_7b: dict[str, Any]) -> None:
    include = b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>'
    data = from_export(export_7b).replace(b"<platform>", include + b"<platform>", 1)
    error = _refusal(data)
    assert "XInclude" in error.message
    assert error.details[0].path == "/j:journal/j:source/*[local-name()='include']"


def test_text_round_trips_exactly(export_7b: dict[str, Any]) -> None:
    names = ["Під’ячий Тарас Богданович", "Лук'яненко Олексій Миколайович", "Ґалаґан Ярослав"]
    for pupil, name in zip(export_7b["pupils"], names, strict=False):
        pupil["full_name"] = name
    lesson = export_7b["subjects"][0]["lessons"][0]
    lesson["topic"] = "  Апостроф: сім’я, п'ять, ґанок, їжак, Європа <>&\"  "
    lesson["homework"] = "Рядок 1\nРядок 2\tз табуляцією"
    lesson["marks"][0]["comment"] = ""
    journal = parse_export(from_export(export_7b), "application/xml").journal
    assert [p.full_name for p in journal.pupils[:3]] == names
    parsed_lesson = journal.subjects[0].lessons[0]
    assert parsed_lesson.topic == lesson["topic"]
    assert parsed_lesson.homework == lesson["homework"]
    assert parsed_lesson.marks[0].comment == ""
    assert "\u2019" in journal.pupils[0].full_name and "'" in journal.pupils[1].full_name


def test_comments_cdata_and_legacy_encodings_are_read_as_text(export_7b: dict[str, Any]) -> None:
    topic = export_7b["subjects"][0]["lessons"][0]["topic"]
    data = from_export(export_7b).decode("utf-8")
    data = data.replace(
        f"<topic>{topic}</topic>", f"<topic><!-- x -->{topic[:5]}<![CDATA[{topic[5:]}]]></topic>", 1
    )
    data = data.replace('encoding="UTF-8"', 'encoding="windows-1251"')
    journal = parse_export(data.encode("cp1251"), "application/xml").journal
    assert journal.subjects[0].lessons[0].topic == topic


def test_absent_optional_parts_equal_json_nulls(export_7b: dict[str, Any]) -> None:
    lesson = export_7b["subjects"][0]["lessons"][0]
    lesson["homework"] = None
    del lesson["marks"]
    del export_7b["subjects"][0]["results"]
    xml = from_export(export_7b)
    assert b"<homework>" not in xml.split(b"</lesson>")[0]
    journal = parse_export(xml).journal
    assert journal.subjects[0].lessons[0].homework is None
    assert journal.subjects[0].lessons[0].marks == ()
    assert journal.subjects[0].results == ()


def test_document_in_no_namespace_is_refused_by_the_schema(export_7b: dict[str, Any]) -> None:
    data = from_export(export_7b).replace(f' xmlns="{NAMESPACE}"'.encode(), b"", 1)
    with pytest.raises(InvalidInput) as caught:
        parse_export(data, "application/xml")
    assert caught.value.details[0].path == "/journal"
    assert "journal" in caught.value.details[0].message


def test_unknown_element_is_located(export_7b: dict[str, Any]) -> None:
    data = from_export(export_7b).replace(b"</topic>", b"</topic><mood>ok</mood>", 1)
    with pytest.raises(InvalidInput) as caught:
        parse_export(data)
    [detail] = caught.value.details
    assert detail.path == "/j:journal/j:subjects/j:subject[1]/j:lessons/j:lesson[1]/j:mood"
    assert "j:mood" in detail.message


def _without_nulls(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(item) for item in node]
    return node


def test_reading_back_what_was_written(export_7b: dict[str, Any]) -> None:
    """XML → export structure is the exact inverse of writing, nulls aside (XML omits them)."""
    from lxml import etree

    assert to_export(etree.fromstring(from_export(export_7b))) == _without_nulls(export_7b)


def test_writing_an_unknown_field_fails_loudly(export_7b: dict[str, Any]) -> None:
    export_7b["class"]["extra"] = {"nested": True}
    with pytest.raises(ValueError, match="extra"):
        from_export(export_7b)
