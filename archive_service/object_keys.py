"""Object keys people can read: ``journals/<edrpou>/<year>/<class>/<document>/v0001/…``.

Keys must be ASCII (S3 metadata and many tools insist), so Ukrainian class names are
transliterated with the official Ukrainian national transliteration (КМУ № 55, 2010).
"""

from __future__ import annotations

import re

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie",
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": "iu",
    "я": "ia", "'": "", "’": "", "ʼ": "",
}  # fmt: skip


def transliterate(text: str) -> str:
    """Ukrainian → Latin, keeping the case of the first letter of each character."""
    out = []
    for char in text:
        latin = _TRANSLIT.get(char.lower())
        if latin is None:
            out.append(char)
        elif char.isupper():
            out.append(latin.capitalize())
        else:
            out.append(latin)
    return "".join(out)


def key_segment(text: str) -> str:
    """A safe, readable key segment: transliterated, anything else collapsed to ``-``."""
    segment = re.sub(r"[^A-Za-z0-9._-]+", "-", transliterate(text)).strip("-.")
    return segment or "x"


def version_prefix(
    edrpou: str, school_year: str, class_name: str, document_id: str, version: int
) -> str:
    return "/".join(
        (
            "journals",
            key_segment(edrpou),
            key_segment(school_year.replace("/", "-")),
            key_segment(class_name),
            document_id,
            f"v{version:04d}",
        )
    )
