"""Free text in an export: no control or invisible formatting characters, bounded lengths, only
what the archive's fonts can print — refused with the field's path in JSON and XML alike, while
honest Ukrainian text is kept exactly as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archive_service.errors import InvalidInput
from archive_service.journal import parse_export
from archive_service.journal.location import Location, json_pointer
from archive_service.journal.text import (
    Repertoire,
    escape_refused,
    refused_character,
    refused_character_message,
)
from archive_service.journal.xml_form import from_export, xpath

from .helpers import EXAMPLES, to_json

Steps = tuple[str | int, ...]

#: Every free-text field of the format, at a place the 7-Б example has it.
TEXT_FIELDS: dict[str, Steps] = {
    "platform": ("source", "platform"),
    "institution": ("institution", "name"),
    "class name": ("class", "name"),
    "homeroom teacher": ("class", "homeroom_teacher"),
    "pupil": ("pupils", 3, "full_name"),
    "subject": ("subjects", 0, "name"),
    "teacher": ("subjects", 0, "teacher"),
    "topic": ("subjects", 0, "lessons", 1, "topic"),
    "homework": ("subjects", 0, "lessons", 1, "homework"),
    "comment": ("subjects", 0, "lessons", 4, "marks", 1, "comment"),
}
MULTILINE = {"topic", "homework", "comment"}
#: The published maximum length of each field (JSON Schema maxLength = XSD maxLength).
MAX_LENGTH = {
    "platform": 200,
    "institution": 500,
    "class name": 50,
    "homeroom teacher": 200,
    "pupil": 200,
    "subject": 200,
    "teacher": 200,
    "topic": 1000,
    "homework": 2000,
    "comment": 1000,
}
#: Invisible or control characters an attacker (or a careless copy-and-paste) slips in.
HOSTILE = {
    "RLO": "\u202e",
    "LRE": "\u202a",
    "PDF": "\u202c",
    "LRI": "\u2066",
    "PDI": "\u2069",
    "ZWSP": "\u200b",
    "ZWJ": "\u200d",
    "RLM": "\u200f",
    "BOM": "\ufeff",
    "soft hyphen": "\u00ad",
    "word joiner": "\u2060",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "NEL (C1)": "\u0085",
    "CSI (C1)": "\u009b",
    "DEL": "\u007f",
    "private use": "\ue000",
}
#: Honest Ukrainian text with every character that must survive unchanged.
HONEST = "Ґалаґан-Їжакевич Мар’яна д'Арк Вʼячеслав Зеле\u0301на\u00a0О.\u202fІ. «Єва» № 7 — є"


def _set(export: dict[str, Any], steps: Steps, value: str) -> None:
    node: Any = export
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value


def _get(export: dict[str, Any], steps: Steps) -> Any:
    node: Any = export
    for step in steps:
        node = node[step]
    return node


def _example(steps: Steps, value: str) -> dict[str, Any]:
    export = json.loads((EXAMPLES / "journal-7b.json").read_text("utf-8"))
    assert isinstance(_get(export, steps), str), steps  # the example has text there
    if steps[0] == "class" and steps[-1] == "name":
        value = "7-" + value  # the class name's number must equal the grade
    _set(export, steps, value)
    return export


def _forms(export: dict[str, Any]) -> list[tuple[bytes, str]]:
    return [(to_json(export), "application/json"), (from_export(export), "application/xml")]


def _paths(steps: Steps) -> dict[str, str]:
    location = Location(steps)
    return {"application/json": json_pointer(location), "application/xml": xpath(location)}


def _refusal(data: bytes, media_type: str, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_export(data, media_type, **kwargs)
    return caught.value


def _model_value(export: dict[str, Any], steps: Steps, data: bytes, media_type: str) -> str:
    """The parsed value at ``steps``, read back from the model (not from the export)."""
    journal = parse_export(data, media_type).journal
    found: dict[Steps, str] = {
        ("source", "platform"): journal.source.platform,
        ("institution", "name"): journal.institution.name,
        ("class", "name"): journal.school_class.name,
        ("class", "homeroom_teacher"): journal.school_class.homeroom_teacher,
        ("pupils", 3, "full_name"): journal.pupils[3].full_name,
        ("subjects", 0, "name"): journal.subjects[0].name,
        ("subjects", 0, "teacher"): journal.subjects[0].teacher,
        ("subjects", 0, "lessons", 1, "topic"): journal.subjects[0].lessons[1].topic,
        ("subjects", 0, "lessons", 1, "homework"): journal.subjects[0].lessons[1].homework or "",
        ("subjects", 0, "lessons", 4, "marks", 1, "comment"): (
            journal.subjects[0].lessons[4].marks[1].comment or ""
        ),
    }
    return found[steps]


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("character", HOSTILE.values(), ids=HOSTILE.keys())
def test_invisible_and_control_characters_are_refused_with_the_fields_path(
    field: str, character: str
) -> None:
    steps = TEXT_FIELDS[field]
    export = _example(steps, f"Петренко{character} Іван")
    for data, media_type in _forms(export):
        error = _refusal(data, media_type)
        assert error.status == 422 and error.code == "invalid_input"
        assert [d.path for d in error.details] == [_paths(steps)[media_type]]
        message = error.details[0].message
        assert f"U+{ord(character):04X}" in message
        assert character not in message and character not in error.message  # named, not shown


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_line_breaks_only_where_text_may_span_lines(field: str) -> None:
    steps = TEXT_FIELDS[field]
    for value in ("Рядок один\nрядок два", "з\tтабуляцією", "рядок\r\nWindows"):
        export = _example(steps, value)
        for data, media_type in _forms(export):
            if field in MULTILINE:
                parse_export(data, media_type)
            else:
                error = _refusal(data, media_type)
                assert [d.path for d in error.details] == [_paths(steps)[media_type]]
                assert "one line" in error.details[0].message


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_honest_ukrainian_text_is_kept_exactly(field: str) -> None:
    steps = TEXT_FIELDS[field]
    export = _example(steps, HONEST[: MAX_LENGTH[field] - 2])
    assert "\u0301" in _get(export, steps) and "’" in _get(export, steps)
    for data, media_type in _forms(export):
        assert _model_value(export, steps, data, media_type) == _get(export, steps)


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_lengths_are_limited_alike_in_json_and_xml(field: str) -> None:
    """At the published maximum a field is accepted, one character more is refused — by the
    JSON Schema and the XSD alike (their maxLength values agree)."""
    steps = TEXT_FIELDS[field]
    limit = MAX_LENGTH[field]
    prefix = "7-" if field == "class name" else ""
    at_limit = _example(steps, "а" * (limit - len(prefix)))
    assert len(_get(at_limit, steps)) == limit
    for data, media_type in _forms(at_limit):
        parse_export(data, media_type)
    beyond = _example(steps, "а" * (limit - len(prefix) + 1))
    for data, media_type in _forms(beyond):
        error = _refusal(data, media_type)
        assert [d.path for d in error.details] == [_paths(steps)[media_type]]
        assert str(limit) in error.details[0].message
        assert len(error.details[0].message) < 300  # the value is not echoed whole


def test_a_ten_thousand_character_name_is_refused() -> None:
    steps = TEXT_FIELDS["pupil"]
    export = _example(steps, "Я" * 10_000)
    for data, media_type in _forms(export):
        error = _refusal(data, media_type)
        assert [d.path for d in error.details] == [_paths(steps)[media_type]]


def test_text_the_fonts_cannot_print_is_refused_when_a_repertoire_is_given() -> None:
    repertoire = Repertoire(range(0x20, 0x3000))
    steps = TEXT_FIELDS["topic"]
    export = _example(steps, "Таблиця множення 数学 📐")
    for data, media_type in _forms(export):
        parse_export(data, media_type)  # the journal room alone does not know the fonts
        error = _refusal(data, media_type, repertoire=repertoire)
        assert [d.path for d in error.details] == [_paths(steps)[media_type]]
        assert "U+6570" in error.details[0].message and "U+1F4D0" in error.details[0].message


def test_every_example_and_a_generated_journal_pass_the_text_rules_and_the_fonts(
    generator: Any,
) -> None:
    from archive_service.render import TypstRenderer

    repertoire = TypstRenderer(in_process=True).repertoire
    examples = sorted(EXAMPLES.glob("journal-*"))
    assert len(examples) >= 3
    for path in examples:
        parse_export(path.read_bytes(), repertoire=repertoire)
    for grade in (2, 7, 11):
        export = generator.generate_export(pupils=30, subjects=3, grade=grade, seed=grade)
        parse_export(generator.export_to_json(export), repertoire=repertoire)
        parse_export(generator.export_to_xml(export), repertoire=repertoire)


def test_the_rule_itself() -> None:
    assert refused_character(HONEST) is None
    assert refused_character("a\u202eb") == (1, "\u202e")
    assert refused_character("a\nb") == (1, "\n")
    assert refused_character("a\nb\tc\r", multiline=True) is None
    assert refused_character("a\u2028b", multiline=True) == (1, "\u2028")
    message = refused_character_message("ab\u202e")
    assert message is not None and "U+202E RIGHT-TO-LEFT OVERRIDE at character 3" in message
    assert escape_refused("a\u2028b\x85c\u202e") == "a\\u2028b\\u0085c\\u202e"
    assert escape_refused(HONEST) == HONEST


def test_schema_messages_never_carry_the_invisible_character_they_quote() -> None:
    """An id is checked by its pattern before the text rules run; the message that quotes the
    offending value (and is recorded with the refused upload) names the character instead."""
    export = _example(TEXT_FIELDS["pupil"], "Петренко Іван")
    export["pupils"][3]["id"] = "p04\u202e"
    for data, media_type in _forms(export):
        error = _refusal(data, media_type)
        assert error.details and all("\u202e" not in d.message for d in error.details)
        assert any("\\u202e" in d.message for d in error.details)
