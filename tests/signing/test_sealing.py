"""The sealing seam: results by kind of backend, one sealer per institution, and the room's
import graph (the core never imports the test PKI or the backends, and nothing loops)."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from archive_service.errors import ServiceUnavailable
from archive_service.signing import PreparedDocument, Sealing, SignedDocument
from archive_service.signing.backends.external import ExternalPadesSigner
from archive_service.signing.backends.test_pki import sealer_with_test_pki
from archive_service.signing.sealing import RawSignature
from archive_service.signing.test_pki import TestPki

SIGNING = Path(__file__).resolve().parents[2] / "archive_service" / "signing"
PACKAGE = "archive_service.signing"


def test_a_key_held_here_seals_at_once_and_finishes_nothing(
    pki: TestPki, unsigned_pdf: bytes
) -> None:
    sealer = sealer_with_test_pki(pki, "B-B")
    assert (sealer.level, sealer.signatory.kind, sealer.signatory.outside) == (
        "B-B", "test-pki", False,
    )
    assert sealer.signatory.certificate.dump() == pki.seal_cert.dump()
    sealed = sealer.seal(unsigned_pdf, reason="Архівування")
    assert isinstance(sealed, SignedDocument) and sealed.level == "B-B"
    prepared = ExternalPadesSigner(
        pki.seal_cert, [pki.issuing_ca_cert], timestamper=None, trust_roots=[pki.root_cert],
        level="B-B",
    ).prepare(unsigned_pdf, reason="Архівування")
    with pytest.raises(ServiceUnavailable, match="no longer configured for an external signer"):
        sealer.finish(prepared, RawSignature(b"\x00"))


def test_an_outside_key_seals_to_a_prepared_document(pki: TestPki, unsigned_pdf: bytes) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_signing_certificate(key.public_key(), "Директор")
    sealer = ExternalPadesSigner(
        cert, [pki.issuing_ca_cert], timestamper=pki.timestamper(),
        trust_roots=[pki.root_cert], level="B-T", valid_for=dt.timedelta(days=2),
    )
    assert (sealer.signatory.kind, sealer.signatory.outside) == ("external", True)
    sealed = sealer.seal(unsigned_pdf, reason="Архівування")
    assert isinstance(sealed, PreparedDocument)
    assert sealed.valid_for == dt.timedelta(days=2)
    assert sealed.prepared.certificate == cert.dump() and sealed.prepared.level == "B-T"


def test_each_institution_gets_its_own_sealer_or_the_default(pki: TestPki) -> None:
    default, other = sealer_with_test_pki(pki, "B-T"), sealer_with_test_pki(pki, "B-B")
    sealing = Sealing(default=default, trust_roots=[pki.root_cert], by_institution={"1": other})
    assert sealing.sealer_for("1") is other
    assert sealing.sealer_for("2") is default


def _imports() -> dict[str, set[str]]:
    """Module → the archive_service.signing modules it imports (TYPE_CHECKING ones too)."""
    modules = {}
    for path in SIGNING.rglob("*.py"):
        parts = path.relative_to(SIGNING).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        modules[".".join((PACKAGE, *parts))] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.update(
                    f"{node.module}.{alias.name}"
                    if f"{node.module}.{alias.name}" in modules
                    else node.module
                    for alias in node.names
                )
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


def _in(room: str, module: str) -> bool:
    return module == f"{PACKAGE}.{room}" or module.startswith(f"{PACKAGE}.{room}.")


def test_the_core_never_imports_the_test_pki_or_a_backend() -> None:
    graph = _imports()
    core = [m for m in graph if not _in("test_pki", m) and not _in("backends", m)]
    assert not {(m, t) for m in core for t in graph[m] if _in("test_pki", t) or _in("backends", t)}
    assert not {(m, t) for m in graph if _in("test_pki", m) for t in graph[m] if _in("backends", t)}


def test_no_import_loops_in_the_signing_room() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("import loop: " + " → ".join([*path[path.index(module):], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
