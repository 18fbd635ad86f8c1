"""The operator's commands, run through click's runner against a temporary ./var."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from archive_service.cli import main
from archive_service.db import ApiToken
from archive_service.pipeline import Archive
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


@pytest.mark.parametrize("days", ["0", "-3"])
def test_a_token_lifetime_of_zero_or_fewer_days_is_refused(run_cli, days: str) -> None:  # type: ignore[no-untyped-def]
    # 0 used to be taken for "no expiry" (it is falsy): a token meant to die at once lived forever.
    result = run_cli("tokens", "create", "--role", "inspector", "--expires-in-days", days)
    assert result.exit_code == 2, result.output
    assert "--expires-in-days" in result.output
    assert "at least 1" in result.output and "leave the option out" in result.output
    assert "ja_" not in result.output
    assert run_cli("tokens", "list").output.strip() == ""


def test_tokens_list_shows_expired_tokens_as_expired(  # type: ignore[no-untyped-def]
    run_cli, archive: Archive
) -> None:
    lasting = run_cli("tokens", "create", "--role", "inspector", "--name", "lasting")
    lapsing = run_cli(
        "tokens", "create", "--role", "inspector", "--name", "lapsing", "--expires-in-days", "1"
    )
    assert (lasting.exit_code, lapsing.exit_code) == (0, 0), lasting.output + lapsing.output
    lapsed_id = lapsing.stdout.split("_")[1]
    with archive.sessions.begin() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == lapsed_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    states = {
        line.split()[-1]: line.split()[3] for line in run_cli("tokens", "list").output.splitlines()
    }
    assert states == {"lasting": "active", "lapsing": "expired"}


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
