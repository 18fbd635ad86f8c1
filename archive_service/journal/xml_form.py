"""How the export's JSON shape is spelled in XML, in both directions, and how paths are written.

One table describes the mapping: every JSON list becomes a wrapper element holding one element
per item, identifiers/codes/dates/values are attributes, free text is element content, and
element names equal the JSON field names. Reading (XML → export structure), writing (export
structure → XML) and XPath rendering all follow that table, so they cannot drift apart, and
``journal-export.xsd`` is its published form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from archive_service.journal.location import Location

NAMESPACE = "urn:journal-archive:export:1"
#: The prefix paths in error details use for :data:`NAMESPACE`.
PREFIX = "j"
ROOT_ELEMENT = "journal"

#: JSON list field → the element name of one item.
LIST_ITEMS: Mapping[str, str] = {
    "pupils": "pupil",
    "subjects": "subject",
    "lessons": "lesson",
    "marks": "mark",
    "results": "result",
}
#: Object elements → their child elements, in schema order. Fields not listed are attributes.
CHILDREN: Mapping[str, tuple[str, ...]] = {
    "journal": ("source", "institution", "class", "pupils", "subjects"),
    "source": ("platform",),
    "institution": ("name",),
    "class": ("name", "homeroom_teacher"),
    "pupil": ("full_name",),
    "subject": ("name", "teacher", "lessons", "results"),
    "lesson": ("topic", "homework", "marks"),
    "mark": ("comment",),
    "result": (),
}
#: Attributes whose JSON value is a number rather than text.
INTEGER_ATTRIBUTES = frozenset({"grade"})


def qualified(name: str) -> str:
    """Clark notation (``{urn…}name``), as lxml spells tags."""
    return f"{{{NAMESPACE}}}{name}"


# ----------------------------------------------------------------------------- XML → export


def to_export(root: etree._Element) -> dict[str, Any]:
    """Read a schema-valid document into the JSON shape (absent optional parts stay absent)."""
    return _object(root)


def _object(element: etree._Element) -> dict[str, Any]:
    node: dict[str, Any] = {
        name: int(value) if name in INTEGER_ATTRIBUTES else value
        for name, value in element.attrib.items()
    }
    for child in _elements(element):
        name = etree.QName(child).localname
        if name in LIST_ITEMS:
            node[name] = [_object(item) for item in _elements(child)]
        elif name in CHILDREN:
            node[name] = _object(child)
        else:
            node[name] = "".join(child.itertext())  # comments and PIs are not text
    return node


def _elements(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


# ----------------------------------------------------------------------------- export → XML


def from_export(export: Mapping[str, Any]) -> bytes:
    """Write an export structure as an XML document valid against ``journal-export.xsd``.

    :raises ValueError: the structure has a field the XML form does not know.
    """
    root = etree.Element(qualified(ROOT_ELEMENT), nsmap={None: NAMESPACE})
    _fill(root, ROOT_ELEMENT, export)
    body = etree.tostring(root, xml_declaration=False, encoding="UTF-8", pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _fill(element: etree._Element, name: str, node: Mapping[str, Any]) -> None:
    children = CHILDREN[name]
    for field, value in node.items():
        if field in children or value is None:
            continue
        if isinstance(value, Mapping | list):
            raise ValueError(f"{name}: the field {field!r} has no place in the XML form")
        element.set(field, str(value))
    for field in children:
        value = node.get(field)
        if value is None:
            continue
        child = etree.SubElement(element, qualified(field))
        if field in LIST_ITEMS:
            item_name = LIST_ITEMS[field]
            for item in value:
                _fill(etree.SubElement(child, qualified(item_name)), item_name, item)
        elif field in CHILDREN:
            _fill(child, field, value)
        else:
            child.text = value


# ----------------------------------------------------------------------------- paths


def xpath(location: Location) -> str:
    """Render a location as an XPath with the ``j:`` prefix and 1-based positions."""
    parts = [f"{PREFIX}:{ROOT_ELEMENT}"]
    element = ROOT_ELEMENT  # the element the next step starts from
    for step in location.steps:
        if isinstance(step, int):
            element = LIST_ITEMS.get(element, "*")
            parts.append(f"{PREFIX}:{element}[{step + 1}]")
        elif step in CHILDREN.get(element, ()):
            element = step
            parts.append(f"{PREFIX}:{step}")
        else:
            parts.append(f"@{step}")
    return "/" + "/".join(parts)


def element_xpath(element: etree._Element) -> str:
    """The XPath of an element in the same notation :func:`xpath` uses (for XSD errors)."""
    parts: list[str] = []
    current: etree._Element | None = element
    while current is not None:
        parent = current.getparent()
        qname = etree.QName(current)
        if qname.namespace == NAMESPACE:
            step = f"{PREFIX}:{qname.localname}"
        elif qname.namespace is None:
            step = qname.localname
        else:
            step = f"*[local-name()='{qname.localname}']"
        if parent is not None:
            siblings = [s for s in parent if s.tag == current.tag]
            if len(siblings) > 1 or etree.QName(parent).localname in LIST_ITEMS:
                step += f"[{siblings.index(current) + 1}]"
        parts.append(step)
        current = parent
    return "/" + "/".join(reversed(parts))
