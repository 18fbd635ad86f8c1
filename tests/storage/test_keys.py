"""The key grammar on its own: what is accepted, what is refused, and what the error says."""

from __future__ import annotations

import pytest

from archive_service.errors import InvalidInput
from archive_service.storage import validate_key, validate_prefix

GOOD_KEYS = [
    "a",
    "journals/12345678/2024-2025/7-B/doc_1/v0001/journal.pdf",
    "audit/checkpoints/000001.json",
    ".hidden-but-harmless",
    "/".join(["s" * 200, "t" * 200, "u" * 110]),  # 512 characters
]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_valid_keys_are_returned_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("../x", ".."),
        ("a/b..c", ".."),
        ("/abs", "start with '/'"),
        ("журнал/7-Б", "ASCII"),
        ("a//b", "empty segment"),
        ("", "empty"),
        ("x" * 201, "longer than 200"),
        ("/".join(["s" * 200, "t" * 200, "u" * 111]), "longer than 512"),
    ],
)
def test_invalid_keys_name_the_rule_they_break(key: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_key(key)

    assert rule in refused.value.message
    assert [detail.path for detail in refused.value.details] == ["key"]


@pytest.mark.parametrize("prefix", ["", "journals/", "journals/1234", "journals/12345678/20"])
def test_prefixes_may_end_mid_segment(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["..", "a/..", "/a", "a//b", "ж", "a b"])
def test_prefixes_that_could_never_start_a_key_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_prefix(prefix)
    assert [detail.path for detail in refused.value.details] == ["prefix"]
