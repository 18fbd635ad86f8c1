"""The characters the bundled fonts can print, read from their cmap tables, and proof that
Typst prints exactly those: every covered character in every face, no uncovered one."""

from __future__ import annotations

import json
import struct
import tempfile
import unicodedata

import pytest
import typst

from archive_service.render import TypstRenderer
from archive_service.render.coverage import (
    FontFormatError,
    covered_code_points,
    font_code_points,
)
from archive_service.render.typst_compile import FONT_DIR, bundled_fonts

COVERED = covered_code_points(FONT_DIR)
#: Regular, bold and oblique: the template may set data in any of them.
SAMPLE_TEMPLATE = (
    b'#set text(font: "DejaVu Sans", lang: "uk")\n'
    b"#let t = json(bytes(sys.inputs.t))\n"
    b"#t.a\n\n#strong(t.a)\n\n#emph(t.a)\n"
)


def typst_problems(text: str, standard: str = "a-3u") -> list[str]:
    with tempfile.TemporaryDirectory() as root:
        try:
            _pdf, warnings = typst.compile_with_warnings(
                SAMPLE_TEMPLATE,
                root=root,
                font_paths=bundled_fonts(FONT_DIR),
                ignore_system_fonts=True,
                sys_inputs={"t": json.dumps({"a": text})},
                pdf_standards=[standard],
            )
        except typst.TypstError as error:
            return [str(error)]
    return [str(w) for w in warnings]


def test_ukrainian_text_and_its_punctuation_are_covered() -> None:
    for character in "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯабвгґдеєжзиіїйклмнопрстуфхцчшщьюя":
        assert ord(character) in COVERED, character
    for character in "’'ʼ«»–—…№\u0301\u00a0\u202f":
        assert ord(character) in COVERED, unicodedata.name(character)
    assert {ord("\n"), ord("\t"), ord("\r")} <= COVERED  # layout, not glyphs


def test_cjk_and_emoji_are_not_covered() -> None:
    for character in "数学📐🦀":
        assert ord(character) not in COVERED


@pytest.mark.parametrize("standard", ["a-3u", "a-1b"])
def test_typst_prints_every_covered_character_in_every_face(standard: str) -> None:
    printable = [
        chr(c)
        for c in sorted(COVERED)
        if unicodedata.category(chr(c)) not in {"Cc", "Cf", "Zl", "Zp", "Mn", "Me"}
    ]
    marks = [chr(c) for c in sorted(COVERED) if unicodedata.category(chr(c)) in {"Mn", "Me"}]
    assert len(printable) > 4000
    # In parts: PDF/A-1 limits a PDF array (a text's glyph widths) to 8191 elements.
    for start in range(0, len(printable), 1000):
        assert typst_problems(" ".join(printable[start : start + 1000]), standard) == []
    assert typst_problems(" ".join("a" + mark for mark in marks), standard) == []


def test_typst_refuses_characters_outside_the_repertoire() -> None:
    for character in ["数", "📐", "\u0e01", "\ua520", "\U0001d400"]:
        assert ord(character) not in COVERED
        assert typst_problems(f"ab{character}cd"), character


def test_the_renderer_offers_its_repertoire() -> None:
    repertoire = TypstRenderer(in_process=True).repertoire
    assert repertoire.code_points == COVERED
    assert repertoire.missing("Ґалаґан В’ячеслав 数学 📐") == ["数", "学", "📐"]


def test_a_file_that_is_no_font_is_refused() -> None:
    with pytest.raises(FontFormatError):
        font_code_points(b"not a font at all")
    no_cmap = struct.pack(">IHHHH", 0x00010000, 0, 0, 0, 0)
    with pytest.raises(FontFormatError, match="no cmap"):
        font_code_points(no_cmap)
