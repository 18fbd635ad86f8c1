"""The published schemas (``schemas/`` in the repository), loaded once.

The files are read through ``importlib.resources`` from the ``archive_service.schemas``
package, so the service validates against exactly the schemas it ships and publishes.
"""

from __future__ import annotations

import functools
import json
import threading
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from lxml import etree

_PACKAGE = "archive_service.schemas"
JSON_SCHEMA_FILE = "journal-export.schema.json"
XSD_FILE = "journal-export.xsd"
_LOCAL_DEFINITION = "#/$defs/"

_per_thread = threading.local()


def _read(name: str) -> bytes:
    return resources.files(_PACKAGE).joinpath(name).read_bytes()


@functools.cache
def json_validator() -> Draft202012Validator:
    """One validator for the process: jsonschema validators keep no state between calls.

    The published schema uses ``$defs``; the validator gets a copy with those references
    inlined, which validates a full-year journal about twice as fast (reference resolution
    dominated the time) and gives the same errors.
    """
    schema = json.loads(_read(JSON_SCHEMA_FILE))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(_inline_definitions(schema, schema.get("$defs", {}), ()))


def _inline_definitions(node: Any, definitions: dict[str, Any], inlining: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline_definitions(item, definitions, inlining) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith(_LOCAL_DEFINITION):
        name = reference.removeprefix(_LOCAL_DEFINITION)
        if name in inlining:
            raise ValueError(f"recursive definition {name!r} cannot be inlined")
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        target = _inline_definitions(definitions[name], definitions, (*inlining, name))
        return {**target, **_inline_definitions(siblings, definitions, inlining)}
    return {
        key: _inline_definitions(value, definitions, inlining)
        for key, value in node.items()
        if key != "$defs"
    }


@functools.cache
def _xsd_document() -> etree._ElementTree:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    return etree.ElementTree(etree.fromstring(_read(XSD_FILE), parser))


def xml_schema() -> etree.XMLSchema:
    """One compiled XSD per thread.

    An ``XMLSchema`` keeps the error log of its last ``validate()`` on itself, so sharing one
    between the server's threads would mix up the errors of concurrent uploads.
    """
    schema: etree.XMLSchema | None = getattr(_per_thread, "xml_schema", None)
    if schema is None:
        schema = etree.XMLSchema(_xsd_document())
        _per_thread.xml_schema = schema
    return schema
