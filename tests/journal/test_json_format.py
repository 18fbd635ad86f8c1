"""JSON is read strictly: UTF-8 only, no duplicate keys, no NaN; schema errors say what to send."""

from __future__ import annotations

import codecs
from typing import Any

import pytest

from archive_service.errors import InvalidInput, MalformedInput
from archive_service.journal import parse_export

from .helpers import to_json


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            b'{"school_year": "2023/2024", "school_year": "2024/2025"}',
            '"school_year" appears twice',
        ),
        (b'{"class": {"grade": NaN}}', "NaN"),
        ('{"institution": {"name": "Ліцей"}}'.encode("cp1251"), "not UTF-8"),
        (b'{"pupils": [', "line 1, column 13"),
        (b"{" + b'"a":[' * 100_000, "not valid JSON"),
    ],
    ids=["duplicate-key", "nan", "cp1251", "truncated", "deep-nesting"],
)
def test_malformed_json(data: bytes, fragment: str) -> None:
    with pytest.raises(MalformedInput) as caught:
        parse_export(data, "application/json")
    assert fragment in caught.value.message
    assert caught.value.details[0].path == "/"


def test_utf8_bom_is_tolerated(export_7b: dict[str, Any]) -> None:
    parse_export(codecs.BOM_UTF8 + to_json(export_7b), "application/json")


def test_escaped_text_means_the_same_text(export_7b: dict[str, Any]) -> None:
    import json

    ascii_only = json.dumps(export_7b, ensure_ascii=True).encode()
    assert b"\\u2019" in ascii_only
    assert parse_export(ascii_only).journal == parse_export(to_json(export_7b)).journal


@pytest.mark.parametrize(
    ("change", "path", "fragments"),
    [
        (lambda e: e["institution"].update(edrpou="1234567"), "/institution/edrpou",
         ('"1234567"', "8 digits")),
        (lambda e: e["class"].update(grade=13), "/class/grade", ("13", "from 1 to 12")),
        (lambda e: e["class"].update(grade="7"), "/class/grade", ('"7"', "whole number")),
        (lambda e: e["source"].update(exported_at="2024-06-20T10:00:00"), "/source/exported_at",
         ("UTC offset",)),
        (lambda e: e["subjects"][0]["lessons"][0].update(kind="exam"),
         "/subjects/0/lessons/0/kind", ('"exam"', '"thematic"')),
        (lambda e: e["subjects"][0]["lessons"][0].update(date="4.09.2023"),
         "/subjects/0/lessons/0/date", ("YYYY-MM-DD",)),
        (lambda e: e["pupils"].clear(), "/pupils", ("empty",)),
        (lambda e: e["pupils"][0].update(full_name="   "), "/pupils/0/full_name", ("non-blank",)),
        (lambda e: e["subjects"][0]["results"][0].update(annual=""),
         "/subjects/0/results/0/annual", ("зарах.",)),
    ],
    ids=["edrpou", "grade-range", "grade-type", "no-offset", "kind", "date-form", "no-pupils",
         "blank-name", "empty-result"],
)  # fmt: skip
def test_schema_messages_say_what_is_expected(
    export_7b: dict[str, Any], change: Any, path: str, fragments: tuple[str, ...]
) -> None:
    change(export_7b)
    with pytest.raises(InvalidInput) as caught:
        parse_export(to_json(export_7b))
    [detail] = caught.value.details
    assert detail.path == path
    for fragment in fragments:
        assert fragment in detail.message


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\u0000", "\\u001b", "\\uffff"])
def test_text_no_journal_can_hold_is_refused_with_its_path(
    export_7b: dict[str, Any], escape: str
) -> None:
    """Unpaired surrogates and control characters would break UTF-8, XML and the database."""
    name = export_7b["pupils"][1]["full_name"]
    export_7b["pupils"][1]["full_name"] = "PLACEHOLDER"
    data = to_json(export_7b).replace(b"PLACEHOLDER", f"{name} {escape}".encode())
    with pytest.raises(MalformedInput) as caught:
        parse_export(data, "application/json")
    assert [d.path for d in caught.value.details] == ["/pupils/1/full_name"]


def test_tabs_and_line_breaks_stay_allowed(export_7b: dict[str, Any]) -> None:
    export_7b["subjects"][0]["lessons"][0]["homework"] = "§ 3,\tвправа 5\nі повторити ґ"
    journal = parse_export(to_json(export_7b), "application/json").journal
    assert journal.subjects[0].lessons[0].homework == "§ 3,\tвправа 5\nі повторити ґ"
