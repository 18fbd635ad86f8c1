"""The operator's commands, run through click's runner against a temporary ./var."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from archive_service.cli import main
from tests.conftest import EXAMPLES


def test_tokens_lifecycle(run_cli) -> None:  # type: ignore[no-untyped-def]
    created = run_cli("tokens", "create", "--role", "inspector", "--name", "Інспектор Ґонта")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("ja_")
    token_id = secret.split("_")[1]
    listed = run_cli("tokens", "list")
    assert token_id in listed.output and "Інспектор Ґонта" in listed.output
    assert secret.split("_", 2)[2] not in listed.output
    assert run_cli("tokens", "revoke", token_id).exit_code == 0
    assert "revoked" in run_cli("tokens", "list").output


def test_archivist_token_without_institution_says_what_to_do(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("tokens", "create", "--role", "archivist")
    assert result.exit_code == 2
    assert "--institution" in result.output


def test_ingest_verify_and_audit(run_cli) -> None:  # type: ignore[no-untyped-def]
    good = EXAMPLES / "journal-7b.json"
    bad = EXAMPLES / "invalid" / "grade-13.json"
    result = run_cli("ingest", str(good), str(bad))
    assert result.exit_code == 2
    assert "archived as document" in result.output
    summary = "1 archived or already present, 0 awaiting the external signer, 1 refused"
    assert summary in result.output
    document_id = result.output.split("archived as document ")[1].split()[0]
    verified = run_cli("verify", document_id)
    assert verified.exit_code == 0, verified.output
    assert "VALID" in verified.output
    chain = run_cli("audit", "verify")
    assert chain.exit_code == 0 and "chain intact" in chain.output


def test_export_root(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("pki", "export-root")
    assert result.exit_code == 0
    assert result.output.startswith("-----BEGIN CERTIFICATE-----")


def test_ingest_for_an_external_signer_says_what_happens_next(data_dir: Path) -> None:
    from tests.conftest import example_edrpou
    from tests.external_signing_support import make_signer_files

    signer = make_signer_files(data_dir / "signer", data_dir / "pki")
    env = {
        "ARCHIVE_DATA_DIR": str(data_dir),
        "ARCHIVE_RENDER_IN_PROCESS": "true",
        "ARCHIVE_SIGNER_BY_INSTITUTION": f"{example_edrpou()}=external",
        "ARCHIVE_EXTERNAL_SIGNER_CERTIFICATE": str(signer.pem),
    }
    result = CliRunner().invoke(
        main, ["ingest", str(EXAMPLES / "journal-7b.json")], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "prepared for the external signer" in result.output
    assert "nothing is archived until it answers signing request" in result.output
    assert "0 archived or already present, 1 awaiting the external signer, 0 refused" in (
        result.output
    )
