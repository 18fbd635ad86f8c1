"""The official ETSI TS 119 102-2 schema, loaded with lxml from the folder the install script fills.

``scripts/install-etsi-xsd.sh`` unpacks the EU DSS project's ``specs-*`` jars from Maven Central
(the schemas are not vendored here). The report schema imports XML-DSig, XAdES 1.3.2 and the
trusted-list schema by their web addresses; :class:`LocalSchemas` answers those from the unpacked
jars (the same mapping as the jars' own ``catalog.cat``), and no address is ever fetched: the
parser has no network access and an import this module does not know fails the load.

Our reports are in the ``http://uri.etsi.org/19102/v1.2.1#`` namespace. DSS 6.4 ships two schemas
for it: ``TS119102-2-v122.xsd`` and ``TS119102-2-v131.xsd``; the latter is not well-formed in that
release (an unclosed ``xs:element`` in ``SignersDocumentType``), so the former is the schema.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO / "scripts" / "install-etsi-xsd.sh"
#: The report schema for the v1.2.1 namespace, inside the install folder.
MAIN_SCHEMA = Path("specs-validation-report/xsd/TS119102-2-v122.xsd")
#: Every ``schemaLocation`` the schemas import, and the unpacked file that answers it.
IMPORTS = {
    "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": Path(
        "specs-xmldsig/xsd/xmldsig-core-schema.xsd"
    ),
    "http://www.w3.org/2001/xml.xsd": Path("specs-xmldsig/xsd/xml.xsd"),
    "http://uri.etsi.org/01903/v1.3.2/XAdES.xsd": Path("specs-xades/xsd/XAdES.xsd"),
    "http://uri.etsi.org/19612/v2.2.1/ts_119612v020201_201601xsd.xsd": Path(
        "specs-trusted-list-v211/xsd/ts_119612v020101_xsd.xsd"
    ),
}


class EtsiSchemaMissing(RuntimeError):
    """The schemas are not where the install script puts them (or where ``ETSI_XSD_DIR`` says)."""


class ReportNotSchemaValid(AssertionError):
    """The XML does not validate against the official schema; the message lists every error."""


class LocalSchemas(etree.Resolver):
    """Answers the schemas' imports from the unpacked jars; refuses every other address."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def resolve(self, system_url, public_id, context):  # type: ignore[no-untyped-def]
        if system_url in IMPORTS:
            return self.resolve_filename(str(self.directory / IMPORTS[system_url]), context)
        if re.match(r"[a-z][a-z0-9+.-]*://", system_url or "") and not system_url.startswith(
            "file:"
        ):
            raise EtsiSchemaMissing(f"the ETSI schema imports {system_url}, which is not mapped")
        return None  # a local file next to the importing schema: lxml reads it itself


def pinned_version() -> str:
    """The DSS release the install script pins; read from the script (one source of truth)."""
    found = re.search(r"^PINNED_VERSION=(\S+)$", INSTALL_SCRIPT.read_text(), re.MULTILINE)
    if found is None:
        raise AssertionError(f"no PINNED_VERSION= line in {INSTALL_SCRIPT}")
    return found.group(1)


def find_schema_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """``$ETSI_XSD_DIR`` if set, else the install script's default folder.

    :raises EtsiSchemaMissing: nothing installed there, with the command that installs it.
    """
    explicit = environ.get("ETSI_XSD_DIR") or environ.get("ETSI_XSD_HOME")
    if explicit:
        directory = Path(explicit)
    else:
        cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        directory = Path(cache) / "journal-archive" / f"etsi-xsd-{pinned_version()}"
    missing = [
        str(path) for path in (MAIN_SCHEMA, *IMPORTS.values()) if not (directory / path).is_file()
    ]
    if missing:
        raise EtsiSchemaMissing(
            f"the ETSI schemas are not installed in {directory} (missing {', '.join(missing)}); "
            "run `bash scripts/install-etsi-xsd.sh` (needs Java and Maven) or set ETSI_XSD_DIR"
        )
    return directory


def load_schema(directory: Path) -> etree.XMLSchema:
    """The TS 119 102-2 report schema with its imports resolved to ``directory``, offline."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(LocalSchemas(directory))
    document = etree.parse(str(directory / MAIN_SCHEMA), parser)
    return etree.XMLSchema(document)


#: The schema's ``xs:IDREF``/``xs:IDREFS`` attributes (``VOReference`` is on every reference).
IDREF_ATTRIBUTES = ("VOReference", "WhichDocument", "SchemaRefs")


def dangling_references(document: etree._Element) -> list[str]:
    """IDREFs that name no ``id`` in the document.

    XML Schema makes these invalid (every IDREF must match an ID), but libxml2's validator only
    checks that IDs are unique, so this part of validity is checked here.
    """
    ids = {element.get("id") for element in document.iter() if element.get("id") is not None}
    return [
        reference
        for element in document.iter()
        for name in IDREF_ATTRIBUTES
        for reference in (element.get(name) or "").split()
        if reference not in ids
    ]


def assert_schema_valid(schema: etree.XMLSchema, xml: bytes | etree._Element) -> None:
    """Raise :class:`ReportNotSchemaValid` listing each error (line and message) if invalid."""
    document = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    errors = []
    if not schema.validate(document):
        errors = [f"  line {e.line}: {e.message}" for e in schema.error_log]
    errors += [f"  IDREF {reference!r} names no id" for reference in dangling_references(document)]
    if errors:
        raise ReportNotSchemaValid("not valid against ETSI TS 119 102-2:\n" + "\n".join(errors))
