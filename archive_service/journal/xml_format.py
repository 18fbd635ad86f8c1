"""The XML form of the export: hardened reading, XSD errors, XPaths.

Hostile XML is refused before it can cost anything: a document type declaration (the only
place entities can be declared) is refused when the parser reaches it, before its internal
subset is read, so an entity bomb is never expanded or even fully parsed. The real parse then
runs with entity substitution, DTD loading and network access switched off and with libxml2's
size limits on; XInclude is never processed and its elements are refused outright.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Literal

from lxml import etree

from archive_service.errors import ErrorDetail, MalformedInput
from archive_service.journal import xml_form
from archive_service.journal.location import Location
from archive_service.journal.schemas import xml_schema
from archive_service.journal.text import escape_refused

XINCLUDE_NAMESPACE = "http://www.w3.org/2001/XInclude"
_DOCUMENT_PATH = "/"
_ATTRIBUTE_IN_MESSAGE = re.compile(r"attribute '([^']+)'")


def _hardened_parser(target: object | None = None) -> etree.XMLParser:
    """A new parser per document: lxml parsers must not be shared between threads."""
    return etree.XMLParser(
        target=target,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
    )


class _DoctypeFound(Exception):
    pass


class _PrologEnd(Exception):
    pass


class _PrologScanner:
    """A parser target that only looks at the prolog: stops at the DOCTYPE or the root element."""

    def doctype(self, *_: object) -> None:
        raise _DoctypeFound

    def start(self, *_: object) -> None:
        raise _PrologEnd

    def close(self) -> None:
        return None


class XmlFormat:
    """The XML side of :class:`archive_service.journal.parse.ExportFormat`."""

    name: Literal["xml"] = "xml"
    media_type = "application/xml"
    filename = "journal.xml"

    def read(self, data: bytes) -> etree._Element:
        """Parse the bytes; syntax problems and hostile constructs raise :class:`MalformedInput`."""
        _refuse_doctype(data)
        try:
            root = etree.fromstring(data, _hardened_parser())
        except etree.XMLSyntaxError as exc:
            raise _malformed(f"The export is not well-formed XML: {exc.msg}.") from exc
        if root.getroottree().docinfo.internalDTD is not None:  # pragma: no cover - belt and braces
            raise _malformed("DTDs and entities are not allowed in a journal export.")
        for include in root.iter(f"{{{XINCLUDE_NAMESPACE}}}*"):
            raise _malformed(
                "XInclude is not allowed in a journal export: send the whole journal in one file.",
                xml_form.element_xpath(include),
            )
        return root

    def format_version(self, root: etree._Element) -> object:
        if root.tag != xml_form.qualified(xml_form.ROOT_ELEMENT):
            return None
        source = root.find(xml_form.qualified("source"))
        return source.get("format_version") if source is not None else None

    def schema_errors(self, root: etree._Element, limit: int) -> list[ErrorDetail]:
        schema = xml_schema()
        if schema.validate(root.getroottree()):
            return []
        return [_detail(root, entry) for entry in itertools.islice(schema.error_log, limit)]

    def to_export(self, root: etree._Element) -> dict[str, Any]:
        return xml_form.to_export(root)

    def path(self, location: Location) -> str:
        return xml_form.xpath(location)


def _refuse_doctype(data: bytes) -> None:
    try:
        etree.fromstring(data, _hardened_parser(target=_PrologScanner()))
    except _DoctypeFound:
        raise _malformed("DTDs and entities are not allowed in a journal export.") from None
    except _PrologEnd:
        return
    except etree.XMLSyntaxError as exc:
        raise _malformed(f"The export is not well-formed XML: {exc.msg}.") from exc


def _malformed(message: str, path: str = _DOCUMENT_PATH) -> MalformedInput:
    return MalformedInput(message, [ErrorDetail(path, message)])


def _detail(root: etree._Element, entry: etree._LogEntry) -> ErrorDetail:
    message = entry.message.replace(f"{{{xml_form.NAMESPACE}}}", f"{xml_form.PREFIX}:").strip()
    message = escape_refused(message)  # libxml2 quotes offending values as they are
    path = _DOCUMENT_PATH
    if entry.path:
        found = root.getroottree().xpath(entry.path)
        if found and isinstance(found[0], etree._Element):
            path = xml_form.element_xpath(found[0])
            attribute = _ATTRIBUTE_IN_MESSAGE.search(message)
            if attribute is not None:
                path += f"/@{attribute[1]}"
    return ErrorDetail(path, message if message.endswith(".") else message + ".")
