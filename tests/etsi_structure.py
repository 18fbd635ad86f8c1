"""A structural check of ETSI TS 119 102-2 (V1.2.1) validation reports, written for our tests.

It needs nothing installed, so every report test can use it; the official schema (fetched at
test time, see ``tests/etsi_schema.py``) is the authority on the shape. What this adds is what
the schema leaves open: a main indication from the three the standard defines (the schema only
asks for a URI), sub-indications in its URN space, and time zones on the ``xs:dateTime`` values.
It also checks the namespace, the root and the order of the elements a
``SignatureValidationReport`` may hold.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

NS = "http://uri.etsi.org/19102/v1.2.1#"
VR = f"{{{NS}}}"
MAIN_INDICATIONS = {
    f"urn:etsi:019102:mainindication:{name}"
    for name in ("total-passed", "total-failed", "indeterminate")
}
SUB_INDICATION_PREFIX = "urn:etsi:019102:subindication:"
#: The children a SignatureValidationReport may have, in the order the standard gives them.
REPORT_CHILDREN = (
    "SignatureIdentifier",
    "ValidationConstraintsEvaluationReport",
    "ValidationTimeInfo",
    "SignersDocument",
    "SignatureAttributes",
    "SignerInformation",
    "SignatureQuality",
    "SignatureValidationProcess",
    "SignatureValidationStatus",
)
ROOT_CHILDREN = ("SignatureValidationReport", "SignatureValidationObjects", "SignatureValidator")


class ReportStructureError(AssertionError):
    """The XML is not shaped like a TS 119 102-2 validation report."""


def check_report(document: etree._Element) -> None:
    """Raise :class:`ReportStructureError` naming the first element out of place."""
    if document.tag != f"{VR}ValidationReport":
        raise ReportStructureError(f"root is {document.tag}, not ValidationReport")
    root_names = _names_in_order(document, ROOT_CHILDREN, "ValidationReport", strict=True)
    if "SignatureValidationReport" not in root_names:
        raise ReportStructureError("ValidationReport has no SignatureValidationReport")
    for report in document.iterfind(f"{VR}SignatureValidationReport"):
        names = _names_in_order(report, REPORT_CHILDREN, "SignatureValidationReport")
        if "SignatureValidationStatus" not in names:
            raise ReportStructureError("a SignatureValidationReport lacks its status")
        _check_status(report.find(f"{VR}SignatureValidationStatus"))
        for time in report.iterfind(f"{VR}ValidationTimeInfo/{VR}ValidationTime"):
            _check_datetime(time)
        for time in report.iter(f"{VR}TimeStampValue", f"{VR}Time", f"{VR}POETime"):
            _check_datetime(time)


def _names_in_order(
    parent: etree._Element, order: tuple[str, ...], where: str, *, strict: bool = False
) -> list[str]:
    """Local names of the children in the standard's namespace, checked against ``order``.

    Children in other namespaces are the standard's extension points; ``strict`` refuses them.
    """
    names: list[str] = []
    position = 0
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        namespace, _, name = child.tag[1:].partition("}")
        if namespace != NS:
            if strict:
                raise ReportStructureError(f"{where} holds foreign element {child.tag}")
            continue
        if name not in order:
            raise ReportStructureError(f"{where} holds unknown element {name}")
        index = order.index(name)
        repeatable = name == "SignatureValidationReport"
        if index < position or (index == position and names and not repeatable):
            raise ReportStructureError(f"{where}: {name} is out of order")
        position = index
        names.append(name)
    return names


def _check_status(status: etree._Element) -> None:
    main = status.findtext(f"{VR}MainIndication")
    if main not in MAIN_INDICATIONS:
        raise ReportStructureError(f"MainIndication {main!r} is not one the standard defines")
    for sub in status.iterfind(f"{VR}SubIndication"):
        if not (sub.text or "").startswith(SUB_INDICATION_PREFIX):
            raise ReportStructureError(f"SubIndication {sub.text!r} is outside the ETSI URNs")


def _check_datetime(element: etree._Element) -> None:
    text = element.text or ""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReportStructureError(f"{element.tag}: {text!r} is not an xs:dateTime") from exc
    if moment.tzinfo is None:
        raise ReportStructureError(f"{element.tag}: {text!r} has no time zone")
