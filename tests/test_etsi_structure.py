"""The structural check used on ETSI reports refuses what the standard does not allow."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.etsi_structure import NS, ReportStructureError, check_report

GOOD = f"""<ValidationReport xmlns="{NS}"><SignatureValidationReport>
<ValidationTimeInfo><ValidationTime>2026-11-29T05:00:00Z</ValidationTime></ValidationTimeInfo>
<SignatureValidationStatus>
<MainIndication>urn:etsi:019102:mainindication:total-passed</MainIndication>
</SignatureValidationStatus></SignatureValidationReport></ValidationReport>"""


def test_a_minimal_report_passes() -> None:
    check_report(etree.fromstring(GOOD))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("ValidationReport", "Report"), "root"),
        (("total-passed", "fine"), "MainIndication"),
        (("2026-11-29T05:00:00Z", "yesterday"), "xs:dateTime"),
        (("2026-11-29T05:00:00Z", "2026-11-29T05:00:00"), "time zone"),
        (
            ("<ValidationTimeInfo>", "<SignatureQuality/><ValidationTimeInfo>"),
            "out of order",
        ),
        (("<SignatureValidationStatus>", "<Unknown/><SignatureValidationStatus>"), "unknown"),
    ],
)
def test_what_the_standard_forbids_is_refused(change: tuple[str, str], fragment: str) -> None:
    xml = GOOD.replace(*change)
    with pytest.raises(ReportStructureError, match=fragment):
        check_report(etree.fromstring(xml))
