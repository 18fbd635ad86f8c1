"""Where in an export a problem is, independent of whether the export was JSON or XML.

The rules (``journal.rules``) walk one format-neutral export structure and report a
:class:`Location` per problem; each format then renders it in its own notation (a JSON pointer
for JSON, an XPath for XML). That way every rule is written once and still gives the client a
path it can follow in the very file it sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from archive_service.journal.text import escape_refused

#: A field name or a 0-based list index.
Step = str | int


@dataclass(frozen=True, slots=True)
class Location:
    """A path from the export's root: field names and 0-based list indices."""

    steps: tuple[Step, ...] = ()

    def __truediv__(self, step: Step) -> Location:
        return Location((*self.steps, step))


#: The export as a whole.
ROOT = Location()


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule at one place."""

    location: Location
    message: str


def json_pointer(location: Location) -> str:
    """Render as an RFC 6901 JSON pointer; the root is shown as ``/`` so no path is ever empty."""
    if not location.steps:
        return "/"
    return "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in location.steps)


def quote(value: object, limit: int = 80) -> str:
    """Show an offending value in a message: JSON-style quotes, cut short if it is huge, and
    invisible or control characters written as ``\\uXXXX`` so a message never carries them."""
    text = escape_refused(json.dumps(value, ensure_ascii=False))
    return text if len(text) <= limit else text[: limit - 1] + "…"
