"""Read one journal export (JSON or XML) into the model, or say precisely what is wrong with it.

The steps are the same for both formats and live only here: size limit → choose the format
(declared media type, else sniffed) → syntax → format version → schema → rules → model. The
formats supply the steps that differ (:class:`ExportFormat`); the rules are written once against
the JSON shape and their locations are rendered in the notation of the file that was sent.
"""

from __future__ import annotations

import codecs
import itertools
import re
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, Protocol

from archive_service.errors import (
    ErrorDetail,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from archive_service.journal.build import build_journal
from archive_service.journal.json_format import JsonFormat
from archive_service.journal.location import Location, Problem
from archive_service.journal.model import Journal
from archive_service.journal.rules import check_export, check_format_version
from archive_service.journal.text import Repertoire
from archive_service.journal.xml_form import NAMESPACE, PREFIX
from archive_service.journal.xml_format import XmlFormat

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: More problems than this are not listed: the client has enough to start fixing.
MAX_PROBLEMS = 100

JSON_MEDIA_TYPES = frozenset({"application/json", "text/json"})
XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})
#: Types that say nothing about the content: the content decides.
GENERIC_MEDIA_TYPES = frozenset({"", "application/octet-stream", "text/plain"})
_FIRST_NON_WHITESPACE = re.compile(rb"[^ \t\r\n]")


class ExportFormat(Protocol):
    """The steps of reading an export that differ between JSON and XML."""

    # Read-only: a settable Literal["json", "xml"] member would not admit JsonFormat, whose
    # name is only ever "json" (protocol attributes are invariant).
    @property
    def name(self) -> Literal["json", "xml"]: ...

    media_type: str
    filename: str

    def read(self, data: bytes) -> Any:
        """Parse the syntax; raises MalformedInput."""

    def format_version(self, document: Any) -> object:
        """The declared format version, if it can be found before schema validation."""

    def schema_errors(self, document: Any, limit: int) -> list[ErrorDetail]: ...

    def to_export(self, document: Any) -> dict[str, Any]:
        """The schema-valid document in the JSON shape the rules and the builder read."""

    def path(self, location: Location) -> str: ...


JSON: ExportFormat = JsonFormat()
XML: ExportFormat = XmlFormat()


@dataclass(frozen=True)
class ParsedExport:
    """A valid export: the journal and how to store the source bytes beside the document."""

    journal: Journal
    format: Literal["json", "xml"]
    #: ``application/json`` or ``application/xml``, whatever the client declared.
    media_type: str
    #: ``journal.json`` or ``journal.xml``: the name of the embedded source file.
    filename: str


def parse_export(
    data: bytes,
    media_type: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    repertoire: Repertoire | None = None,
) -> ParsedExport:
    """Parse and validate one export.

    :param media_type: the declared Content-Type; ``None`` or a generic type lets the content
        decide (a ``{`` means JSON, a ``<`` XML).
    :param repertoire: the characters the archival document can print (the renderer's fonts);
        text with others is refused naming its field. None: not checked.
    :raises PayloadTooLarge: more than ``max_bytes`` bytes (checked before anything is parsed).
    :raises UnsupportedMediaType: a declared type that is neither JSON nor XML, or content that
        looks like neither.
    :raises MalformedInput: a syntax error, or a DTD, entity or XInclude in XML.
    :raises InvalidInput: schema or rule violations, one detail (path + message) per problem.
    """
    if len(data) > max_bytes:
        message = f"The export is {len(data)} bytes; the limit is {max_bytes} bytes."
        raise PayloadTooLarge(message, [ErrorDetail("/", message)])
    export_format = _choose_format(data, media_type)
    document = export_format.read(data)
    version_problem = check_format_version(export_format.format_version(document))
    if version_problem is not None:
        _refuse(export_format, [_render(export_format, version_problem)])
    schema_errors = export_format.schema_errors(document, MAX_PROBLEMS + 1)
    if schema_errors:
        _refuse(export_format, schema_errors)
    export = export_format.to_export(document)
    problems = list(itertools.islice(check_export(export, repertoire), MAX_PROBLEMS + 1))
    if problems:
        _refuse(export_format, [_render(export_format, p) for p in problems])
    return ParsedExport(
        journal=build_journal(export),
        format=export_format.name,
        media_type=export_format.media_type,
        filename=export_format.filename,
    )


def _choose_format(data: bytes, media_type: str | None) -> ExportFormat:
    essence = (media_type or "").split(";", 1)[0].strip().lower()
    if essence in JSON_MEDIA_TYPES or essence.endswith("+json"):
        return JSON
    if essence in XML_MEDIA_TYPES or essence.endswith("+xml"):
        return XML
    if essence not in GENERIC_MEDIA_TYPES:
        message = (
            f"Media type {media_type!r} is not supported: send application/json or application/xml."
        )
        raise UnsupportedMediaType(message, [ErrorDetail("Content-Type", message)])
    return _sniff(data)


def _sniff(data: bytes) -> ExportFormat:
    body = data.removeprefix(codecs.BOM_UTF8)
    first = _FIRST_NON_WHITESPACE.search(body)
    start = body[first.start() : first.start() + 1] if first else b""
    if start == b"{":
        return JSON
    if start == b"<":
        return XML
    message = (
        "The content is neither a JSON object nor an XML document (UTF-8): declare "
        "application/json or application/xml."
    )
    raise UnsupportedMediaType(message, [ErrorDetail("Content-Type", message)])


def _render(export_format: ExportFormat, problem: Problem) -> ErrorDetail:
    return ErrorDetail(export_format.path(problem.location), problem.message)


def _refuse(export_format: ExportFormat, details: list[ErrorDetail]) -> NoReturn:
    shown = details[:MAX_PROBLEMS]
    count = f"{len(shown)} problems" if len(shown) > 1 else "1 problem"
    if len(details) > MAX_PROBLEMS:
        count = f"more than {MAX_PROBLEMS} problems (the first {MAX_PROBLEMS} are listed)"
    notation = (
        "JSON pointers"
        if export_format.name == "json"
        else f"XPaths with the prefix {PREFIX!r} for {NAMESPACE}"
    )
    raise InvalidInput(
        f"The journal export is not valid: {count}. Each detail names the place ({notation}).",
        shown,
    )
