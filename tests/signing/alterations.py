"""What tampering and time do to a signed PDF, shared by the tests that compare verdicts."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from archive_service.signing.test_pki import TestPki

DAY = dt.timedelta(days=1)


def flip_signed_byte(pdf: bytes) -> bytes:
    """``pdf`` with one byte changed in the middle of the first range the signature covers."""
    signature = PdfFileReader(BytesIO(pdf)).embedded_signatures[0]
    start, length = (int(n) for n in list(signature.sig_object["/ByteRange"])[:2])
    tampered = bytearray(pdf)
    tampered[start + length // 2] ^= 0x01
    return bytes(tampered)


def page_changed(pdf: bytes) -> bytes:
    """An incremental update that adds a content stream ("FORGED") to page 1."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    added = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 72 Td (FORGED) Tj ET")
    )
    contents = page["/Contents"]
    listed = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
    page["/Contents"] = generic.ArrayObject([*listed, added])
    writer.update_container(page)
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


def not_after(cert: object) -> dt.datetime:
    return cert["tbs_certificate"]["validity"]["not_after"].native  # type: ignore[index]


def time_line(pki: TestPki, now: dt.datetime) -> dict[str, dt.datetime]:
    """The moments the issue names, anchored on the test PKI's real lifetimes (seal 3 years,
    first TSA 6, renewal TSA 14, issuing CA 15): OCSP responses in the file go stale after
    24 hours, so +20 h and +26 h sit on either side of that."""
    seal_end, tsa_end = not_after(pki.seal_cert), not_after(pki.tsa_cert)
    minute = dt.timedelta(minutes=1)
    return {
        "+1min": now + minute,
        "+20h": now + dt.timedelta(hours=20),
        "+26h": now + dt.timedelta(hours=26),
        "+2d": now + 2 * DAY,
        "+40d": now + 40 * DAY,
        "+1y": now + 365 * DAY,
        "seal-1min": seal_end - minute,
        "seal+1min": seal_end + minute,
        "+5y": now + 5 * 365 * DAY,
        "tsa1-1min": tsa_end - minute,
        "tsa1+1min": tsa_end + minute,
        "+12y": now + 12 * 365 * DAY,
        "ca+1d": not_after(pki.issuing_ca_cert) + DAY,
    }
