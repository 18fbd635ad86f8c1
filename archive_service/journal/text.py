"""What free text may hold: one rule for every name, topic and comment of an export, and for
anything else a caller types that the archive records (``X-Purpose``, search filters).

Refused: characters that are invisible or change how the text around them reads —
control characters (Unicode category Cc; TAB, LF and CR only in multi-line text such as
homework), format characters (Cf: the bidirectional embeddings, overrides and isolates
U+202A–U+202E and U+2066–U+2069, zero-width spaces, joiners and marks U+200B–U+200F, the byte
order mark U+FEFF, the soft hyphen…), line and paragraph separators (Zl, Zp: U+2028, U+2029),
and unpaired surrogates, private-use and unassigned code points (Cs, Co, Cn). A pupil's name
with a right-to-left override shows one name and sorts, searches and signs as another; a U+2028
in a purpose splits the audit export's lines.

Kept exactly, never normalised: letters with any marks (і ї є ґ, a combining acute accent
U+0301 for stress), every apostrophe (’ ' ʼ), punctuation, and every space (a no-break space
U+00A0 or U+202F between initials is ordinary text).

Which characters the archive's *fonts* can draw is the renderer's knowledge; the parser takes it
as a set of code points (``repertoire``) and refuses the rest here too, naming the field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

#: Unicode general categories that are never text.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
#: Control characters multi-line text may hold.
LINE_CONTROLS = frozenset("\t\n\r")


def describe(character: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: a character named without printing it."""
    name = unicodedata.name(character, "")
    if not name and unicodedata.category(character) == "Cc":
        name = {"\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}.get(
            character, "CONTROL CHARACTER"
        )
    return f"U+{ord(character):04X} {name}".rstrip()


def refused_character(text: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """The first invisible or control character in ``text`` and its position, or None."""
    if text.isprintable():  # the usual case, checked in C: no Cc, Cf, Z* (but ' '), Cs, Co, Cn
        return None
    for position, character in enumerate(text):
        if character in LINE_CONTROLS and multiline:
            continue
        if unicodedata.category(character) in REFUSED_CATEGORIES:
            return position, character
    return None


def refused_character_message(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` is refused for its characters, in words a person can act on; or None.

    The character is named (``U+202E RIGHT-TO-LEFT OVERRIDE``), never printed.
    """
    found = refused_character(text, multiline=multiline)
    if found is None:
        return None
    position, character = found
    where = f"{describe(character)} at character {position + 1}"
    if character in LINE_CONTROLS:
        return f"The text holds {where}: this text must be one line; remove the line break."
    if unicodedata.category(character) == "Cc":
        return f"The text holds {where}, a control character: remove it."
    return (
        f"The text holds {where}, an invisible character that is not allowed (it can hide "
        "in a text or change how it reads): remove it."
    )


class Repertoire:
    """The characters a document can print, given as code points (the renderer knows which)."""

    def __init__(self, code_points: Iterable[int]) -> None:
        self.code_points = frozenset(code_points)
        ranges: list[str] = []
        for start, end in _runs(sorted(self.code_points)):
            ranges.append(_class_char(start) + ("" if start == end else "-" + _class_char(end)))
        self._outside = re.compile("[^" + "".join(ranges) + "]" if ranges else "[\\s\\S]")

    def __contains__(self, character: object) -> bool:
        return (
            isinstance(character, str)
            and len(character) == 1
            and (ord(character) in self.code_points)
        )

    def missing(self, text: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` distinct characters of ``text`` outside the repertoire, in order."""
        found: list[str] = []
        for match in self._outside.finditer(text):
            if match.group() not in found:
                found.append(match.group())
                if len(found) == limit:
                    break
        return found


def _runs(points: list[int]) -> Iterator[tuple[int, int]]:
    if not points:
        return
    start = end = points[0]
    for point in points[1:]:
        if point != end + 1:
            yield start, end
            start = point
        end = point
    yield start, end


def _class_char(point: int) -> str:
    return f"\\U{point:08x}"


def uncovered_message(text: str, repertoire: Repertoire) -> str | None:
    """Why ``text`` cannot be printed in the archival document; or None."""
    missing = repertoire.missing(text)
    if not missing:
        return None
    shown = ", ".join(f"«{c}» ({describe(c)})" for c in missing)
    return (
        f"The archival document cannot print {shown}: its fonts cover Latin, Cyrillic, Greek "
        "and common symbols, not this script or emoji. Write the text without it."
    )


def escape_refused(text: str) -> str:
    """``text`` with every refused character written as ``\\uXXXX``, for messages and logs."""
    if text.isprintable():
        return text
    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in REFUSED_CATEGORIES else c for c in text
    )
