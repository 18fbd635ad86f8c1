"""Ukrainian alphabetical order for names and subjects.

Python compares code points, which puts Є, І, Ї (U+0404…U+0457 block order) and Ґ (U+0490)
after Я; a class list printed that way looks wrong to every Ukrainian reader. ICU would solve it
but is a heavy native dependency for one table, so the alphabet is spelled out here.
"""

from __future__ import annotations

import unicodedata

#: The Ukrainian alphabet in order; Russian-only letters sit where Russian puts them so that
#: names spelt the Russian way still sort sensibly.
_ALPHABET = "абвгґдеєёжзиіїйклмнопрстуфхцчшщъыьэюя"

#: Apostrophes (typewriter, right single quote, modifier letter) do not affect order:
#: «Мар’яна» sorts as «Маряна».
_IGNORED = frozenset("'\u2019\u02bc\u02b9`\u00b4")

#: Word separators sort before every letter so that «Бондар Ія» precedes «Бондаренко Ів».
_SEPARATORS = frozenset(" -\u2010\u2011\u2013\u00a0.,")

_SEPARATOR_RANK = 1
_DIGIT_BASE = 10
_LETTER_BASE = 100
_LATIN_BASE = _LETTER_BASE + len(_ALPHABET)
_OTHER_BASE = 1_000

_LETTER_RANK = {letter: _LETTER_BASE + i for i, letter in enumerate(_ALPHABET)}


def _rank(char: str) -> int:
    if char in _SEPARATORS:
        return _SEPARATOR_RANK
    rank = _LETTER_RANK.get(char)
    if rank is not None:
        return rank
    if "0" <= char <= "9":
        return _DIGIT_BASE + ord(char) - ord("0")
    if "a" <= char <= "z":
        return _LATIN_BASE + ord(char) - ord("a")
    return _OTHER_BASE + ord(char)


def ukrainian_sort_key(text: str) -> tuple[tuple[int, ...], str]:
    """Key for :func:`sorted` that follows the Ukrainian alphabet.

    Letters compare case-insensitively and apostrophes are ignored; the original text breaks
    remaining ties so that the order is total and stable across runs.
    """
    normalized = unicodedata.normalize("NFC", text).strip().casefold()
    primary = tuple(_rank(char) for char in normalized if char not in _IGNORED)
    return primary, text
